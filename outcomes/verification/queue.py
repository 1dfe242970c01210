"""Reusable reads: the verifier's work queue, the contracts with claims waiting to be sampled,
and a provider's claims in verification.

At national scale (docs/performance.md, "Dashboards") an auditor's contracts hold millions of
claims, so nothing here counts or sorts them per contract: the queue reaches its claims through
the contracts it audits (a join, not a list of claim ids), its open claims through a partial
index (`claim_open_idx`), and the waiting counts come from the dashboards' figures.
"""

import datetime

from django.db.models import Count, Exists, Max, OuterRef, Q, Subquery

from contracts.models import Contract, ContractParty, PartyRole
from pbr.models import Role
from pbr.models import is_signed_in as _active

from ..models import Claim, ClaimStatus, Return
from .permissions import OPEN_STATUSES

# Claims a provider sees on "Claims in verification": every state after submission but the
# automatic checks' own (those are on the return page).
PROVIDER_STATUSES = (ClaimStatus.PASSED, ClaimStatus.HELD, ClaimStatus.SAMPLED,
                     ClaimStatus.ACCEPTED, ClaimStatus.UNDER_REVIEW, ClaimStatus.QUERIED,
                     ClaimStatus.RESPONDED, ClaimStatus.VERIFIED, ClaimStatus.REJECTED,
                     ClaimStatus.APPEALED)

# Claims a sample is drawn from (services.waiting_to_be_sampled).
WAITING_STATUSES = (ClaimStatus.PASSED, ClaimStatus.HELD)

FILTERS = ("contract", "provider", "outcome", "status", "due_before", "allocated")


def _live(claims):
    return claims.filter(return_record__in=Return.objects.latest_versions())


def verifier_contracts(user):
    """The contracts whose claims `user` verifies and samples, in one query: what
    permissions.can_verify_contract allows, for every contract at once (an auditor: the contracts
    naming their organisation as auditor; a commissioner: those their organisation manages)."""
    if not _active(user) or user.organisation_id is None and not user.is_site_admin:
        return Contract.objects.none()
    if user.role == Role.AUDITOR:
        return Contract.objects.filter(pk__in=ContractParty.objects.filter(
            role=PartyRole.AUDITOR, organisation_id=user.organisation_id).values("contract_id"))
    if user.role == Role.COMMISSIONER:
        if user.is_site_admin:
            return Contract.objects.all()
        return Contract.objects.filter(commissioner_id=user.organisation_id)
    return Contract.objects.none()


def _scoped_returns(user):
    """Return.objects.for_user(user), reached through the user's contracts: for an auditor or a
    commissioner for_user filters on `id IN (rows of their contracts)`, which for claims makes
    PostgreSQL list every claim of those contracts (millions) before it can filter them."""
    if _active(user) and not user.is_site_admin and user.organisation_id is not None \
            and user.role in (Role.AUDITOR, Role.COMMISSIONER):
        return Return.objects.filter(contract__in=verifier_contracts(user))
    return Return.objects.for_user(user)


def _scoped(user):
    """Claim.objects.for_user(user), through the returns it covers."""
    return Claim.objects.filter(return_record__in=_scoped_returns(user))


# What a page of the queue shows with each claim.
QUEUE_RELATED = ("return_record__contract", "return_record__provider", "participant",
                 "review__allocated_to")


def _base(claims):
    return claims.select_related(*QUEUE_RELATED).order_by("review__due_date", "pk")


def queue_for(user, params=None):
    """The claims a verifier works on, filtered by `params` (contract id, provider id, outcome
    code, status, due_before date, allocated = me / none / a user id). Without a status: the
    claims still being verified. Bad filter values are ignored, never an error."""
    params = params or {}
    # The latest version of each return in scope, narrowed by contract and provider before any
    # claim is read: the claims are then reached through these returns only.
    returns = _scoped_returns(user).latest_versions()
    if str(params.get("contract") or "").isdigit():
        returns = returns.filter(contract_id=int(params["contract"]))
    if str(params.get("provider") or "").isdigit():
        returns = returns.filter(provider_id=int(params["provider"]))
    claims = Claim.objects.filter(return_record__in=returns)
    status = params.get("status") or ""
    if status in ClaimStatus.values:
        claims = claims.filter(status=status)
    else:
        claims = claims.filter(status__in=OPEN_STATUSES)
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


def waiting_by_contract(user):
    """The 'claims waiting to be sampled' panel: each contract `user` may draw samples for that
    has claims waiting (passed their checks or held, in the latest version of each return), as
    {"contract": {"pk", "reference"}, "count", "has_policy", "as_of"}, in reference order.

    The counts are the contract's dashboard figures (pbr/dashboards, ADR 0013: live claims by
    status, worked out in the background) when those are newer than the contract's latest
    submitted return and latest sample; otherwise (no figures yet, or out of date) they are
    counted here, in one grouped query for all such contracts. Counting a national contract's
    150,000 waiting claims takes about a second, so the queue would otherwise spend a minute on
    this panel. `as_of` is when the figures were worked out (None: counted just now). At most
    two queries, however many contracts."""
    from outcomes.verification.models import Sample, VerificationPolicy

    latest_return = (Return.objects.filter(contract=OuterRef("pk")).exclude(submitted_at=None)
                     .order_by().values("contract").annotate(at=Max("submitted_at"))
                     .values("at"))
    latest_sample = (Sample.objects.filter(contract=OuterRef("pk")).order_by()
                     .values("contract").annotate(at=Max("drawn_at")).values("at"))
    contracts = list(
        verifier_contracts(user)
        .annotate(has_policy=Exists(VerificationPolicy.objects.filter(contract=OuterRef("pk"))),
                  submitted=Subquery(latest_return), drawn=Subquery(latest_sample))
        .order_by("reference")
        .values("pk", "reference", "has_policy", "submitted", "drawn",
                "dashboard_snapshot__computed_at",
                "dashboard_snapshot__summary__claims__by_provider_status"))
    counts, stale = {}, []
    for c in contracts:
        as_of = c["dashboard_snapshot__computed_at"]
        by_provider = c["dashboard_snapshot__summary__claims__by_provider_status"]
        if as_of is None or not isinstance(by_provider, dict) \
                or any(t is not None and t > as_of for t in (c["submitted"], c["drawn"])):
            stale.append(c["pk"])
            continue
        counts[c["pk"]] = (sum(int(statuses.get(s, 0)) for statuses in by_provider.values()
                               for s in WAITING_STATUSES), as_of)
    if stale:
        live = (Claim.objects.filter(return_record__in=Return.objects.filter(
            contract_id__in=stale).latest_versions(), status__in=WAITING_STATUSES)
            .order_by().values("return_record__contract_id").annotate(n=Count("pk")))
        counts.update({row["return_record__contract_id"]: (row["n"], None) for row in live})
    rows = []
    for c in contracts:
        count, as_of = counts.get(c["pk"], (0, None))
        if count:
            rows.append({"contract": {"pk": c["pk"], "reference": c["reference"]},
                         "count": count, "has_policy": c["has_policy"], "as_of": as_of})
    return rows
