"""Generate a national-scale Payment by Results programme into a PostgreSQL database.

    .venv/bin/python bench/national.py                      # 40 contracts, 1M people, 5M claims
    .venv/bin/python bench/national.py --db pbr_bench_small --participants 2000 --claims 10000

What it builds (see docs/performance.md, "Payments (national scale)"):

* 40 contracts imported through ``contracts.services.import_contract`` from variants of
  ``examples/contracts/``: outcome tariffs dominate (Work Programme style attachment, job outcome
  and sustainment prices by payment group, some with a supply chain), plus outcome baskets with a
  derived price and a yearly cap, and contracts paid on indicators (core plus uplift reconciled
  quarterly, threshold penalties, a collar and cap, a target band).
* A provider organisation per contract, pseudonymised participants in payment groups, submitted
  returns per contract and month, claims with realistic statuses and indicator returns, all
  written with ``COPY`` (never ORM saves) so ``outcomes.services.facts_for`` reads them as it
  reads any return.
* Every month before the benchmark month already run and approved: the ledger holds exactly what
  the engine computes for those facts, so the benchmark month is "one more month".

Idempotent and resumable: each contract is written in one transaction, and a contract already
present is skipped; re-running the command finishes whatever is missing.
"""

import argparse
import datetime as dt
import hashlib
import io
import json
import os
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_DB = "pbr_bench_national"
SERVER = os.environ.get("PBR_BENCH_SERVER", "postgres://postgres@127.0.0.1:5432")
START = dt.date(2019, 4, 1)
END = dt.date(2026, 3, 31)
BENCH_PERIOD = "Mar 2025"  # the month the benchmark runs: every month before it is approved
BENCH_START, BENCH_END = dt.date(2025, 3, 1), dt.date(2025, 3, 31)
PREV_END = BENCH_START - dt.timedelta(days=1)
EXAMPLES = ROOT / "examples" / "contracts"
STATUSES = (("passed", 0.90), ("verified", 0.06), ("failed", 0.02), ("rejected", 0.01),
            ("held", 0.01))
PSEUDONYM_KEY = b"bench-national-pseudonym-key"


# --- the programme: which contracts, how big ---------------------------------------------------


def programme(n_contracts, participants, claims, seed):
    """The contract mix: (index, kind, participants, claims) for each contract.

    Outcome tariffs carry almost all participants and claims; baskets are small local pilots;
    indicator-paid contracts have no claims.
    """
    mix = ["indicators_c1", "indicators_c1", "indicators_c4", "indicators_c4", "indicators_c6",
           "indicators_c2", "basket", "basket", "basket", "basket"]
    if n_contracts > len(mix):
        kinds = ["tariff"] * (n_contracts - len(mix)) + mix
    else:
        # A tiny programme (the smoke test) still has the main kinds, in order of importance.
        kinds = ["tariff", "basket", "indicators_c1", "indicators_c4", "indicators_c6",
                 "indicators_c2", "basket", "indicators_c1", "indicators_c4", "basket"]
        kinds = kinds[:n_contracts]
    rng = random.Random(seed)
    basket_people = min(5000, max(1, participants // 200))
    n_basket = kinds.count("basket")
    n_tariff = kinds.count("tariff") or 1
    basket_claims = basket_people * 5
    tariff_people = participants - basket_people * n_basket
    tariff_claims = claims - basket_claims * n_basket
    weights = [rng.uniform(0.5, 1.5) for _ in range(n_tariff)]
    total_w = sum(weights)
    people = [int(tariff_people * w / total_w) for w in weights]
    people[-1] += tariff_people - sum(people)
    out, t = [], 0
    claim_alloc = [int(tariff_claims * p / max(1, tariff_people)) for p in people]
    claim_alloc[-1] += tariff_claims - sum(claim_alloc)
    for i, kind in enumerate(kinds):
        if kind == "tariff":
            out.append((i, kind, people[t], claim_alloc[t]))
            t += 1
        elif kind == "basket":
            out.append((i, kind, basket_people, basket_claims))
        else:
            out.append((i, kind, 0, 0))
    return out


def _load(name):
    from contracts.definition import load_document

    return load_document(EXAMPLES / name)


def document(index, kind, seed):
    """A realistic variant of one of the examples, with its own reference and prices."""
    rng = random.Random(seed * 1000 + index)
    ref = f"NAT-{index + 1:02d}"

    def scale(text, lo=0.8, hi=1.2):
        return str((Decimal(text) * Decimal(str(round(rng.uniform(lo, hi), 2)))).quantize(
            Decimal("1")))

    if kind == "tariff":
        doc = _load("c3-work-programme.yaml")
        doc["title"] = f"Employment programme lot {index + 1} - attachment, job outcome and " \
                       "sustainment"
        doc["segments"] += [{"code": "JSA_25_PLUS", "name": "JSA claimants aged 25 and over"},
                            {"code": "ESA_NEW", "name": "New ESA claimants"}]
        for outcome in doc["outcomes"]:
            # A national scheme checks being off benefit by data match, recorded as the claim's
            # verification, so no evidence file is attached per claim.
            outcome.pop("evidence", None)
        prices = []
        for p in doc["rules"][0]["prices"]:
            prices.append(dict(p, amount=scale(p["amount"])))
            twin = {"JSA_18_24": "JSA_25_PLUS", "ESA_EXIB": "ESA_NEW"}[p["segment"]]
            prices.append(dict(p, segment=twin, amount=scale(p["amount"])))
        doc["rules"][0]["prices"] = prices
        doc["prime_provider"] = {"name": f"National Employment Prime {index + 1} Ltd",
                                 "code": f"PRIME{index + 1:02d}"}
        if index % 2:
            doc.pop("subcontractors", None)
    elif kind == "basket":
        doc = _load("c5-birmingham.yaml")
        doc["title"] = f"Housing support outcomes basket {index + 1}"
        doc["prime_provider"] = {"name": f"Support Services {index + 1}", "code": f"SS{index + 1:02d}"}
        doc["annual_value"] = doc["maximum_value"] = "2000000"
        doc["rules"][0]["amount_per_year"] = "1750000"
        doc["rules"][1]["derived_price"] = {"pot": "250000", "planned_participants": 1000,
                                           "outcomes_per_participant": 5}
        if index % 2:
            doc["rules"][2]["maximum"] = "250000"
        else:
            doc["rules"] = doc["rules"][:2]
    else:
        base = {"indicators_c1": "c1-derbyshire.yaml", "indicators_c4": "c4-lewisham.yaml",
                "indicators_c6": "c6-sheffield.yaml", "indicators_c2": "c2-southend.yaml"}[kind]
        doc = _load(base)
        doc["title"] = f"{doc['title']} - lot {index + 1}"
        doc["prime_provider"] = dict(doc["prime_provider"], code=f"P{index + 1:02d}",
                                     name=f"{doc['prime_provider']['name']} {index + 1}")
        if kind == "indicators_c1":
            doc["calendar"] = {"kind": "monthly", "start": START.isoformat(),
                               "payment_in_arrears_days": 14}
            doc.pop("maximum_value", None)
        if kind == "indicators_c6":
            doc["maximum_value"] = str(Decimal(doc["annual_value"]) * Decimal("7.35"))
    doc["reference"] = ref
    doc["start"] = START.isoformat()
    doc["end"] = END.isoformat()
    doc["calendar"]["start"] = START.isoformat()
    return doc


# --- participants and claims ------------------------------------------------------------------


def _status(rng):
    x = rng.random()
    for status, p in STATUSES:
        if x < p:
            return status
        x -= p
    return "passed"


def tariff_people(rng, n_people, n_claims, pid0, cid0):
    """Participants and claims for a Work Programme style contract, exactly n_claims claims."""
    segments = ["JSA_18_24", "JSA_25_PLUS", "ESA_EXIB", "ESA_NEW"]
    span = (BENCH_END - START).days
    people, claims = [], []
    budget = n_claims
    per_person = n_claims / max(1, n_people)
    for k in range(n_people):
        pid = pid0 + k
        seg = segments[rng.randrange(4)]
        start = START + dt.timedelta(days=rng.randrange(span + 1))
        people.append((pid, seg, start))
        mine = [("attachment", start, None)]
        # How likely a job: tuned so the programme has about the claims asked for.
        if rng.random() < min(0.9, max(0.05, (per_person - 1) / 9)):
            started = start + dt.timedelta(days=rng.randrange(14, 400))
            weeks = 26 if seg.startswith("JSA") else 13
            job = started + dt.timedelta(weeks=weeks)
            if rng.random() < 0.03:
                job -= dt.timedelta(weeks=2)  # claimed too early: refused as not yet due
            mine.append(("job_outcome", job, started))
            for n in range(1, rng.randrange(4, 27)):
                mine.append(("sustainment", job + dt.timedelta(weeks=4 * n), None))
        if rng.random() < 0.3:
            mine.append(("job_entry", start + dt.timedelta(days=rng.randrange(7, 200)), None))
        remaining_people = n_people - k - 1
        room = budget - remaining_people  # leave at least one claim (attachment) per person
        mine = [c for c in mine if c[1] <= BENCH_END][:max(1, room)]
        for outcome, achieved, started in mine:
            claims.append((cid0 + len(claims), pid, outcome, achieved, started, None, None,
                           _status(rng)))
        budget -= len(mine)
    # Top up to exactly n_claims with recorded job entries (milestones, paid nothing).
    while budget > 0:
        pid, seg, start = people[rng.randrange(len(people))]
        achieved = min(BENCH_END, start + dt.timedelta(days=rng.randrange(7, 300)))
        claims.append((cid0 + len(claims), pid, "job_entry", achieved, None, None, None,
                       _status(rng)))
        budget -= 1
    return people, claims


def basket_people(rng, n_people, n_claims, pid0, cid0):
    span = (BENCH_END - START).days
    people, claims = [], []
    choice = ["money_management", "social_contact", "training"]
    for k in range(n_people):
        pid = pid0 + k
        seg = "older_people" if rng.random() < 0.4 else "socially_excluded"
        start = START + dt.timedelta(days=rng.randrange(span + 1))
        people.append((pid, seg, start))
    budget = n_claims
    while budget > 0:
        for pid, seg, start in people:
            if budget <= 0:
                break
            outcome = rng.choice(["accommodation", "primary_health", "staying_safe",
                                  rng.choice(choice), "personal"]
                                 + (["independence_steps"] if seg == "older_people" else []))
            achieved = min(BENCH_END, start + dt.timedelta(days=rng.randrange(10, 500)))
            steps = (None, None)
            if outcome == "independence_steps":
                a = rng.randrange(1, 5)
                steps = (a, min(5, a + rng.randrange(0, 3)))
            claims.append((cid0 + len(claims), pid, outcome, achieved, None, steps[0], steps[1],
                           _status(rng)))
            budget -= 1
    return people, claims


# --- COPY -------------------------------------------------------------------------------------


def _cell(value):
    kind = type(value)
    if value is None:
        return r"\N"
    if kind is str:
        text = value
    elif kind is bool:
        return "t" if value else "f"
    elif kind is int or kind is Decimal or kind is dt.date:
        return str(value)
    elif kind is dict or kind is list:
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = (text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
                .replace("\r", "\\r"))
    return text


def copy_rows(cursor, table, columns, rows, chunk=100_000):
    buf, n = io.StringIO(), 0
    quoted = ", ".join(f'"{c}"' for c in columns)
    sql = f"COPY {table} ({quoted}) FROM STDIN"
    for row in rows:
        buf.write("\t".join(_cell(v) for v in row))
        buf.write("\n")
        n += 1
        if n % chunk == 0:
            buf.seek(0)
            cursor.copy_expert(sql, buf)
            buf = io.StringIO()
    if buf.tell():
        buf.seek(0)
        cursor.copy_expert(sql, buf)
    return n


# --- one contract -----------------------------------------------------------------------------


def indicator_rows(kind, defn, periods, rng):
    """(period id, indicator, measure period, value, numerator, denominator) returned with the
    return of the last period of what each figure measures, up to the month before the bench."""
    rows = []
    if not kind.startswith("indicators"):
        return rows
    done = [p for p in periods if p.end <= BENCH_END]
    groups, years = {}, {}
    for p in done:
        groups[p.group] = p
        years[p.financial_year] = p

    def closed(last):
        return last.end < BENCH_START or last.end == BENCH_END

    if kind == "indicators_c1":
        for group, last in groups.items():
            if closed(last):
                rows.append((last.id, "planned_move_on", group, None,
                             Decimal(rng.randrange(50, 100)), Decimal(100)))
                rows.append((last.id, "utilisation", group, None, Decimal(rng.randrange(800, 1000)),
                             Decimal(1000)))
    else:
        per_year = {"indicators_c4": [("entering", 40, 70), ("moving_on", 25, 50)],
                    "indicators_c6": [("planned_move_on", 60, 72)],
                    "indicators_c2": [("individuals_supported", 90, 140),
                                      ("tenancy_sustainment", 94, 100)]}[kind]
        for fy, last in years.items():
            if last.number_in_year == len([p for p in periods if p.financial_year == fy]):
                for code, lo, hi in per_year:
                    rows.append((last.id, code, fy, Decimal(rng.randrange(lo, hi)), None, None))
    return rows


def engine_claims(claims, people, return_period, requires_verification):
    """The engine's view of the claims, exactly as outcomes.services.facts_for builds it."""
    from outcomes.services import engine_status
    from payments import engine

    by_pid = {p[0]: p for p in people}
    out = []
    for cid, pid, outcome, achieved, started, step_from, step_to, status, sub in claims:
        _pid, seg, start = by_pid[pid]
        out.append(engine.Claim(
            id=f"C{cid}", participant=f"P{pid}", outcome=outcome, achieved=achieved,
            segment=seg or None,
            status=engine_status(status, requires_verification=requires_verification),
            period=return_period[achieved.replace(day=1)], attachment_date=start,
            started=started, step_from=step_from, step_to=step_to, grade=None,
            criteria_met=None, criteria_total=None, units=Decimal(1),
            subcontractor=sub or None, evidence=()))
    return out


def build_contract(spec, seed, ids, orgs):
    """Import one contract and write its people, returns, claims, runs and ledger."""
    from django.db import connection, transaction
    from django.utils import timezone

    from contracts.definition import periods as calendar
    from contracts.definition.model import Cap
    from contracts.models import Contract
    from contracts.services import import_contract, publish_terms
    from outcomes.services import verification_required
    from payments import engine, tallies
    from payments.models import PaymentRun, RunStatus

    index, kind, n_people, n_claims = spec
    doc = document(index, kind, seed)
    if Contract.objects.filter(reference=doc["reference"]).exists():
        return None
    rng = random.Random(seed * 7919 + index)
    t0 = time.monotonic()
    with transaction.atomic():
        provider = orgs["provider"](doc["prime_provider"]["name"])
        contract = import_contract(doc, commissioner=orgs["commissioner"](kind),
                                   links={doc["prime_provider"]["code"]: provider})
        version = contract.versions.get()
        publish_terms(version)
        contract.refresh_from_db()
        defn = version.definition()
        periods = [p for p in calendar(defn) if p.end <= BENCH_END]
        now = timezone.now()
        cursor = connection.cursor()
        raw = cursor.cursor  # psycopg2 cursor, for copy_expert
        # Bulk facts are history: the fact-change triggers are for live writes, not a load.
        cursor.execute("SET LOCAL session_replication_role = replica")

        # Returns: one per month, submitted (locked once the month has been paid).
        rid0 = ids["return"] + index * 1000
        return_rows, return_period, return_id = [], {}, {}
        for i, p in enumerate(periods):
            rid = rid0 + i
            status = "locked" if p.end < BENCH_START else "submitted"
            submitted = dt.datetime.combine(p.end + dt.timedelta(days=10), dt.time(12),
                                            tzinfo=dt.UTC)
            return_rows.append((rid, p.id, p.start, p.end, p.end + dt.timedelta(days=30), status,
                                1, "", now, submitted, contract.pk, None, provider.pk, None, None,
                                None))
            return_period[p.start] = p.id
            return_id[p.start] = rid
        copy_rows(raw, "outcomes_return", [
            "id", "period_id", "period_start", "period_end", "due_date", "status", "version",
            "reason", "created_at", "submitted_at", "contract_id", "created_by_id", "provider_id",
            "submitted_by_id", "supersedes_id", "marked_late_on"], return_rows)

        people, claims = [], []
        if kind in ("tariff", "basket"):
            make = tariff_people if kind == "tariff" else basket_people
            people, raw_claims = make(rng, n_people, n_claims, ids["participant"][index],
                                      ids["claim"][index])
            subs = [s.code for s in defn.subcontractors]
            claims = [c + ((subs[c[1] % len(subs)] if subs else ""),) for c in raw_claims]
            copy_rows(raw, "outcomes_participant", [
                "id", "contract_id", "provider_id", "provider_reference", "identity_hash",
                "segment", "start_date", "leave_date", "leave_reason", "created_at"],
                ((pid, contract.pk, provider.pk, f"{doc['reference']}-{pid:08d}",
                  hashlib.sha256(PSEUDONYM_KEY + str(pid).encode()).hexdigest(), seg, start,
                  None, "", now) for pid, seg, start in people))
            row_numbers = {}

            def claim_rows():
                for cid, pid, outcome, achieved, started, sf, st, status, sub in claims:
                    rid = return_id[achieved.replace(day=1)]
                    row_numbers[rid] = row_numbers.get(rid, 0) + 1
                    yield (cid, row_numbers[rid], outcome, achieved, started, sf, st, "", None,
                           None, None, sub, status, "[]", None, pid, rid)
            copy_rows(raw, "outcomes_claim", [
                "id", "row_number", "outcome", "achieved", "started", "step_from", "step_to",
                "grade", "criteria_met", "criteria_total", "value", "subcontractor", "status",
                "checks", "copied_from_id", "participant_id", "return_record_id"], claim_rows())

        indicators = indicator_rows(kind, defn, periods, rng)
        by_id = {p.id: p for p in periods}
        iid0 = 1 + index * 10_000
        copy_rows(raw, "outcomes_indicatorreturn", [
            "id", "return_record_id", "row_number", "indicator", "measure_period", "value",
            "numerator", "denominator"],
            ((iid0 + n, return_id[by_id[pid].start], n + 1, code, measure, v, num, den)
             for n, (pid, code, measure, v, num, den) in enumerate(indicators)))

        # Every month before the bench month was run and approved: post exactly what the engine
        # computes for the facts known at the end of the previous month, each line in its month.
        prev = periods[-2]
        known = [c for c in claims if c[3] <= prev.end]
        facts = engine.Facts(
            claims=tuple(engine_claims(known, people, return_period,
                                       verification_required(contract))),
            indicator_values=tuple(
                engine.IndicatorValue(indicator=code, period=measure, value=v, numerator=num,
                                      denominator=den, id=f"I{iid0 + n}", reported_in=pid)
                for n, (pid, code, measure, v, num, den) in enumerate(indicators)
                if by_id[pid].end <= prev.end))
        assessment = engine.calculate(defn, facts, prev)
        runs = PaymentRun.objects.bulk_create([PaymentRun(
            contract=contract, period_id=p.id, period_index=p.index, period_start=p.start,
            period_end=p.end, terms_version=version, status=RunStatus.APPROVED, computations=1,
            last_computed_at=now, approved_at=now, mode="full") for p in periods[:-1]])
        run_of = {r.period_id: r.pk for r in runs}
        copy_rows(raw, "payments_ledgerline", [
            "period_id", "key", "kind", "rule_id", "amount", "shadow", "subcontractor",
            "participant", "explanation", "inputs", "references", "computation", "created_at",
            "contract_id", "corrects_id", "run_id"],
            ((ln.period, ln.key, ln.kind, ln.rule_id, ln.amount, ln.shadow,
              ln.subcontractor or "", ln.participant or "", ln.explanation, dict(ln.inputs),
              list(ln.references), 1, now, contract.pk, None, run_of[ln.period])
             for ln in assessment.lines))
        if not any(isinstance(rule, Cap) for rule in defn.rules):
            # What the February run left for the next: each participant's accepted claims.
            copy_rows(raw, "payments_participanttally", [
                "contract_id", "terms_version_id", "participant", "accepted", "through_achieved",
                "through_claim"],
                ((contract.pk, version.pk, who, accepted, day, claim)
                 for who, accepted, day, claim in tallies.rows(
                     assessment.accepted, facts.claims, {c.participant for c in facts.claims})))
        cursor.execute("SELECT max(id) FROM payments_ledgerline WHERE contract_id = %s",
                       [contract.pk])
        high = cursor.fetchone()[0]
        PaymentRun.objects.filter(pk=run_of[prev.id]).update(
            facts_as_of=prev.end, ledger_high_water=high,
            tallies_complete=not any(isinstance(rule, Cap) for rule in defn.rules),
            facts_basis={"requires_verification": verification_required(contract)},
            notes=list(assessment.notes),
            refusals=[{"claim": r.claim_id, "participant": r.participant, "outcome": r.outcome,
                       "reason": r.reason, "code": r.code, "rule": r.rule_id or ""}
                      for r in assessment.refusals])
    return {"reference": doc["reference"], "kind": kind, "participants": len(people),
            "claims": len(claims), "ledger_lines": len(assessment.lines),
            "seconds": round(time.monotonic() - t0, 1)}


# --- orchestration ----------------------------------------------------------------------------


def setup_django(db):
    os.environ["DATABASE_URL"] = f"{SERVER}/{db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pbr.settings.dev")
    os.environ.setdefault("CELERY_BROKER_URL", "")
    import django

    django.setup()


def ensure_database(db, recreate=False):
    import psycopg2

    conn = psycopg2.connect(f"{SERVER}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        if recreate:
            cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db])
        if not cur.fetchone():
            cur.execute(f'CREATE DATABASE "{db}"')
    conn.close()


def organisations():
    from django.utils.text import slugify

    from pbr.models import Organisation, OrganisationKind

    def commissioner(kind):
        name = ("Department for Work and Pensions" if kind == "tariff"
                else "Local Authorities Commissioning Consortium")
        org, _ = Organisation.objects.get_or_create(
            name=name, defaults={"kind": OrganisationKind.COMMISSIONING_BODY, "slug": slugify(name)[:80]})
        return org

    def provider(name):
        org, _ = Organisation.objects.get_or_create(
            name=name, defaults={"kind": OrganisationKind.PROVIDER, "slug": slugify(name)[:80]})
        return org

    return {"commissioner": commissioner, "provider": provider}


def id_ranges(specs):
    """Fixed id ranges per contract, so a resumed or parallel build never collides."""
    pid, cid = 1, 1
    participants, claims = {}, {}
    for index, _kind, n_people, n_claims in specs:
        participants[index], claims[index] = pid, cid
        pid += n_people
        cid += n_claims
    return {"participant": participants, "claim": claims, "return": 1}


def _worker(args):
    db, specs, seed = args
    setup_django(db)
    ids = id_ranges(ALL_SPECS[0])
    orgs = organisations()
    out = []
    for spec in specs:
        result = build_contract(spec, seed, ids, orgs)
        if result:
            print(f"  {result}", flush=True)
            out.append(result)
    return out


ALL_SPECS = [None]


def finish(db):
    """Sequences past the explicit ids, what the last approved runs read, planner statistics."""
    from django.db import connection

    from outcomes.services import verification_required
    from payments.models import PaymentRun

    for run in PaymentRun.objects.filter(facts_as_of__isnull=False, facts_basis={}) \
            .select_related("contract"):
        run.facts_basis = {"requires_verification": verification_required(run.contract)}
        run.save(update_fields=["facts_basis"])

    with connection.cursor() as cur:
        for table in ("outcomes_participant", "outcomes_claim", "outcomes_return",
                      "outcomes_indicatorreturn"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"GREATEST((SELECT max(id) FROM {table}), 1))")
        # VACUUM as well: rows written by COPY are not yet marked all-visible, so until autovacuum
        # reaches them every index-only scan would fetch each row from the table.
        cur.execute("VACUUM (ANALYZE)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=DEFAULT_DB)
    parser.add_argument("--contracts", type=int, default=40)
    parser.add_argument("--participants", type=int, default=1_000_000)
    parser.add_argument("--claims", type=int, default=5_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2, help="contracts built in parallel")
    parser.add_argument("--recreate", action="store_true", help="drop the database first")
    args = parser.parse_args(argv)
    if not args.db.startswith("pbr_"):
        parser.error("the database name must start with pbr_ (it may be dropped)")
    t0 = time.monotonic()
    ensure_database(args.db, args.recreate)
    setup_django(args.db)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    specs = programme(args.contracts, args.participants, args.claims, args.seed)
    ALL_SPECS[0] = specs
    print(f"Generating {args.contracts} contracts, {args.participants:,} participants, "
          f"{args.claims:,} claims into {args.db} ...", flush=True)
    organisations()["commissioner"]("tariff")
    organisations()["commissioner"]("other")
    # Largest first, dealt round-robin, so the parallel builders finish together.
    order = sorted(specs, key=lambda s: -s[3])
    batches = [order[i::args.jobs] for i in range(args.jobs)]
    from django.db import connections

    connections.close_all()
    results = []
    if args.jobs > 1:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
            for part in pool.imap_unordered(_worker, [(args.db, b, args.seed) for b in batches]):
                results += part
    else:
        results = _worker((args.db, order, args.seed))
    finish(args.db)
    elapsed = time.monotonic() - t0
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT (SELECT count(*) FROM contracts_contract), "
                    "(SELECT count(*) FROM outcomes_participant), "
                    "(SELECT count(*) FROM outcomes_claim), "
                    "(SELECT count(*) FROM payments_ledgerline)")
        contracts, people, claims, lines = cur.fetchone()
    print(f"Done in {elapsed:.0f} s ({len(results)} contracts built now): {contracts} contracts, "
          f"{people:,} participants, {claims:,} claims, {lines:,} ledger lines. "
          f"Benchmark month: {BENCH_PERIOD}.", flush=True)
    return {"seconds": elapsed, "contracts": contracts, "participants": people, "claims": claims,
            "ledger_lines": lines}


if __name__ == "__main__":
    main()
