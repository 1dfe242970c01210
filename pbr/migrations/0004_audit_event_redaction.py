"""Let erasure and retention redact personal data in audit events, and nothing else change them.

The trigger of 0002 refused every UPDATE. It now lets one through only when the transaction has
set `pbr.audit_redaction` to 'on' (pbr.data_protection.redact_audit_events does, for the rows it
rewrites) and the update leaves who, when, what action, which object and which request exactly
as they were: only the text describing the object, the before/after snapshots and the reason
may change. DELETE is still refused. See docs/adr/0017-erasure-and-retention.md.
"""

from django.db import migrations

REDACTABLE = """
CREATE OR REPLACE FUNCTION pbr_audit_event_immutable() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND current_setting('pbr.audit_redaction', true) = 'on'
       AND NEW.id = OLD.id
       AND NEW.occurred_at = OLD.occurred_at
       AND NEW.action = OLD.action
       AND NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id
       AND NEW.actor_label = OLD.actor_label
       AND NEW.organisation_id IS NOT DISTINCT FROM OLD.organisation_id
       AND NEW.object_type = OLD.object_type
       AND NEW.object_id = OLD.object_id
       AND NEW.request_id = OLD.request_id THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit events are append-only: % refused on pbr_auditevent', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""

IMMUTABLE = """
CREATE OR REPLACE FUNCTION pbr_audit_event_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: % refused on pbr_auditevent', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)
    return run


class Migration(migrations.Migration):
    dependencies = [("pbr", "0003_dashboard_snapshot")]

    operations = [
        migrations.RunPython(_on_postgresql(REDACTABLE), _on_postgresql(IMMUTABLE)),
    ]
