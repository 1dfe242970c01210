"""Who may see which dashboard. Contract pages are also scoped with ``for_user`` by the views,
so another organisation's contract is not found (404) before these are asked."""

from pbr.models import Role
from pbr.permissions import ALLOW, Decision, signed_in


def can_view_programme(user):
    """The commissioner dashboards and the equity view: commissioners (their own contracts) and
    site admins (every contract)."""
    if (denied := signed_in(user)) is not None:
        return denied
    if user.is_site_admin or user.role == Role.COMMISSIONER:
        return ALLOW
    return Decision(False, "The programme dashboards are for commissioners.")


def can_view_contract_dashboard(user, contract):
    if not (decision := can_view_programme(user)):
        return decision
    if user.is_site_admin or contract.commissioner_id == user.organisation_id:
        return ALLOW
    return Decision(False, "Only the commissioner who manages this contract can see its "
                           "dashboard.")


def can_refresh(user):
    return can_view_programme(user)


def can_view_provider_dashboard(user):
    if (denied := signed_in(user)) is not None:
        return denied
    if user.is_site_admin or user.is_provider:
        return ALLOW
    return Decision(False, "The provider dashboard is for providers.")
