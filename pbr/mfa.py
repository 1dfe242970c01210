"""Two-factor authentication with an authenticator app (TOTP, django-otp): who needs it, the
middleware that holds a half-signed-in session at the code page, and the services that set it
up, check codes, turn it off and reset it (ADR 0015).

Signing in is two steps for anyone who needs a code: the password page signs them in as far as
Django is concerned, then MfaRequiredMiddleware lets them reach nothing but the two-factor pages
and "Sign out" until django_otp.login() has recorded the device that checked their code in the
session. django-otp's OTPMiddleware reloads that device on every request, so a reset (which
deletes the device) ends every verified session at once.
"""

import time
from base64 import b32encode
from binascii import unhexlify
from urllib.parse import urlencode

import django_otp
import segno
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.util import random_hex
from drf_spectacular.authentication import SessionScheme
from rest_framework.authentication import SessionAuthentication

from . import audit
from .auth_lockout import clear_failures
from .models import Role
from .permissions import ALLOW, Decision, signed_in

# Roles that hold commissioning decisions, audit findings or the whole site: a password is not
# enough for them. (Any superuser counts as a site admin.)
REQUIRED_ROLES = frozenset({Role.COMMISSIONER, Role.AUDITOR, Role.SITE_ADMIN})

# Set at password sign-in for someone who chose two-factor without their role needing it, so
# the middleware need not look up their devices on every request.
SESSION_CODE_DUE = "pbr_mfa_code_due"
# The secret offered on the set-up page, kept server-side until a code from it is entered.
SESSION_SETUP_KEY = "pbr_mfa_setup_key"

DEVICE_NAME = "Authenticator app"
# URL names a half-signed-in person may open.
EXEMPT_URL_NAMES = frozenset({"mfa_verify", "mfa_setup", "logout"})


def role_requires_mfa(user):
    return user.role in REQUIRED_ROLES or user.is_superuser


def confirmed_device(user):
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def has_mfa(user):
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def needs_code(request):
    """True while this signed-in session still owes a code: its role needs two-factor (or its
    owner chose it) and no device has verified it yet."""
    user = request.user
    if not user.is_authenticated or user.is_verified():
        return False
    if role_requires_mfa(user):
        return True
    if request.session.get(SESSION_CODE_DUE):
        if has_mfa(user):
            return True
        request.session.pop(SESSION_CODE_DUE)  # reset by an administrator meanwhile
    return False


@receiver(user_logged_in, dispatch_uid="pbr.mfa.after_password")
def after_password(sender, request, user, **kwargs):
    """Called when a password is accepted. Someone who needs no code has finished signing in;
    someone who chose two-factor is asked for a code like the roles that must."""
    if request is None or not hasattr(request, "session"):
        return
    if role_requires_mfa(user):
        return
    if has_mfa(user):
        request.session[SESSION_CODE_DUE] = True
    else:
        clear_failures(request, user.get_username())


def _next_step_url(request):
    user = request.user
    name = "mfa_verify" if has_mfa(user) else "mfa_setup"
    url = reverse(name)
    if request.method == "GET" and request.get_full_path() != "/":
        url += "?" + urlencode({"next": request.get_full_path()})
    return url


class MfaRequiredMiddleware:
    """Until the code is entered: web pages redirect to the code (or set-up) page; the API is
    left to VerifiedSessionAuthentication, which does not count such a session, so a request
    with an API token is unaffected."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if needs_code(request) and not self._exempt(request):
            url = _next_step_url(request)
            if getattr(request, "htmx", False):
                return HttpResponse(status=204, headers={"HX-Redirect": url})
            return redirect(url)
        return self.get_response(request)

    @staticmethod
    def _exempt(request):
        if request.path.startswith("/api/"):
            return True
        match = getattr(request, "resolver_match", None)
        if match is None:
            from django.urls import Resolver404, resolve

            try:
                match = resolve(request.path_info)
            except Resolver404:
                return False
        return match.url_name in EXEMPT_URL_NAMES


class VerifiedSessionAuthentication(SessionAuthentication):
    """DRF's session authentication, except that a session still owing its code is not signed
    in (the API then answers 401, as for no session)."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None and needs_code(request._request):
            return None
        return result


class VerifiedSessionScheme(SessionScheme):
    """The OpenAPI schema describes it as the session cookie, as for DRF's own class."""

    target_class = "pbr.mfa.VerifiedSessionAuthentication"
    priority = 0


# --- Codes ------------------------------------------------------------------------------------

def _totp(hex_key):
    return TOTP(unhexlify(hex_key.encode()), step=30, t0=0, digits=6, drift=0)


def readable_secret(hex_key):
    """The secret as people type it into an authenticator app: base32 in groups of four."""
    text = b32encode(unhexlify(hex_key.encode())).decode()
    return " ".join(text[i:i + 4] for i in range(0, len(text), 4))


def provisioning_uri(user, hex_key):
    device = TOTPDevice(user=user, key=hex_key, name=DEVICE_NAME)
    return device.config_url


def qr_code_svg(uri):
    """The QR code as inline SVG markup: no script and no style attribute, so it shows under a
    Content-Security-Policy without unsafe-inline."""
    return segno.make(uri, error="m").svg_inline(
        scale=5, dark="#0b0c0c", light="#ffffff", svgclass="pbr-qr-code", lineclass=None,
        title="QR code for your authenticator app")


def setup_key(request):
    """The secret offered to this session for set-up, made once and kept until used."""
    key = request.session.get(SESSION_SETUP_KEY)
    if not key:
        key = random_hex(20)
        request.session[SESSION_SETUP_KEY] = key
    return key


def verify_not_allowed_message(device):
    allowed, _info = device.verify_is_allowed()
    if allowed:
        return ""
    return ("You have entered too many codes that were not correct. Wait a few seconds, then "
            "enter the newest code from your authenticator app.")


def _count_failure(request, user):
    """A wrong code counts towards the same lockout as a wrong password."""
    request.pbr_sign_in_stage = "code"  # for the audit log (pbr/auth_lockout.py)
    user_login_failed.send(sender=__name__, credentials={"username": user.get_username()},
                           request=request)


def _signed_in_with(request, device):
    django_otp.login(request, device)
    request.session.pop(SESSION_CODE_DUE, None)
    clear_failures(request, request.user.get_username())


def check_code(request, code):
    """Verify the signed-in person's code against their device. True on success (the session is
    then verified); False after counting the failure towards the lockout."""
    user = request.user
    device = confirmed_device(user)
    if device is None:
        return False
    with transaction.atomic():
        verified = django_otp.verify_token(user, device.persistent_id, code)
    if verified is None:
        _count_failure(request, user)
        return False
    _signed_in_with(request, verified)
    return True


def confirm_setup(request, code):
    """Check a code made from the offered secret; on success the device is saved (confirmed)
    and this session verified with it. False after counting the failure."""
    user = request.user
    key = request.session.get(SESSION_SETUP_KEY)
    if not key:
        return False
    totp = _totp(key)
    totp.time = time.time()
    try:
        token = int(code)
    except ValueError:
        token = None
    if token is None or not totp.verify(token, tolerance=1):
        _count_failure(request, user)
        return False
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, key=key, confirmed=True,
                                           last_t=totp.t())
        audit.record("mfa.enabled", actor=user, obj=user, organisation=user.organisation,
                     after={"device": DEVICE_NAME},
                     reason="Set up two-factor authentication with an authenticator app.")
    request.session.pop(SESSION_SETUP_KEY, None)
    _signed_in_with(request, device)
    return True


# --- Turning off and resetting ---------------------------------------------------------------

def hide_device_admin():
    """django-otp registers its devices in the admin site, where they could be deleted without
    an audit event and their keys read. Resets go through mfa_reset and reset_mfa instead."""
    from django.contrib import admin

    if admin.site.is_registered(TOTPDevice):
        admin.site.unregister(TOTPDevice)


def can_turn_off(user):
    if (denied := signed_in(user)) is not None:
        return denied
    if role_requires_mfa(user):
        return Decision(False, "Your role needs two-factor authentication: it cannot be turned "
                               "off. A site administrator can reset it if you lose your phone.")
    return ALLOW


def turn_off(request):
    user = request.user
    with transaction.atomic():
        deleted, _ = TOTPDevice.objects.filter(user=user).delete()
        audit.record("mfa.disabled", actor=user, obj=user, organisation=user.organisation,
                     before={"devices": deleted}, reason="Turned off two-factor authentication.")
    request.session.pop(SESSION_CODE_DUE, None)


def can_reset(actor, user):
    """Only a site admin resets someone's two-factor authentication, and not their own (they
    would be asked to set it up again at once; another admin, or the reset_mfa command, can)."""
    if (denied := signed_in(actor)) is not None:
        return denied
    if not actor.is_site_admin:
        return Decision(False, "Only a site administrator can reset two-factor authentication.")
    if actor.pk == user.pk:
        return Decision(False, "Ask another site administrator to reset your own two-factor "
                               "authentication.")
    return ALLOW


def reset(user, *, actor=None, reason, actor_label=""):
    """Delete every device of `user`, so they set up a new one at their next sign-in. Their
    verified sessions end at once (OTPMiddleware no longer finds the device)."""
    with transaction.atomic():
        deleted, _ = TOTPDevice.objects.filter(user=user).delete()
        audit.record("mfa.reset", actor=actor, obj=user, organisation=user.organisation,
                     before={"devices": deleted}, after={"devices": 0}, reason=reason,
                     actor_label=actor_label)
    return deleted
