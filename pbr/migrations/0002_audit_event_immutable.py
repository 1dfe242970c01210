"""Protect the audit log at database level on PostgreSQL: UPDATE and DELETE raise.

TRUNCATE is deliberately not blocked: it is a DBA-level operation (and how test databases are
reset); ordinary application roles should not be granted it in production.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION pbr_audit_event_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: % refused on pbr_auditevent', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS pbr_audit_event_immutable ON pbr_auditevent;
CREATE TRIGGER pbr_audit_event_immutable
    BEFORE UPDATE OR DELETE ON pbr_auditevent
    FOR EACH ROW EXECUTE FUNCTION pbr_audit_event_immutable();
"""

DROP = """
DROP TRIGGER IF EXISTS pbr_audit_event_immutable ON pbr_auditevent;
DROP FUNCTION IF EXISTS pbr_audit_event_immutable();
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)
    return run


class Migration(migrations.Migration):
    dependencies = [("pbr", "0001_initial")]

    operations = [
        migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP)),
    ]
