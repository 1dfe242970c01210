"""The usual security headers on every kind of response, HSTS and HTTPS under production
settings, and `manage.py check --deploy` clean with them (ADR 0016)."""

import json
from pathlib import Path

import pytest
from django.http import HttpResponse
from django.test import RequestFactory, override_settings

from pbr.middleware import PermissionsPolicyMiddleware, permissions_policy
from pbr.models import Role
from tests.production_env import production_env, python

ROOT = Path(__file__).resolve().parents[2]

EVERY_RESPONSE = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def _features(header):
    return dict(part.strip().split("=", 1) for part in header.split(","))


@pytest.mark.django_db
def test_pages_api_answers_redirects_and_errors_carry_the_headers(client, world_a):
    client.force_login(world_a.users[Role.PROVIDER_MANAGER])
    responses = {
        "page": client.get("/returns/"),
        "json": client.get("/api/v1/me/"),
        "csv": client.get("/returns/claims/export.csv"),
        "redirect": client.get("/"),
        "not found": client.get("/no-such-page/"),
        "forbidden": client.get("/commissioner/"),
    }
    assert [r.status_code for r in responses.values()] == [200, 200, 200, 302, 404, 403]
    for kind, response in responses.items():
        for name, value in EVERY_RESPONSE.items():
            assert response.get(name) == value, (kind, name, response.get(name))
        features = _features(response["Permissions-Policy"])
        for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
            assert features[feature] == "()", (kind, feature)
        assert "default-src 'self'" in response["Content-Security-Policy"], kind


def test_permissions_policy_is_written_as_the_header_grammar_wants():
    assert permissions_policy({"camera": [], "fullscreen": ["self"],
                               "geolocation": ["self", "https://maps.example.org"]}) == (
        'camera=(), fullscreen=(self), geolocation=(self "https://maps.example.org")')
    assert permissions_policy({}) == ""


def test_a_view_that_sets_its_own_permissions_policy_keeps_it():
    def view(request):
        response = HttpResponse("ok")
        response["Permissions-Policy"] = "fullscreen=(self)"
        return response

    own = PermissionsPolicyMiddleware(view)(RequestFactory().get("/"))
    assert own["Permissions-Policy"] == "fullscreen=(self)"
    plain = PermissionsPolicyMiddleware(lambda r: HttpResponse("ok"))(RequestFactory().get("/"))
    assert "camera=()" in plain["Permissions-Policy"]
    with override_settings(PERMISSIONS_POLICY={}):
        none = PermissionsPolicyMiddleware(lambda r: HttpResponse("ok"))(RequestFactory().get("/"))
    assert "Permissions-Policy" not in none


# --- production ---------------------------------------------------------------------------------


def _run(*args):
    return python(*args)


@pytest.fixture(scope="module")
def production():
    """The security settings as pbr/settings/production.py makes them, read in a fresh process
    (the module refuses to load without a real SECRET_KEY)."""
    names = ["SECURE_SSL_REDIRECT", "SECURE_PROXY_SSL_HEADER", "SECURE_HSTS_SECONDS",
             "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD", "SESSION_COOKIE_SECURE",
             "CSRF_COOKIE_SECURE", "DEBUG"]
    code = ("import django, json; django.setup(); from django.conf import settings; "
            f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}))")
    result = _run("-c", code)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    if values["SECURE_PROXY_SSL_HEADER"]:
        values["SECURE_PROXY_SSL_HEADER"] = tuple(values["SECURE_PROXY_SSL_HEADER"])
    return values


@pytest.mark.django_db
def test_production_sends_hsts_over_https_and_redirects_plain_http(client, production):
    assert production["DEBUG"] is False
    with override_settings(**production):
        secure = client.get("/account/sign-in/", secure=True)
        plain = client.get("/account/sign-in/")
        proxied = client.get("/account/sign-in/", HTTP_X_FORWARDED_PROTO="https")
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert plain.status_code == 301 and plain["Location"].startswith("https://")
    assert "Strict-Transport-Security" not in plain
    assert proxied.status_code == 200  # TLS ended at the proxy, which says so
    assert secure.cookies["csrftoken"]["secure"] is True


@pytest.mark.django_db
def test_development_and_tests_send_no_hsts(client):
    assert "Strict-Transport-Security" not in client.get("/account/sign-in/", secure=True)


def test_check_deploy_is_clean_with_production_settings():
    result = _run("manage.py", "check", "--deploy", "--fail-level", "WARNING")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output, output


def test_check_deploy_would_report_a_missing_hsts_setting():
    """The check above is not vacuous: the same command with HSTS switched off warns."""
    result = python("manage.py", "check", "--deploy", "--fail-level", "WARNING",
                    env=production_env(SECURE_HSTS_SECONDS="0"))
    assert result.returncode != 0 and "security.W004" in result.stdout + result.stderr
