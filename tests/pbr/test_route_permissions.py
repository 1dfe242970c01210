"""Walk every URL pattern and API route and prove organisation isolation.

New routes are covered the day they are added: the walker finds them. A route whose URL takes an
object id must have a factory in OBJECT_FACTORIES (keyed by the kwarg name, so name kwargs
`<model>_pk`), or this test fails and says which one is missing.
"""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from pbr.models import Role
from tests.factories import JobFactory, audit_event
from tests.outcomes.factories import (
    route_claim,
    route_evidence,
    route_participant,
    route_return,
    route_return_upload,
)
from tests.verification.factories import route_sample, route_sample_item

# Routes anyone may open without signing in.
PUBLIC = {
    "login", "password_reset", "password_reset_done", "password_reset_confirm",
    "password_reset_complete", "api-schema", "api-docs",
}
# Routes outside the walker's scope, each with the reason.
EXCLUDED_PREFIXES = {
    "admin/": "Django admin has its own gate; see test_admin_is_for_site_admins_only.",
}
# Routes that only some roles may use: everyone else signed in gets 403 (they are actions or
# role home pages, never another organisation's objects).
ROLE_ONLY = {
    "home_commissioner": {Role.COMMISSIONER},
    "home_provider": {Role.PROVIDER_USER, Role.PROVIDER_MANAGER},
    "home_auditor": {Role.AUDITOR},
    "home_site_admin": set(),
    "api_token_list": {Role.PROVIDER_MANAGER},
    "contract_import": {Role.COMMISSIONER},
    "designer_new": {Role.COMMISSIONER},  # designer pages with a contract_pk use "contract_pk"
    "return_start": {Role.PROVIDER_USER, Role.PROVIDER_MANAGER},
    "verification_queue": {Role.AUDITOR, Role.COMMISSIONER},
    "verification_export": {Role.AUDITOR, Role.COMMISSIONER},
    "verification_samples": {Role.AUDITOR, Role.COMMISSIONER},
    "verification_provider": {Role.PROVIDER_USER, Role.PROVIDER_MANAGER},
    # Dashboards (pbr/dashboards/); the contract pages use "contract_pk".
    "dashboard_programme": {Role.COMMISSIONER},
    "dashboard_equity": {Role.COMMISSIONER},
    "dashboard_refresh": {Role.COMMISSIONER},
    "dashboard_provider": {Role.PROVIDER_USER, Role.PROVIDER_MANAGER},
}


def _token(world):
    from pbr.services import issue_api_token

    user = world.users[Role.PROVIDER_MANAGER]
    token, _key = issue_api_token(actor=user, organisation=world.provider, name="B system")
    return token.pk, Role.PROVIDER_MANAGER


def _contract(world):
    from contracts.services import import_contract
    from tests.contract_terms.test_import_export import _c2

    contract = import_contract(_c2(), commissioner=world.commissioning_body,
                               links={"EFS": world.provider}, publish=True)
    return contract, Role.PROVIDER_USER


def _contract_for_commissioner(world):
    contract, _role = _contract(world)
    return contract.pk, Role.COMMISSIONER


def _payment_run(world):
    from payments.services import run_period

    contract, _role = _contract(world)
    run, _posted = run_period(contract, "Q1 2011-12")
    return run.pk


# kwarg name -> function(world B) returning (pk of world B's object, role of the world A user who
# would otherwise be entitled to that kind of object).
OBJECT_FACTORIES = {
    "organisation_pk": lambda w: (w.provider.pk, Role.PROVIDER_USER),
    "audit_event_pk": lambda w: (audit_event(w.provider).pk, Role.PROVIDER_USER),
    "job_pk": lambda w: (JobFactory(organisation=w.provider).pk, Role.PROVIDER_USER),
    "api_token_pk": _token,
    "contract_pk": _contract_for_commissioner,
    "terms_version_pk": lambda w: (_contract(w)[0].current_version().pk, Role.COMMISSIONER),
    "payment_run_pk": lambda w: (_payment_run(w), Role.COMMISSIONER),
    "return_pk": route_return,
    "claim_pk": route_claim,
    "evidence_file_pk": route_evidence,
    "participant_pk": route_participant,
    "return_upload_pk": route_return_upload,
    "sample_pk": route_sample,
    "sample_item_pk": route_sample_item,
    # Resetting someone's two-factor authentication (site admins only; others do not find them).
    "user_pk": lambda w: (w.users[Role.PROVIDER_USER].pk, Role.PROVIDER_MANAGER),
}


def _walk(patterns, prefix=""):
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield route, entry


def all_routes():
    routes = []
    for route, pattern in _walk(get_resolver().url_patterns):
        if any(route.startswith(p) for p in EXCLUDED_PREFIXES):
            continue
        kwargs = re.findall(r"<(?:\w+:)?(\w+)>", route) + re.findall(r"\(\?P<(\w+)>", route)
        routes.append((route, pattern.name, kwargs))
    return routes


def _build(route, values):
    path = route
    for name, value in values.items():
        path = re.sub(rf"<(?:\w+:)?{name}>", str(value), path)
    path = path.lstrip("^").rstrip("$")
    return "/" + path


ROUTES = all_routes()
PROTECTED = [r for r in ROUTES if r[1] not in PUBLIC]


def _ids(routes):
    return [f"{name or '?'}:{route}" for route, name, _ in routes]


def test_every_route_is_named():
    unnamed = [route for route, name, _ in ROUTES if not name]
    assert not unnamed, f"Name these routes so permissions can be tested: {unnamed}"


def test_every_object_kwarg_has_a_factory():
    missing = {k for _route, _name, kwargs in PROTECTED for k in kwargs if k not in OBJECT_FACTORIES}
    assert not missing, f"Add OBJECT_FACTORIES entries for URL kwargs: {sorted(missing)}"


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "name", "kwargs"), PROTECTED, ids=_ids(PROTECTED))
def test_anonymous_is_sent_to_sign_in_or_gets_401(client, world_b, route, name, kwargs):
    values = {k: OBJECT_FACTORIES[k](world_b)[0] for k in kwargs}
    url = _build(route, values)
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        if url.startswith("/api/"):
            assert response.status_code == 401, (method, url, response.status_code)
        elif response.status_code == 405:
            continue
        else:
            assert response.status_code == 302, (method, url, response.status_code)
            assert response["Location"].startswith("/account/sign-in/"), response["Location"]


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "name", "kwargs"), [r for r in PROTECTED if r[2]],
                         ids=_ids([r for r in PROTECTED if r[2]]))
def test_another_organisations_object_is_not_found(client, world_a, world_b, route, name, kwargs):
    values, role = {}, None
    for k in kwargs:
        values[k], role = OBJECT_FACTORIES[k](world_b)
    client.force_login(world_a.users[role])
    url = _build(route, values)
    statuses = {m: getattr(client, m)(url).status_code for m in ("get", "post")}
    allowed = {m: s for m, s in statuses.items() if s != 405}
    assert allowed, f"{url} accepts neither GET nor POST"
    assert set(allowed.values()) == {404}, (url, statuses)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(ROLE_ONLY))
def test_role_only_routes_refuse_other_roles_with_403(client, world_a, site_admin, name):
    route = next(r for r, n, _ in ROUTES if n == name)
    url = _build(route, {})
    users = dict(world_a.users)
    users[Role.SITE_ADMIN] = site_admin
    for role, user in users.items():
        client.force_login(user)
        status = client.get(url).status_code
        if role in ROLE_ONLY[name] or (role == Role.SITE_ADMIN and name != "home_commissioner"
                                       and not name.startswith("home_")) \
                or (role == Role.SITE_ADMIN and name == "home_site_admin"):
            assert status == 200, (name, role, status)
        else:
            assert status == 403, (name, role, status)


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "name", "kwargs"), [r for r in PROTECTED if not r[2]],
                         ids=_ids([r for r in PROTECTED if not r[2]]))
def test_signed_in_users_never_cause_a_server_error(client, world_a, route, name, kwargs):
    url = _build(route, {})
    for user in world_a.users.values():
        client.force_login(user)
        response = client.get(url)
        assert response.status_code < 500, (url, user.role, response.status_code)


@pytest.mark.django_db
def test_admin_is_for_site_admins_only(client, world_a, site_admin):
    for user in world_a.users.values():
        client.force_login(user)
        response = client.get("/admin/")
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    client.force_login(site_admin)
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_lists_only_show_own_organisation(client, world_a, world_b):
    audit_event(world_b.provider, action="beta.secret")
    audit_event(world_a.provider, action="alpha.visible")
    client.force_login(world_a.users[Role.PROVIDER_USER])
    page = client.get("/audit-log/").content.decode()
    assert "alpha.visible" in page and "beta.secret" not in page
    api = client.get("/api/v1/audit-events/").json()
    assert [e["action"] for e in api["results"]] == ["alpha.visible"]
    orgs = client.get("/api/v1/organisations/").json()
    assert [o["name"] for o in orgs["results"]] == [world_a.provider.name]
    export = b"".join(client.get("/audit-log/export.csv").streaming_content).decode()
    assert "alpha.visible" in export and "beta.secret" not in export


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(PUBLIC - {"password_reset_confirm"}))
def test_public_routes_open_without_signing_in(client, name):
    route = next(r for r, n, _ in ROUTES if n == name)
    assert client.get(_build(route, {})).status_code == 200
