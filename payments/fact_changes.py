# ruff: noqa: S608 - every name interpolated below is a constant of this module, never input
"""What changed since a contract's last run (ADR 0012, ADR 0021).

Database triggers on the outcomes tables record two things whenever a fact is written:

* a `payments_factchange` row naming the participant, when a claim, event or evidence link of
  theirs is written, their own row changes, or a return holding their claims changes status,
  is added already submitted or is deleted (the latest version of that return may be another
  one now). A run recomputes those participants (ADR 0012). A new claim, or evidence added to
  a claim, also names the claim: if that is all that changed for the participant, the run
  re-checks their claims from that one on and replays the ones before it;
* a `payments_contractfactmark` row naming the contract, for every one of those writes and for
  every write to the contract-level facts: indicator returns, external dataset figures, samples
  and their findings, the verification policy, terms versions and returns. The marks are folded
  into the contract's facts version (`contract_facts_version`), so a run of a period whose
  facts version has not moved since that period was last computed is skipped in a handful of
  queries (ADR 0021).

Triggers rather than Django signals: bulk_create, QuerySet.update() and raw SQL are seen too,
whoever writes them. On PostgreSQL they are statement-level with transition tables (one set of
inserts per statement, however many rows it wrote); on SQLite, which has no statement-level
triggers, they are row-level.

Facts that become known only because time passed (a return whose period has now ended) are
found by date in the run, not here: a re-run of the same period reads the facts as known at
that period's end, so time passing alone cannot change it.

The triggers are (re)installed after every `migrate`, because SQLite drops a table's triggers
when a later migration rebuilds the table.
"""

from django.db import connection as default_connection
from django.db import transaction
from django.db.models import Exists
from django.utils import timezone

from pbr import triggers

FACT_CHANGE = "INSERT INTO payments_factchange(participant_id)"
FACT_CHANGE_CLAIM = "INSERT INTO payments_factchange(participant_id, claim_id)"
MARK = "INSERT INTO payments_contractfactmark(contract_id)"

# How to find the participant and the contract of a written row (`t`).
_PEOPLE = {
    "participant_id": "SELECT DISTINCT t.participant_id FROM {src} t",
    "id": "SELECT DISTINCT t.id FROM {src} t",
    "claim": "SELECT DISTINCT c.participant_id FROM {src} t JOIN outcomes_claim c ON c.id = t.claim_id",
}
_CONTRACTS = {
    "contract_id": "SELECT DISTINCT t.contract_id FROM {src} t",
    "participant": "SELECT DISTINCT p.contract_id FROM {src} t "
                   "JOIN outcomes_participant p ON p.id = t.participant_id",
    "return": "SELECT DISTINCT r.contract_id FROM {src} t "
              "JOIN outcomes_return r ON r.id = t.return_record_id",
    "sample": "SELECT DISTINCT s.contract_id FROM {src} t "
              "JOIN outcomes_sample s ON s.id = t.sample_id",
    "claim": "SELECT DISTINCT p.contract_id FROM {src} t JOIN outcomes_claim c ON c.id = t.claim_id "
             "JOIN outcomes_participant p ON p.id = c.participant_id",
}
# Inserts that touch one claim only (a new claim, evidence added to a claim) name it: the run
# then re-checks that participant's claims from that one on, not their whole history.
_ONE_CLAIM = {
    "outcomes_claim": "SELECT t.participant_id, t.id FROM {src} t",
    "outcomes_evidencefile_claims": "SELECT c.participant_id, c.id FROM {src} t "
                                    "JOIN outcomes_claim c ON c.id = t.claim_id",
}
# table -> (short name, columns the expressions read, people, contract)
_TABLES = {
    "outcomes_claim": ("claim", ("participant_id", "id"), "participant_id", "participant"),
    "outcomes_participantevent": ("event", ("participant_id",), "participant_id", "participant"),
    "outcomes_participant": ("participant", ("id", "contract_id"), "id", "contract_id"),
    "outcomes_evidencefile_claims": ("evidence_link", ("claim_id",), "claim", "claim"),
    "outcomes_indicatorreturn": ("indicator", ("return_record_id",), None, "return"),
    "outcomes_datasetvalue": ("dataset", ("contract_id",), None, "contract_id"),
    "outcomes_sample": ("sample", ("contract_id",), None, "contract_id"),
    "outcomes_sampleitem": ("sample_item", ("sample_id",), None, "sample"),
    "outcomes_verificationpolicy": ("policy", ("contract_id",), None, "contract_id"),
    "contracts_termsversion": ("terms", ("contract_id",), None, "contract_id"),
}
_RETURN_COLS = ("id", "contract_id", "provider_id", "period_id", "status")
_EVIDENCE_COLS = ("id", "evidence_type")


def _marks_for(people, contract, src, one_claim=None):
    out = []
    if one_claim:
        out.append(f"{FACT_CHANGE_CLAIM} {one_claim.format(src=src)}")
    elif people:
        out.append(f"{FACT_CHANGE} {_PEOPLE[people].format(src=src)}")
    out.append(f"{MARK} {_CONTRACTS[contract].format(src=src)}")
    return out


def _return_people(keys, tables):
    """Everyone with claims or events in any version of the returns named by `keys` (contract,
    provider, period): which version is the latest may have changed."""
    out = []
    for table in ("outcomes_claim", "outcomes_participantevent"):
        if table in tables:
            out.append(
                f"{FACT_CHANGE} SELECT DISTINCT x.participant_id FROM {table} x "
                "JOIN outcomes_return r ON r.id = x.return_record_id "
                f"JOIN ({keys}) k ON r.contract_id = k.contract_id "
                "AND r.provider_id = k.provider_id AND r.period_id = k.period_id")
    return out


def _evidence_people(changed):
    """Everyone with a claim linked to an evidence file whose type changed."""
    return [f"{FACT_CHANGE} SELECT DISTINCT c.participant_id FROM ({changed}) e "
            "JOIN outcomes_evidencefile_claims l ON l.evidencefile_id = e.id "
            "JOIN outcomes_claim c ON c.id = l.claim_id",
            f"{MARK} SELECT DISTINCT p.contract_id FROM ({changed}) e "
            "JOIN outcomes_evidencefile_claims l ON l.evidencefile_id = e.id "
            "JOIN outcomes_claim c ON c.id = l.claim_id "
            "JOIN outcomes_participant p ON p.id = c.participant_id"]


# --- PostgreSQL: statement-level triggers with transition tables ---------------------------

_PG_OLD_TRIGGERS = ("pbr_fact_change",)  # the row-level triggers of ADR 0012, replaced
_PG_OLD_FUNCTIONS = ("pbr_fact_change_row()", "pbr_fact_change_return()",
                     "pbr_fact_change_evidence_link()", "pbr_fact_change_evidence()")


def _pg_src(op, cols):
    names = ", ".join(cols)
    if op == "INSERT":
        return "pbr_new"
    if op == "DELETE":
        return "pbr_old"
    return f"(SELECT {names} FROM pbr_old UNION SELECT {names} FROM pbr_new)"


def _pg_function(name, branches):
    """A trigger function running the statements of the branch for TG_OP."""
    body = []
    for op, statements in branches.items():
        if statements:
            body.append(f"  IF TG_OP = '{op}' THEN\n" + "".join(f"    {s};\n" for s in statements)
                        + "  END IF;")
    return (f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$\nBEGIN\n"
            + "\n".join(body) + "\n  RETURN NULL;\nEND $$ LANGUAGE plpgsql")


def _pg_triggers(table, function, ops):
    out = []
    referencing = {"INSERT": "REFERENCING NEW TABLE AS pbr_new",
                   "UPDATE": "REFERENCING OLD TABLE AS pbr_old NEW TABLE AS pbr_new",
                   "DELETE": "REFERENCING OLD TABLE AS pbr_old"}
    for op in ("INSERT", "UPDATE", "DELETE"):
        name = f"pbr_fact_change_{op[0].lower()}"
        out.append(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        if op in ops:
            out.append(f"CREATE TRIGGER {name} AFTER {op} ON {table} {referencing[op]} "
                       f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()")
    return out


def _pg_sql(tables):
    out = [f"DROP TRIGGER IF EXISTS {name} ON {table}"
           for table in (*_TABLES, "outcomes_return", "outcomes_evidencefile") if table in tables
           for name in _PG_OLD_TRIGGERS]
    out += [f"DROP FUNCTION IF EXISTS {fn}" for fn in _PG_OLD_FUNCTIONS]
    for table, (short, cols, people, contract) in _TABLES.items():
        if table not in tables:
            continue
        function = f"pbr_fc_{short}"
        out.append(_pg_function(function, {
            op: _marks_for(people, contract, _pg_src(op, cols),
                           _ONE_CLAIM.get(table) if op == "INSERT" else None)
            for op in ("INSERT", "UPDATE", "DELETE")}))
        out += _pg_triggers(table, function, ("INSERT", "UPDATE", "DELETE"))
    if "outcomes_return" in tables:
        keys = {"INSERT": "SELECT contract_id, provider_id, period_id FROM pbr_new "
                          "WHERE status <> 'draft'",
                "UPDATE": "SELECT n.contract_id, n.provider_id, n.period_id FROM pbr_new n "
                          "JOIN pbr_old o ON o.id = n.id WHERE o.status IS DISTINCT FROM n.status",
                "DELETE": "SELECT contract_id, provider_id, period_id FROM pbr_old "
                          "WHERE status <> 'draft'"}
        out.append(_pg_function("pbr_fc_return", {
            op: [f"{MARK} {_CONTRACTS['contract_id'].format(src=_pg_src(op, _RETURN_COLS))}",
                 *_return_people(keys[op], tables)]
            for op in ("INSERT", "UPDATE", "DELETE")}))
        out += _pg_triggers("outcomes_return", "pbr_fc_return", ("INSERT", "UPDATE", "DELETE"))
    if "outcomes_evidencefile" in tables and "outcomes_evidencefile_claims" in tables:
        changed = ("SELECT n.id FROM pbr_new n JOIN pbr_old o ON o.id = n.id "
                   "WHERE o.evidence_type IS DISTINCT FROM n.evidence_type")
        out.append(_pg_function("pbr_fc_evidence", {"UPDATE": _evidence_people(changed)}))
        out += _pg_triggers("outcomes_evidencefile", "pbr_fc_evidence", ("UPDATE",))
    return out


# --- SQLite: row-level triggers -------------------------------------------------------------


def _sqlite_src(row, cols):
    return "(SELECT " + ", ".join(f"{row}.{c} AS {c}" for c in cols) + ")"


def _sqlite_trigger(name, when, table, statements, condition=""):
    body = " ".join(f"{s};" for s in statements)
    return f"CREATE TRIGGER {name} AFTER {when} ON {table} {condition} BEGIN {body} END"


def _sqlite_sql(tables):
    out = []
    for table, (short, cols, people, contract) in _TABLES.items():
        if table not in tables:
            continue
        new, old = _sqlite_src("NEW", cols), _sqlite_src("OLD", cols)
        out += [
            _sqlite_trigger(f"pbr_fc_{short}_i", "INSERT", table,
                            _marks_for(people, contract, new, _ONE_CLAIM.get(table))),
            _sqlite_trigger(f"pbr_fc_{short}_u", "UPDATE", table,
                            _marks_for(people, contract, new) + _marks_for(people, contract, old)),
            _sqlite_trigger(f"pbr_fc_{short}_d", "DELETE", table, _marks_for(people, contract, old)),
        ]
    if "outcomes_return" in tables:
        def keys(row, condition):
            return (f"SELECT {row}.contract_id AS contract_id, {row}.provider_id AS provider_id, "
                    f"{row}.period_id AS period_id WHERE {condition}")

        mark_new = f"{MARK} VALUES (NEW.contract_id)"
        mark_old = f"{MARK} VALUES (OLD.contract_id)"
        out += [
            _sqlite_trigger("pbr_fc_return_i", "INSERT", "outcomes_return",
                            [mark_new, *_return_people(keys("NEW", "NEW.status <> 'draft'"), tables)]),
            _sqlite_trigger("pbr_fc_return_u", "UPDATE", "outcomes_return",
                            [mark_new, mark_old, *_return_people(
                                keys("NEW", "OLD.status IS NOT NEW.status"), tables)]),
            _sqlite_trigger("pbr_fc_return_d", "DELETE", "outcomes_return",
                            [mark_old, *_return_people(keys("OLD", "OLD.status <> 'draft'"), tables)]),
        ]
    if "outcomes_evidencefile" in tables and "outcomes_evidencefile_claims" in tables:
        out.append(_sqlite_trigger(
            "pbr_fc_evidence_u", "UPDATE OF evidence_type", "outcomes_evidencefile",
            _evidence_people("SELECT NEW.id AS id"),
            condition="WHEN OLD.evidence_type IS NOT NEW.evidence_type"))
    return out


def install_triggers(connection=None):
    """Create (or refresh) the fact-change triggers. Idempotent."""
    return triggers.install(connection or default_connection,
                            ("payments_factchange", "payments_contractfactmark"), _statements)


def _statements(connection, tables):
    if connection.vendor == "postgresql":
        return _pg_sql(tables)
    if connection.vendor == "sqlite":
        # Drop every trigger of ours first: the names and bodies of older versions differ.
        with connection.cursor() as cursor:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND "
                           "name LIKE 'pbr\\_fc\\_%' ESCAPE '\\'")
            return [f"DROP TRIGGER {name}" for (name,) in cursor.fetchall()] + _sqlite_sql(tables)
    return None


def triggers_installed(connection=None):
    """Whether this version of the triggers is installed (the contract-level ones included)."""
    connection = connection or default_connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT count(*) FROM pg_trigger WHERE tgname = 'pbr_fact_change_i' "
                           "AND tgrelid IN ('outcomes_claim'::regclass, "
                           "'outcomes_indicatorreturn'::regclass)")
            return cursor.fetchone()[0] == 2
        if connection.vendor == "sqlite":
            cursor.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND "
                           "name IN ('pbr_fc_claim_i', 'pbr_fc_indicator_i')")
            return cursor.fetchone()[0] == 2
        return False


def on_post_migrate(sender, using="default", **kwargs):
    from django.db import connections

    install_triggers(connections[using])


# --- the contract's facts version (ADR 0021) ------------------------------------------------


def contract_facts_version(contract):
    """A number that changes whenever a fact that can change the contract's entitlement is
    written: claims, participants, events, evidence, returns, indicator returns, external
    dataset figures, samples and findings, the verification policy, terms versions.

    Equal numbers at two moments mean nothing of the contract was written in between, so
    whatever was worked out from its facts at the first moment still holds (payment runs skip
    a re-run; dashboards can skip a refresh). Numbers only go up.

    When the triggers have left marks, it folds them into the stored number in a short
    transaction of its own (a savepoint inside the caller's), locking the contract's version row
    until commit: call it *before* reading the facts it vouches for, and outside long
    transactions. Without marks it is a single read. A write committed after the call leaves a
    mark, so the next call returns a higher number.
    `contract` is a Contract or its id.
    """
    from .models import ContractFactMark, ContractFactsVersion

    contract_id = getattr(contract, "pk", contract)
    marks = ContractFactMark.objects.filter(contract_id=contract_id)
    # Nothing to fold (the usual case): one read, no lock, no transaction. Both are read in one
    # statement; a mark committed after it is folded by the next call.
    found = (ContractFactsVersion.objects.filter(contract_id=contract_id)
             .annotate(pending=Exists(marks)).values_list("version", "pending").first())
    if found is not None and not found[1]:
        return found[0]
    with transaction.atomic():
        current = (ContractFactsVersion.objects.select_for_update()
                   .filter(contract_id=contract_id).values_list("version", flat=True).first())
        if current is None:
            ContractFactsVersion.objects.bulk_create(
                [ContractFactsVersion(contract_id=contract_id)], ignore_conflicts=True)
            current = (ContractFactsVersion.objects.select_for_update()
                       .filter(contract_id=contract_id).values_list("version", flat=True).get())
        folded, _ = marks.delete()
        if folded:
            current += 1
            ContractFactsVersion.objects.filter(contract_id=contract_id).update(
                version=current, changed_at=timezone.now())
    return current
