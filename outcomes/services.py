"""State changes for returns, and the facts the payment engine reads.

Every way in (web form, file upload, API) calls add_rows / import_file, which validate everything
first (outcomes.validation) and then save in one transaction, so a refused set leaves nothing.
"""

import datetime
import io
import itertools
import json
import queue
import threading
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connections, router, transaction
from django.utils import timezone

from contracts.definition import periods as contract_periods
from contracts.definition.model import Tariff
from contracts.models import TermsStatus
from payments import engine
from pbr import audit
from pbr.lookups import Many, chunks

from . import permissions
from .external import external_facts
from .models import (
    ADVERSE_EVENT,
    Claim,
    ClaimStatus,
    EvidenceFile,
    IndicatorReturn,
    Participant,
    ParticipantEvent,
    Return,
    ReturnStatus,
)
from .validation import (
    ReturnContext,
    ReturnRejected,
    RowProblem,
    open_table,
    validate_claims,
    validate_events,
    validate_file,
    validate_indicators,
)
from .verification.extrapolation import sample_checks


class ReturnError(Exception):
    """An action on a return that cannot go ahead, with the reason in words."""


def _require(decision):
    if not decision:
        raise ReturnError(decision.reason)


def return_due_date(period_end):
    """The contract format has no submission deadline: a return is due a set number of days
    (settings.PBR_RETURN_DUE_DAYS) after its period ends; later submissions are marked late."""
    return period_end + timedelta(days=settings.PBR_RETURN_DUE_DAYS)


def contract_periods_now(contract):
    version = (contract.versions.filter(status=TermsStatus.PUBLISHED)
               .order_by("-effective_from", "-number").first())
    if version is None:
        raise ReturnError(f"{contract.reference} has no published terms yet.")
    return contract_periods(version.definition())


@transaction.atomic
def start_return(contract, period_id, *, actor, provider=None):
    """The draft return for a period: the open draft if there is one, else a new version."""
    if actor is not None:
        _require(permissions.can_submit_returns(actor, contract))
        provider = actor.organisation
    period = next((p for p in contract_periods_now(contract) if p.id == period_id), None)
    if period is None:
        raise ReturnError(f"{contract.reference} has no period called {period_id}.")
    existing = (Return.objects.select_for_update()
                .filter(contract=contract, provider=provider, period_id=period_id)
                .order_by("-version"))
    latest = existing.first()
    if latest is not None and latest.status == ReturnStatus.DRAFT:
        return latest
    if latest is not None:
        raise ReturnError(f"The {period_id} return has been submitted; amend it instead.")
    ret = Return.objects.create(
        contract=contract, provider=provider, period_id=period.id, period_start=period.start,
        period_end=period.end, due_date=return_due_date(period.end),
        created_by=actor)
    audit.record("return.started", actor=actor, obj=ret, organisation=provider,
                 after={"period": period.id, "version": 1})
    return ret


def _lock(ret):
    return Return.objects.select_for_update().select_related("contract", "provider").get(pk=ret.pk)


def add_rows(ret, rows, *, actor, kind="claims", source="form"):
    """Validate rows and save them all, or raise ReturnRejected and save none.

    rows: iterable of (row number, {column: value}). Returns the number of rows saved.
    """
    with transaction.atomic():
        ret = _lock(ret)
        if actor is not None:
            decision = permissions.can_edit_return(actor, ret)
            if not decision:
                raise ReturnRejected([RowProblem(None, "", decision.reason, "permission")])
        ctx = ReturnContext(ret)
        if kind == "indicators":
            saved = _save_indicators(ret, validate_indicators(ctx, rows))
        elif kind == "events":
            saved = _save_events(ret, ctx, validate_events(ctx, rows))
        else:
            with ClaimWriter(ret, ctx) as writer:
                validate_claims(ctx, rows, sink=writer.add)
                saved = writer.finish()
        audit.record(f"return.{kind}_added", actor=actor, obj=ret, organisation=ret.provider,
                     after={"rows": saved, "source": source})
    return saved


def import_file(ret, upload, name, *, actor):
    """A CSV or XLSX upload: read, validate whole, save whole. Returns (kind, rows saved)."""
    with transaction.atomic():
        ret = _lock(ret)
        if actor is not None:
            decision = permissions.can_edit_return(actor, ret)
            if not decision:
                raise ReturnRejected([RowProblem(None, "", decision.reason, "permission")])
        # The rows are read from a copy on disk as they are checked, and claims written as they
        # pass; any problem raises and the transaction takes every row back.
        with open_table(upload, name) as (header, rows):
            ctx = ReturnContext(ret)
            with ClaimWriter(ret, ctx) as writer:
                kind, valid = validate_file(ctx, header, rows, claims_sink=writer.add)
                saved = writer.finish() if kind == "claims" else \
                    _save_indicators(ret, valid) if kind == "indicators" else \
                    _save_events(ret, ctx, valid)
        audit.record(f"return.{kind}_added", actor=actor, obj=ret, organisation=ret.provider,
                     after={"rows": saved, "source": "file", "file": name[:100]})
    return kind, saved


PARTICIPANT_COLUMNS = ("contract_id", "provider_id", "provider_reference", "identity_hash",
                       "segment", "start_date")
CLAIM_COLUMNS = ("return_record_id", "participant_id", "row_number", "outcome", "achieved",
                 "started", "step_from", "step_to", "grade", "criteria_met", "criteria_total",
                 "value", "subcontractor")


class ClaimWriter:
    """Saves checked claim rows (new participants, claims, evidence links) as the validator
    passes them, inside the caller's transaction.

    On PostgreSQL with psycopg2, once a return has more than BATCH rows, each full batch is
    written by a second thread with COPY while the validator checks the rows after it, so the
    database works on one core while Python checks on the other (ADR 0014). If any row is
    refused the validator stops passing rows, and the caller's transaction takes back what was
    written; leaving the with-block always stops the thread first.
    """

    BATCH = 5000

    def __init__(self, ret, ctx):
        self.ret = ret
        self.people = ctx.participants
        self.connection = connections[router.db_for_write(Claim)]
        self.pending = []
        self.saved = 0
        self.new = {}  # reference -> pk of a person first named in this return
        self.segments = {}  # known pk -> payment group first given for them now
        self.thread = self.queue = self.cursor = self.error = None
        # Only PostgreSQL through psycopg2 is written from a second thread; decided once.
        self.streams = self.connection.vendor == "postgresql"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._stop()

    def add(self, row):
        self.pending.append(row)
        if len(self.pending) < self.BATCH or not self.streams:
            return
        if self.thread is None:
            self.connection.ensure_connection()
            raw = self.connection.connection  # the driver's: Django's is this thread's only
            if not _is_psycopg2(raw):
                self.streams = False  # everything is written at the end instead
                return
            self.cursor = raw.cursor()
            self.queue = queue.Queue(maxsize=2)  # at most two batches waiting
            self.thread = threading.Thread(target=self._work, name="claim-writer", daemon=True)
            self.thread.start()
        self.queue.put(self.pending)
        self.pending = []

    def _work(self):
        while (batch := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self._write(batch, self.cursor)
                except BaseException as exc:  # handed to the caller's thread by finish()
                    self.error = exc

    def _stop(self):
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join()
            self.thread = None
            self.cursor.close()

    def finish(self):
        """Write what is left, give people their payment group, and return the claims saved."""
        self._stop()
        if self.error is not None:
            raise self.error
        if self.pending:
            self._write(self.pending, None)
            self.pending = []
        for segment in set(self.segments.values()):
            Participant.objects.filter(pk__in=[pk for pk, s in self.segments.items()
                                               if s == segment]).update(segment=segment)
        return self.saved

    def _pk(self, ref):
        known = self.people.known(ref)
        return known.pk if known is not None else self.new[ref]

    def _write(self, rows, cursor):
        new = {}  # reference -> the row that first names a person not yet held
        for row in rows:
            ref = row.participant_ref
            known = self.people.known(ref)
            if known is None:
                if ref not in self.new:
                    new.setdefault(ref, row)
            elif not known.segment and row.segment:
                self.segments.setdefault(known.pk, row.segment)
        ids = insert_rows(Participant, PARTICIPANT_COLUMNS, (
            (self.ret.contract_id, self.ret.provider_id, ref, row.identity_hash, row.segment,
             row.start_date) for ref, row in new.items()), cursor=cursor)
        self.new.update(zip(new, ids, strict=True))
        claim_ids = insert_rows(Claim, CLAIM_COLUMNS, (
            (self.ret.pk, self._pk(row.participant_ref), row.row, row.outcome, row.achieved,
             row.started, row.step_from, row.step_to, row.grade, row.criteria_met,
             row.criteria_total, row.value, row.subcontractor) for row in rows), cursor=cursor)
        insert_rows(EvidenceFile.claims.through, ("claim_id", "evidencefile_id"), (
            (claim_id, evidence_id) for claim_id, row in zip(claim_ids, rows, strict=True)
            for evidence_id in row.evidence_ids), cursor=cursor)
        self.saved += len(claim_ids)


def insert_rows(model, columns, rows, *, cursor=None):
    """Insert rows given as tuples of column values (attnames, in `columns` order: str, int,
    Decimal, date or None); return their primary keys in order.

    The rows bulk_create would write, without a model instance per row: on PostgreSQL (psycopg2)
    they are streamed with COPY under ids taken from the table's sequence first, which is what
    lets a 100,000-row return be stored in seconds (docs/performance.md). Columns not given get
    their model default, prepared once. Rows are consumed in batches, so a generator is never
    held whole. Other databases and drivers: bulk_create. `cursor`: a psycopg2 cursor of the
    database's connection, for a thread other than the one Django's connection belongs to.
    """
    if cursor is not None:
        return _copy_rows(connections[router.db_for_write(model)], cursor, model, columns, rows)
    connection = connections[router.db_for_write(model)]
    with connection.cursor() as wrapper:
        if connection.vendor == "postgresql" and _is_psycopg2(connection.connection):
            return _copy_rows(connection, wrapper.cursor, model, columns, rows)
    ids = []
    for batch in _batches(rows, 2000):
        objs = model.objects.bulk_create([
            model(**dict(zip(columns, values, strict=True))) for values in batch])
        ids.extend(obj.pk for obj in objs)
    return ids


def _copy_rows(connection, cursor, model, columns, rows):
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return []
    meta = model._meta
    given = [meta.get_field(name) for name in columns]
    rest = [f for f in meta.concrete_fields if f not in given and not f.primary_key]
    now = timezone.now()
    defaults = ()
    if rest:
        # Each default as PostgreSQL itself writes it as text, which COPY reads back.
        cursor.execute("SELECT " + ", ".join(["%s::text"] * len(rest)), [
            f.get_db_prep_save(now if getattr(f, "auto_now", False) or
                               getattr(f, "auto_now_add", False) else f.get_default(),
                               connection) for f in rest])
        defaults = tuple(_copy_text(value) for value in cursor.fetchone())
    quote = connection.ops.quote_name
    sql = (f"COPY {quote(meta.db_table)} ({quote(meta.pk.column)}, "
           f"{', '.join(quote(f.column) for f in given + rest)}) FROM STDIN")
    tail = "".join(f"\t{value}" for value in defaults) + "\n"
    ids = []
    for batch in _batches(itertools.chain((first,), rows), 10_000):
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) "
                       "FROM generate_series(1, %s)", [meta.db_table, meta.pk.column, len(batch)])
        new_ids = [pk for (pk,) in cursor.fetchall()]
        cursor.copy_expert(sql, io.StringIO("".join(
            "\t".join((str(pk), *map(_copy_text, values))) + tail
            for pk, values in zip(new_ids, batch, strict=True))))
        ids.extend(new_ids)
    return ids


def _is_psycopg2(raw_connection):
    return type(raw_connection).__module__.startswith("psycopg2")


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value):
    """A value in COPY's text format."""
    if value is None:
        return "\\N"
    if value.__class__ is str:
        return value.translate(_COPY_ESCAPES)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def _batches(rows, size):
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _save_indicators(ret, rows):
    IndicatorReturn.objects.bulk_create([IndicatorReturn(
        return_record=ret, row_number=row.row, indicator=row.indicator,
        measure_period=row.measure_period, value=row.value, numerator=row.numerator,
        denominator=row.denominator) for row in rows])
    return len(rows)


def _save_events(ret, ctx, rows):
    ParticipantEvent.objects.bulk_create([ParticipantEvent(
        return_record=ret, participant=ctx.participants[row.participant_ref], row_number=row.row,
        event=row.event, occurred=row.occurred) for row in rows], batch_size=2000)
    return len(rows)


@transaction.atomic
def attach_evidence(claim, evidence, *, actor):
    """Link one stored evidence file to a claim in a draft return of the same provider."""
    ret = _lock(claim.return_record)
    _require(permissions.can_edit_return(actor, ret))
    if evidence.organisation_id != ret.provider_id:
        raise ReturnError("That evidence file belongs to another organisation.")
    evidence.claims.add(claim)
    audit.record("claim.evidence_attached", actor=actor, obj=claim, organisation=ret.provider,
                 after={"evidence": evidence.pk, "sha256": evidence.sha256})


@transaction.atomic
def delete_claim(claim, *, actor):
    ret = _lock(claim.return_record)
    _require(permissions.can_edit_return(actor, ret))
    audit.record("claim.deleted", actor=actor, obj=claim, organisation=ret.provider,
                 before={"outcome": claim.outcome, "achieved": claim.achieved.isoformat(),
                         "participant": claim.participant.provider_reference})
    claim.delete()


# --- participants ----------------------------------------------------------------------------


def contract_segments(contract):
    """Payment group codes named by the contract's current published terms."""
    version = (contract.versions.filter(status=TermsStatus.PUBLISHED)
               .order_by("-effective_from", "-number").first())
    return [s.code for s in version.definition().segments] if version else []


def _lock_participant(participant):
    return (Participant.objects.select_for_update().select_related("contract", "provider")
            .get(pk=participant.pk))


@transaction.atomic
def record_leave(participant, *, actor, leave_date, reason, today=None):
    """Record (or correct) the day a participant left the programme and why."""
    participant = _lock_participant(participant)
    _require(permissions.can_change_participant(actor, participant))
    today = today or timezone.localdate()
    reason = (reason or "").strip()
    if leave_date < participant.start_date:
        raise ReturnError(f"The leave date must be on or after the day they joined, "
                          f"{_d(participant.start_date)}.")
    if leave_date > today:
        raise ReturnError("The leave date must be today or in the past.")
    if not reason:
        raise ReturnError("Enter why they left.")
    before = {"leave_date": participant.leave_date.isoformat() if participant.leave_date
              else None, "leave_reason": participant.leave_reason}
    participant.leave_date, participant.leave_reason = leave_date, reason[:200]
    participant.save(update_fields=["leave_date", "leave_reason"])
    audit.record("participant.left", actor=actor, obj=participant,
                 organisation=participant.provider, before=before,
                 after={"leave_date": leave_date.isoformat(), "leave_reason": reason[:200]},
                 reason=reason)
    return participant


@transaction.atomic
def change_segment(participant, segment, *, actor, reason):
    """Move a participant to another payment group of the contract, with the reason."""
    participant = _lock_participant(participant)
    _require(permissions.can_change_participant(actor, participant))
    segment, reason = (segment or "").strip(), (reason or "").strip()
    codes = contract_segments(participant.contract)
    if codes and segment not in codes:
        raise ReturnError(f"Choose one of the payment groups of {participant.contract.reference}:"
                          f" {', '.join(codes)}.")
    if segment == participant.segment:
        raise ReturnError(f"{participant.provider_reference} is already in payment group "
                          f"{segment}.")
    if not reason:
        raise ReturnError("Enter the reason for changing the payment group.")
    before = {"segment": participant.segment}
    participant.segment = segment
    participant.save(update_fields=["segment"])
    audit.record("participant.segment_changed", actor=actor, obj=participant,
                 organisation=participant.provider, before=before, after={"segment": segment},
                 reason=reason)
    return participant


# --- submission and automatic checks -----------------------------------------------------------


def submit_return(ret, *, actor, today=None):
    """Run the automatic checks on every claim and submit; late after the due date."""
    today = today or timezone.localdate()
    with transaction.atomic():
        ret = _lock(ret)
        if actor is not None:
            _require(permissions.can_edit_return(actor, ret))
        elif not ret.is_editable:
            raise ReturnError("Only a draft return can be submitted.")
        results = run_checks(ret)
        save_checks(results)
        before = ret.status
        ret.status = ReturnStatus.LATE if today > ret.due_date else ReturnStatus.SUBMITTED
        ret.submitted_at = timezone.now()
        ret.submitted_by = actor
        ret.save(update_fields=["status", "submitted_at", "submitted_by"])
        counts = {}
        for claim in results:
            counts[claim.status] = counts.get(claim.status, 0) + 1
        audit.record("return.submitted", actor=actor, obj=ret, organisation=ret.provider,
                     before={"status": before}, after={"status": ret.status, "claims": counts})
    return ret


@transaction.atomic
def amend_return(ret, *, actor, reason):
    """A new draft version copying the submitted one; the submitted version is never changed."""
    ret = _lock(ret)
    _require(permissions.can_amend_return(actor, ret))
    if not reason or not reason.strip():
        raise ReturnError("Enter the reason for the amendment.")
    new = Return.objects.create(
        contract=ret.contract, provider=ret.provider, period_id=ret.period_id,
        period_start=ret.period_start, period_end=ret.period_end, due_date=ret.due_date,
        version=ret.version + 1, supersedes=ret, reason=reason.strip(), created_by=actor)
    old_claims = list(ret.claims.prefetch_related("evidence_files"))
    copies = [Claim(
        return_record=new, participant_id=c.participant_id, row_number=c.row_number,
        outcome=c.outcome, achieved=c.achieved, started=c.started, step_from=c.step_from,
        step_to=c.step_to, grade=c.grade, criteria_met=c.criteria_met,
        criteria_total=c.criteria_total, value=c.value, subcontractor=c.subcontractor,
        copied_from=c,
        # A verified or rejected decision stays with the claim it was made on (issue 5 may carry
        # it across); everything else is checked again on submission.
        status=c.status if c.status in (ClaimStatus.VERIFIED, ClaimStatus.REJECTED)
        else ClaimStatus.DRAFT, checks=c.checks) for c in old_claims]
    Claim.objects.bulk_create(copies)
    EvidenceFile.claims.through.objects.bulk_create([
        EvidenceFile.claims.through(claim_id=copy.pk, evidencefile_id=e.pk)
        for copy, old in zip(copies, old_claims, strict=True) for e in old.evidence_files.all()])
    IndicatorReturn.objects.bulk_create([IndicatorReturn(
        return_record=new, row_number=i.row_number, indicator=i.indicator,
        measure_period=i.measure_period, value=i.value, numerator=i.numerator,
        denominator=i.denominator) for i in ret.indicator_returns.all()])
    ParticipantEvent.objects.bulk_create([ParticipantEvent(
        return_record=new, participant_id=e.participant_id, row_number=e.row_number,
        event=e.event, occurred=e.occurred) for e in ret.events.all()])
    audit.record("return.amended", actor=actor, obj=new, organisation=ret.provider,
                 before={"version": ret.version}, after={"version": new.version}, reason=reason)
    return new


@transaction.atomic
def lock_period(contract, period_id, *, actor=None):
    """Close a period: its submitted returns become locked; drafts stay drafts (too late)."""
    returns = list(Return.objects.select_for_update().filter(
        contract=contract, period_id=period_id,
        status__in=(ReturnStatus.SUBMITTED, ReturnStatus.LATE)))
    for ret in returns:
        audit.record("return.locked", actor=actor, obj=ret, organisation=ret.provider,
                     before={"status": ret.status}, after={"status": ReturnStatus.LOCKED},
                     actor_label="" if actor else "system")
        ret.status = ReturnStatus.LOCKED
        ret.save(update_fields=["status"])
    return len(returns)


def _check(code, passed, reason):
    return {"code": code, "passed": bool(passed), "reason": reason}


def _tariff_price(defn, outcome, segment):
    for rule in defn.rules:
        if isinstance(rule, Tariff):
            exact = [p for p in rule.prices if p.outcome == outcome and p.segment == segment
                     and p.segment is not None]
            general = [p for p in rule.prices if p.outcome == outcome and p.segment is None]
            if exact or general:
                return (exact or general)[0]
    return None


def _d(day):
    return f"{day.day} {day:%B %Y}"


# Claims that count against once-only rules, maximum counts and duplicates: every state in
# which the claim may still be (or has been) paid.
COUNTING = (ClaimStatus.PASSED, ClaimStatus.HELD, ClaimStatus.VERIFIED, ClaimStatus.SAMPLED,
            ClaimStatus.ACCEPTED, ClaimStatus.UNDER_REVIEW, ClaimStatus.QUERIED,
            ClaimStatus.RESPONDED, ClaimStatus.APPEALED)


@dataclass(frozen=True, slots=True)
class CheckedPerson:
    """What the automatic checks read of a participant."""

    pk: int
    start_date: datetime.date
    segment: str
    identity_hash: str


@dataclass(slots=True)
class CheckedClaim:
    """A claim as the automatic checks see it, and the status and checks they give it. Plain
    records rather than model instances: a return can hold 100,000 claims."""

    pk: int
    participant: CheckedPerson
    outcome: str
    achieved: datetime.date
    started: datetime.date | None
    status: str
    evidence_types: frozenset
    checks: list | None = None  # None: left as it was (a decision already made)

    @property
    def participant_id(self):
        return self.participant.pk


def run_checks(ret):
    """Check each claim of a draft return against the contract and every other live claim.

    Returns CheckedClaims with status and checks set (save them with save_checks). A claim that
    fails any check is 'failed'; one whose only problem is a possible duplicate elsewhere is
    'held'. Reads the return in a fixed number of queries, however many claims it holds.
    """
    contract = ret.contract
    versions = list(contract.versions.filter(status=TermsStatus.PUBLISHED)
                    .order_by("effective_from", "number"))
    defs = {}

    def terms_on(day):
        version = None
        for v in versions:
            if v.effective_from <= day:
                version = v
        if version is None:
            return None
        if version.pk not in defs:
            defs[version.pk] = version.definition()
        return defs[version.pk]

    people = {pk: CheckedPerson(pk, start, segment, hashed) for pk, start, segment, hashed in
              Participant.objects.filter(pk__in=ret.claims.values("participant_id"))
              .values_list("pk", "start_date", "segment", "identity_hash")
              .iterator(chunk_size=5000)}
    evidence = {}
    for claim_id, kind in EvidenceFile.claims.through.objects.filter(
            claim__return_record=ret).values_list("claim_id", "evidencefile__evidence_type"):
        evidence.setdefault(claim_id, set()).add(kind)
    mine = [CheckedClaim(pk, people[pid], outcome, achieved, started, status,
                         frozenset(evidence.get(pk, ())))
            for pk, pid, outcome, achieved, started, status in
            ret.claims.order_by("achieved", "pk").values_list(
                "pk", "participant_id", "outcome", "achieved", "started", "status")
            .iterator(chunk_size=5000)]
    others = Claim.objects.live(contract).exclude(return_record=ret).filter(
        participant__in=ret.claims.values("participant_id"), status__in=COUNTING)
    if ret.supersedes_id:
        others = others.exclude(return_record_id=ret.supersedes_id)
    # (participant, outcome) -> [(achieved, pk)] of claims that count.
    held = {}
    for pid, code, achieved, pk in others.values_list("participant_id", "outcome", "achieved",
                                                       "pk"):
        held.setdefault((pid, code), []).append((achieved, pk))
    duplicates = _cross_duplicates(ret)
    prices = {}
    for claim in mine:
        if claim.status in (ClaimStatus.VERIFIED, ClaimStatus.REJECTED):
            continue
        checks = _claim_checks(claim, terms_on(claim.achieved), held, duplicates, prices)
        failed = [c for c in checks if not c["passed"]]
        if not failed:
            claim.status = ClaimStatus.PASSED
        elif all(c["code"] == "duplicate_elsewhere" for c in failed):
            claim.status = ClaimStatus.HELD
        else:
            claim.status = ClaimStatus.FAILED
        claim.checks = checks
        if claim.status in COUNTING:
            held.setdefault((claim.participant_id, claim.outcome), []).append(
                (claim.achieved, claim.pk))
    return mine


def save_checks(results):
    """Write the status and checks run_checks gave, in a few statements rather than one per
    claim. Claims whose decision was already made (checks None) are left alone."""
    changed = [c for c in results if c.checks is not None]
    connection = connections[router.db_for_write(Claim)]
    if connection.vendor != "postgresql":
        Claim.objects.bulk_update(
            [Claim(pk=c.pk, status=c.status, checks=c.checks) for c in changed],
            ["status", "checks"], batch_size=500)
        return
    with connection.cursor() as cursor:
        for batch in _batches(changed, 5000):
            # Only placeholders are formatted in; every value is bound.
            values = ", ".join(["(%s, %s, %s::jsonb)"] * len(batch))
            cursor.execute(
                "UPDATE outcomes_claim AS c SET status = v.status, checks = v.checks "  # noqa: S608
                f"FROM (VALUES {values}) AS v(id, status, checks) WHERE c.id = v.id",
                [value for c in batch for value in (c.pk, c.status, json.dumps(c.checks))])


def _cross_duplicates(ret):
    """(identity hash, outcome) -> where the same person was claimed by another provider or on
    another contract, in a live submitted return."""
    from .models import Return as ReturnModel

    hashes = ret.claims.values("participant__identity_hash")
    found = {}
    rows = (Claim.objects.filter(participant__identity_hash__in=hashes,
                                 return_record__in=ReturnModel.objects.latest_versions(),
                                 status__in=COUNTING)
            .exclude(participant_id__in=ret.claims.values("participant_id"))
            .values_list("participant__identity_hash", "outcome",
                         "return_record__provider__name", "return_record__contract__reference"))
    for identity, outcome, provider, reference in rows:
        found.setdefault((identity, outcome), f"{provider} on {reference}")
    return found


def _claim_checks(claim, defn, held, duplicates, prices):
    participant = claim.participant
    checks = []
    outcome = defn.outcome(claim.outcome) if defn else None
    if outcome is None:
        checks.append(_check("outcome_active", False, f"{claim.outcome} is not an outcome in the "
                             f"terms in force on {_d(claim.achieved)}."))
        return checks
    name = outcome.name or outcome.code
    checks.append(_check("outcome_active", True, f"{name} is in the terms in force on "
                         f"{_d(claim.achieved)}."))

    if claim.achieved < participant.start_date:
        checks.append(_check("enrolled", False, f"Achieved on {_d(claim.achieved)}, before the "
                             f"participant joined on {_d(participant.start_date)}."))
    if outcome.eligible_segments and participant.segment not in outcome.eligible_segments:
        checks.append(_check("eligible", False, f"{name} is open to payment groups "
                             f"{', '.join(outcome.eligible_segments)}; this participant is in "
                             f"{participant.segment or 'no payment group'}."))
    else:
        checks.append(_check("eligible", True, "The participant's payment group may claim it."))

    key = (participant.pk, outcome.code)
    earlier = sorted(x for x in held.get(key, []) if x < (claim.achieved, claim.pk))
    if outcome.kind not in ("recurring", "progression", "personal"):
        if outcome.once_within_weeks:
            window_end = participant.start_date + timedelta(weeks=outcome.once_within_weeks)
            clash = [x for x in earlier if participant.start_date <= x[0] < window_end]
            ok = not (clash and claim.achieved < window_end)
            checks.append(_check("once_within_weeks", ok, (
                f"Already claimed on {_d(clash[0][0])}; only one is paid within "
                f"{outcome.once_within_weeks} weeks of joining on {_d(participant.start_date)} "
                f"(until {_d(window_end - timedelta(days=1))}).") if not ok else
                f"First claim within {outcome.once_within_weeks} weeks of joining."))
        elif outcome.once_per_participant:
            ok = not earlier
            checks.append(_check("once_only", ok, f"{name} was already claimed for this "
                                 f"participant on {_d(earlier[0][0])}; it is paid once."
                                 if not ok else f"First claim of {name} for this participant."))

    price_key = (id(defn), outcome.code, participant.segment or None)
    if price_key not in prices:
        prices[price_key] = _tariff_price(defn, outcome.code, participant.segment or None)
    price = prices[price_key]
    if outcome.kind == "recurring":
        limit = (price.max_count if price and price.max_count else outcome.max_count)
        n = len(earlier) + 1
        if limit is not None:
            checks.append(_check("max_count", n <= limit, f"This would be payment {n}; at most "
                                 f"{limit} are paid." if n > limit else
                                 f"Payment {n} of at most {limit}."))
        if outcome.trigger:
            triggers = [x for x in held.get((participant.pk, outcome.trigger), [])
                        if x[0] <= claim.achieved]
            checks.append(_check("trigger", bool(triggers), f"{outcome.trigger} has been claimed "
                                 "first." if triggers else f"No {outcome.trigger} has been "
                                 f"claimed for this participant, so {name} cannot start."))

    weeks = (price.qualifying_weeks if price and price.qualifying_weeks else
             outcome.qualifying_weeks)
    windows = [(w.label, w.weeks) for w in outcome.sustainment]
    if weeks:
        windows.append((f"{weeks} qualifying weeks", weeks))
    for label, length in windows:
        if claim.started is None:
            checks.append(_check("sustainment", False, f"Enter the start of the spell: {name} is "
                                 f"due {length} weeks after it ({label})."))
            continue
        due = claim.started + timedelta(weeks=length)
        ok = claim.achieved >= due
        checks.append(_check("sustainment", ok, f"The {label} window from {_d(claim.started)} "
                             f"ends on {_d(due)}" + (", on or before the achieved date." if ok
                                                     else f", after the achieved date "
                                                     f"{_d(claim.achieved)}.")))

    for pre in outcome.prerequisites:
        got = [x for x in held.get((participant.pk, pre), []) if x[0] <= claim.achieved]
        checks.append(_check("prerequisite", bool(got), f"{pre} has been claimed first." if got
                             else f"{pre} must be claimed (and pass its checks) first."))

    if outcome.evidence:
        have = claim.evidence_types
        missing = [e for e in outcome.evidence if e not in have]
        checks.append(_check("evidence", not missing, "Required evidence attached: "
                             f"{', '.join(outcome.evidence)}." if not missing else
                             f"Attach evidence of type {', '.join(missing)}."))

    elsewhere = duplicates.get((participant.identity_hash, outcome.code))
    if elsewhere:
        checks.append(_check("duplicate_elsewhere", False, f"Possible duplicate: the same person "
                             f"has been claimed for {outcome.code} by {elsewhere}. Held until "
                             "the commissioner resolves it."))
    return checks


# --- facts for the payment engine --------------------------------------------------------------


def verification_required(contract):
    """Whether a claim that passed its automatic checks still waits for verification (accepted
    without review or verified by a person) before it is paid: yes once the contract has a
    verification policy (docs/verification.md); without one it is payable straight away."""
    from .verification.policy import get_policy

    return get_policy(contract) is not None


def engine_status(status, *, requires_verification):
    """Map an internal claim status to the engine's verified / rejected / pending."""
    if status in (ClaimStatus.VERIFIED, ClaimStatus.ACCEPTED):
        return "verified"
    if status in (ClaimStatus.REJECTED, ClaimStatus.FAILED):
        return "rejected"
    if status == ClaimStatus.PASSED:
        return "pending" if requires_verification else "verified"
    # Draft, held as a possible duplicate, selected, under review, queried, answered, appealed.
    return "pending"


def plain(number):
    """A stored decimal as it was entered: 122.0000 is 122 and 99.5000 is 99.5 on a statement,
    where the inputs behind each line are shown to the provider."""
    if number is None:
        return None
    number = number.normalize()
    return number.quantize(Decimal(1)) if number.as_tuple().exponent > 0 else number


def claim_events(outcome, spell_start, recorded):
    """(adverse events per sustainment window, voiding event codes) for one claim.

    recorded: the participant's (occurred, event code) pairs. Window i of the outcome covers
    the weeks after window i-1 ended (the first starts with the spell) up to its own length from
    the start of the spell: 'the first 12 months' then 'months 12 to 18'. A voiding event counts
    from the start of the spell on; the terms' event code says what it is (e.g. re-presentation
    within six months). See docs/adr/0011-participant-events-and-external-datasets.md.
    """
    if outcome is None or not recorded:
        return (), ()
    adverse = []
    window_start = spell_start
    for window in outcome.sustainment:
        window_end = spell_start + timedelta(weeks=window.weeks)
        adverse.append(sum(1 for day, code in recorded
                           if code == ADVERSE_EVENT and window_start <= day < window_end))
        window_start = max(window_start, window_end)
    voiding = sorted({code for day, code in recorded
                      if code in outcome.voided_by and day >= spell_start})
    return tuple(adverse), tuple(voiding)


def _recorded_events(returns, up_to_date, participants=None):
    """participant id -> [(occurred, event code)] from the given returns, known by the date."""
    found = {}
    events = ParticipantEvent.objects.filter(return_record__in=returns,
                                             occurred__lte=up_to_date).order_by()  # sorted below
    rows = []
    for scope in _participant_scopes(participants):
        scoped = events if scope is None else events.filter(participant_id__anyof=scope)
        rows += scoped.values_list("participant_id", "occurred", "event", "pk")
    rows.sort(key=lambda r: (r[1], r[3]))
    for participant_id, occurred, code, _pk in rows:
        found.setdefault(participant_id, []).append((occurred, code))
    return found


def _participant_scopes(participants):
    """[None] for everyone, else the participant ids in chunks (SQLite limits parameters)."""
    if participants is None:
        return [None]
    return list(chunks(sorted(participants)))


CLAIM_FACT_FIELDS = (
    "pk", "participant_id", "outcome", "achieved", "status", "return_record__period_id",
    "started", "step_from", "step_to", "grade", "criteria_met", "criteria_total", "value",
    "subcontractor", "participant__segment", "participant__start_date")


def facts_for(contract, up_to_date: datetime.date, participants=None, *, new_since=None,
              also_claims=()) -> engine.Facts:
    """Claims, participant events and indicator returns known by `up_to_date`, from the latest
    submitted version of each return whose period has ended by then; and the contract's
    external dataset figures.

    `participants` (participant ids): only their claims and events; the contract-level facts
    are always whole. Payment runs use it to recompute only the participants whose facts
    changed (docs/adr/0012-incremental-payment-runs.md). Rows are read as plain values, not
    model instances: a national contract has hundreds of thousands of claims.

    `new_since`: only the claims that became facts after that date (in a return whose period
    ended after it), and those in `also_claims` (claim ids), of `participants` or of everyone;
    and the events of those they belong to. A payment run that keeps what was accepted before
    (ADR 0022) needs nothing older.
    """
    requires = verification_required(contract)
    returns = Return.objects.filter(contract=contract, period_end__lte=up_to_date).latest_versions()
    # order_by(): the rows are sorted below; the default ordering would join every claim's
    # return, contract and provider only to sort them in the database first.
    claims = Claim.objects.filter(return_record__in=returns, achieved__lte=up_to_date).order_by()
    rows, evidence = [], {}
    links = EvidenceFile.claims.through.objects.exclude(evidencefile__evidence_type="")
    sources = [claims]
    if new_since is not None:
        # Driven from the few new returns, and the claims named, in two queries: never from
        # the participants' whole history (one query with OR scans every claim of every
        # return of the contract).
        fresh = returns.filter(period_end__gt=new_since)
        sources = [claims.filter(return_record__in=fresh)]
        if also_claims:
            sources.append(claims.filter(pk__anyof=Many(sorted(also_claims)))
                           .exclude(return_record__in=fresh))
    for source, scope in itertools.product(sources, _participant_scopes(participants)):
        if scope is None:
            scoped = [source]
        elif new_since is None:
            # The participants' claims by the participant index first, then by primary key:
            # given the participants and the returns in one query, PostgreSQL scans every claim
            # of every return (all of a national contract's) to find a few hundred.
            ids = list(Claim.objects.filter(participant_id__anyof=scope).order_by()
                       .values_list("pk", flat=True))
            scoped = [source.filter(pk__anyof=chunk) for chunk in _participant_scopes(ids)]
        else:
            scoped = [source.filter(participant_id__anyof=scope)]
        for part in scoped:
            rows += part.values_list(*CLAIM_FACT_FIELDS)
            for claim_id, evidence_type in links.filter(claim__in=part).values_list(
                    "claim_id", "evidencefile__evidence_type"):
                evidence.setdefault(claim_id, set()).add(evidence_type)
    rows.sort(key=lambda r: (r[3], r[0]))
    if new_since is not None and participants is None:
        participants = {row[1] for row in rows}  # only the events of those with new claims
    recorded = _recorded_events(returns, up_to_date, participants)
    no_events = ((), ())

    terms = []  # parsed only when someone has events: validating terms is not free

    def events_of(outcome_code, spell_start, participant_id):
        found = recorded.get(participant_id)
        if not found:
            return no_events
        if not terms:
            version = contract.terms_on(up_to_date) or contract.current_version()
            terms.append(version.definition() if version else None)
        outcome = terms[0].outcome(outcome_code) if terms[0] else None
        return claim_events(outcome, spell_start, found)

    # A national run turns 140,000 rows into claims: what repeats is looked up, not redone.
    statuses = {s: engine_status(s, requires_verification=requires) for s in ClaimStatus.values}
    one = Decimal(1)
    engine_claims = []
    for (pk, participant_id, outcome, achieved, status, period_id, started, step_from, step_to,
         grade, criteria_met, criteria_total, value, subcontractor, segment, start_date) in rows:
        adverse, voiding = (events_of(outcome, started or start_date, participant_id)
                            if participant_id in recorded else no_events)
        attached = evidence.get(pk)
        engine_claims.append(engine.Claim(
            id=f"C{pk}", participant=f"P{participant_id}", outcome=outcome,
            achieved=achieved, segment=segment or None,
            status=statuses.get(status) or engine_status(status, requires_verification=requires),
            period=period_id, attachment_date=start_date,
            started=started, step_from=step_from, step_to=step_to, grade=grade or None,
            criteria_met=criteria_met, criteria_total=criteria_total,
            units=plain(value) if value is not None else one,
            subcontractor=subcontractor or None,
            evidence=tuple(sorted(attached)) if attached else (),
            adverse_events=adverse, events=voiding,
        ))
    engine_claims = tuple(engine_claims)
    values = tuple(engine.IndicatorValue(
        indicator=i.indicator, period=i.measure_period, value=plain(i.value),
        numerator=plain(i.numerator), denominator=plain(i.denominator), id=f"I{i.pk}",
        reported_in=i.return_record.period_id,
    ) for i in IndicatorReturn.objects.filter(return_record__in=returns)
        .select_related("return_record").order_by("pk"))
    return engine.Facts(claims=engine_claims, indicator_values=values,
                        external=external_facts(contract), samples=sample_checks(contract))
