# ruff: noqa: S608 - every name interpolated below is a constant of this module, never input
"""Which participants' facts changed since a contract's last run (ADR 0012).

Database triggers on the outcomes tables add a `payments_factchange` row naming the participant
whenever a claim, event or evidence link of theirs is written, their own row changes, or a return
holding their claims changes status (submission, amendment, lock). Triggers rather than Django
signals: bulk_create, QuerySet.update() and raw SQL are seen too, whoever writes them.

Contract-level facts (indicator returns, external datasets, samples) need no tracking: every run
reads them in full. Facts that become known only because time passed (a return whose period has
now ended) are found by date, not here.

The triggers are (re)installed after every `migrate`, because SQLite drops a table's triggers
when a later migration rebuilds the table.
"""

from django.db import connection as default_connection

# table -> (participant expression per row, for INSERT/UPDATE/DELETE, or a custom body)
_ROW_TABLES = {
    "outcomes_claim": "participant_id",
    "outcomes_participantevent": "participant_id",
    "outcomes_participant": "id",
}


def _pg_sql(tables):
    out = [
        # One function per kind of row; each returns NULL (AFTER trigger).
        """CREATE OR REPLACE FUNCTION pbr_fact_change_row() RETURNS trigger AS $$
DECLARE col text := TG_ARGV[0]; pid bigint;
BEGIN
  IF TG_OP <> 'DELETE' THEN
    EXECUTE format('SELECT ($1).%I', col) USING NEW INTO pid;
    INSERT INTO payments_factchange(participant_id) VALUES (pid);
  END IF;
  IF TG_OP <> 'INSERT' THEN
    EXECUTE format('SELECT ($1).%I', col) USING OLD INTO pid;
    INSERT INTO payments_factchange(participant_id) VALUES (pid);
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql""",
        # Every version of the return: which one is the latest may have changed.
        """CREATE OR REPLACE FUNCTION pbr_fact_change_return() RETURNS trigger AS $$
BEGIN
  INSERT INTO payments_factchange(participant_id)
    SELECT DISTINCT c.participant_id FROM outcomes_claim c
    JOIN outcomes_return r ON r.id = c.return_record_id
    WHERE r.contract_id = NEW.contract_id AND r.provider_id = NEW.provider_id
      AND r.period_id = NEW.period_id;
  IF to_regclass('outcomes_participantevent') IS NOT NULL THEN
    INSERT INTO payments_factchange(participant_id)
      SELECT DISTINCT e.participant_id FROM outcomes_participantevent e
      JOIN outcomes_return r ON r.id = e.return_record_id
      WHERE r.contract_id = NEW.contract_id AND r.provider_id = NEW.provider_id
        AND r.period_id = NEW.period_id;
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql""",
        """CREATE OR REPLACE FUNCTION pbr_fact_change_evidence_link() RETURNS trigger AS $$
BEGIN
  INSERT INTO payments_factchange(participant_id)
    SELECT participant_id FROM outcomes_claim
    WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.claim_id ELSE NEW.claim_id END;
  RETURN NULL;
END $$ LANGUAGE plpgsql""",
        """CREATE OR REPLACE FUNCTION pbr_fact_change_evidence() RETURNS trigger AS $$
BEGIN
  INSERT INTO payments_factchange(participant_id)
    SELECT c.participant_id FROM outcomes_evidencefile_claims l
    JOIN outcomes_claim c ON c.id = l.claim_id WHERE l.evidencefile_id = NEW.id;
  RETURN NULL;
END $$ LANGUAGE plpgsql""",
    ]
    for table, col in _ROW_TABLES.items():
        if table in tables:
            out.append(f"CREATE OR REPLACE TRIGGER pbr_fact_change AFTER INSERT OR UPDATE OR "
                       f"DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION "
                       f"pbr_fact_change_row('{col}')")
    if "outcomes_return" in tables:
        out.append("CREATE OR REPLACE TRIGGER pbr_fact_change AFTER UPDATE ON outcomes_return "
                   "FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) "
                   "EXECUTE FUNCTION pbr_fact_change_return()")
    if "outcomes_evidencefile_claims" in tables:
        out.append("CREATE OR REPLACE TRIGGER pbr_fact_change AFTER INSERT OR DELETE ON "
                   "outcomes_evidencefile_claims FOR EACH ROW EXECUTE FUNCTION "
                   "pbr_fact_change_evidence_link()")
    if "outcomes_evidencefile" in tables:
        out.append("CREATE OR REPLACE TRIGGER pbr_fact_change AFTER UPDATE ON "
                   "outcomes_evidencefile FOR EACH ROW WHEN (OLD.evidence_type IS DISTINCT FROM "
                   "NEW.evidence_type) EXECUTE FUNCTION pbr_fact_change_evidence()")
    return out


def _sqlite_sql(tables):
    out = []
    ins = "INSERT INTO payments_factchange(participant_id)"
    for table, col in _ROW_TABLES.items():
        if table not in tables:
            continue
        out += [
            f"CREATE TRIGGER IF NOT EXISTS pbr_fc_{table}_i AFTER INSERT ON {table} "
            f"BEGIN {ins} VALUES (NEW.{col}); END",
            f"CREATE TRIGGER IF NOT EXISTS pbr_fc_{table}_u AFTER UPDATE ON {table} "
            f"BEGIN {ins} VALUES (NEW.{col}); {ins} VALUES (OLD.{col}); END",
            f"CREATE TRIGGER IF NOT EXISTS pbr_fc_{table}_d AFTER DELETE ON {table} "
            f"BEGIN {ins} VALUES (OLD.{col}); END",
        ]
    if "outcomes_return" in tables:
        versions = ("JOIN outcomes_return r ON r.id = x.return_record_id WHERE "
                    "r.contract_id = NEW.contract_id AND r.provider_id = NEW.provider_id AND "
                    "r.period_id = NEW.period_id;")
        events = (f" {ins} SELECT DISTINCT x.participant_id FROM outcomes_participantevent x "
                  f"{versions}" if "outcomes_participantevent" in tables else "")
        out.append(
            "CREATE TRIGGER IF NOT EXISTS pbr_fc_outcomes_return_u AFTER UPDATE OF status ON "
            "outcomes_return WHEN OLD.status IS NOT NEW.status BEGIN "
            f"{ins} SELECT DISTINCT x.participant_id FROM outcomes_claim x {versions}"
            f"{events} END")
    if "outcomes_evidencefile_claims" in tables:
        out += [
            "CREATE TRIGGER IF NOT EXISTS pbr_fc_evidence_link_i AFTER INSERT ON "
            f"outcomes_evidencefile_claims BEGIN {ins} SELECT participant_id FROM "
            "outcomes_claim WHERE id = NEW.claim_id; END",
            "CREATE TRIGGER IF NOT EXISTS pbr_fc_evidence_link_d AFTER DELETE ON "
            f"outcomes_evidencefile_claims BEGIN {ins} SELECT participant_id FROM "
            "outcomes_claim WHERE id = OLD.claim_id; END",
        ]
    if "outcomes_evidencefile" in tables:
        out.append(
            "CREATE TRIGGER IF NOT EXISTS pbr_fc_evidence_u AFTER UPDATE OF evidence_type ON "
            f"outcomes_evidencefile BEGIN {ins} SELECT c.participant_id FROM "
            "outcomes_evidencefile_claims l JOIN outcomes_claim c ON c.id = l.claim_id "
            "WHERE l.evidencefile_id = NEW.id; END")
    return out


def install_triggers(connection=None):
    """Create (or refresh) the fact-change triggers. Idempotent."""
    connection = connection or default_connection
    tables = set(connection.introspection.table_names())
    if "payments_factchange" not in tables:
        return False
    if connection.vendor == "postgresql":
        statements = _pg_sql(tables)
    elif connection.vendor == "sqlite":
        # CREATE TRIGGER IF NOT EXISTS keeps an older body: drop ours first.
        with connection.cursor() as cursor:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND "
                           "name LIKE 'pbr\\_fc\\_%' ESCAPE '\\'")
            statements = [f"DROP TRIGGER {name}" for (name,) in cursor.fetchall()]
        statements += _sqlite_sql(tables)
    else:
        return False
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
    return True


def triggers_installed(connection=None):
    connection = connection or default_connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT count(*) FROM pg_trigger WHERE tgname = 'pbr_fact_change' "
                           "AND tgrelid = 'outcomes_claim'::regclass")
        elif connection.vendor == "sqlite":
            cursor.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND "
                           "name = 'pbr_fc_outcomes_claim_i'")
        else:
            return False
        return cursor.fetchone()[0] > 0


def on_post_migrate(sender, using="default", **kwargs):
    from django.db import connections

    install_triggers(connections[using])
