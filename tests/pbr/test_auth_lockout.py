"""Sign-in lockout (django-axes, ADR 0015): one username from one address is locked after
AXES_FAILURE_LIMIT failures for PBR_SIGN_IN_LOCKOUT_MINUTES; everyone else carries on."""

import datetime
import importlib
import os
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import time_machine
from axes.models import AccessAttempt

from pbr.models import AuditEvent, Role
from pbr.services import issue_api_token

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-enough-password-1"
OFFICE = "192.0.2.10"  # documentation addresses (RFC 5737)
HOME = "198.51.100.7"
LONDON = ZoneInfo("Europe/London")
# 2:05pm on a winter day (GMT), so the page's "2:35pm" is the same in UTC and UK time.
START = datetime.datetime(2026, 1, 14, 14, 5, tzinfo=LONDON)


@pytest.fixture
def provider_user(world_a):
    user = world_a.users[Role.PROVIDER_USER]
    user.set_password(PASSWORD)
    user.save()
    return user


def sign_in(client, username, password, address=OFFICE, **extra):
    return client.post("/account/sign-in/", {"username": username, "password": password},
                       REMOTE_ADDR=address, **extra)


def fail(client, username, times, address=OFFICE):
    return [sign_in(client, username, "wrong-password", address) for _ in range(times)]


def signed_in_as(client):
    return client.session.get("_auth_user_id")


def test_five_failures_lock_and_the_right_password_is_then_refused(client, provider_user,
                                                                   settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    with time_machine.travel(START, tick=False):
        responses = fail(client, provider_user.username, 5)
        assert [r.status_code for r in responses[:4]] == [200] * 4
        assert "Enter a correct username and password" in responses[3].content.decode()
        assert responses[4].status_code == 429  # the fifth failure locks

        response = sign_in(client, provider_user.username, PASSWORD)
    page = response.content.decode()
    assert response.status_code == 429
    assert "You cannot sign in at the moment" in page
    assert "There have been 5 attempts" in page
    assert "locked for 30 minutes" in page
    assert "You can try again after <strong>2:35pm</strong>" in page
    assert "Account locked" not in page  # our page, not axes's default text
    assert signed_in_as(client) is None


def test_the_lock_expires_after_the_lockout_period(client, provider_user):
    with time_machine.travel(START, tick=False) as clock:
        fail(client, provider_user.username, 5)
        clock.shift(datetime.timedelta(minutes=29))
        assert sign_in(client, provider_user.username, PASSWORD).status_code == 429
        # Trying during the lockout does not extend it: it still ends 30 minutes after the
        # fifth failure.
        clock.shift(datetime.timedelta(minutes=1, seconds=1))
        response = sign_in(client, provider_user.username, PASSWORD)
        assert response.status_code == 302 and response["Location"] == "/"
        assert signed_in_as(client) == str(provider_user.pk)
    # A complete sign-in clears the failures from that address.
    assert not AccessAttempt.objects.filter(username=provider_user.username).exists()


def test_another_user_at_the_same_address_is_not_locked(client, provider_user, world_a):
    colleague = world_a.users[Role.PROVIDER_MANAGER]
    colleague.set_password(PASSWORD)
    colleague.save()
    fail(client, provider_user.username, 5)
    response = sign_in(client, colleague.username, PASSWORD)
    assert response.status_code == 302
    assert signed_in_as(client) == str(colleague.pk)


def test_the_same_user_elsewhere_is_not_locked(client, provider_user):
    fail(client, provider_user.username, 5, address=OFFICE)
    assert sign_in(client, provider_user.username, PASSWORD, address=OFFICE).status_code == 429
    response = sign_in(client, provider_user.username, PASSWORD, address=HOME)
    assert response.status_code == 302
    assert signed_in_as(client) == str(provider_user.pk)


def test_fewer_failures_than_the_limit_do_not_lock(client, provider_user):
    fail(client, provider_user.username, 4)
    assert sign_in(client, provider_user.username, PASSWORD).status_code == 302


def test_failures_and_lockouts_are_in_the_audit_log(client, provider_user, world_a):
    fail(client, provider_user.username, 5)
    sign_in(client, provider_user.username, PASSWORD)
    sign_in(client, "nobody-by-this-name", "hunter2-typed-in-the-wrong-box")
    events = list(AuditEvent.objects.order_by("id"))
    assert [e.action for e in events] == ["sign_in.failed"] * 5 + ["sign_in.locked_out"] * 2 + [
        "sign_in.failed"]
    first = events[0]
    assert first.organisation == world_a.provider  # the provider sees attempts on its people
    assert first.object_id == str(provider_user.pk)
    assert first.after == {"username": provider_user.username, "ip_address": OFFICE,
                           "stage": "password"}
    assert events[5].reason == "Locked out after 5 failed attempts."
    assert "refused" in events[6].reason
    assert events[6].after["locked_until"]
    # A username that matches nobody may be a password typed in the wrong box: not recorded.
    assert events[7].after["username"] == "(unknown username)"
    assert events[7].organisation is None
    assert "hunter2" not in str([e.after for e in events]) + str([e.actor_label for e in events])


def test_an_api_token_keeps_working_while_its_issuer_is_locked_out(client, world_a):
    manager = world_a.users[Role.PROVIDER_MANAGER]
    _token, key = issue_api_token(actor=manager, organisation=world_a.provider, name="CMS")
    fail(client, manager.username, 5)
    assert sign_in(client, manager.username, "correct-horse-battery").status_code == 429
    response = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}", REMOTE_ADDR=OFFICE)
    assert response.status_code == 200
    assert response.json()["username"] == manager.username


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(client, provider_user,
                                                                    settings):
    settings.PBR_TRUSTED_PROXY_COUNT = 1
    proxy = "203.0.113.1"
    # The client may write anything left of what the proxy appended: only the last counts.
    for _ in range(5):
        sign_in(client, provider_user.username, "wrong", address=proxy,
                HTTP_X_FORWARDED_FOR=f"10.9.9.9, {OFFICE}")
    assert AccessAttempt.objects.get().ip_address == OFFICE
    locked = sign_in(client, provider_user.username, PASSWORD, address=proxy,
                     HTTP_X_FORWARDED_FOR=OFFICE)
    assert locked.status_code == 429
    elsewhere = sign_in(client, provider_user.username, PASSWORD, address=proxy,
                        HTTP_X_FORWARDED_FOR=HOME)
    assert elsewhere.status_code == 302


def test_limit_and_period_come_from_the_environment():
    import pbr.settings.base as base

    with mock.patch.dict(os.environ, {"PBR_SIGN_IN_FAILURE_LIMIT": "3",
                                      "PBR_SIGN_IN_LOCKOUT_MINUTES": "10",
                                      "PBR_TRUSTED_PROXY_COUNT": "2"}):
        reloaded = importlib.reload(base)
        limit, cool_off = reloaded.AXES_FAILURE_LIMIT, reloaded.AXES_COOLOFF_TIME
        proxies = reloaded.PBR_TRUSTED_PROXY_COUNT
    importlib.reload(base)
    assert (limit, proxies) == (3, 2)
    assert datetime.timedelta(hours=cool_off) == datetime.timedelta(minutes=10)
    assert base.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


def test_a_lower_limit_from_settings_locks_sooner(client, provider_user, settings):
    settings.AXES_FAILURE_LIMIT = 2
    responses = fail(client, provider_user.username, 2)
    assert [r.status_code for r in responses] == [200, 429]
    assert "There have been 2 attempts" in responses[1].content.decode()


def test_the_admin_sign_in_page_is_locked_too(client, site_admin):
    site_admin.set_password(PASSWORD)
    site_admin.save()
    for _ in range(5):
        client.post("/admin/login/", {"username": site_admin.username, "password": "wrong"},
                    REMOTE_ADDR=OFFICE)
    response = sign_in(client, site_admin.username, PASSWORD)
    assert response.status_code == 429

