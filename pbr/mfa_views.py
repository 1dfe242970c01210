"""Two-factor pages: enter a code, set up an authenticator app, your two-factor settings, and a
site administrator's reset (ADR 0015). The rules live in pbr/mfa.py."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from . import mfa
from .auth_lockout import is_locked_out, lockout_response
from .forms_auth import CodeForm, MfaResetForm
from .models import User
from .views import require


def _next_url(request):
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return candidate
    return ""


def _with_next(url_name, next_url):
    url = reverse(url_name)
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def _locked_out(request):
    """End a half-signed-in session that has hit the lockout, and say so."""
    username = request.user.get_username()
    logout(request)
    return lockout_response(request, None, {"username": username})


def _check(request, form, attempt):
    """Shared by the code and set-up pages: refuse while locked out; otherwise try the code and
    either finish (True), or put the right message on the form (False), or end the session
    when this wrong code has locked it out (a response)."""
    if is_locked_out(request, request.user.get_username()):
        return _locked_out(request)
    if attempt(request, form.cleaned_data["code"]):
        return True
    if getattr(request, "axes_locked_out", False):
        return _locked_out(request)
    form.add_error("code", CodeForm.WRONG)
    return False


@login_required
def mfa_verify(request):
    """The second step of signing in: the code from the app set up earlier."""
    next_url = _next_url(request)
    if not mfa.needs_code(request):
        return redirect(next_url or "home")
    device = mfa.confirmed_device(request.user)
    if device is None:
        return redirect(_with_next("mfa_setup", next_url))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        wait = mfa.verify_not_allowed_message(device)
        if wait:
            form.add_error("code", wait)
        else:
            outcome = _check(request, form, mfa.check_code)
            if outcome is True:
                return redirect(next_url or "home")
            if outcome is not False:
                return outcome
    return render(request, "registration/mfa_verify.html", {"form": form, "next": next_url})


@login_required
def mfa_setup(request):
    """Set up an authenticator app: a QR code, the same secret as text, and a code to prove it
    works. Required roles arrive here at their first sign-in; anyone else by choice."""
    next_url = _next_url(request)
    user = request.user
    if mfa.has_mfa(user):
        return redirect(_with_next("mfa_verify", next_url) if mfa.needs_code(request)
                        else reverse("mfa_account"))
    key = mfa.setup_key(request)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        outcome = _check(request, form, mfa.confirm_setup)
        if outcome is True:
            messages.success(request, "Two-factor authentication is set up. Each time you sign "
                                      "in, you will be asked for a code from your app.")
            return redirect(next_url or "home")
        if outcome is not False:
            return outcome
    return render(request, "registration/mfa_setup.html", {
        "form": form, "next": next_url,
        "qr_code": mfa.qr_code_svg(mfa.provisioning_uri(user, key)),
        "secret": mfa.readable_secret(key),
        "required": mfa.role_requires_mfa(user),
    })


@login_required
def mfa_account(request):
    """Your two-factor settings: whether it is on, whether your role needs it, and (for roles
    that may choose) turning it off."""
    user = request.user
    device = mfa.confirmed_device(user)
    return render(request, "pbr/mfa_account.html", {
        "device": device,
        "required": mfa.role_requires_mfa(user),
        "can_turn_off": bool(mfa.can_turn_off(user)),
        "form": CodeForm(),
    })


@login_required
@require_POST
def mfa_turn_off(request):
    user = request.user
    require(mfa.can_turn_off(user))
    device = mfa.confirmed_device(user)
    if device is None:
        return redirect("mfa_account")
    form = CodeForm(request.POST)
    if form.is_valid():
        wait = mfa.verify_not_allowed_message(device)
        if wait:
            form.add_error("code", wait)
        else:
            outcome = _check(request, form, mfa.check_code)
            if outcome is True:
                mfa.turn_off(request)
                messages.success(request, "Two-factor authentication is turned off. You will "
                                          "sign in with your password only.")
                return redirect("mfa_account")
            if outcome is not False:
                return outcome
    return render(request, "pbr/mfa_account.html", {
        "device": device, "required": False, "can_turn_off": True, "form": form,
    }, status=400)


@login_required
def mfa_reset(request, user_pk):
    """A site administrator resets someone's two-factor authentication (they lost their phone):
    their devices are deleted and they set up a new app at their next sign-in."""
    person = get_object_or_404(User.objects.for_user(request.user), pk=user_pk)
    require(mfa.can_reset(request.user, person))
    form = MfaResetForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        mfa.reset(person, actor=request.user, reason=form.cleaned_data["reason"])
        messages.success(request, f"Two-factor authentication for {person.display_name()} has "
                                  "been reset. They will set up a new app when they next sign in.")
        if person.organisation_id:
            return redirect("organisation_detail", organisation_pk=person.organisation_id)
        return redirect("home_site_admin")
    return render(request, "pbr/mfa_reset.html", {
        "person": person, "form": form, "has_mfa": mfa.has_mfa(person),
    })
