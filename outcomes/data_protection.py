"""Erasure on request and retention: a participant's personal data goes, the money stays.

What is personal about a participant here (docs/security.md, "What the system stores about
people"): the provider's case reference, the keyed hash of their National Insurance number and
date of birth, the free-text leave reason, free text written about their claims during
verification (review notes, queries and answers, appeal grounds and decisions, sample findings),
their evidence files and the files' names, references to them in the problem reports of refused
return files, and the same things copied into the audit log.

What stays, under the pseudonym P<id> that statements and the ledger already use: the facts
payments were worked out from (outcomes, dates, units, payment group, events, statuses, reason
codes, which evidence types supported which claim) and the ledger itself. A payment run after an
erasure posts nothing new and every statement reads as before.

Erasure (one person, on request) and retention (every participant of a contract that ended more
than PBR_EVIDENCE_RETENTION_DAYS ago) do the same thing; see
docs/adr/0017-erasure-and-retention.md for why, and for the lawful limits.
"""

import datetime
import hashlib
import hmac
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.core.files.storage import storages
from django.db import transaction
from django.db.models import CharField, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from contracts.models import Contract
from pbr import audit
from pbr.data_protection import REDACTED, Scrubber, redact_audit_events, retention_cutoff
from pbr.models import AuditEvent, Organisation

from .models import Claim, EvidenceFile, Participant, ReturnUpload
from .verification.models import Appeal, ClaimQuery, ClaimReview, SampleItem

log = logging.getLogger(__name__)

ERASED_PREFIX = "[erased P"
# Keys of audit snapshots that hold free text someone wrote about the person.
FREE_TEXT_KEYS = ("leave_reason", "note", "text", "response", "grounds")
BATCH = 500
CHUNK = 2000


class ErasureError(Exception):
    """An erasure that cannot be carried out; the message says why and what to do."""


def erased_reference(pk):
    """The reference an erased participant keeps. '[' is not allowed in a provider's reference
    (outcomes.validation.REF_RE), so it can never clash with one or be addressed by a return."""
    return f"{ERASED_PREFIX}{pk}]"


def is_erased(participant):
    return participant.provider_reference == erased_reference(participant.pk)


def reference_token(contract, provider, reference):
    """A keyed one-way token of (contract, provider, reference), kept on the erasure's audit
    event, so a repeated request is answered "already erased" without keeping the reference."""
    message = f"erasure|{contract.pk}|{provider.pk}|{reference}".encode()
    return hmac.new(settings.PSEUDONYM_KEY.encode(), message, hashlib.sha256).hexdigest()


def _chunks(items, size=CHUNK):
    items = list(items)
    return [items[i:i + size] for i in range(0, len(items), size)]


# --- finding the person ----------------------------------------------------------------------


@dataclass
class Lookup:
    participant: Participant | None = None
    earlier: AuditEvent | None = None  # the erasure event, when they were erased before


def find_participant(contract_reference, reference, provider_slug=""):
    """The participant a request names, or the record that they were erased already."""
    contract = Contract.objects.filter(reference=contract_reference).first()
    if contract is None:
        raise ErasureError(f"There is no contract with reference {contract_reference}.")
    providers = Organisation.objects.filter(participants__contract=contract).distinct()
    if provider_slug:
        provider = Organisation.objects.filter(slug=provider_slug).first()
        if provider is None:
            raise ErasureError(f"There is no organisation {provider_slug}.")
        providers = [provider]
    found = list(Participant.objects.filter(contract=contract, provider_reference=reference,
                                            provider__in=providers)
                 .select_related("contract", "provider"))
    if len(found) > 1:
        names = ", ".join(sorted(p.provider.slug for p in found))
        raise ErasureError(f"{reference} is a reference of more than one provider on "
                           f"{contract.reference} ({names}): name one with --provider.")
    if found:
        return Lookup(participant=found[0])
    tokens = [reference_token(contract, p, reference) for p in providers]
    earlier = (AuditEvent.objects.filter(action="participant.erased",
                                         after__reference_token__in=tokens)
               .order_by("occurred_at").first()) if tokens else None
    if earlier is not None:
        return Lookup(earlier=earlier)
    where = f" by {provider_slug}" if provider_slug else ""
    raise ErasureError(f"No participant has the reference {reference}{where} on "
                       f"{contract.reference}. Check the reference is the provider's own case "
                       "reference.")


# --- the work shared by erasure and retention ------------------------------------------------


def _evidence_of(claims):
    """Ids of files attached to these claims, to their queries' answers or to their appeals."""
    ids = set(EvidenceFile.claims.through.objects.filter(claim__in=claims)
              .values_list("evidencefile_id", flat=True))
    ids |= set(ClaimQuery.evidence.through.objects.filter(claimquery__claim__in=claims)
               .values_list("evidencefile_id", flat=True))
    ids |= set(Appeal.evidence.through.objects.filter(appeal__claim__in=claims)
               .values_list("evidencefile_id", flat=True))
    return ids


def _used_elsewhere(file_ids, allowed_claims):
    """{file id: other claim ids} for files also attached to a claim outside `allowed_claims`."""
    other = {}
    for chunk in _chunks(file_ids):
        links = [
            EvidenceFile.claims.through.objects.filter(evidencefile_id__in=chunk)
            .exclude(claim__in=allowed_claims).values_list("evidencefile_id", "claim_id"),
            ClaimQuery.evidence.through.objects.filter(evidencefile_id__in=chunk)
            .exclude(claimquery__claim__in=allowed_claims)
            .values_list("evidencefile_id", "claimquery__claim_id"),
            Appeal.evidence.through.objects.filter(evidencefile_id__in=chunk)
            .exclude(appeal__claim__in=allowed_claims)
            .values_list("evidencefile_id", "appeal__claim_id"),
        ]
        for rows in links:
            for file_id, claim_id in rows:
                other.setdefault(file_id, set()).add(claim_id)
    return other


def _not_erased_files(ids):
    return EvidenceFile.objects.filter(pk__in=ids).exclude(sha256="")


def _erase_files(ids):
    """Blank the files' rows and return (id, stored name) of each file to delete on commit.

    The rows stay: which evidence types supported a claim is a payment fact. The name (it may
    be a person's) goes, and so does the hash, so a later upload of the same content is stored
    afresh rather than matched to a file that no longer exists.
    """
    rows = []
    for chunk in _chunks(ids):
        found = list(_not_erased_files(chunk).values_list("pk", "stored_name"))
        EvidenceFile.objects.filter(pk__in=[pk for pk, _ in found]).update(
            original_name=REDACTED, sha256="")
        rows += found
    return rows


def _delete_stored(rows, errors):
    storage = storages["evidence"]
    for pk, name in rows:
        try:
            storage.delete(name)
        except Exception as exc:  # noqa: BLE001 - report every file that could not go
            log.error("Evidence file E%s (%s) could not be deleted: %s", pk, name, exc)
            errors.append(f"E{pk}: {exc}")


def _pseudonymise(ids):
    pk_text = Cast("pk", CharField())
    return Participant.objects.filter(pk__in=ids).update(
        provider_reference=Concat(Value(ERASED_PREFIX), pk_text, Value("]"),
                                  output_field=CharField()),
        identity_hash=Concat(Value("erased-"), pk_text, output_field=CharField()),
        leave_reason="")


def _redact_texts(claims):
    """Free text written about these claims during verification."""
    count = 0
    for model, fields in ((ClaimReview, ("note",)), (ClaimQuery, ("text", "response")),
                          (Appeal, ("grounds", "note")), (SampleItem, ("note",))):
        for name in fields:
            count += (model.objects.filter(claim__in=claims).exclude(**{name: ""})
                      .exclude(**{name: REDACTED}).update(**{name: REDACTED}))
    return count


def _redact_audit(people, claim_owner, file_ids):
    """people: {participant id: Person}; claim_owner: {claim id: participant id}."""
    scrubbers = {pk: Scrubber({p.old: p.new}, FREE_TEXT_KEYS) for pk, p in people.items()}
    by_reference = {(p.provider_id, p.old): scrubbers[pk] for pk, p in people.items()}
    count = 0
    for chunk in _chunks(people):
        count += redact_audit_events(
            AuditEvent.objects.filter(object_type=Participant._meta.label,
                                      object_id__in=[str(pk) for pk in chunk]),
            lambda e: scrubbers[int(e.object_id)].event(e, redact_reason=True))
    for chunk in _chunks(claim_owner):
        count += redact_audit_events(
            AuditEvent.objects.filter(object_type=Claim._meta.label,
                                      object_id__in=[str(pk) for pk in chunk]),
            lambda e: scrubbers[claim_owner[int(e.object_id)]].event(e, redact_reason=True))
    for chunk in _chunks(file_ids):
        count += redact_audit_events(
            AuditEvent.objects.filter(object_type=EvidenceFile._meta.label,
                                      object_id__in=[str(pk) for pk in chunk]),
            lambda e: Scrubber({}).event(e, object_repr=f"E{e.object_id} {REDACTED}"))
    # Claims deleted from a draft name their participant only in the deletion's snapshot.
    for provider in {p.provider_id for p in people.values()}:
        refs = [old for (p, old) in by_reference if p == provider]
        for chunk in _chunks(refs):
            count += redact_audit_events(
                AuditEvent.objects.filter(action="claim.deleted", organisation_id=provider,
                                          before__participant__in=chunk),
                lambda e, provider=provider: by_reference[
                    (provider, e.before["participant"])].event(e, redact_reason=True))
    return count


def _redact_uploads(people):
    """References in the problem reports of the providers' return files on the contract."""
    count = 0
    by_return_of = {}
    for p in people.values():
        by_return_of.setdefault((p.contract_id, p.provider_id), {})[p.old] = p.new
    for (contract_id, provider_id), refs in by_return_of.items():
        scrub = Scrubber(refs)
        uploads = (ReturnUpload.objects.filter(return_record__contract_id=contract_id,
                                               return_record__provider_id=provider_id)
                   .exclude(problems=[]).only("pk", "problems"))
        for upload in uploads.iterator(chunk_size=200):
            problems = scrub.json(upload.problems)
            if problems != upload.problems:
                ReturnUpload.objects.filter(pk=upload.pk).update(problems=problems)
                count += 1
    return count


@dataclass(frozen=True)
class Person:
    contract_id: int
    provider_id: int
    old: str  # the provider's reference, going
    new: str  # what replaces it


@dataclass
class Outcome:
    participants: int = 0
    claims: int = 0
    files_deleted: list = field(default_factory=list)   # file ids
    files_kept: dict = field(default_factory=dict)      # file id -> claim ids elsewhere
    texts_redacted: int = 0
    audit_events_redacted: int = 0
    uploads_redacted: int = 0
    file_errors: list = field(default_factory=list)     # filled once the transaction commits

    def add(self, other):
        self.participants += other.participants
        self.claims += other.claims
        self.files_deleted += other.files_deleted
        self.files_kept.update(other.files_kept)
        self.texts_redacted += other.texts_redacted
        self.audit_events_redacted += other.audit_events_redacted
        self.uploads_redacted += other.uploads_redacted
        self.file_errors += other.file_errors


def _erase(participants, *, allowed_claims, delete_shared, dry_run=False):
    """Erase these participants (already locked, not yet erased) inside the caller's
    transaction. Files used by claims outside `allowed_claims` are kept unless
    `delete_shared`; stored files are deleted only once the transaction commits."""
    result = Outcome(participants=len(participants))
    ids = [p.pk for p in participants]
    claims = Claim.objects.filter(participant_id__in=ids)
    claim_owner = dict(claims.values_list("pk", "participant_id"))
    result.claims = len(claim_owner)
    file_ids = set(_not_erased_files(_evidence_of(claims)).values_list("pk", flat=True))
    elsewhere = _used_elsewhere(file_ids, allowed_claims)
    if not delete_shared:
        result.files_kept = elsewhere
        file_ids -= set(elsewhere)
    if dry_run:
        result.files_deleted = sorted(file_ids)
        return result
    people = {p.pk: Person(p.contract_id, p.provider_id, p.provider_reference,
                           erased_reference(p.pk)) for p in participants}
    _pseudonymise(ids)
    result.texts_redacted = _redact_texts(claims)
    rows = _erase_files(file_ids)
    result.files_deleted = sorted(pk for pk, _ in rows)
    result.audit_events_redacted = _redact_audit(people, claim_owner, file_ids)
    result.uploads_redacted = _redact_uploads(people)
    transaction.on_commit(lambda: _delete_stored(rows, result.file_errors))
    return result


# --- erasure on request ----------------------------------------------------------------------


@dataclass
class Erasure:
    pseudonym: str
    contract: str
    provider: str
    outcome: Outcome | None = None
    already_erased_on: datetime.datetime | None = None


def erase_participant(participant, *, reason, actor=None, actor_label="",
                      delete_shared_evidence=False):
    """Erase one participant's personal data on request, in one transaction, audited.

    `reason` goes into the audit log, so it must not name the person: give the request's own
    reference (e.g. "SAR-2026-014, erasure agreed by the DPO").
    """
    reason = (reason or "").strip()
    if not reason:
        raise ErasureError("Give the reason for the erasure, such as the request's reference.")
    with transaction.atomic():
        participant = (Participant.objects.select_for_update().select_related(
            "contract", "provider", "contract__commissioner").get(pk=participant.pk))
        result = Erasure(pseudonym=participant.pseudonym,
                         contract=participant.contract.reference,
                         provider=participant.provider.slug)
        if is_erased(participant):
            earlier = (AuditEvent.objects.filter(
                action="participant.erased", object_type=Participant._meta.label,
                object_id=str(participant.pk)).order_by("occurred_at").first())
            result.already_erased_on = earlier.occurred_at if earlier else None
            return result
        old = participant.provider_reference
        if Scrubber({old: ""}).text(reason) != reason:
            raise ErasureError("The reason is kept in the audit log, so it must not contain the "
                               "participant's reference. Give the request's own reference.")
        mine = Claim.objects.filter(participant=participant)
        outcome = _erase([participant], allowed_claims=mine,
                         delete_shared=delete_shared_evidence, dry_run=True)
        if outcome.files_kept:
            listed = "; ".join(f"E{pk} (also supports claim{'s' if len(c) > 1 else ''} "
                               f"{', '.join(str(x) for x in sorted(c))})"
                               for pk, c in sorted(outcome.files_kept.items()))
            raise ErasureError(
                f"Evidence of this participant also supports other people's claims: {listed}. "
                "Nothing was changed. Check those claims no longer need the files, then run "
                "again with --delete-shared-evidence.")
        outcome = _erase([participant], allowed_claims=mine,
                         delete_shared=delete_shared_evidence)
        participant.refresh_from_db()
        after = {"pseudonym": participant.pseudonym, "contract": participant.contract.reference,
                 "claims": outcome.claims, "evidence_files_deleted": len(outcome.files_deleted),
                 "texts_redacted": outcome.texts_redacted,
                 "audit_events_redacted": outcome.audit_events_redacted,
                 "upload_reports_redacted": outcome.uploads_redacted,
                 "reference_token": reference_token(participant.contract, participant.provider,
                                                    old)}
        for organisation in (participant.provider, participant.contract.commissioner):
            audit.record("participant.erased", actor=actor, obj=participant,
                         organisation=organisation, after=after, reason=reason,
                         actor_label=actor_label)
        result.outcome = outcome
    return result


# --- retention -------------------------------------------------------------------------------


@dataclass
class Retention:
    cutoff: datetime.date
    dry_run: bool
    contracts: dict = field(default_factory=dict)  # reference -> Outcome
    unattached: Outcome = field(default_factory=Outcome)

    @property
    def total(self):
        out = Outcome()
        for outcome in self.contracts.values():
            out.add(outcome)
        out.add(self.unattached)
        return out


def expired_contracts(today):
    return Contract.objects.filter(end__lt=retention_cutoff(today)).order_by("reference")


def apply_retention(*, today=None, dry_run=False):
    """Erase every participant of each contract that ended before the retention cut-off, and
    every evidence file never attached to anything that was uploaded before it.

    Participants are done in batches of BATCH, each in its own transaction, so a national
    contract does not hold one enormous transaction and an interrupted run resumes where it
    stopped. A file also supporting a claim of a contract still within its retention period
    is kept until that contract's turn comes.
    """
    today = today or timezone.localdate()
    report = Retention(cutoff=retention_cutoff(today), dry_run=dry_run)
    expired = expired_contracts(today)
    allowed = Claim.objects.filter(participant__contract__in=expired)
    for contract in expired.select_related("commissioner"):
        outcome = Outcome()
        pending = (Participant.objects.filter(contract=contract)
                   .exclude(provider_reference__startswith=ERASED_PREFIX).order_by("pk"))
        for batch in _chunks(pending.values_list("pk", flat=True), BATCH):
            done = None
            with transaction.atomic():
                people = list(Participant.objects.select_for_update()
                              .filter(pk__in=batch)
                              .exclude(provider_reference__startswith=ERASED_PREFIX))
                if people:
                    done = _erase(people, allowed_claims=allowed, delete_shared=False,
                                  dry_run=dry_run)
            if done is not None:  # after the commit, so the file deletions' errors are in it
                outcome.add(done)
        if not dry_run:
            with transaction.atomic():
                outcome.uploads_redacted += (
                    ReturnUpload.objects.filter(return_record__contract=contract)
                    .exclude(problems=[]).update(problems=[]))
                if outcome.participants or outcome.uploads_redacted:
                    audit.record("retention.applied", obj=contract,
                                 organisation=contract.commissioner, actor_label="retention",
                                 after={"cutoff": report.cutoff.isoformat(),
                                        "contract_end": contract.end.isoformat(),
                                        "participants": outcome.participants,
                                        "evidence_files_deleted": len(outcome.files_deleted),
                                        "evidence_files_kept": len(outcome.files_kept),
                                        "audit_events_redacted":
                                            outcome.audit_events_redacted})
        report.contracts[contract.reference] = outcome
    report.unattached = _unattached_files(report.cutoff, dry_run)
    return report


def _unattached_files(cutoff, dry_run):
    """Files uploaded before the cut-off and never attached to a claim, query or appeal."""
    outcome = Outcome()
    before = datetime.datetime.combine(cutoff, datetime.time.min,
                                       tzinfo=timezone.get_current_timezone())
    ids = set(EvidenceFile.objects.filter(uploaded_at__lt=before).exclude(sha256="")
              .filter(claims__isnull=True).values_list("pk", flat=True))
    ids -= set(ClaimQuery.evidence.through.objects.filter(evidencefile_id__in=ids)
               .values_list("evidencefile_id", flat=True))
    ids -= set(Appeal.evidence.through.objects.filter(evidencefile_id__in=ids)
               .values_list("evidencefile_id", flat=True))
    if dry_run or not ids:
        outcome.files_deleted = sorted(ids)
        return outcome
    with transaction.atomic():
        rows = _erase_files(ids)
        outcome.files_deleted = sorted(pk for pk, _ in rows)
        outcome.audit_events_redacted = _redact_audit({}, {}, outcome.files_deleted)
        transaction.on_commit(lambda: _delete_stored(rows, outcome.file_errors))
    return outcome
