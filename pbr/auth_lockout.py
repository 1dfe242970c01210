"""Locking out repeated sign-in failures (django-axes), and writing them to the audit log.

One username from one address is locked after AXES_FAILURE_LIMIT failed passwords or two-factor
codes within the lockout period, for PBR_SIGN_IN_LOCKOUT_MINUTES (ADR 0015). Axes counts the
failures; this module decides the client address, draws the locked-out page, records failures in
the audit log, and clears the count once someone has signed in completely.
"""

from axes.backends import AxesStandaloneBackend
from axes.exceptions import AxesBackendPermissionDenied
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.db.models import Max
from django.dispatch import receiver
from django.shortcuts import render
from django.utils import timezone

from . import audit
from .models import User

_MAX_USERNAME = 150  # AbstractUser.username


def client_ip(request):
    """The client's address. Behind PBR_TRUSTED_PROXY_COUNT proxies, each of which appends the
    address it received from to X-Forwarded-For, it is that many places from the right; any
    addresses further left were written by the client and cannot be trusted."""
    count = settings.PBR_TRUSTED_PROXY_COUNT
    if count > 0:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
                     if a.strip()]
        if len(forwarded) >= count:
            return forwarded[-count]
    return request.META.get("REMOTE_ADDR") or None


class LockoutBackend(AxesStandaloneBackend):
    """Axes's backend, marking the request when it refuses a locked-out sign-in so the audit
    receiver below can tell a refusal from a wrong password."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        try:
            return super().authenticate(request, username=username, password=password, **kwargs)
        except AxesBackendPermissionDenied:
            request.pbr_refused_locked_out = True
            raise


def _credentials(username):
    return {"username": username}


def lock_ends_at(request, username):
    """When the current lockout of `username` from this request's address ends (None if the
    address has no recorded failures for it)."""
    AxesProxyHandler.update_request(request)
    handler = AxesProxyHandler.get_implementation()
    latest = None
    for attempts in handler.get_user_attempts(request, _credentials(username)):
        last = attempts.aggregate(last=Max("attempt_time"))["last"]
        if last is not None and (latest is None or last > latest):
            latest = last
    if latest is None:
        return None
    return latest + get_cool_off(request)


def is_locked_out(request, username):
    return not AxesProxyHandler.is_allowed(request, _credentials(username))


def lockout_response(request, original_response=None, credentials=None):
    """The page shown instead of the sign-in (or code) page while locked out: what happened and
    when to try again. Status 429, as axes uses."""
    AxesProxyHandler.update_request(request)
    username = get_client_username(request, credentials) or ""
    ends_at = lock_ends_at(request, username)
    if ends_at is None:  # the failures were cleared meanwhile; fall back on the full period
        ends_at = timezone.now() + get_cool_off(request)
    ends_at = timezone.localtime(ends_at)
    return render(request, "registration/locked_out.html", {
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "lockout_minutes": settings.PBR_SIGN_IN_LOCKOUT_MINUTES,
        "try_again_at": ends_at,
        "same_day": ends_at.date() == timezone.localdate(),
    }, status=settings.AXES_HTTP_RESPONSE_CODE)


def clear_failures(request, username):
    """A complete sign-in clears that username's failures from this address (only: a lock on
    the same username elsewhere is someone else's problem to wait out)."""
    AxesProxyHandler.update_request(request)
    # Not AxesProxyHandler.reset_attempts: given no address it would clear every address.
    AccessAttempt.objects.filter(username=username, ip_address=request.axes_ip_address).delete()


def _known_user(username):
    if not username:
        return None
    return User.objects.filter(username=username).select_related("organisation").first()


def _recorded_username(user):
    # A typed username that matches nobody may be a password typed into the wrong box: it is
    # never written to the append-only audit log.
    return user.get_username() if user is not None else "(unknown username)"


def _address(request):
    AxesProxyHandler.update_request(request)
    return request.axes_ip_address or ""


def _record_failure(request, username):
    if getattr(request, "pbr_failure_recorded", False):
        return
    request.pbr_failure_recorded = True
    user = _known_user(username)
    stage = getattr(request, "pbr_sign_in_stage", "password")
    audit.record(
        "sign_in.failed", obj=user, organisation=getattr(user, "organisation", None),
        after={"username": _recorded_username(user), "ip_address": _address(request),
               "stage": stage},
        reason=("The code from the authenticator app was not correct." if stage == "code" else
                "The username or password was not correct."),
        actor_label=_recorded_username(user),
    )


# Axes handles user_login_failed too, and signals user_locked_out from inside it when a failure
# reaches the limit; whichever receiver runs first, the failure is recorded before the lockout.

@receiver(user_login_failed, dispatch_uid="pbr.auth_lockout.audit_failure")
def audit_failure(sender, credentials, request=None, **kwargs):
    """Every failed password or code is an audit event. A refused attempt while locked out
    checked no password: audit_locked_out records it."""
    if request is None or getattr(request, "pbr_refused_locked_out", False):
        return
    _record_failure(request, str((credentials or {}).get("username") or "")[:_MAX_USERNAME])


@receiver(user_locked_out, dispatch_uid="pbr.auth_lockout.audit_locked_out")
def audit_locked_out(sender, request=None, username=None, ip_address=None, **kwargs):
    if request is None:
        return
    username = str(username or "")[:_MAX_USERNAME]
    refused = getattr(request, "pbr_refused_locked_out", False)
    if not refused:
        _record_failure(request, username)
    user = _known_user(username)
    ends_at = lock_ends_at(request, username)
    audit.record(
        "sign_in.locked_out", obj=user, organisation=getattr(user, "organisation", None),
        after={"username": _recorded_username(user), "ip_address": ip_address or "",
               "locked_until": ends_at.isoformat() if ends_at else None},
        reason=("A sign-in was refused because this username is locked out from this address."
                if refused else
                f"Locked out after {settings.AXES_FAILURE_LIMIT} failed attempts."),
        actor_label=_recorded_username(user),
    )
