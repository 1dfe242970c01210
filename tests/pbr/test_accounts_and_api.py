from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from pbr.csv_export import safe_cell
from pbr.demo import DEMO_PASSWORD, DEMO_TOTP_KEYS, current_code, demo_device
from pbr.models import ApiToken, AuditEvent, Role, User
from pbr.services import issue_api_token, revoke_api_token
from tests.production_env import production_env, python

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_seed_demo_creates_each_role_and_is_idempotent(capsys):
    call_command("seed_demo")
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert DEMO_PASSWORD in out
    roles = set(User.objects.values_list("role", flat=True))
    assert roles == {r.value for r in Role}
    assert User.objects.count() == 6


@pytest.mark.django_db
@pytest.mark.parametrize(("username", "home"), [
    ("commissioner", "/commissioner/"), ("provider-manager", "/provider/"),
    ("provider-user", "/provider/"), ("auditor", "/auditor/"), ("admin", "/site-admin/"),
])
def test_sign_in_lands_on_the_role_home_page(client, username, home):
    call_command("seed_demo")
    response = client.post("/account/sign-in/", {"username": username, "password": DEMO_PASSWORD},
                           follow=True)
    if username in DEMO_TOTP_KEYS:  # the second step: the demo device's current code
        assert response.redirect_chain[-1][0] == "/account/two-factor/code/"
        code = current_code(demo_device(username))
        response = client.post("/account/two-factor/code/", {"code": code}, follow=True)
    assert response.redirect_chain[-1][0] == home
    assert response.status_code == 200


@pytest.mark.django_db
def test_role_must_match_organisation_kind(world_a):
    user = world_a.users[Role.PROVIDER_USER]
    user.role = Role.AUDITOR
    with pytest.raises(ValidationError, match="auditor must belong to a audit body"):
        user.full_clean()


@pytest.mark.django_db
def test_api_token_authenticates_as_its_issuer_and_revocation_stops_it(client, world_a):
    manager = world_a.users[Role.PROVIDER_MANAGER]
    token, key = issue_api_token(actor=manager, organisation=world_a.provider, name="CMS")
    assert ApiToken.objects.get().key_hash != key  # only a hash is stored
    response = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200
    assert response.json()["organisation"]["name"] == world_a.provider.name
    revoke_api_token(actor=manager, token=token)
    response = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True)) == [
        "api_token.issued", "api_token.revoked"]


@pytest.mark.django_db
def test_bad_tokens_get_401_with_a_reason(client):
    for header in ("Token", "Token a b", "Token not-a-real-key"):
        response = client.get("/api/v1/me/", HTTP_AUTHORIZATION=header)
        assert response.status_code == 401
        assert response.json()["detail"]
    assert client.get("/api/v1/me/")["WWW-Authenticate"] == "Token"


@pytest.mark.django_db
def test_token_form_errors_use_govuk_error_summary(client, world_a):
    client.force_login(world_a.users[Role.PROVIDER_MANAGER])
    response = client.post("/account/api-tokens/", {"name": ""})
    page = response.content.decode()
    assert "There is a problem" in page and "Enter a name for the token." in page
    assert ApiToken.objects.count() == 0


@pytest.mark.django_db
def test_openapi_schema_is_served_and_lists_the_api(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/me/" in paths and "/api/v1/organisations/{organisation_pk}/" in paths
    docs = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs and "cdn" not in docs.lower()  # served locally (sidecar)


def test_csv_cells_cannot_become_formulas():
    assert safe_cell("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    assert safe_cell("+1+1") == "'+1+1"
    assert safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert safe_cell("-10.50") == "-10.50"
    assert safe_cell("-1+cmd|' /C calc'!A0") == "'-1+cmd|' /C calc'!A0"
    assert safe_cell(None) == "" and safe_cell("plain") == "plain"


def test_check_deploy_with_production_settings_prints_no_warnings():
    result = python("manage.py", "check", "--deploy")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in output, output
    assert "WARNING" not in output.upper(), output


def test_production_refuses_the_development_secret_key():
    env = production_env()
    env.pop("SECRET_KEY")
    result = python("manage.py", "check", env=env)
    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr


def test_production_refuses_the_development_pseudonym_key():
    """With the development key, anyone who reads this repository could rebuild the pseudonyms of
    National Insurance numbers and dates of birth (docs/security.md)."""
    env = production_env()
    env.pop("PSEUDONYM_KEY")
    result = python("manage.py", "check", env=env)
    assert result.returncode != 0
    assert "Set PSEUDONYM_KEY" in result.stderr
    for placeholder in ("short", "change-me-to-another-random-string-as-.env.example-has"):
        result = python("manage.py", "check", env=production_env(PSEUDONYM_KEY=placeholder))
        assert result.returncode != 0 and "Set PSEUDONYM_KEY" in result.stderr


def test_production_refuses_env_example_placeholder_secret_key():
    result = python("manage.py", "check", env=production_env(
        SECRET_KEY="change-me-to-a-random-string-of-at-least-50-characters-xxxxxxxxxxxxxxxx"))
    assert result.returncode != 0 and "Set SECRET_KEY" in result.stderr
