"""Session expiry (ADR 0015): signed out after PBR_SESSION_IDLE_MINUTES without a request, and
after SESSION_COOKIE_AGE from sign-in however busy; the cookie still ends with the browser."""

import datetime
import importlib
import os
from unittest import mock

import pytest
import time_machine

from pbr.models import Role
from pbr.services import issue_api_token

pytestmark = pytest.mark.django_db

START = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)
PASSWORD = "correct-horse-battery"  # tests/factories.py


def later(clock, **delta):
    clock.shift(datetime.timedelta(**delta))


def sign_in(client, user):
    response = client.post("/account/sign-in/", {"username": user.username,
                                                 "password": PASSWORD})
    assert response.status_code == 302
    return response


def is_signed_out_to_sign_in(response, path):
    return response.status_code == 302 and response["Location"] == (
        f"/account/sign-in/?next={path.replace('/', '%2F')}")


def test_an_idle_session_ends_after_30_minutes(client, world_a, settings):
    assert settings.PBR_SESSION_IDLE_MINUTES == 30
    user = world_a.users[Role.PROVIDER_USER]
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client, user)
        later(clock, minutes=29)
        assert client.get("/returns/").status_code == 200
        later(clock, minutes=29)  # 58 minutes after sign-in, but only 29 idle
        assert client.get("/returns/").status_code == 200
        later(clock, minutes=30, seconds=1)
        response = client.get("/returns/")
        assert is_signed_out_to_sign_in(response, "/returns/")
        assert client.session.get("_auth_user_id") is None
        page = client.get(response["Location"]).content.decode()
    assert ("You have been signed out because you had not used the service for 30 minutes. "
            "Sign in again to carry on.") in page


def test_a_busy_session_still_ends_8_hours_after_sign_in(client, world_a, settings):
    assert settings.SESSION_COOKIE_AGE == 8 * 60 * 60
    user = world_a.users[Role.PROVIDER_USER]
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client, user)
        for _ in range(8 * 3):  # a request every 20 minutes for 8 hours
            later(clock, minutes=20)
            assert client.get("/returns/").status_code == 200
        later(clock, minutes=1)
        response = client.get("/returns/")
        assert is_signed_out_to_sign_in(response, "/returns/")
        page = client.get(response["Location"]).content.decode()
    assert "because you were signed in for more than 8 hours" in page


def test_force_logged_in_sessions_expire_too(client, world_a):
    with time_machine.travel(START, tick=False) as clock:
        client.force_login(world_a.users[Role.COMMISSIONER])
        assert client.get("/contracts/").status_code == 200
        later(clock, minutes=31)
        assert is_signed_out_to_sign_in(client.get("/contracts/"), "/contracts/")


def test_the_idle_limit_comes_from_settings(client, world_a, settings):
    settings.PBR_SESSION_IDLE_MINUTES = 5
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client, world_a.users[Role.PROVIDER_MANAGER])
        later(clock, minutes=4)
        assert client.get("/returns/").status_code == 200
        later(clock, minutes=5, seconds=1)
        assert client.get("/returns/").status_code == 302


def test_the_idle_limit_is_read_from_the_environment():
    import pbr.settings.base as base

    with mock.patch.dict(os.environ, {"PBR_SESSION_IDLE_MINUTES": "15",
                                      "SESSION_COOKIE_AGE": "3600"}):
        reloaded = importlib.reload(base)
        idle, age = reloaded.PBR_SESSION_IDLE_MINUTES, reloaded.SESSION_COOKIE_AGE
    importlib.reload(base)
    assert (idle, age) == (15, 3600)
    assert base.SESSION_EXPIRE_AT_BROWSER_CLOSE is True


def test_an_expired_session_no_longer_reaches_the_api_but_a_token_does(client, world_a):
    manager = world_a.users[Role.PROVIDER_MANAGER]
    _token, key = issue_api_token(actor=manager, organisation=world_a.provider, name="CMS")
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client, manager)
        assert client.get("/api/v1/me/").status_code == 200
        later(clock, minutes=31)
        assert client.get("/api/v1/me/").status_code == 401
        assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


def test_htmx_requests_of_an_expired_session_reload_the_sign_in_page(client, world_a):
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client, world_a.users[Role.PROVIDER_USER])
        later(clock, minutes=31)
        response = client.get("/returns/", HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith("/account/sign-in/")


def test_the_session_cookie_ends_with_the_browser(client, world_a):
    response = sign_in(client, world_a.users[Role.PROVIDER_USER])
    cookie = response.cookies["sessionid"]
    assert cookie["expires"] == "" and cookie["max-age"] == ""
    assert cookie["httponly"] is True and cookie["samesite"] == "Lax"


def test_only_occasional_requests_rewrite_the_session(client, world_a):
    """Last-seen is rewritten at most once a minute, so pages keep their query budgets."""
    user = world_a.users[Role.PROVIDER_USER]
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client, user)
        client.get("/account/two-factor/")
        later(clock, seconds=30)
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            client.get("/account/two-factor/")
        assert not [q for q in queries.captured_queries if "django_session" in q["sql"]
                    and q["sql"].startswith("UPDATE")]
        later(clock, seconds=31)
        with CaptureQueriesContext(connection) as queries:
            client.get("/account/two-factor/")
        assert [q for q in queries.captured_queries if "django_session" in q["sql"]
                and q["sql"].startswith("UPDATE")]
