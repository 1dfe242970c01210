"""What the database checks of every ledger line written, one statement at a time (ADR 0023).

A national month posts about 90,000 lines. A foreign key checks each inserted row on its own
at commit, one lookup per row and per key, and the check is queued even for a NULL: the keys
to the contract and to the corrected line cost 1.3 s of a 20 s month (docs/performance.md).
So those two are checked here instead, for all the rows of an INSERT or COPY at once:

* a line's contract is its run's contract (the foreign key to the contract checked only that
  the contract existed; the run's own key to its contract covers that now);
* a line that corrects another corrects a line of the same contract.

The run keeps its foreign key: it also stops a run with lines being deleted or given another
id. On PostgreSQL ledger lines are append-only in the database too (as audit events are), so a
corrected line cannot disappear from under its correction; the ORM refuses both everywhere
(LedgerLineQuerySet). SQLite checks each inserted row with a row trigger, and has no
append-only trigger: Django empties SQLite test databases with DELETE.

A violation raises IntegrityError (foreign_key_violation on PostgreSQL) and the whole
statement fails: nothing of it is written.

Installed, like the fact-change triggers, after every `migrate` (SQLite rebuilds a table, and
drops its triggers, whenever a migration alters it).
"""

from django.db import connection as default_connection

from pbr import triggers

_PG = r"""
CREATE OR REPLACE FUNCTION payments_ledger_references() RETURNS trigger AS $$
DECLARE bad record;
BEGIN
    SELECT a.id, a.run_id, a.contract_id INTO bad FROM payments_ledger_added a
    WHERE NOT EXISTS (SELECT 1 FROM payments_paymentrun r
                      WHERE r.id = a.run_id AND r.contract_id = a.contract_id)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger line % names contract %, but its run % is not a run of that '
                        'contract', bad.id, bad.contract_id, bad.run_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    SELECT a.id, a.corrects_id, a.contract_id INTO bad FROM payments_ledger_added a
    WHERE a.corrects_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM payments_ledgerline l
                      WHERE l.id = a.corrects_id AND l.contract_id = a.contract_id)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger line % corrects line %, which is not a line of contract %',
                        bad.id, bad.corrects_id, bad.contract_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION payments_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger lines are append-only: % refused on payments_ledgerline; post a '
                    'correcting line instead', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS payments_ledger_references ON payments_ledgerline;
CREATE TRIGGER payments_ledger_references AFTER INSERT ON payments_ledgerline
    REFERENCING NEW TABLE AS payments_ledger_added
    FOR EACH STATEMENT EXECUTE FUNCTION payments_ledger_references();

DROP TRIGGER IF EXISTS payments_ledger_append_only ON payments_ledgerline;
CREATE TRIGGER payments_ledger_append_only BEFORE UPDATE OR DELETE ON payments_ledgerline
    FOR EACH ROW EXECUTE FUNCTION payments_ledger_append_only();
"""

# (RAISE takes a single string literal.)
_SQLITE_MESSAGE = ("FOREIGN KEY constraint failed: a ledger line''s run must be a run of its "
                   "contract, and the line it corrects a line of that contract")
_SQLITE = [
    "DROP TRIGGER IF EXISTS payments_ledger_references",
    f"""CREATE TRIGGER payments_ledger_references BEFORE INSERT ON payments_ledgerline
    WHEN NOT EXISTS (SELECT 1 FROM payments_paymentrun r
                     WHERE r.id = NEW.run_id AND r.contract_id = NEW.contract_id)
      OR (NEW.corrects_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM payments_ledgerline l
                          WHERE l.id = NEW.corrects_id AND l.contract_id = NEW.contract_id))
    BEGIN
        SELECT RAISE(ABORT, '{_SQLITE_MESSAGE}');
    END""",  # noqa: S608 - a constant of this module, no input
]


def install(connection=None):
    """Create (or refresh) the ledger's triggers. Idempotent."""
    return triggers.install(connection or default_connection,
                            ("payments_ledgerline", "payments_paymentrun"), _statements)


def _statements(connection, tables):
    return {"postgresql": [_PG], "sqlite": _SQLITE}.get(connection.vendor)


def on_post_migrate(sender, using="default", **kwargs):
    from django.db import connections

    install(connections[using])
