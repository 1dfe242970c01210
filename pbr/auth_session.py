"""Session expiry: signed out after PBR_SESSION_IDLE_MINUTES without a request, and never
signed in for longer than SESSION_COOKIE_AGE from the moment of sign-in (ADR 0015).

Django alone gives neither: the session cookie ends when the browser closes
(SESSION_EXPIRE_AT_BROWSER_CLOSE), and the stored session's expiry moves forward every time the
session is saved, so a busy session would never reach SESSION_COOKIE_AGE.
"""

import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

SIGNED_IN_AT = "pbr_signed_in_at"
LAST_SEEN = "pbr_last_seen"
# Last-seen is rewritten at most this often, so that not every request writes the session.
LAST_SEEN_RESOLUTION = 60


@receiver(user_logged_in, dispatch_uid="pbr.auth_session.start_clock")
def start_clock(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        now = int(time.time())
        request.session[SIGNED_IN_AT] = now
        request.session[LAST_SEEN] = now


def expiry_reason(session, now):
    """Why this signed-in session has ended, or "" if it has not."""
    signed_in_at = session.get(SIGNED_IN_AT)
    last_seen = session.get(LAST_SEEN)
    if signed_in_at is not None and now - signed_in_at > settings.SESSION_COOKIE_AGE:
        hours = settings.SESSION_COOKIE_AGE // 3600
        span = f"{hours} hours" if hours >= 2 else f"{settings.SESSION_COOKIE_AGE // 60} minutes"
        return f"You have been signed out because you were signed in for more than {span}."
    idle = settings.PBR_SESSION_IDLE_MINUTES
    if last_seen is not None and now - last_seen > idle * 60:
        return (f"You have been signed out because you had not used the service for {idle} "
                "minutes.")
    return ""


class SessionExpiryMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and hasattr(request, "session"):
            now = int(time.time())
            reason = expiry_reason(request.session, now)
            if reason and request.path.startswith("/api/"):
                # The API answers for itself: a token still works, a session no longer does.
                logout(request)
            elif reason:
                return self._signed_out(request, reason)
            else:
                self._touch(request.session, now)
        return self.get_response(request)

    @staticmethod
    def _touch(session, now):
        # A session from before this middleware existed starts its clocks now.
        session.setdefault(SIGNED_IN_AT, now)
        if now - session.get(LAST_SEEN, 0) >= LAST_SEEN_RESOLUTION:
            session[LAST_SEEN] = now

    def _signed_out(self, request, reason):
        logout(request)
        messages.info(request, f"{reason} Sign in again to carry on.")
        sign_in = reverse("login")
        if request.method == "GET":
            sign_in += "?" + urlencode({"next": request.get_full_path()})
        if getattr(request, "htmx", False):
            return HttpResponse(status=204, headers={"HX-Redirect": sign_in})
        return redirect(sign_in)
