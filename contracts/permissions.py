"""One function per contract action, each returning a Decision (allowed, reason)."""

from pbr.models import Role
from pbr.permissions import ALLOW, Decision, signed_in


def can_design_contracts(user):
    if (denied := signed_in(user)) is not None:
        return denied
    if user.is_site_admin or user.role == Role.COMMISSIONER:
        return ALLOW
    return Decision(False, "Only commissioners can design or import contracts.")


def manages_contract(user, contract):
    """The commissioner organisation that manages the contract (or a site admin)."""
    return user.is_site_admin or (user.role == Role.COMMISSIONER
                                  and user.organisation_id == contract.commissioner_id)


def can_publish_terms(user, version):
    if (denied := signed_in(user)) is not None:
        return denied
    if manages_contract(user, version.contract):
        return ALLOW
    return Decision(False, "Only the commissioner who manages this contract can publish its terms.")


def can_vary_contract(user, contract):
    if (denied := signed_in(user)) is not None:
        return denied
    if manages_contract(user, contract):
        return ALLOW
    return Decision(False, "Only the commissioner who manages this contract can vary it.")


def can_edit_terms(user, contract):
    """Edit a contract's draft terms in the designer: the managing commissioner (or a site admin)."""
    decision = can_design_contracts(user)
    if not decision:
        return decision
    if manages_contract(user, contract):
        return ALLOW
    return Decision(False, "Only the commissioner who manages this contract can edit its terms.")
