"""Payment runs: compute with the pure engine, post the difference to the ledger, approve.

`payments` reads contracts and verified claims; it never changes them.
"""

import dataclasses
import time
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, Max, OuterRef
from django.utils import timezone

from contracts.definition import ContractDefinition
from contracts.definition import build as build_definition
from contracts.definition import periods as contract_periods
from contracts.definition.model import Cap
from contracts.definition.money import fmt_number, gbp
from contracts.models import Contract, TermsStatus
from payments import engine
from payments.engine.flowdown import allocate as engine_allocate
from pbr import audit, collector
from pbr.lookups import chunks

from . import pgcopy, tallies
from .fact_changes import contract_facts_version
from .models import FactChange, LedgerLine, PaymentRun, RunStatus
from .permissions import can_approve_run, can_run_payments

CENT = Decimal("0.01")


class RunError(Exception):
    """A run that cannot go ahead, with the reason in words."""


@dataclass(frozen=True)
class ResolvedPeriod:
    terms_version: object
    definition: object
    period: object


_DEFINITIONS = {}


def terms_definition(version):
    """The parsed definition of a terms version, parsed once per process.

    A published version's document was validated when it was imported and can never change
    (TermsVersion.save refuses), so it is built without validating it again; the cache key
    includes the document's hash all the same. Validation is most of the cost of a no-change
    run of a national contract.
    """
    if version.status != TermsStatus.PUBLISHED:
        return version.definition()
    key = (version.pk, version.document_sha256)
    found = _DEFINITIONS.get(key)
    if found is None:
        if len(_DEFINITIONS) > 500:
            _DEFINITIONS.clear()
        found = _DEFINITIONS[key] = build_definition(ContractDefinition, version.document)
    return found


def resolve_period(contract, period_id):
    """Find a period by its label (e.g. 'P4 2013-14') in the terms in force for it."""
    # The documents are parsed once per process (terms_definition) and loaded only then.
    versions = list(contract.versions.filter(status=TermsStatus.PUBLISHED)
                    .order_by("-effective_from", "-number").defer("document"))
    if not versions:
        raise RunError(f"{contract.reference} has no published terms, so nothing can be paid yet.")
    # The calendar comes from the newest terms; the rules from the version in force at the start.
    calendar = contract_periods(terms_definition(versions[0]))
    period = next((p for p in calendar if p.id == period_id), None)
    if period is None:
        known = ", ".join(p.id for p in calendar[:3])
        raise RunError(f"{contract.reference} has no period called ‘{period_id}’. Periods are "
                       f"named like {known} …")
    version = next((v for v in versions if v.effective_from <= period.start), versions[-1])
    definition = terms_definition(version)
    period = next(p for p in contract_periods(definition) if p.id == period_id)
    return ResolvedPeriod(version, definition, period)


def default_facts(contract, period, participants=None, **new_only):
    """Facts from the outcomes app (verified claims, indicator returns) when it provides them.

    `participants`: only these participants' claims and events (contract-level facts in full);
    `new_only` (new_since, also_claims): only their new claims (outcomes.services.facts_for).
    """
    try:
        from outcomes.services import facts_for
    except ImportError:
        return engine.Facts()
    if participants is None and not new_only:
        return facts_for(contract, period.end)
    return facts_for(contract, period.end, participants=participants, **new_only)


def _requires_verification(contract):
    try:
        from outcomes.services import verification_required
    except ImportError:
        return False
    return bool(verification_required(contract))


def _engine_ledger(contract, participants=None):
    """The contract's ledger as the engine reads it (see _ledger_and_owners)."""
    return _ledger_and_owners(contract, participants)[0]


_LEDGER_FIELDS = ("id", "key", "amount", "period_id", "kind", "rule_id", "shadow",
                  "subcontractor", "participant")


def _ledger_and_owners(contract, participants=None):
    """The contract's ledger for the engine, and each key's participant; with `participants`
    (pseudonyms), only their lines and the lines that belong to no participant (core,
    reconciliations, measures)."""
    base = LedgerLine.objects.filter(contract=contract)
    if participants is None:
        rows = list(base.values_list(*_LEDGER_FIELDS))
    else:
        rows = list(base.filter(participant="").values_list(*_LEDGER_FIELDS))
        for chunk in chunks(sorted(participants)):
            rows += base.filter(participant__anyof=chunk).values_list(*_LEDGER_FIELDS)
    return _as_ledger(rows)


def _ledger_for_keys(contract, keys):
    """The contract's lines with these keys, for the engine, and each key's participant."""
    base = LedgerLine.objects.filter(contract=contract)
    rows = []
    for chunk in chunks(sorted(keys)):
        rows += base.filter(key__anyof=chunk).values_list(*_LEDGER_FIELDS)
    return _as_ledger(rows)


def _as_ledger(rows):
    rows.sort(key=lambda r: r[0])
    owners = {row[1]: row[8] for row in rows if row[8]}
    return engine.Ledger(tuple(
        engine.LedgerLine(id=str(pk), key=key, amount=amount, period=period_id, kind=kind,
                          rule_id=rule_id, shadow=shadow, subcontractor=sub or None)
        for pk, key, amount, period_id, kind, rule_id, shadow, sub, _who in rows)), owners


_BULKY = ("refusals", "notes")


def _get_run(contract, resolved):
    """The run row for (contract, period), locked; created if missing, race-safe."""
    period = resolved.period
    existing = PaymentRun.objects.filter(contract=contract, period_id=period.id).order_by()
    pk = existing.values_list("pk", flat=True).first()
    if pk is None:
        try:
            with transaction.atomic():
                pk = PaymentRun.objects.create(
                    contract=contract, period_id=period.id, period_index=period.index,
                    period_start=period.start, period_end=period.end,
                    terms_version=resolved.terms_version).pk
        except IntegrityError:
            pk = existing.values_list("pk", flat=True).get()
    # A second run of the same contract and period waits here until the first commits. The
    # refusals (thousands of entries for a national contract) and notes are read only if the
    # computation needs them, and saved only if it replaces them.
    return PaymentRun.objects.select_for_update().defer(*_BULKY).get(pk=pk)


# --- what changed since the last run (ADR 0012) ---------------------------------------------


def _consume_fact_changes(contract):
    """Participants written to since the contract's last run, and, for those whose only
    changes touched single claims (new claims, evidence added to a claim), those claims' ids
    (engine ids, "C<pk>"). The markers are deleted in the run's transaction, so a crash puts
    them back and a concurrent write not yet committed is left for the next run."""
    from outcomes.models import Participant

    mine = Participant.objects.filter(contract=contract, pk=OuterRef("participant_id"))
    changes = FactChange.objects.filter(Exists(mine))
    rows = set(changes.values_list("participant_id", "claim_id"))
    ids = {participant for participant, _claim in rows}
    whole = {participant for participant, claim in rows if claim is None}
    touched = {}
    for participant, claim in rows:
        if claim is not None and participant not in whole:
            touched.setdefault(participant, set()).add(f"C{claim}")
    if ids:
        for chunk in chunks(ids):
            FactChange.objects.filter(participant_id__anyof=chunk).filter(Exists(mine)).delete()
    return ids, touched


def _participants_with_events_entering(contract, since, until):
    """Participants with events that become facts between two dates: those in a submitted
    return whose period ended after `since` and by `until`. (Participants with claims that
    become facts then are found by reading those claims: facts_for(new_since=...).)"""
    try:
        from outcomes.models import ParticipantEvent, Return
    except ImportError:
        return set()
    if until <= since:
        return set()
    returns = (Return.objects.filter(contract=contract, period_end__gt=since,
                                     period_end__lte=until)
               .exclude(status="draft").values("pk"))
    # order_by(): the models' default orderings would join returns and contracts only to sort,
    # and make DISTINCT keep duplicates.
    return set(ParticipantEvent.objects.filter(return_record__in=returns).order_by()
               .values_list("participant_id", flat=True).distinct())


def _settled_claims(claims, replay, since, period_ends, touched=frozenset()):
    """Claims whose lines are already in the ledger unchanged: for a participant whose only
    news is new claims (claims that became known after `since`, or `touched`: inserted, or
    given evidence, since the last run), every earlier-known claim that comes before all of
    the new ones in the engine's order (achieved, id). Participants in `replay` (written to
    otherwise, or with new events, which can change earlier claims) have none."""
    mine = {}
    for claim in claims:
        if claim.participant not in replay:
            mine.setdefault(claim.participant, []).append(claim)
    settled = set()
    for found in mine.values():
        for claim in sorted(found, key=lambda c: (c.achieved, c.id)):
            end = period_ends.get(claim.period)
            if end is None or end > since or claim.id in touched:
                break
            settled.add(claim.id)
    return settled


def _incremental_basis(contract, run, resolved, requires):
    """The last computation, when the ledger still holds exactly its entitlement and only
    participants' facts can have moved since; None when this run must recompute in full."""
    if _capped(resolved.definition):
        # A cap adds up every participant's lines: recompute everything.
        return None
    if run.computations:
        # No later period has been computed (checked by run_period): this run is the last.
        last = run
    else:
        last = (PaymentRun.objects.filter(contract=contract, computations__gt=0)
                .order_by("-period_index").defer(*_BULKY).first())
    if last is None or last.facts_as_of is None or last.ledger_high_water is None:
        return None
    if last.terms_version_id != resolved.terms_version.pk:
        return None
    if last.facts_basis != _facts_basis(requires):
        return None
    if last.facts_as_of > resolved.period.end:
        return None
    if _ledger_top(contract) > last.ledger_high_water:
        return None
    return last


def _capped(definition):
    return any(isinstance(rule, Cap) for rule in definition.rules)


def recomputed_in_full(contract):
    """Whether the contract's runs always recompute every participant (its terms have a cap),
    which makes them long for their size: the nightly fan-out starts them first."""
    version = contract.current_version()
    try:
        return version is not None and _capped(terms_definition(version))
    except Exception:  # noqa: BLE001 - broken terms: due_periods reports them, not this
        return False


def _ledger_top(contract):
    """The contract's highest ledger line id (0 for none). Asked as max(), which PostgreSQL
    answers from the end of the (contract, id) index: "any line above N?" as EXISTS ... LIMIT 1
    is planned as a scan of the whole table when the contract's lines are old."""
    return LedgerLine.objects.filter(contract=contract).aggregate(m=Max("id"))["m"] or 0


def _facts_basis(requires):
    return {"requires_verification": bool(requires)}


def _unchanged(contract, run, resolved, facts_version):
    """Whether this run's period was last computed from exactly the facts it would read now:
    same facts version (nothing of the contract written since: ADR 0021), same facts date and
    terms, and the ledger as that computation left it. Facts are read as known at the period's
    end, so time passing alone changes nothing. Then a recomputation would post nothing."""
    return (run.computations > 0 and run.facts_version is not None
            and run.facts_version == facts_version
            and run.facts_as_of == resolved.period.end
            and run.terms_version_id == resolved.terms_version.pk
            and run.ledger_high_water is not None
            and _ledger_top(contract) <= run.ledger_high_water)


def _record_unchanged(contract, run, *, actor, job):
    """A computation that found nothing new: counted and audited, nothing posted, the refusals
    and notes left as they are (not even read)."""
    run.computations += 1
    run.last_computed_at = timezone.now()
    run.status = RunStatus.DRAFT
    run.error = ""
    run.mode = "unchanged"
    run.participants_recomputed = 0
    run.participants_from_tally = 0  # (tallies_complete: unchanged, as the tallies are)
    if job is not None:
        run.job = job
    run.save()  # the deferred refusals and notes are not written
    audit.record("payment_run.computed", actor=actor, obj=run, organisation=contract.commissioner,
                 after={"computation": run.computations, "lines_posted": 0,
                        "amount_posted": "0.00", "mode": "unchanged"},
                 actor_label="" if actor else "payment scheduler")
    return run, []


# LedgerLine's columns in field order: the COPY's columns, and the order run_period builds
# instances in (tests/payments/test_ledger_posting.py checks the two agree).
_COPY_COLUMNS = ("id", "contract_id", "run_id", "period_id", "key", "kind", "rule_id", "amount",
                 "shadow", "subcontractor", "participant", "explanation", "inputs", "references",
                 "corrects_id", "computation", "created_at")


def _copy_row(row, created):
    """One ledger line as a row of COPY's text format, in _COPY_COLUMNS order; JSON fields as
    JSON text (pgcopy.json_text). The text fields are joined with NUL (which
    PostgreSQL text cannot hold) and escaped in one pass, then the NULs become tabs."""
    corrects = "\\N" if row.corrects_id is None else str(row.corrects_id)
    text = pgcopy.text("\0".join((
        row.period_id, row.key, row.kind, row.rule_id, str(row.amount),
        "t" if row.shadow else "f", row.subcontractor, row.participant, row.explanation,
        pgcopy.json_text(row.inputs), pgcopy.json_text(row.references)))).replace("\0", "\t")
    return (f"{row.pk}\t{row.contract_id}\t{row.run_id}\t{text}\t{corrects}\t"
            f"{row.computation}\t{created}\n")


def _post_lines(rows):
    """Insert new ledger lines and give them their ids, in order.

    On PostgreSQL with COPY: the ids are taken from the table's sequence first (so they still
    rise in posting order), then every row goes in one stream. Several times quicker than a
    multi-row INSERT for the thousands of lines a national contract posts; the unique
    constraint on (run, computation, key) still refuses a double post. Elsewhere bulk_create.
    """
    if connection.vendor != "postgresql" or not rows:
        return LedgerLine.objects.bulk_create(rows, batch_size=2000)
    now = timezone.now()
    created = now.isoformat()
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('payments_ledgerline', 'id')) "
                       "FROM generate_series(1, %s)", [len(rows)])
        ids = sorted(pk for (pk,) in cursor.fetchall())
        for pk, row in zip(ids, rows, strict=True):
            row.pk, row.created_at = pk, now
        # Django's IntegrityError, as bulk_create raises
        pgcopy.copy_in(cursor, "payments_ledgerline", _COPY_COLUMNS,
                       (_copy_row(row, created) for row in rows))
    for row in rows:
        row._state.adding = False
        row._state.db = connection.alias
    return rows


class _CarriedRefusals:
    """The last computation's refusals, carried into an incremental one: they stand for
    everyone not `recomputed` (participants whose history is read again) and for those
    participants' `settled` claims; the rest are replaced by the new computation's.

    A national contract's list holds over 12,000 refusals (2.4 MB of JSON), rewritten by
    every run; on PostgreSQL it is filtered and written in the database (jsonb) rather than
    decoded, filtered and encoded again here, and only the recomputed participants' entries
    are read. `kept` is the list to write from here, or None when `write` does it there."""

    def __init__(self, basis_pk, recomputed, settled):
        self.basis_pk, self.recomputed, self.settled = basis_pk, sorted(recomputed), settled
        self.new = []
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT e->>'claim' FROM payments_paymentrun b, "
                    "jsonb_array_elements(b.refusals) e WHERE b.id = %s "
                    "AND coalesce(e->>'participant', '') = ANY(%s::text[])",
                    [basis_pk, self.recomputed])
                self.mine = {claim for (claim,) in cursor.fetchall()}
            self.kept = None
        else:
            prior = (PaymentRun.objects.filter(pk=basis_pk)
                     .values_list("refusals", flat=True).get())
            self.mine = {r.get("claim") for r in prior if r.get("participant") in recomputed}
            self.kept = [r for r in prior if r.get("participant") not in recomputed
                         or r.get("claim") in settled]

    def settled_refused(self):
        """Which settled claims the last computation refused."""
        return {claim for claim in self.mine if claim in self.settled}

    def write(self, run):
        """The run's refusals: those carried, in their order, then the new ones. When none is
        dropped (the usual month: the participants recomputed had no refusals, or only of
        settled claims) the list is extended as it is, without taking it apart."""
        with connection.cursor() as cursor:
            if not self.mine - self.settled:
                cursor.execute(
                    "UPDATE payments_paymentrun SET refusals = (SELECT b.refusals FROM "
                    "payments_paymentrun b WHERE b.id = %s) || %s::jsonb WHERE id = %s",
                    [self.basis_pk, pgcopy.json_text(self.new), run.pk])
                return
            cursor.execute(
                "UPDATE payments_paymentrun SET refusals = coalesce(("
                "SELECT jsonb_agg(e ORDER BY n) FROM payments_paymentrun b, "
                "jsonb_array_elements(b.refusals) WITH ORDINALITY AS x(e, n) WHERE b.id = %s "
                "AND (NOT coalesce(e->>'participant', '') = ANY(%s::text[]) "
                "OR e->>'claim' = ANY(%s::text[]))), '[]'::jsonb) || %s::jsonb WHERE id = %s",
                [self.basis_pk, self.recomputed, sorted(self.settled), pgcopy.json_text(self.new),
                 run.pk])


def _refusal_rows(refusals):
    return [{"claim": r.claim_id, "participant": r.participant, "outcome": r.outcome,
             "reason": r.reason, "code": r.code, "rule": r.rule_id or ""} for r in refusals]


def _pseudonym(participant_id):
    return f"P{participant_id}"


@collector.paused()
def run_period(contract, period_id, *, actor=None, facts=None, job=None, full=False):
    """Compute a period and post the difference. Returns (run, lines posted now).

    Everything for one computation is written in one transaction, so a crash part-way leaves
    the ledger exactly as it was and a re-run produces the uninterrupted result.

    Without `facts`, the run reads them itself and, when the last computation allows it,
    recomputes only the participants whose facts changed since (ADR 0012); `full=True` forces
    a full recomputation. Both post exactly the same lines.

    Python's cyclic garbage collector is paused meanwhile (pbr.collector, ADR 0024).
    """
    if actor is not None:
        decision = can_run_payments(actor, contract)
        if not decision:
            raise RunError(decision.reason)
    resolved = resolve_period(contract, period_id)
    # Before anything is read: a fact written from here on moves the version again.
    facts_version = contract_facts_version(contract) if facts is None else None
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # A run's queries ask for a few thousand participants' rows by index; the planner
            # overestimates them and compiles each with JIT, which took several times the
            # query itself (60-200 ms a query at national scale: docs/performance.md).
            # A run is a recomputation: if the database server crashed within the moment
            # before its commit reached the disk, the whole run would be gone (never half of
            # it) and the next run would post exactly the same lines again (ADR 0022). So it
            # does not wait for the disk at commit, which was a tenth of a national run.
            # Parallel query neither: runs are spread across workers, one contract each, and
            # a few thousand rows by index gain nothing from two more processes.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
                cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
                cursor.execute("SET LOCAL synchronous_commit = off")
        # One computation per contract at a time, whatever the period: each builds on what the
        # last one left in the ledger (ADR 0012).
        Contract.objects.select_for_update().filter(pk=contract.pk).values_list("pk").first()
        run = _get_run(contract, resolved)
        run.contract = contract
        later = (PaymentRun.objects.filter(contract=contract, period_index__gt=run.period_index)
                 .order_by("-period_index").values_list("period_id", flat=True).first())
        if later is not None:
            # Entitlement is computed "to date": recomputing an earlier period after a later one
            # would reverse the later lines. Late facts belong in the next open period instead.
            raise RunError(f"{period_id} is closed: {later} has been computed since. "
                           f"Late facts are picked up by the run for {later} or after.")
        if run.status == RunStatus.APPROVED:
            raise RunError(f"The {period_id} run was approved on {run.approved_at:%d %B %Y} and is "
                           "locked. New facts are picked up by the next period's run.")
        if facts_version is not None and not full and _unchanged(contract, run, resolved,
                                                                 facts_version):
            return _record_unchanged(contract, run, actor=actor, job=job)
        mode, changed, refusals = "full", None, None
        requires = None
        if facts is None:
            # Changes first, facts after: a write committed in between is read now and
            # recomputed once more next time, never missed.
            changed, touched = _consume_fact_changes(contract)
            requires = _requires_verification(contract)
            basis = None if full else _incremental_basis(contract, run, resolved, requires)
            if basis is not None:
                mode = "incremental"
                # Every claim that became a fact since (in a return whose period has ended
                # since, or named by the triggers), read once: it also says who has new claims.
                new_facts = default_facts(
                    contract, resolved.period, participants=None, new_since=basis.facts_as_of,
                    also_claims={int(c[1:]) for ids in touched.values() for c in ids})
                new_claims = {}
                for claim in new_facts.claims:
                    new_claims.setdefault(claim.participant, []).append(claim)
                with_claims = {int(who[1:]) for who in new_claims}
                with_events = _participants_with_events_entering(
                    contract, basis.facts_as_of, resolved.period.end)
                # Written to in any other way than claims touched one by one: replayed whole.
                replay = {_pseudonym(pk) for pk in (changed - touched.keys()) | with_events}
                changed |= with_claims | with_events
                # Those whose only news is claims, and whose tally (ADR 0022) covers none of
                # them: their new claims are assessed after the tally, nothing older is read.
                candidates = {_pseudonym(pk) for pk in changed} - replay
                tallied = tallies.load(contract, resolved.terms_version, candidates)
                if basis.tallies_complete:
                    # Everyone with a claim known to the last computation has a tally, so the
                    # others have no history: what is new to them is all they have.
                    tallied.update(dict.fromkeys(candidates - set(tallied), tallies.NONE_YET))
                for who, found in new_claims.items():
                    if who in tallied and not tallies.covers_none_of(tallied[who][1], found):
                        del tallied[who]  # a late claim: before one the tally covers
                history = {pk for pk in changed if _pseudonym(pk) not in tallied}
                # The contract-level facts (indicators, datasets, samples) are the new read's:
                # the same for every participant. Only the others' claims are read again.
                older = (default_facts(contract, resolved.period, participants=history).claims
                         if history else ())
                facts = dataclasses.replace(new_facts, claims=older + tuple(
                    c for c in new_facts.claims if c.participant in tallied))
                recomputed = {_pseudonym(pk) for pk in history}
                ledger, owners = _ledger_and_owners(contract, participants=recomputed)
                settled = _settled_claims(
                    facts.claims, replay | set(tallied), basis.facts_as_of,
                    {p.id: p.end for p in contract_periods(resolved.definition)},
                    set().union(*touched.values()))
                # The one read of the last computation's refusals in this run. They stand for
                # everyone whose history is not read and for the settled claims of those whose
                # is: the engine replays settled claims without checking them again
                # (calculate()), and starts the tallied from their tally.
                refusals = _CarriedRefusals(basis.pk, recomputed, settled)
                assessment = engine.calculate(
                    resolved.definition, facts, resolved.period, settled=settled,
                    settled_refused=refusals.settled_refused(),
                    prior={who: tally[0] for who, tally in tallied.items()})
                # The tallied's lines already posted are exactly their tally's: of their lines,
                # only the keys computed now can be in the ledger with something to correct.
                fresh = {ln.key for ln in assessment.lines if ln.participant in tallied}
                tallied_ledger, tallied_owners = _ledger_for_keys(contract, fresh)
                owners.update(tallied_owners)
                # The settled claims' lines stay as posted: leave them out of the diff.
                ledger = engine.Ledger(tuple(ln for ln in ledger.lines
                                             if ln.key not in assessment.settled_keys)
                                       + tallied_ledger.lines)
                statement = engine.Statement(
                    period=period_id, lines=tuple(engine.diff(assessment.lines, ledger,
                                                              period_id)),
                    refusals=assessment.refusals, notes=assessment.notes)
                tally_for = {_pseudonym(pk) for pk in changed}
                from_tally = len(tallied)
            else:
                facts = default_facts(contract, resolved.period)
        if mode == "full":
            ledger, owners = _ledger_and_owners(contract)
            assessment = engine.calculate(resolved.definition, facts, resolved.period)
            statement = engine.Statement(
                period=period_id, lines=tuple(engine.diff(assessment.lines, ledger, period_id)),
                refusals=assessment.refusals, notes=assessment.notes)
            tallied, from_tally = {}, 0
            tally_for = {c.participant for c in facts.claims}
        computation = run.computations + 1
        # Values in the model's field order (_COPY_COLUMNS), built without Model.__init__.
        rows = [LedgerLine.unsaved((
            None, contract.pk, run.pk, period_id, line.key, line.kind, line.rule_id,
            line.amount.quantize(CENT, ROUND_HALF_UP), line.shadow, line.subcontractor or "",
            # A reversal names no participant of its own: it belongs to the key's participant,
            # which is also how the next run finds it among that participant's lines.
            line.participant or owners.get(line.key, ""), line.explanation,
            dict(line.inputs), list(line.references),
            int(line.corrects) if line.corrects else None, computation, None,
        )) for line in statement.lines]
        posted = _post_lines(rows)
        if requires is not None and not _capped(resolved.definition):
            # What the next run starts the participants assessed now from (ADR 0022).
            tallies.save(contract, resolved.terms_version, assessment.accepted, facts.claims,
                         tally_for, tallied=tallied, replace_all=mode == "full")
        run.computations = computation
        run.last_computed_at = timezone.now()
        run.status = RunStatus.DRAFT
        run.error = ""
        run.terms_version = resolved.terms_version
        run.notes = list(statement.notes)
        new_refusals = _refusal_rows(statement.refusals)
        if refusals is None:
            run.refusals = new_refusals
        else:
            refusals.new = new_refusals
            if refusals.kept is not None:
                run.refusals = refusals.kept + new_refusals
        run.mode = mode
        run.participants_recomputed = len(changed) if mode == "incremental" else 0
        run.participants_from_tally = from_tally
        # Whether every participant with a claim now has a tally (ADR 0022): after a full
        # recomputation that wrote them, and after every incremental run built on one.
        run.tallies_complete = (requires is not None and not _capped(resolved.definition)
                                and (mode == "full" or basis.tallies_complete))
        if requires is None:
            # Facts supplied by the caller: the next run cannot build on this one.
            run.facts_as_of = None
            run.facts_version = None
            run.ledger_high_water = None
            run.facts_basis = {}
        else:
            run.facts_as_of = resolved.period.end
            run.facts_basis = _facts_basis(requires)
            run.facts_version = facts_version
            if mode == "incremental":
                # Nothing else was added since the basis (checked above): no query needed.
                run.ledger_high_water = max([basis.ledger_high_water,
                                             *(row.pk for row in posted)])
            else:
                run.ledger_high_water = _ledger_top(contract)
        if job is not None:
            run.job = job
        if settings.PBR_TEST_RUN_PAUSE:
            time.sleep(settings.PBR_TEST_RUN_PAUSE)
        run.save()
        if refusals is not None and refusals.kept is None:
            refusals.write(run)
        audit.record("payment_run.computed", actor=actor, obj=run, organisation=contract.commissioner,
                     after={"computation": computation, "lines_posted": len(posted),
                            "amount_posted": str(sum((r.amount for r in posted if not r.shadow),
                                                     Decimal("0.00"))),
                            "mode": mode},
                     actor_label="" if actor else "payment scheduler")
    return run, posted


@transaction.atomic
def approve_run(run, *, actor):
    # Locks in the order run_period takes them (contract, then run), so the two never deadlock.
    Contract.objects.select_for_update().filter(pk=run.contract_id).values_list("pk").first()
    run = PaymentRun.objects.select_for_update(of=("self",)).select_related("contract").get(
        pk=run.pk)
    decision = can_approve_run(actor, run)
    if not decision:
        raise RunError(decision.reason)
    if run.status != RunStatus.DRAFT:
        raise RunError(f"Only a run awaiting approval can be approved; this one is "
                       f"{run.get_status_display().lower()}.")
    threshold = Decimal(str(settings.PBR_SECOND_APPROVAL_ABOVE))
    total = Decimal(run.payable_total())
    now = timezone.now()
    if run.approved_by_id is None:
        run.approved_by, run.approved_at = actor, now
        needs_second = abs(total) > threshold
        if not needs_second:
            run.status = RunStatus.APPROVED
        audit.record("payment_run.approved" if not needs_second else "payment_run.first_approval",
                     actor=actor, obj=run, organisation=run.contract.commissioner,
                     before={"status": "draft"}, after={"status": run.status, "total": str(total)})
    else:
        if run.approved_by_id == actor.pk:
            raise RunError(f"Runs over £{threshold:,.2f} need a second approver: someone other "
                           "than the first.")
        run.second_approved_by, run.second_approved_at = actor, now
        run.status = RunStatus.APPROVED
        audit.record("payment_run.approved", actor=actor, obj=run, organisation=run.contract.commissioner,
                     before={"status": "draft"}, after={"status": "approved", "total": str(total)})
    run.save()
    return run


def _pennies(amount):
    n = int(abs(amount) / CENT)
    return f"{n}p"


def _names(items):
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _funder_split(total, funders):
    """Split a payable total by the funders' shares of the pooled budget, exactly to the penny.

    Each share is rounded down to the penny and the pennies left over go to the funders whose
    exact shares had the largest fraction of a penny cut off (ties: listed first in the terms),
    so the split always adds up to the total and never depends on the order of computation.
    """
    funders = list(funders)
    if not funders:
        return [], ""
    split = engine_allocate(total, [Decimal(f.share_pct) / 100 for f in funders])
    rows = [{"funder": f.name, "share_pct": fmt_number(Decimal(f.share_pct)),
             "exact": split.exact[i], "exact_text": _exact_str(split.exact[i], grouping=True),
             "amount": split.amounts[i],
             "rounding": (CENT if total >= 0 else -CENT) if i in split.residue_to else Decimal("0.00")}
            for i, f in enumerate(funders)]
    if len(funders) == 1:
        why = f"{funders[0].name} funds the whole contract, so it pays the whole amount."
    elif not split.residue_to:
        why = ("Each funder pays its share of the pooled budget; every share comes to a whole "
               "number of pennies.")
    else:
        got = _names([funders[i].name for i in split.residue_to])
        why = (f"Each funder pays its share of the pooled budget, rounded down to the penny. The "
               f"{_pennies(split.residue)} left over {'goes' if len(split.residue_to) == 1 else 'go'}"
               f" to {got}: the largest fraction of a penny was cut from "
               f"{'its share' if len(split.residue_to) == 1 else 'their shares'} (a tie goes to "
               "the funder listed first in the terms).")
    return rows, why


PASSDOWN_LABELS = {"evenly": "shared evenly", "pro_rata": "shared pro rata to delivery",
                   "at_fault": "passed down only when at fault"}


def _subcontractor_totals(engine_lines, definition, total):
    """Per subcontractor: outcome money passed down, the prime's management fee, shared
    deductions and the net; and what the prime keeps of the period's payable total."""
    subs = {s.code: {"subcontractor": s.code, "name": s.name or s.code,
                     "management_fee_pct": fmt_number(s.management_fee_pct),
                     "clawback_passdown": s.clawback_passdown,
                     "passdown_label": PASSDOWN_LABELS.get(s.clawback_passdown, s.clawback_passdown),
                     "outcome_payments": Decimal("0.00"), "passed_down": Decimal("0.00"),
                     "management_fee": Decimal("0.00"), "deductions": Decimal("0.00"),
                     "amount": Decimal("0.00"), "lines": []}
            for s in definition.subcontractors}
    for line in engine.flow_down(engine_lines, definition):
        entry = subs[line.subcontractor]
        if line.kind == "flow_down":
            entry["outcome_payments"] += Decimal(line.inputs["prime_amount"])
            entry["passed_down"] += Decimal(line.inputs["passed_down"])
            entry["management_fee"] += Decimal(line.inputs["management_fee"])
        else:
            entry["deductions"] += line.amount
        entry["amount"] += line.amount
        entry["lines"].append({"key": line.key, "kind": line.kind, "amount": line.amount,
                               "explanation": line.explanation,
                               "references": list(line.references)})
    rows = list(subs.values())
    to_subs = sum((r["amount"] for r in rows), Decimal("0.00"))
    fees = sum((r["management_fee"] for r in rows), Decimal("0.00"))
    retained = total - to_subs
    explanation = ""
    if rows:
        explanation = (f"Of the {gbp(total)} payable, {gbp(to_subs)} flows down to "
                       f"subcontractors and the prime keeps {gbp(retained)}: its own delivery, "
                       f"{gbp(fees)} in management fees, and anything not passed down under the "
                       "flow-down terms.")
    return rows, retained, explanation


def _reference_links(lines):
    """Links for the claims (C<id>) and indicator returns (I<id>) a line is based on."""
    from django.urls import reverse

    indicator_ids = {int(ref[1:]) for ln in lines for ref in ln.references
                     if isinstance(ref, str) and ref[:1] == "I" and ref[1:].isdigit()}
    returns = {}
    if indicator_ids:
        from outcomes.models import IndicatorReturn

        returns = dict(IndicatorReturn.objects.filter(pk__in=indicator_ids)
                       .values_list("pk", "return_record_id"))
    for ln in lines:
        links = []
        for ref in ln.references:
            url = None
            if isinstance(ref, str) and ref[1:].isdigit():
                if ref[0] == "C":
                    url = reverse("claim_detail", args=[int(ref[1:])])
                elif ref[0] == "I" and int(ref[1:]) in returns:
                    url = reverse("return_detail", args=[returns[int(ref[1:])]])
            links.append({"text": str(ref), "url": url})
        ln.reference_links = links


def build_statement(run):
    """Everything a statement shows, as plain data (HTML, PDF, CSV, JSON and the API use this)."""
    contract = run.contract
    lines = list(run.lines.select_related("corrects").order_by("id"))
    payable = sum((ln.amount for ln in lines if not ln.shadow), Decimal("0.00"))
    shadow = sum((ln.amount for ln in lines if ln.shadow), Decimal("0.00"))
    definition = run.terms_version.definition()
    engine_lines = [engine.Line(key=ln.key, kind=ln.kind, rule_id=ln.rule_id, period=ln.period_id,
                                amount=ln.amount, explanation=ln.explanation, inputs=ln.inputs,
                                references=tuple(ln.references), shadow=ln.shadow,
                                subcontractor=ln.subcontractor or None,
                                participant=ln.participant or None)
                    for ln in lines]
    _reference_links(lines)
    by_funder, funder_explanation = _funder_split(payable, definition.funders)
    subcontractors, prime_retained, flow_explanation = _subcontractor_totals(
        engine_lines, definition, payable)
    return {
        "contract": contract.reference,
        "title": contract.title,
        "prime_provider": definition.prime_provider.name,
        "funders": [f.name for f in definition.funders],
        "period": run.period_id,
        "period_start": run.period_start,
        "period_end": run.period_end,
        "terms_version": run.terms_version.number,
        "status": run.status,
        "status_label": run.get_status_display(),
        "is_draft": run.status != RunStatus.APPROVED,
        "lines": lines,
        "total": payable,
        "shadow_total": shadow,
        "by_funder": by_funder,
        "funder_explanation": funder_explanation,
        # the subcontractors with lines this period, net (kept for existing consumers)
        "by_subcontractor": [s for s in subcontractors if s["lines"]],
        "subcontractor_totals": subcontractors,
        "prime_retained": prime_retained,
        "flow_down_explanation": flow_explanation,
        "notes": run.notes,
        "refusals": run.refusals,
    }


def _exact_str(value, grouping=False):
    """An exact share as written by hand: every digit it has, and at least pence."""
    text = f"{abs(value).normalize():f}"
    whole, _, frac = text.partition(".")
    whole = f"{int(whole):,}" if grouping else whole
    return f"{'-' if value < 0 else ''}{whole}.{frac.ljust(2, '0')}"


def statement_json(run):
    data = build_statement(run)
    return {
        "contract": data["contract"],
        "period": data["period"],
        "period_start": data["period_start"].isoformat(),
        "period_end": data["period_end"].isoformat(),
        "terms_version": data["terms_version"],
        "status": data["status"],
        "lines": [{
            "id": ln.pk, "key": ln.key, "kind": ln.kind, "rule": ln.rule_id, "amount": str(ln.amount),
            "shadow": ln.shadow, "explanation": ln.explanation, "inputs": ln.inputs,
            "references": ln.references, "subcontractor": ln.subcontractor or None,
            "participant": ln.participant or None, "corrects": ln.corrects_id,
        } for ln in data["lines"]],
        "total": str(data["total"]),
        "shadow_total": str(data["shadow_total"]),
        "by_funder": [{"funder": f["funder"], "share_pct": f["share_pct"],
                       "exact": _exact_str(f["exact"]), "amount": str(f["amount"]),
                       "rounding": str(f["rounding"])} for f in data["by_funder"]],
        "funder_explanation": data["funder_explanation"],
        "by_subcontractor": [{"subcontractor": s["subcontractor"], "amount": str(s["amount"])}
                             for s in data["by_subcontractor"]],
        "subcontractor_totals": [{
            "subcontractor": s["subcontractor"], "name": s["name"],
            "management_fee_pct": s["management_fee_pct"],
            "clawback_passdown": s["clawback_passdown"],
            **{k: str(s[k]) for k in ("outcome_payments", "passed_down", "management_fee",
                                      "deductions", "amount")},
            "lines": [dict(ln, amount=str(ln["amount"])) for ln in s["lines"]],
        } for s in data["subcontractor_totals"]],
        "prime_retained": str(data["prime_retained"]),
        "flow_down_explanation": data["flow_down_explanation"],
        "notes": data["notes"],
        "refusals": data["refusals"],
    }


def due_periods(contract, today):
    """Periods of a contract that have closed by `today` and have no approved run yet."""
    try:
        resolved_calendar = contract_periods(terms_definition(contract.current_version()))
    except Exception:  # noqa: BLE001 - a contract with broken terms is reported, not fatal
        return []
    done = set(contract.payment_runs.filter(status=RunStatus.APPROVED).values_list("period_id", flat=True))
    return [p for p in resolved_calendar if p.end < today and p.id not in done]


def live_contracts():
    return Contract.objects.filter(status__in=["published", "live"])
