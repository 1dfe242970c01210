"""One function per payments action, each returning a Decision (allowed, reason)."""

from contracts.permissions import manages_contract
from pbr.models import Role
from pbr.permissions import ALLOW, Decision, signed_in


def can_run_payments(user, contract):
    if denied := signed_in(user):
        return denied
    if manages_contract(user, contract):
        return ALLOW
    return Decision(False, "Only the commissioner who manages this contract can run its payments.")


def can_approve_run(user, run):
    if denied := signed_in(user):
        return denied
    if user.role == Role.COMMISSIONER and user.organisation_id == run.contract.commissioner_id:
        return ALLOW
    return Decision(False, "Only a commissioner of the managing organisation can approve payments.")
