"""Reusable reads: the verifier's work queue and a provider's claims in verification."""

import datetime

from django.db.models import Q

from ..models import Claim, ClaimStatus, Return
from .permissions import OPEN_STATUSES

# Claims a provider sees on "Claims in verification": every state after submission but the
# automatic checks' own (those are on the return page).
PROVIDER_STATUSES = (ClaimStatus.PASSED, ClaimStatus.HELD, ClaimStatus.SAMPLED,
                     ClaimStatus.ACCEPTED, ClaimStatus.UNDER_REVIEW, ClaimStatus.QUERIED,
                     ClaimStatus.RESPONDED, ClaimStatus.VERIFIED, ClaimStatus.REJECTED,
                     ClaimStatus.APPEALED)

FILTERS = ("contract", "provider", "outcome", "status", "due_before", "allocated")


def _live(claims):
    return claims.filter(return_record__in=Return.objects.latest_versions())


def _base(claims):
    return (claims.select_related("return_record__contract", "return_record__provider",
                                  "participant", "review__allocated_to")
            .order_by("review__due_date", "pk"))


def queue_for(user, params=None):
    """The claims a verifier works on, filtered by `params` (contract id, provider id, outcome
    code, status, due_before date, allocated = me / none / a user id). Without a status: the
    claims still being verified. Bad filter values are ignored, never an error."""
    params = params or {}
    claims = _live(Claim.objects.for_user(user))
    status = params.get("status") or ""
    if status in ClaimStatus.values:
        claims = claims.filter(status=status)
    else:
        claims = claims.filter(status__in=OPEN_STATUSES)
    if str(params.get("contract") or "").isdigit():
        claims = claims.filter(return_record__contract_id=int(params["contract"]))
    if str(params.get("provider") or "").isdigit():
        claims = claims.filter(return_record__provider_id=int(params["provider"]))
    if params.get("outcome"):
        claims = claims.filter(outcome=str(params["outcome"]).strip())
    due = params.get("due_before")
    if isinstance(due, str) and due:
        try:
            due = datetime.date.fromisoformat(due)
        except ValueError:
            due = None
    if isinstance(due, datetime.date):
        claims = claims.filter(review__due_date__lte=due)
    allocated = str(params.get("allocated") or "")
    if allocated == "me":
        claims = claims.filter(review__allocated_to=user)
    elif allocated == "none":
        claims = claims.filter(Q(review__isnull=True) | Q(review__allocated_to__isnull=True))
    elif allocated.isdigit():
        claims = claims.filter(review__allocated_to_id=int(allocated))
    return _base(claims)


def provider_claims(user, params=None):
    """A provider's own submitted claims from verification's point of view; `attention` shows
    only those waiting on the provider (an open query, or a rejection that may be appealed)."""
    params = params or {}
    claims = _live(Claim.objects.for_user(user)).filter(status__in=PROVIDER_STATUSES)
    status = params.get("status") or ""
    if status in ClaimStatus.values:
        claims = claims.filter(status=status)
    if str(params.get("contract") or "").isdigit():
        claims = claims.filter(return_record__contract_id=int(params["contract"]))
    if params.get("outcome"):
        claims = claims.filter(outcome=str(params["outcome"]).strip())
    if params.get("attention"):
        claims = claims.filter(Q(status=ClaimStatus.QUERIED) | Q(
            status=ClaimStatus.REJECTED, review__rejected_at__isnull=False, appeals__isnull=True))
    return _base(claims).prefetch_related("queries", "appeals").distinct()
