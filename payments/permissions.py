"""One function per payments action, each returning a Decision (allowed, reason)."""

from pbr.models import Role
from pbr.permissions import ALLOW, Decision


def _manages(user, contract):
    return user.is_site_admin or (user.role == Role.COMMISSIONER
                                  and user.organisation_id == contract.commissioner_id)


def can_run_payments(user, contract):
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Decision(False, "You need to sign in.")
    if _manages(user, contract):
        return ALLOW
    return Decision(False, "Only the commissioner who manages this contract can run its payments.")


def can_approve_run(user, run):
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Decision(False, "You need to sign in.")
    if user.role == Role.COMMISSIONER and user.organisation_id == run.contract.commissioner_id:
        return ALLOW
    return Decision(False, "Only a commissioner of the managing organisation can approve payments.")
