"""State changes of verification. Each transition is one function that locks the claim row,
asks the permission function (permissions.can_transition), changes the state and writes an
audit event, all in one transaction. A refusal raises VerificationError with the reason.

The lifecycle (docs/verification.md): submitted and auto-checked (outcomes.services) → selected
for verification or accepted without review (draw_sample, select_claim) → under review → query
raised ⇄ provider responded → verified, or rejected with a reason code → appealed (within the
policy's window) → appeal upheld (verified) or dismissed (rejected) by a commissioner who did not
reject it. A finding after payment rejects a verified or accepted claim; the next payment run
then reverses what was paid.
"""

import secrets
from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from pbr import audit

from ..models import Claim, ClaimStatus, EvidenceFile, Return
from . import permissions
from .extrapolation import paid_for_claims
from .models import (
    Appeal,
    ClaimQuery,
    ClaimReview,
    Finding,
    PolicyMode,
    RejectionReason,
    Sample,
    SampleItem,
    SampleKind,
    SampleStatus,
    VerificationPolicy,
)
from .policy import get_policy, policy_values
from .sampling import (
    provider_error_rate,
    random_pct,
    random_size,
    rating_for,
    reason,
    risk_flags,
    select,
    select_check,
)


class VerificationError(Exception):
    """A verification action that cannot go ahead, with the reason in words."""


class InputError(VerificationError):
    """What was entered is missing or invalid (the API answers 400, not 409)."""


def _require(decision):
    if not decision:
        raise VerificationError(decision.reason)


def _lock(claim):
    """The claim, re-read under a row lock: a second decision on it waits here, then sees the
    first one's result."""
    pk = claim.pk if isinstance(claim, Claim) else claim
    Claim.objects.select_for_update().filter(pk=pk).values_list("pk", flat=True).get()
    return Claim.objects.select_related("return_record__contract", "return_record__provider",
                                        "participant").get(pk=pk)


def _review(claim):
    review, _created = ClaimReview.objects.get_or_create(claim=claim)
    claim.review = review
    return review


def _today(today=None):
    return today or timezone.localdate()


def _days(contract, name):
    return int(policy_values(contract)[name])


def _move(claim, action, actor, *, event=None, reason="", after=None, today=None):
    """Check and apply one transition on a locked claim; returns the status it came from."""
    if actor is not None:
        _require(permissions.can_transition(actor, claim, action, today=today))
    transition = permissions.TRANSITIONS[action]
    if claim.status not in transition.sources:
        raise VerificationError(f"This claim is {claim.get_status_display().lower()}; it cannot "
                                f"be {transition.label}.")
    before = claim.status
    claim.status = transition.target
    claim.save(update_fields=["status"])
    organisation = claim.return_record.provider if actor is None or actor.is_provider else None
    audit.record(f"claim.{event or action}", actor=actor, obj=claim, organisation=organisation,
                 before={"status": before}, after={"status": claim.status, **(after or {})},
                 reason=reason, actor_label="" if actor else "verification")
    return before


def _reason_code(reason_code, note):
    if reason_code not in RejectionReason.values:
        raise InputError("Choose the reason for the rejection.")
    if reason_code == RejectionReason.OTHER and not (note or "").strip():
        raise InputError("Explain the reason in the note when you choose ‘Other’.")
    return reason_code


def _text(value, message):
    value = (value or "").strip()
    if not value:
        raise InputError(message)
    return value


# --- selection --------------------------------------------------------------------------------


@transaction.atomic
def select_claim(claim, *, actor, note="", today=None):
    """An auditor adds one claim to those checked, outside any random draw."""
    claim = _lock(claim)
    _move(claim, "select", actor, event="selected", reason=note,
          after={"reasons": ["manual"]}, today=today)
    review = _review(claim)
    review.reasons = [reason("manual", note.strip()) if note.strip() else reason("manual")]
    review.due_date = _today(today) + timedelta(days=_days(claim.return_record.contract,
                                                           "review_days"))
    review.save(update_fields=["reasons", "due_date"])
    return claim


def waiting_to_be_sampled(contract, *, period_id=None, provider=None):
    """Claims of the live returns that passed (or are held) and have not been sampled."""
    returns = Return.objects.filter(contract=contract).latest_versions()
    if period_id:
        returns = returns.filter(period_id=period_id)
    if provider is not None:
        returns = returns.filter(provider=provider)
    return Claim.objects.filter(return_record__in=returns,
                                status__in=(ClaimStatus.PASSED, ClaimStatus.HELD))


def draw_sample(contract, *, actor, period_id=None, provider=None, seed=None, today=None):
    """Apply the contract's policy to every claim waiting to be sampled: the selected ones go to
    an auditor, the rest (that passed every check) are accepted without review. The sample is
    stored with its seed, the policy, the population, the forced selections and each provider's
    random share, so reproduce_sample() can draw it again."""
    from ..services import contract_periods_now

    if actor is not None:
        _require(permissions.can_draw_sample(actor, contract))
    policy = get_policy(contract)
    if policy is None:
        raise VerificationError(f"{contract.reference} has no verification policy: its claims "
                                "are paid once they pass the automatic checks. Ask the "
                                "commissioner to set one.")
    snapshot = policy.snapshot()
    today = _today(today)
    with transaction.atomic():
        candidates = waiting_to_be_sampled(contract, period_id=period_id, provider=provider)
        locked = list(candidates.select_for_update().order_by("pk").values_list("pk", flat=True))
        claims = list(Claim.objects.filter(pk__in=locked)
                      .select_related("participant", "return_record").order_by("pk"))
        if not claims:
            raise VerificationError("No claims are waiting to be sampled"
                                    + (f" in {period_id}" if period_id else "") + ".")
        if actor is not None:
            for claim in claims:
                if claim.return_record.provider_id == actor.organisation_id:
                    raise VerificationError("You cannot sample claims made by your own "
                                            "organisation.")
        contract_periods_now(contract)  # refuses a contract without published terms
        versions = list(contract.published_versions())
        cache = {}

        def terms_on(day):
            version = None
            for v in versions:
                if v.effective_from <= day:
                    version = v
            if version is None:
                return None
            if version.pk not in cache:
                cache[version.pk] = version.definition()
            return cache[version.pk]

        forced = risk_flags(contract, claims, snapshot, terms_on)
        rates = {}
        for provider_id in sorted({c.return_record.provider_id for c in claims}):
            error_rate = provider_error_rate(contract, provider_id)
            rating, factor = rating_for(error_rate, snapshot)
            rates[str(provider_id)] = {
                "rating": rating, "factor": str(factor), "pct": str(random_pct(snapshot, factor)),
                "error_rate": None if error_rate is None else str(error_rate)}
        seed = secrets.randbits(62) if seed is None else int(seed)
        population = [[c.pk, c.return_record.provider_id] for c in claims]
        chosen = select(population, forced, rates, seed,
                        verify_all=policy.mode == PolicyMode.VERIFY_ALL)
        sample = Sample.objects.create(
            contract=contract, provider=provider, kind=SampleKind.SELECTION,
            scope={"period_id": period_id or ""}, seed=seed, policy=snapshot,
            population=population, forced={str(k): v for k, v in forced.items()}, rates=rates,
            population_count=len(population), sample_size=len(chosen), drawn_by=actor)
        SampleItem.objects.bulk_create([SampleItem(sample=sample, claim_id=cid, reasons=reasons)
                                        for cid, reasons in sorted(chosen.items())])
        due = today + timedelta(days=int(snapshot["review_days"]))
        selected = [c for c in claims if c.pk in chosen]
        accepted = [c for c in claims if c.pk not in chosen and c.status == ClaimStatus.PASSED]
        # Whole returns at a time: one UPDATE per state, then one audit event per claim.
        for group, action in ((selected, "select"), (accepted, "accept")):
            target = permissions.TRANSITIONS[action].target
            ids = [c.pk for c in group]
            for start in range(0, len(ids), 5000):
                Claim.objects.filter(pk__in=ids[start:start + 5000]).update(status=target)
        ClaimReview.objects.bulk_create(
            [ClaimReview(claim=c, sample=sample, reasons=chosen[c.pk], due_date=due)
             for c in selected], batch_size=2000, update_conflicts=True,
            unique_fields=["claim"], update_fields=["sample", "reasons", "due_date"])
        for claim in claims:
            if claim.pk in chosen:
                action, after = "selected", {"status": ClaimStatus.SAMPLED, "reasons": [
                    r["code"] for r in chosen[claim.pk]]}
            elif claim.status == ClaimStatus.PASSED:
                action, after = "accepted", {"status": ClaimStatus.ACCEPTED}
            else:
                continue  # a possible duplicate not drawn stays held
            audit.record(f"claim.{action}", actor=None, obj=claim,
                         organisation=claim.return_record.provider,
                         before={"status": claim.status},
                         after={**after, "sample": sample.reference}, actor_label="verification")
        audit.record("sample.drawn", actor=actor, obj=sample, organisation=contract.commissioner,
                     after={"kind": sample.kind, "seed": str(seed), "population": len(population),
                            "selected": len(chosen), "period": period_id or ""},
                     actor_label="" if actor else "verification")
    return sample


def reproduce_sample(sample):
    """Draw the sample again from what was stored; returns (claim ids, whether they match)."""
    population = [tuple(pair) for pair in sample.population]
    if sample.kind == SampleKind.CHECK:
        again = set(select_check(population, sample.sample_size, sample.seed))
    else:
        forced = {int(k): v for k, v in sample.forced.items()}
        again = set(select(population, forced, sample.rates, sample.seed,
                           verify_all=sample.policy.get("mode") == PolicyMode.VERIFY_ALL))
    stored = set(sample.items.values_list("claim_id", flat=True))
    return sorted(again), again == stored


# --- review --------------------------------------------------------------------------------


@transaction.atomic
def start_review(claim, *, actor):
    claim = _lock(claim)
    _move(claim, "start_review", actor, event="review_started")
    review = _review(claim)
    if review.allocated_to_id is None:
        review.allocated_to, review.allocated_at = actor, timezone.now()
        review.save(update_fields=["allocated_to", "allocated_at"])
    return claim


@transaction.atomic
def allocate(claim, *, actor, assignee):
    """Give a claim being verified to an auditor (or take it)."""
    claim = _lock(claim)
    _require(permissions.can_allocate(actor, claim, assignee))
    review = _review(claim)
    before = review.allocated_to.username if review.allocated_to_id else ""
    review.allocated_to, review.allocated_at = assignee, timezone.now()
    review.save(update_fields=["allocated_to", "allocated_at"])
    audit.record("claim.allocated", actor=actor, obj=claim, before={"allocated_to": before},
                 after={"allocated_to": assignee.username})
    return claim


@transaction.atomic
def raise_query(claim, *, actor, text, today=None):
    text = _text(text, "Enter the question for the provider.")
    claim = _lock(claim)
    due = _today(today) + timedelta(days=_days(claim.return_record.contract,
                                               "query_response_days"))
    _move(claim, "raise_query", actor, event="query_raised", reason=text,
          after={"due": due.isoformat()})
    return ClaimQuery.objects.create(claim=claim, raised_by=actor, text=text, due_date=due)


@transaction.atomic
def respond_to_query(claim, *, actor, text, evidence=()):
    """The provider answers the open query, with words and any new evidence files."""
    text = _text(text, "Enter your answer to the auditor's question.")
    claim = _lock(claim)
    _require(permissions.can_transition(actor, claim, "respond"))
    query = claim.queries.filter(responded_at__isnull=True).order_by("-raised_at", "-id").first()
    if query is None:
        raise VerificationError("There is no open query on this claim.")
    files = list(evidence)
    for item in files:
        if item.organisation_id != claim.return_record.provider_id:
            raise InputError(f"Evidence file E{item.pk} belongs to another organisation.")
    _move(claim, "respond", actor, event="query_answered", reason=text,
          after={"evidence": [f"E{e.pk}" for e in files]})
    query.response, query.responded_by, query.responded_at = text, actor, timezone.now()
    query.save(update_fields=["response", "responded_by", "responded_at"])
    if files:
        query.evidence.add(*files)
        claim.evidence_files.add(*files)
    return query


def _decide(claim, actor, action, *, reason_code="", note="", after_payment=False):
    now = timezone.now()
    after = {"reason_code": reason_code} if reason_code else {}
    if after_payment:
        after["after_payment"] = True
    _move(claim, action, actor, event={"verify": "verified", "reject": "rejected",
                                       "record_finding": "finding_recorded"}[action],
          reason=note, after=after)
    review = _review(claim)
    review.decided_by, review.decided_at = actor, now
    review.reason_code, review.note = reason_code, note
    if claim.status == ClaimStatus.REJECTED:
        review.rejected_by, review.rejected_at = actor, now
        review.after_payment = after_payment
    review.save()
    return claim


@transaction.atomic
def verify_claim(claim, *, actor, note=""):
    claim = _lock(claim)
    return _decide(claim, actor, "verify", note=(note or "").strip())


@transaction.atomic
def reject_claim(claim, *, actor, reason_code, note=""):
    reason_code = _reason_code(reason_code, note)
    claim = _lock(claim)
    return _decide(claim, actor, "reject", reason_code=reason_code, note=(note or "").strip())


@transaction.atomic
def record_finding(claim, *, actor, reason_code, note):
    """A finding after payment: a verified or accepted claim is rejected, and the next payment
    run reverses what it paid (a line that points at the ledger line it corrects)."""
    reason_code = _reason_code(reason_code, note)
    note = _text(note, "Describe the finding: the provider will read it.")
    claim = _lock(claim)
    return _decide(claim, actor, "record_finding", reason_code=reason_code, note=note,
                   after_payment=True)


def bulk_decide(claims, *, actor, decision, reason_code="", note=""):
    """Verify or reject a selection: each claim in its own transaction. Returns
    [(claim id, None or the reason it was refused)] in the order given."""
    if decision not in ("verify", "reject"):
        raise InputError("Choose whether to verify or reject the selected claims.")
    if decision == "reject":
        reason_code = _reason_code(reason_code, note)
    results = []
    for claim in claims:
        pk = claim.pk if isinstance(claim, Claim) else claim
        try:
            if decision == "verify":
                verify_claim(pk, actor=actor, note=note)
            else:
                reject_claim(pk, actor=actor, reason_code=reason_code, note=note)
        except VerificationError as exc:
            results.append((pk, str(exc)))
        else:
            results.append((pk, None))
    return results


# --- appeals ----------------------------------------------------------------------------------


@transaction.atomic
def appeal_claim(claim, *, actor, grounds, evidence=(), today=None):
    grounds = _text(grounds, "Enter the grounds for the appeal.")
    claim = _lock(claim)
    files = list(evidence)
    for item in files:
        if item.organisation_id != claim.return_record.provider_id:
            raise InputError(f"Evidence file E{item.pk} belongs to another organisation.")
    _move(claim, "appeal", actor, event="appealed", reason=grounds, today=today,
          after={"evidence": [f"E{e.pk}" for e in files]})
    appeal = Appeal.objects.create(claim=claim, lodged_by=actor, grounds=grounds)
    if files:
        appeal.evidence.add(*files)
        claim.evidence_files.add(*files)
    return appeal


@transaction.atomic
def decide_appeal(claim, *, actor, upheld, note):
    note = _text(note, "Explain the decision: the provider and the auditor will read it.")
    claim = _lock(claim)
    action = "uphold_appeal" if upheld else "dismiss_appeal"
    _move(claim, action, actor, event="appeal_upheld" if upheld else "appeal_dismissed",
          reason=note)
    appeal = claim.appeals.filter(decided_at__isnull=True).order_by("-lodged_at").first()
    appeal.decided_by, appeal.decided_at = actor, timezone.now()
    appeal.upheld, appeal.note = bool(upheld), note
    appeal.save(update_fields=["decided_by", "decided_at", "upheld", "note"])
    review = _review(claim)
    review.decided_by, review.decided_at = actor, appeal.decided_at
    if upheld:
        review.reason_code = ""
    review.save(update_fields=["decided_by", "decided_at", "reason_code"])
    return appeal


# --- post-payment checks and extrapolation ----------------------------------------------------


def draw_check(contract, *, actor, period_from, period_to, outcome="", provider=None,
               size=None, seed=None):
    """Draw a post-payment check from the claims paid in a run of periods. The population's total
    is what the ledger paid for those claims; nothing about the claims changes."""
    from ..services import ReturnError, contract_periods_now

    if actor is not None:
        _require(permissions.can_draw_sample(actor, contract))
    try:
        periods = {p.id: p for p in contract_periods_now(contract)}
    except ReturnError as exc:
        raise VerificationError(str(exc)) from exc
    first, last = periods.get(period_from), periods.get(period_to)
    if first is None or last is None:
        missing = period_from if first is None else period_to
        raise InputError(f"{contract.reference} has no period called {missing}.")
    if last.start < first.start:
        raise InputError(f"{period_to} is before {period_from}.")
    with transaction.atomic():
        returns = Return.objects.filter(contract=contract, period_start__gte=first.start,
                                        period_end__lte=last.end).latest_versions()
        if provider is not None:
            returns = returns.filter(provider=provider)
        claims = Claim.objects.filter(return_record__in=returns,
                                      status__in=(ClaimStatus.VERIFIED, ClaimStatus.ACCEPTED))
        if outcome:
            claims = claims.filter(outcome=outcome)
        rows = list(claims.order_by("pk").values_list("pk", "return_record__provider_id"))
        if actor is not None and any(pid == actor.organisation_id for _c, pid in rows):
            raise VerificationError("You cannot check claims made by your own organisation.")
        paid = paid_for_claims(contract, [cid for cid, _p in rows])
        population = [[cid, pid] for cid, pid in rows if paid.get(cid, 0) > 0]
        scope = f"{period_from} to {period_to}" + (f" ({outcome})" if outcome else "")
        if not population:
            raise VerificationError(f"No paid claims to check in {scope}: a post-payment check "
                                    "samples claims the ledger has paid.")
        total = sum((paid[cid] for cid, _p in population), Decimal("0.00"))
        snapshot = policy_values(contract)
        if size in (None, ""):
            size = random_size(snapshot["post_payment_pct"], len(population))
        size = int(size)
        if not 1 <= size <= len(population):
            raise InputError(f"Enter a sample size from 1 to {len(population)}.")
        seed = secrets.randbits(62) if seed is None else int(seed)
        chosen = select_check(population, size, seed)
        sample = Sample.objects.create(
            contract=contract, provider=provider, kind=SampleKind.CHECK,
            scope={"period_from": period_from, "period_to": period_to, "outcome": outcome},
            seed=seed, policy=snapshot, population=population, population_count=len(population),
            population_total=total, sample_size=len(chosen), drawn_by=actor)
        SampleItem.objects.bulk_create([
            SampleItem(sample=sample, claim_id=cid,
                       reasons=[reason("random", f"{len(chosen)} of {len(population)} paid "
                                                 "claims")]) for cid in chosen])
        audit.record("sample.drawn", actor=actor, obj=sample, organisation=contract.commissioner,
                     after={"kind": sample.kind, "seed": str(seed), "scope": scope,
                            "population": len(population), "population_total": str(total),
                            "selected": len(chosen)},
                     actor_label="" if actor else "verification")
    return sample


@transaction.atomic
def record_sample_finding(item, *, actor, error, reason_code="", note=""):
    """Whether one claim in a post-payment check could be verified."""
    item = SampleItem.objects.select_for_update().get(pk=item.pk)
    sample = Sample.objects.select_for_update().select_related("contract").get(pk=item.sample_id)
    claim = Claim.objects.select_related("return_record").get(pk=item.claim_id)
    _require(permissions.can_record_finding_in_sample(actor, sample, claim))
    if sample.kind != SampleKind.CHECK:
        raise VerificationError("Claims selected for verification are decided on the claim "
                                "itself: verify or reject it.")
    if error:
        reason_code = _reason_code(reason_code, note)
    before = item.finding
    item.finding = Finding.ERROR if error else Finding.CONFIRMED
    item.reason_code = reason_code if error else ""
    item.note = (note or "").strip()
    item.decided_by, item.decided_at = actor, timezone.now()
    item.save()
    audit.record("claim.check_finding", actor=actor, obj=claim, reason=item.note,
                 before={"finding": before},
                 after={"finding": item.finding, "sample": sample.reference,
                        "reason_code": item.reason_code})
    return item


def _recovery_period(contract):
    """The period whose statement will carry a recovery: the latest run if still a draft,
    otherwise the period after it; with no runs, the period holding today (or the last)."""
    from payments.models import PaymentRun, RunStatus

    from ..services import contract_periods_now

    periods = list(contract_periods_now(contract))
    latest = PaymentRun.objects.filter(contract=contract).order_by("-period_index").first()
    if latest is not None:
        if latest.status != RunStatus.APPROVED:
            return latest.period_id
        later = [p for p in periods if p.start > latest.period_end]
        return later[0].id if later else latest.period_id
    today = timezone.localdate()
    current = next((p for p in periods if p.start <= today <= p.end), None)
    return (current or periods[-1]).id


@transaction.atomic
def close_sample(sample, *, actor, recovery_period=None):
    """Close a post-payment check once every claim has a finding: its error rate then reaches
    payments as one recovery line (outcomes.services.facts_for → SampleCheck)."""
    from ..services import contract_periods_now

    sample = Sample.objects.select_for_update().select_related("contract").get(pk=sample.pk)
    _require(permissions.can_close_sample(actor, sample))
    if sample.kind != SampleKind.CHECK:
        raise VerificationError("Only a post-payment check is closed; a selection is finished "
                                "when each claim is decided.")
    pending = sample.items.filter(finding=Finding.PENDING).count()
    if pending:
        raise VerificationError(f"{pending} claim{'s' if pending != 1 else ''} in the sample "
                                f"{'have' if pending != 1 else 'has'} no finding yet.")
    period = (recovery_period or "").strip() or _recovery_period(sample.contract)
    if period not in {p.id for p in contract_periods_now(sample.contract)}:
        raise InputError(f"{sample.contract.reference} has no period called {period}.")
    sample.errors = sample.items.filter(finding=Finding.ERROR).count()
    sample.status, sample.recovery_period = SampleStatus.CLOSED, period
    sample.closed_by, sample.closed_at = actor, timezone.now()
    sample.save(update_fields=["errors", "status", "recovery_period", "closed_by", "closed_at"])
    audit.record("sample.closed", actor=actor, obj=sample,
                 organisation=sample.contract.commissioner,
                 after={"errors": sample.errors, "sample_size": sample.sample_size,
                        "population_total": str(sample.population_total),
                        "recovery_period": period})
    return sample


# --- policy ------------------------------------------------------------------------------------


@transaction.atomic
def save_policy(contract, *, actor, values):
    """Create or change the contract's verification policy. values: field -> value."""
    _require(permissions.can_edit_policy(actor, contract))
    policy = (VerificationPolicy.objects.select_for_update().filter(contract=contract).first()
              or VerificationPolicy(contract=contract))
    before = policy.snapshot() if policy.pk else None
    for name in VerificationPolicy.SNAPSHOT_FIELDS:
        if name in values:
            setattr(policy, name, values[name])
    policy.updated_by = actor
    try:
        policy.full_clean()
    except ValidationError as exc:
        raise InputError(" ".join(f"{policy._meta.get_field(name).verbose_name.capitalize()}: "
                                  f"{' '.join(messages)}" if name in policy.SNAPSHOT_FIELDS
                                  else " ".join(messages)
                                  for name, messages in exc.message_dict.items())) from exc
    policy.save()
    audit.record("verification_policy.saved", actor=actor, obj=policy, before=before,
                 after=policy.snapshot())
    return policy


def evidence_for(user, ids):
    """The user's own evidence files with these ids (E12 or 12), or a VerificationError."""
    wanted = []
    for raw in ids:
        text = str(raw).strip().upper().removeprefix("E")
        if not text:
            continue
        if not text.isdigit():
            raise InputError(f"{raw} is not an evidence file number; they look like E12.")
        wanted.append(int(text))
    files = {e.pk: e for e in EvidenceFile.objects.for_user(user).filter(pk__in=wanted)}
    missing = [f"E{pk}" for pk in wanted if pk not in files]
    if missing:
        raise InputError(f"Evidence file {', '.join(missing)} is not one of your "
                         "organisation's files.")
    return [files[pk] for pk in wanted]
