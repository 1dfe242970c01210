"""Two-factor authentication (TOTP, ADR 0015), through the real sign-in and code pages.

Commissioners, auditors and site admins must enter a code from an authenticator app after their
password; providers may choose to. These tests never use the conftest stand-in: they sign in
through the forms, or mark themselves `real_mfa` so force_login() leaves the code step undone.
"""

import datetime
import re
from base64 import b32decode
from binascii import unhexlify
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from pbr.models import AuditEvent, Role
from pbr.services import issue_api_token
from tests.pbr.test_route_permissions import PUBLIC, ROUTES, _build

pytestmark = [pytest.mark.django_db, pytest.mark.real_mfa]

PASSWORD = "a-long-enough-password-1"
START = datetime.datetime(2026, 2, 3, 9, 0, 10, tzinfo=datetime.UTC)
WRONG = "The code is not correct. Check your authenticator app and try again"
CODE_PAGE = "/account/two-factor/code/"
SET_UP_PAGE = "/account/two-factor/set-up/"


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def person(world_a, site_admin, role):
    user = site_admin if role == Role.SITE_ADMIN else world_a.users[role]
    user.set_password(PASSWORD)
    user.save()
    return user


def device_for(user):
    return TOTPDevice.objects.create(user=user, name="Phone", confirmed=True)


def code(hex_key, offset=0):
    return f"{totp(unhexlify(hex_key.encode()), drift=offset):06d}"


def not_the_code(hex_key):
    return f"{(int(code(hex_key)) + 1) % 1_000_000:06d}"


def password_step(client, user, **extra):
    return client.post("/account/sign-in/", {"username": user.username, "password": PASSWORD},
                       **extra)


def secret_on_page(page):
    match = re.search(r'id="secret-key"><code>([A-Z2-7 ]+)</code>', page)
    return b32decode(match.group(1).replace(" ", "")).hex()


REQUIRED = [Role.COMMISSIONER, Role.AUDITOR, Role.SITE_ADMIN]


@pytest.mark.parametrize("role", REQUIRED)
def test_required_roles_reach_no_page_without_the_second_factor(client, world_a, site_admin,
                                                               role):
    user = person(world_a, site_admin, role)
    device_for(user)
    response = password_step(client, user)
    assert response.status_code == 302
    assert client.session.get("_auth_user_id") == str(user.pk)  # the password was right
    exempt = {"mfa_verify", "mfa_setup", "logout"}
    checked = 0
    for route, name, kwargs in ROUTES:
        if name in PUBLIC or name in exempt:
            continue
        url = _build(route, dict.fromkeys(kwargs, 1))
        got = client.get(url)
        if url.startswith("/api/"):
            assert got.status_code == 401, (url, got.status_code)
        else:
            assert got.status_code == 302, (url, got.status_code)
            assert got["Location"].startswith(CODE_PAGE), (url, got["Location"])
        checked += 1
    assert checked > 50
    admin = client.get("/admin/")
    assert admin.status_code == 302 and admin["Location"].startswith(CODE_PAGE)


@pytest.mark.parametrize("role", REQUIRED)
def test_a_correct_code_gets_them_in(client, world_a, site_admin, role, clock):
    user = person(world_a, site_admin, role)
    device = device_for(user)
    password_step(client, user)
    assert client.get("/contracts/")["Location"] == f"{CODE_PAGE}?next=%2Fcontracts%2F"
    page = client.get(f"{CODE_PAGE}?next=/contracts/").content.decode()
    assert "Enter the 6-digit code from your authenticator app" in page
    assert 'autocomplete="one-time-code"' in page and 'inputmode="numeric"' in page
    response = client.post(CODE_PAGE, {"code": code(device.key), "next": "/contracts/"})
    assert response.status_code == 302 and response["Location"] == "/contracts/"
    assert client.get("/contracts/").status_code == 200
    assert client.get("/").status_code == 302  # to the role's home page, not the code page
    assert client.get(client.get("/")["Location"]).status_code == 200
    # The same code cannot be used twice (someone watching cannot replay it).
    client.post("/account/sign-out/")
    password_step(client, user)
    again = client.post(CODE_PAGE, {"code": code(device.key)})
    assert WRONG in again.content.decode()


@pytest.mark.parametrize("role", REQUIRED)
def test_a_wrong_code_is_refused_with_the_message(client, world_a, site_admin, role, clock):
    user = person(world_a, site_admin, role)
    device = device_for(user)
    password_step(client, user)
    response = client.post(CODE_PAGE, {"code": not_the_code(device.key)})
    page = response.content.decode()
    assert response.status_code == 200
    assert "There is a problem" in page and WRONG in page
    assert 'href="#id_code"' in page  # the error summary links to the field
    assert client.get("/contracts/")["Location"].startswith(CODE_PAGE)
    event = AuditEvent.objects.get(action="sign_in.failed")
    assert event.after["stage"] == "code" and event.object_id == str(user.pk)


def test_an_empty_or_malformed_code_gets_a_govuk_message(client, world_a, site_admin):
    user = person(world_a, site_admin, Role.COMMISSIONER)
    device_for(user)
    password_step(client, user)
    assert "Enter the 6-digit code" in client.post(CODE_PAGE, {"code": ""}).content.decode()
    assert "The code must be 6 numbers" in client.post(CODE_PAGE, {"code": "12ab"}).content.decode()
    # Neither counts as a wrong code.
    assert not AuditEvent.objects.filter(action="sign_in.failed").exists()


def test_spaces_in_a_typed_code_are_ignored(client, world_a, site_admin, clock):
    user = person(world_a, site_admin, Role.AUDITOR)
    device = device_for(user)
    password_step(client, user)
    typed = code(device.key)
    response = client.post(CODE_PAGE, {"code": f"{typed[:3]} {typed[3:]}"})
    assert response.status_code == 302 and response["Location"] == "/"


def test_next_never_leaves_the_site(client, world_a, site_admin, clock):
    user = person(world_a, site_admin, Role.COMMISSIONER)
    device = device_for(user)
    password_step(client, user)
    response = client.post(CODE_PAGE, {"code": code(device.key),
                                       "next": "https://evil.example.org/"})
    assert response["Location"] == "/"


def test_first_sign_in_sets_up_an_app_from_the_qr_code_or_the_key(client, world_a, site_admin,
                                                                  clock):
    user = person(world_a, site_admin, Role.AUDITOR)
    response = password_step(client, user)
    assert client.get("/")["Location"].startswith(SET_UP_PAGE)
    page = client.get(SET_UP_PAGE).content.decode()
    assert "Set up two-factor authentication" in page
    assert '<svg' in page and 'class="pbr-qr-code"' in page
    qr = page[page.index("<svg"):page.index("</svg>")]
    assert "style=" not in qr and "<script" not in qr  # fine under a strict CSP
    key = secret_on_page(page)
    assert key == client.session["pbr_mfa_setup_key"]
    # Reloading the page offers the same key (a person may be half-way through typing it).
    assert secret_on_page(client.get(SET_UP_PAGE).content.decode()) == key
    wrong = client.post(SET_UP_PAGE, {"code": not_the_code(key)})
    assert WRONG in wrong.content.decode()
    assert not TOTPDevice.objects.filter(user=user).exists()
    response = client.post(SET_UP_PAGE, {"code": code(key)})
    assert response.status_code == 302 and response["Location"] == "/"
    device = TOTPDevice.objects.get(user=user)
    assert device.confirmed and device.key == key
    assert client.get("/auditor/").status_code == 200
    event = AuditEvent.objects.get(action="mfa.enabled")
    assert event.actor == user and event.organisation == world_a.audit_body
    # The next sign-in asks for a code, not a new set-up.
    client.post("/account/sign-out/")
    password_step(client, user)
    assert client.get("/")["Location"].startswith(CODE_PAGE)


def test_set_up_accepts_a_code_from_a_slightly_slow_phone(client, world_a, site_admin, clock):
    user = person(world_a, site_admin, Role.COMMISSIONER)
    password_step(client, user)
    key = secret_on_page(client.get(SET_UP_PAGE).content.decode())
    response = client.post(SET_UP_PAGE, {"code": code(key, offset=-1)})
    assert response.status_code == 302


def test_providers_are_not_forced(client, world_a, site_admin):
    for role in (Role.PROVIDER_USER, Role.PROVIDER_MANAGER):
        user = person(world_a, site_admin, role)
        response = password_step(client, user)
        assert response["Location"] == "/"
        assert client.get("/").status_code == 302 and client.get("/provider/").status_code == 200
        assert client.get("/returns/").status_code == 200
        assert client.get("/api/v1/me/").status_code == 200
        client.post("/account/sign-out/")
    assert not TOTPDevice.objects.exists()


def test_a_provider_may_choose_two_factor_and_is_then_asked_for_a_code(client, world_a,
                                                                     site_admin, clock):
    user = person(world_a, site_admin, Role.PROVIDER_USER)
    password_step(client, user)
    account = client.get("/account/two-factor/").content.decode()
    assert "does not need two-factor authentication" in account and "Set up" in account
    key = secret_on_page(client.get(SET_UP_PAGE).content.decode())
    assert client.post(SET_UP_PAGE, {"code": code(key)}).status_code == 302
    assert "You chose to sign in with a code" in client.get("/account/two-factor/").content.decode()
    client.post("/account/sign-out/")
    clock.shift(datetime.timedelta(seconds=30))
    password_step(client, user)
    assert client.get("/provider/")["Location"].startswith(CODE_PAGE)
    assert client.get("/api/v1/me/").status_code == 401
    assert client.post(CODE_PAGE, {"code": code(key)})["Location"] == "/"
    assert client.get("/provider/").status_code == 200


def test_a_provider_turns_it_off_with_a_code(client, world_a, site_admin, clock):
    user = person(world_a, site_admin, Role.PROVIDER_MANAGER)
    device = device_for(user)
    password_step(client, user)
    client.post(CODE_PAGE, {"code": code(device.key)})
    clock.shift(datetime.timedelta(seconds=30))
    refused = client.post("/account/two-factor/turn-off/", {"code": not_the_code(device.key)})
    assert refused.status_code == 400 and WRONG in refused.content.decode()
    clock.shift(datetime.timedelta(seconds=30))
    response = client.post("/account/two-factor/turn-off/", {"code": code(device.key)})
    assert response["Location"] == "/account/two-factor/"
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert AuditEvent.objects.filter(action="mfa.disabled", actor=user).exists()
    client.post("/account/sign-out/")
    password_step(client, user)
    assert client.get("/provider/").status_code == 200


def test_required_roles_cannot_turn_it_off(client, world_a, site_admin, clock):
    user = person(world_a, site_admin, Role.COMMISSIONER)
    device = device_for(user)
    password_step(client, user)
    client.post(CODE_PAGE, {"code": code(device.key)})
    assert "cannot be turned off" in client.get("/account/two-factor/").content.decode()
    clock.shift(datetime.timedelta(seconds=30))
    response = client.post("/account/two-factor/turn-off/", {"code": code(device.key)})
    assert response.status_code == 403
    assert TOTPDevice.objects.filter(user=user).exists()


def test_wrong_codes_count_towards_the_lockout(client, world_a, site_admin, clock):
    user = person(world_a, site_admin, Role.COMMISSIONER)
    device = device_for(user)
    password_step(client, user)
    responses = []
    for _ in range(5):
        clock.shift(datetime.timedelta(seconds=20))  # past django-otp's growing delay
        responses.append(client.post(CODE_PAGE, {"code": not_the_code(device.key)}))
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 429]
    assert "You cannot sign in at the moment" in responses[-1].content.decode()
    assert client.session.get("_auth_user_id") is None  # the half-signed-in session is ended
    # Even the right password is now refused from here, until the lockout ends.
    assert password_step(client, user).status_code == 429
    assert list(AuditEvent.objects.filter(action__startswith="sign_in.")
                .order_by("id").values_list("action", flat=True)) == [
        "sign_in.failed"] * 5 + ["sign_in.locked_out"] * 2


def test_codes_right_after_a_wrong_one_are_held_back_without_counting(client, world_a,
                                                                    site_admin, clock):
    user = person(world_a, site_admin, Role.AUDITOR)
    device = device_for(user)
    password_step(client, user)
    client.post(CODE_PAGE, {"code": not_the_code(device.key)})
    held = client.post(CODE_PAGE, {"code": code(device.key)}).content.decode()
    assert "Wait a few seconds" in held
    assert AuditEvent.objects.filter(action="sign_in.failed").count() == 1
    clock.shift(datetime.timedelta(seconds=2))
    assert client.post(CODE_PAGE, {"code": code(device.key)}).status_code == 302


def test_the_api_refuses_a_session_without_its_code_but_a_token_works(client, world_a,
                                                                       site_admin, clock):
    commissioner = person(world_a, site_admin, Role.COMMISSIONER)
    device = device_for(commissioner)
    manager = world_a.users[Role.PROVIDER_MANAGER]
    _token, key = issue_api_token(actor=manager, organisation=world_a.provider, name="CMS")
    password_step(client, commissioner)
    assert client.get("/api/v1/me/").status_code == 401
    assert client.get("/api/v1/contracts/").status_code == 401
    with_token = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}")
    assert with_token.status_code == 200 and with_token.json()["username"] == manager.username
    client.post(CODE_PAGE, {"code": code(device.key)})
    assert client.get("/api/v1/me/").json()["username"] == commissioner.username


def test_htmx_requests_are_sent_to_the_code_page_in_full(client, world_a, site_admin):
    user = person(world_a, site_admin, Role.AUDITOR)
    device_for(user)
    password_step(client, user)
    response = client.get("/contracts/", HTTP_HX_REQUEST="true")
    assert response.status_code == 204 and response["HX-Redirect"].startswith(CODE_PAGE)


def test_signing_out_is_allowed_before_the_code(client, world_a, site_admin):
    user = person(world_a, site_admin, Role.AUDITOR)
    device_for(user)
    password_step(client, user)
    assert client.post("/account/sign-out/")["Location"] == "/account/sign-in/"
    assert client.session.get("_auth_user_id") is None


# --- Recovery: a site admin resets someone's two-factor authentication -------------------------

def test_a_site_admin_resets_a_lost_phone_and_it_is_audited(client, world_a, site_admin, clock):
    from django.test import Client

    commissioner = person(world_a, site_admin, Role.COMMISSIONER)
    device = device_for(commissioner)
    theirs = Client()
    password_step(theirs, commissioner)
    theirs.post(CODE_PAGE, {"code": code(device.key)})
    assert theirs.get("/commissioner/").status_code == 200

    admin = person(world_a, site_admin, Role.SITE_ADMIN)
    admin_device = device_for(admin)
    password_step(client, admin)
    client.post(CODE_PAGE, {"code": code(admin_device.key)})
    org_page = client.get(f"/organisations/{world_a.commissioning_body.pk}/").content.decode()
    assert f"/account/two-factor/reset/{commissioner.pk}/" in org_page
    form = client.get(f"/account/two-factor/reset/{commissioner.pk}/")
    assert "Reset two-factor authentication" in form.content.decode()
    missing = client.post(f"/account/two-factor/reset/{commissioner.pk}/", {"reason": ""})
    assert "Enter why you are resetting two-factor authentication" in missing.content.decode()
    assert TOTPDevice.objects.filter(user=commissioner).exists()
    done = client.post(f"/account/two-factor/reset/{commissioner.pk}/",
                       {"reason": "Lost phone; identity checked by telephone"})
    assert done["Location"] == f"/organisations/{world_a.commissioning_body.pk}/"
    assert not TOTPDevice.objects.filter(user=commissioner).exists()
    event = AuditEvent.objects.get(action="mfa.reset")
    assert event.actor == admin and event.object_id == str(commissioner.pk)
    assert event.reason == "Lost phone; identity checked by telephone"
    assert event.organisation == world_a.commissioning_body
    # Their verified session ends at once: they must set up a new app.
    assert theirs.get("/commissioner/")["Location"].startswith(SET_UP_PAGE)


@pytest.mark.parametrize("role", [Role.COMMISSIONER, Role.PROVIDER_MANAGER, Role.AUDITOR])
def test_only_site_admins_reset(client, world_a, site_admin, role):
    colleague = world_a.users[Role.PROVIDER_USER]
    device_for(colleague)
    client.force_login(world_a.users[role])
    from tests.conftest import pass_second_factor

    pass_second_factor(client, world_a.users[role])
    response = client.post(f"/account/two-factor/reset/{colleague.pk}/", {"reason": "x"})
    assert response.status_code in (403, 404)
    assert TOTPDevice.objects.filter(user=colleague).exists()


def test_a_site_admin_cannot_reset_their_own(client, site_admin):
    from tests.conftest import pass_second_factor

    client.force_login(site_admin)
    pass_second_factor(client, site_admin)
    response = client.post(f"/account/two-factor/reset/{site_admin.pk}/", {"reason": "x"})
    assert response.status_code == 403


def test_reset_mfa_command_is_audited(world_a):
    commissioner = world_a.users[Role.COMMISSIONER]
    device_for(commissioner)
    with pytest.raises(CommandError, match="No user"):
        call_command("reset_mfa", "nobody", reason="x")
    out = StringIO()
    call_command("reset_mfa", commissioner.username, reason="Last admin lost phone", stdout=out)
    assert "1 device(s) removed" in out.getvalue()
    assert not TOTPDevice.objects.filter(user=commissioner).exists()
    event = AuditEvent.objects.get(action="mfa.reset")
    assert event.actor is None and event.actor_label == "manage.py reset_mfa"


# --- Demo data -----------------------------------------------------------------------------------

def test_demo_users_sign_in_with_the_demo_totp_command(client, clock):
    from pbr.demo import DEMO_PASSWORD

    call_command("seed_demo", stdout=StringIO())
    for username in ("commissioner", "auditor", "admin"):
        out = StringIO()
        call_command("demo_totp", username, stdout=out)
        shown = out.getvalue().strip()
        assert re.fullmatch(r"\d{6}", shown)
        client.post("/account/sign-in/", {"username": username, "password": DEMO_PASSWORD})
        response = client.post(CODE_PAGE, {"code": shown})
        assert response.status_code == 302 and response["Location"] == "/", username
        client.post("/account/sign-out/")


def test_demo_totp_refuses_anyone_without_a_demo_device(world_a):
    from pbr.demo import seed_people

    _orgs, users = seed_people()
    with pytest.raises(CommandError, match="no demo authenticator device"):
        call_command("demo_totp", "provider-user")
    commissioner = next(u for u in users if u.username == "commissioner")
    # Someone who set up their own app (a different key) gets no code from the command.
    TOTPDevice.objects.filter(user=commissioner).delete()
    device_for(commissioner)
    with pytest.raises(CommandError, match="no demo authenticator device"):
        call_command("demo_totp", "commissioner")
    with pytest.raises(CommandError):
        call_command("demo_totp", world_a.users[Role.COMMISSIONER].username)


def test_seed_demo_prints_how_to_get_a_code_and_keeps_existing_devices(capsys):
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "python manage.py demo_totp USERNAME" in out
    assert TOTPDevice.objects.filter(confirmed=True).count() == 3
    call_command("seed_demo")
    assert TOTPDevice.objects.count() == 3


def test_the_admin_site_does_not_offer_devices(client, site_admin):
    """Deleting a device there would skip the audit log, and it would show the keys."""
    from tests.conftest import pass_second_factor

    client.force_login(site_admin)
    pass_second_factor(client, site_admin)
    index = client.get("/admin/").content.decode()
    assert "Access attempts" in index  # axes: how a site admin lifts a lockout early
    assert "TOTP device" not in index
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 404


def test_the_code_page_offers_no_navigation_until_the_code_is_entered(client, world_a, site_admin,
                                                                      clock):
    user = person(world_a, site_admin, Role.COMMISSIONER)
    device = device_for(user)
    password_step(client, user)
    page = client.get(CODE_PAGE).content.decode()
    assert 'href="/contracts/"' not in page and "Audit log" not in page
    client.post(CODE_PAGE, {"code": code(device.key)})
    page = client.get("/", follow=True).content.decode()
    assert 'href="/contracts/"' in page and "Audit log" in page
