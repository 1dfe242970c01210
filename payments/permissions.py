"""One function per payments action, each returning a Decision (allowed, reason)."""

from contracts.models import PartyRole
from contracts.permissions import manages_contract
from pbr.models import Role
from pbr.permissions import ALLOW, Decision, signed_in


def can_run_payments(user, contract):
    if (denied := signed_in(user)) is not None:
        return denied
    if manages_contract(user, contract):
        return ALLOW
    return Decision(False, "Only the commissioner who manages this contract can run its payments.")


def can_approve_run(user, run):
    if (denied := signed_in(user)) is not None:
        return denied
    if user.role == Role.COMMISSIONER and user.organisation_id == run.contract.commissioner_id:
        return ALLOW
    return Decision(False, "Only a commissioner of the managing organisation can approve payments.")


# --- statements' readers: subcontractor ledger, forecasts, liability ---------------------------


def _party_roles(user, contract):
    """{role: {codes}} of the user's organisation on the contract. Reads `contract.parties.all()`
    so a list page that prefetches parties asks nothing more per contract."""
    if user.organisation_id is None:
        return {}
    roles = {}
    for party in contract.parties.all():
        if party.organisation_id == user.organisation_id:
            roles.setdefault(party.role, set()).add(party.code)
    return roles


def visible_subcontractors(user, contract):
    """Codes of the subcontractors whose flow-down `user` may see, or None for all of them.

    The commissioner, the contract's auditor and the prime see every subcontractor; a
    subcontractor sees only its own lines, never another's.
    """
    if user.is_site_admin or manages_contract(user, contract):
        return None
    roles = _party_roles(user, contract)
    if roles.keys() & {PartyRole.PRIME, PartyRole.AUDITOR, PartyRole.FUNDER}:
        return None
    return roles.get(PartyRole.SUBCONTRACTOR, set())


def can_view_subcontractor_ledger(user, contract):
    if (denied := signed_in(user)) is not None:
        return denied
    if visible_subcontractors(user, contract) != set():
        return ALLOW
    return Decision(False, "Only the commissioner, the auditor, the prime provider and the "
                           "contract's subcontractors can see the subcontractor ledger.")


def can_view_income_forecast(user, contract):
    """The prime provider forecasts its income; the managing commissioner may read it too."""
    if (denied := signed_in(user)) is not None:
        return denied
    if manages_contract(user, contract) or PartyRole.PRIME in _party_roles(user, contract):
        return ALLOW
    return Decision(False, "Only the prime provider and the commissioner who manages this "
                           "contract can see its income forecast.")


def can_view_liability(user, contract):
    """Committed and maximum liability is the commissioner's budget view (and its auditor's)."""
    if (denied := signed_in(user)) is not None:
        return denied
    if manages_contract(user, contract) or PartyRole.AUDITOR in _party_roles(user, contract):
        return ALLOW
    return Decision(False, "Only the commissioner who manages this contract and its auditor can "
                           "see its liability by financial year.")
