"""The one permission layer: a function per action returning a Decision (allowed, reason).

Views, htmx partials, file downloads and API routes call these and scope every queryset with
`Model.objects.for_user(user)`, so another organisation's object is simply not found (404).
"""

from dataclasses import dataclass

from .models import Role, is_signed_in


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""

    def __bool__(self):
        return self.allowed


ALLOW = Decision(True)


def signed_in(user):
    """None when the user is signed in and active; otherwise the refusal to return."""
    if not is_signed_in(user):
        return Decision(False, "You need to sign in.")
    return None




def can_view_audit_log(user):
    if (denied := signed_in(user)) is not None:
        return denied
    if user.is_site_admin or user.organisation_id:
        return ALLOW
    return Decision(False, "Only members of an organisation can see its audit log.")


def can_manage_api_tokens(user, organisation=None):
    """Provider managers issue their own organisation's API tokens; site admins any."""
    if (denied := signed_in(user)) is not None:
        return denied
    if user.is_site_admin:
        return ALLOW
    if user.role != Role.PROVIDER_MANAGER:
        return Decision(False, "Only a provider manager can issue or revoke API tokens.")
    if organisation is not None and organisation.pk != user.organisation_id:
        return Decision(False, "You can only manage your own organisation's tokens.")
    return ALLOW


def can_view_jobs(user):
    if (denied := signed_in(user)) is not None:
        return denied
    return ALLOW


def can_use_admin(user):
    if (denied := signed_in(user)) is not None:
        return denied
    if user.is_site_admin:
        return ALLOW
    return Decision(False, "Only site administrators can use the admin site.")
