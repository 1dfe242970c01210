"""Who may move a claim through verification. Each function returns a Decision (allowed, reason).

The checks run in one order, so a refusal names the first thing wrong: signed in, role,
organisation, segregation of duties, then the claim's state. Visibility is the models' for_user()
scope; these decide actions on objects already in scope.
"""

from dataclasses import dataclass

from django.utils import timezone

from contracts.models import PartyRole
from contracts.permissions import manages_contract
from pbr.models import Role
from pbr.permissions import ALLOW, Decision, signed_in

from ..models import ClaimStatus as S

# Who acts in each transition.
VERIFIER = "verifier"  # the contract's auditor, or the commissioner who manages it
PROVIDER = "provider"  # anyone at the provider that made the claim
PROVIDER_MANAGER = "provider_manager"  # a manager at the provider that made the claim
COMMISSIONER = "commissioner"  # a commissioner of the body that manages the contract


@dataclass(frozen=True)
class Transition:
    action: str
    sources: tuple
    target: str
    who: str
    label: str  # what it does, for refusals: "verified", "answered" ...


REVIEWABLE = (S.SAMPLED, S.UNDER_REVIEW, S.RESPONDED)

TRANSITIONS = {t.action: t for t in (
    Transition("select", (S.PASSED, S.HELD), S.SAMPLED, VERIFIER, "selected for verification"),
    Transition("accept", (S.PASSED,), S.ACCEPTED, VERIFIER, "accepted without review"),
    Transition("start_review", (S.SAMPLED,), S.UNDER_REVIEW, VERIFIER, "taken under review"),
    Transition("raise_query", REVIEWABLE, S.QUERIED, VERIFIER, "queried"),
    Transition("respond", (S.QUERIED,), S.RESPONDED, PROVIDER, "answered"),
    Transition("verify", REVIEWABLE, S.VERIFIED, VERIFIER, "verified"),
    # A claim whose query went unanswered past its due date may be rejected (no answer).
    Transition("reject", (*REVIEWABLE, S.QUERIED), S.REJECTED, VERIFIER, "rejected"),
    Transition("record_finding", (S.VERIFIED, S.ACCEPTED), S.REJECTED, VERIFIER,
               "rejected by a finding after payment"),
    Transition("appeal", (S.REJECTED,), S.APPEALED, PROVIDER_MANAGER, "appealed"),
    Transition("uphold_appeal", (S.APPEALED,), S.VERIFIED, COMMISSIONER,
               "decided on appeal (upheld)"),
    Transition("dismiss_appeal", (S.APPEALED,), S.REJECTED, COMMISSIONER,
               "decided on appeal (dismissed)"),
)}

# Claims still being worked on by the verifier: what the work queue lists and what can be
# allocated to someone.
OPEN_STATUSES = (S.SAMPLED, S.UNDER_REVIEW, S.QUERIED, S.RESPONDED, S.APPEALED)


def _status_label(status):
    return S(status).label.lower() if status in S.values else status


def _sources_text(sources):
    names = [_status_label(s) for s in sources]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def audits(organisation_id, contract):
    """Whether the organisation is named as the contract's auditor."""
    return contract.parties.filter(role=PartyRole.AUDITOR,
                                   organisation_id=organisation_id).exists()


def can_verify_contract(user, contract):
    """Verifiers: auditors of the contract's auditor party, and the commissioners who manage it
    (a commissioner's monitoring officer often verifies)."""
    if (denied := signed_in(user)) is not None:
        return denied
    if user.role == Role.AUDITOR:
        if audits(user.organisation_id, contract):
            return ALLOW
        return Decision(False, f"Your organisation is not the auditor for {contract.reference}.")
    if user.role == Role.COMMISSIONER:
        if manages_contract(user, contract):
            return ALLOW
        return Decision(False, f"Your organisation does not manage {contract.reference}.")
    return Decision(False, "Only the contract's auditor or its commissioner verify claims.")


def _who_check(who, user, claim):
    contract = claim.return_record.contract
    provider_id = claim.return_record.provider_id
    if who == VERIFIER:
        if (denied := _no(can_verify_contract(user, contract))) is not None:
            return denied
        if user.organisation_id == provider_id:
            return Decision(False, "You cannot verify a claim made by your own organisation.")
        return None
    if who in (PROVIDER, PROVIDER_MANAGER):
        if not user.is_provider:
            return Decision(False, "Only the provider that made the claim can do this.")
        if user.organisation_id != provider_id:
            return Decision(False, "This claim was made by another organisation.")
        if who == PROVIDER_MANAGER and user.role != Role.PROVIDER_MANAGER:
            return Decision(False, "Only a provider manager can appeal a rejection.")
        return None
    if who == COMMISSIONER:
        if user.role != Role.COMMISSIONER:
            return Decision(False, "Only a commissioner decides appeals.")
        if not manages_contract(user, contract):
            return Decision(False, f"Your organisation does not manage {contract.reference}.")
        return None
    raise ValueError(who)


def _no(decision):
    return None if decision else decision


def can_act(user, claim, action):
    """The role, organisation and segregation checks of `action`, whatever the claim's state:
    the API answers 403 when these refuse and 409 when only the state is wrong."""
    if (denied := signed_in(user)) is not None:
        return denied
    if (denied := _who_check(TRANSITIONS[action].who, user, claim)) is not None:
        return denied
    if action in ("uphold_appeal", "dismiss_appeal") and has_review(claim) \
            and claim.review.rejected_by_id == user.pk:
        return Decision(False, "You rejected this claim, so someone else must decide the appeal.")
    return ALLOW


def can_transition(user, claim, action, *, today=None):
    """Whether `user` may perform `action` (a key of TRANSITIONS) on `claim` now."""
    if (denied := signed_in(user)) is not None:
        return denied
    transition = TRANSITIONS[action]
    if (denied := _who_check(transition.who, user, claim)) is not None:
        return denied
    review = claim.review if has_review(claim) else None
    if action in ("uphold_appeal", "dismiss_appeal") and review is not None \
            and review.rejected_by_id == user.pk:
        return Decision(False, "You rejected this claim, so someone else must decide the appeal.")
    if claim.status not in transition.sources:
        return Decision(False, f"This claim is {_status_label(claim.status)}: only a claim that "
                               f"is {_sources_text(transition.sources)} can be "
                               f"{transition.label}.")
    if action == "appeal":
        return _appeal_window(claim, review, today)
    if action == "reject" and claim.status == S.QUERIED:
        return _query_overdue(claim, today)
    return ALLOW


def _query_overdue(claim, today):
    query = claim.queries.filter(responded_at__isnull=True).order_by("-due_date").first()
    today = today or timezone.localdate()
    if query is not None and query.due_date >= today:
        return Decision(False, f"The provider has until {query.due_date:%-d %B %Y} to answer the "
                               "query; the claim can be rejected for no answer after that.")
    return ALLOW


def has_review(claim):
    from .models import ClaimReview

    try:
        return claim.review is not None
    except ClaimReview.DoesNotExist:
        return False


def appeal_deadline(claim, review=None):
    """The last day a rejection may be appealed, or None when it cannot be appealed."""
    from .policy import policy_values

    if review is None and has_review(claim):
        review = claim.review
    if review is None or review.rejected_at is None:
        return None
    days = int(policy_values(claim.return_record.contract)["appeal_window_days"])
    return timezone.localdate(review.rejected_at) + timezone.timedelta(days=days)


def _appeal_window(claim, review, today):
    if claim.appeals.exists():
        return Decision(False, "This claim's appeal has been decided; it cannot be appealed "
                               "again.")
    deadline = appeal_deadline(claim, review)
    if deadline is None:
        return Decision(False, "Only a claim rejected on review can be appealed; one that failed "
                               "the automatic checks is corrected by amending the return.")
    today = today or timezone.localdate()
    if today > deadline:
        return Decision(False, f"The appeal window closed on {deadline:%-d %B %Y}.")
    return ALLOW


def can_allocate(user, claim, assignee):
    if (denied := signed_in(user)) is not None:
        return denied
    if (denied := _who_check(VERIFIER, user, claim)) is not None:
        return denied
    contract = claim.return_record.contract
    if assignee is None:
        return Decision(False, "Choose who to allocate the claim to.")
    if not assignee.is_active or not can_verify_contract(assignee, contract):
        return Decision(False, f"{assignee.display_name} cannot verify claims on "
                               f"{contract.reference}.")
    if claim.status not in OPEN_STATUSES:
        return Decision(False, f"This claim is {_status_label(claim.status)}: only a claim being "
                               "verified can be allocated.")
    return ALLOW


def can_draw_sample(user, contract):
    return can_verify_contract(user, contract)


def can_record_finding_in_sample(user, sample, claim):
    if (denied := signed_in(user)) is not None:
        return denied
    if (denied := _no(can_verify_contract(user, sample.contract))) is not None:
        return denied
    if user.organisation_id == claim.return_record.provider_id:
        return Decision(False, "You cannot check a claim made by your own organisation.")
    if sample.status != "open":
        return Decision(False, f"Sample {sample.reference} is closed; its findings are final.")
    return ALLOW


def can_close_sample(user, sample):
    if (denied := signed_in(user)) is not None:
        return denied
    if (denied := _no(can_verify_contract(user, sample.contract))) is not None:
        return denied
    if sample.status != "open":
        return Decision(False, f"Sample {sample.reference} is already closed.")
    return ALLOW


def can_edit_policy(user, contract):
    if (denied := signed_in(user)) is not None:
        return denied
    if manages_contract(user, contract):
        return ALLOW
    return Decision(False, "Only the commissioner who manages this contract can change how its "
                           "claims are verified.")


def can_use_queue(user):
    """The work queue is for verifiers: auditors and commissioners (and site admins, read-only)."""
    if (denied := signed_in(user)) is not None:
        return denied
    if user.is_site_admin or user.role in (Role.AUDITOR, Role.COMMISSIONER):
        return ALLOW
    return Decision(False, "The verification queue is for auditors and commissioners. Providers "
                           "see their claims under ‘Claims in verification’.")


def can_see_own_claims(user):
    if (denied := signed_in(user)) is not None:
        return denied
    if user.is_site_admin or user.is_provider:
        return ALLOW
    return Decision(False, "This page is for providers; auditors use the verification queue.")
