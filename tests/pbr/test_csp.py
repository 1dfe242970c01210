"""The Content-Security-Policy (ADR 0016) on every HTML page, and markup the policy would break.

Every route is walked as in test_route_permissions.py: routes without an object id are opened by
every role (and signed out), routes with one are opened by a user entitled to that object in
their own organisation. Every HTML answer, whatever its status (error pages too), must carry the
policy with no 'unsafe-inline' or 'unsafe-eval' and no other origin, and its markup must need
neither: no <script> without this response's nonce, no <style> element, no style="..." attribute,
no on*="..." or hx-on handler, no javascript: URL, no htmx attribute that would need eval.
"""

import re
from html.parser import HTMLParser

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from pbr.models import Role
from tests.pbr.test_route_permissions import OBJECT_FACTORIES, ROUTES, _build

# --- what a page must not contain -------------------------------------------------------------

INLINE_HANDLER = re.compile(r"^(?:data-)?(?:on[a-z]+|hx-on.*)$")
EVAL_VALUE = re.compile(r"^\s*(?:js|javascript):", re.IGNORECASE)
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "xlink:href"}


class _Markup(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.scripts, self.problems = [], []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        line = self.getpos()[0]
        if tag == "script":
            self.scripts.append((line, attributes))
        if tag == "style":
            self.problems.append(f"line {line}: a <style> element (put the rules in static/css)")
        for name, value in attrs:
            if name == "style":
                self.problems.append(f"line {line}: <{tag} style=\"{value}\">")
            elif INLINE_HANDLER.match(name):
                self.problems.append(f"line {line}: <{tag} {name}=...> is an inline handler")
            elif name in URL_ATTRIBUTES and value and value.strip().lower().startswith(
                    "javascript:"):
                self.problems.append(f"line {line}: <{tag} {name}=\"javascript:...\">")
            elif name in ("hx-vals", "hx-headers", "hx-vars", "data-hx-vals", "data-hx-headers") \
                    and value and EVAL_VALUE.match(value):
                self.problems.append(f"line {line}: <{tag} {name}> needs eval")

    handle_startendtag = handle_starttag


def directives(header):
    policy = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            policy[words[0]] = words[1:]
    return policy


def policy_problems(response, frames="'none'"):
    """Why this HTML response's policy or markup is not what ADR 0016 promises (empty: fine).
    `frames`: what frame-src must be ('self' on the claim review page alone)."""
    header = response.get("Content-Security-Policy")
    if not header:
        return ["no Content-Security-Policy header"]
    problems = []
    policy = directives(header)
    for name, sources in policy.items():
        for source in sources:
            if source.startswith("'nonce-"):
                continue
            if source in ("'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*") \
                    or source.endswith(":") and source != "data:" \
                    or "." in source or "//" in source:
                problems.append(f"{name} allows {source}")
    for name in ("default-src", "script-src", "style-src", "connect-src", "font-src", "form-action",
                 "base-uri"):
        if policy.get(name, [None])[0] != "'self'":
            problems.append(f"{name} is {policy.get(name)}, not 'self'")
    if policy.get("frame-ancestors") != ["'none'"]:
        problems.append(f"frame-ancestors is {policy.get('frame-ancestors')}, not 'none'")
    if policy.get("frame-src") != [frames]:
        problems.append(f"frame-src is {policy.get('frame-src')}, not {frames}")
    if policy.get("object-src") != ["'none'"]:
        problems.append(f"object-src is {policy.get('object-src')}, not 'none'")
    nonces = [s[len("'nonce-"):-1] for s in policy.get("script-src", [])
              if s.startswith("'nonce-")]
    markup = _Markup()
    markup.feed(response.content.decode())
    problems += markup.problems
    for line, attributes in markup.scripts:
        if "src" in attributes:
            if "//" in attributes["src"]:
                problems.append(f"line {line}: a script from another origin: {attributes['src']}")
            continue
        if not attributes.get("nonce") or attributes["nonce"] not in nonces:
            problems.append(f"line {line}: an inline <script> without this response's nonce")
    return problems


def is_html(response):
    return response.get("Content-Type", "").startswith("text/html")


# --- the walk ---------------------------------------------------------------------------------

HTML_ROUTES = [r for r in ROUTES if not r[0].startswith("api/v1/") and r[0] != "api/schema/"]
WITHOUT_IDS = [r for r in HTML_ROUTES if not r[2]]
WITH_OBJECT_IDS = [r for r in HTML_ROUTES if r[2] and all(k in OBJECT_FACTORIES for k in r[2])]


def _ids(routes):
    return [name for _route, name, _kwargs in routes]


def _users(world, site_admin):
    users = dict(world.users)
    users[Role.SITE_ADMIN] = site_admin
    return users


# The claim review page shows PDF evidence in a frame (outcomes/views_verification.py).
FRAMES_FROM_THIS_SITE = {"verification_claim"}


def _check(client, url, label, seen, frames="'none'"):
    response = client.get(url)
    if is_html(response):
        problems = policy_problems(response, frames)
        assert not problems, f"{label} GET {url} ({response.status_code}):\n  " + \
            "\n  ".join(problems)
        seen.append(response.status_code)
    return response


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "name", "kwargs"), WITHOUT_IDS, ids=_ids(WITHOUT_IDS))
def test_pages_without_ids_keep_to_the_policy_for_every_role(client, world_a, site_admin, route,
                                                            name, kwargs):
    url = _build(route, {})
    seen = []
    _check(client, url, "signed out", seen)
    for role, user in _users(world_a, site_admin).items():
        client.force_login(user)
        _check(client, url, role, seen)
    if name not in {"logout"} and not url.endswith((".csv", ".xlsx")):
        assert seen, f"{url} answered no HTML page to anyone: is it still a page?"


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "name", "kwargs"), WITH_OBJECT_IDS, ids=_ids(WITH_OBJECT_IDS))
def test_pages_of_an_object_keep_to_the_policy(client, world_a, route, name, kwargs):
    values, role = {}, None
    for k in kwargs:
        values[k], role = OBJECT_FACTORIES[k](world_a)
    client.force_login(world_a.users[role])
    frames = "'self'" if name in FRAMES_FROM_THIS_SITE else "'none'"
    _check(client, _build(route, values), role, [], frames)


@pytest.mark.django_db
def test_the_walk_saw_the_main_pages_as_html(client, world_a):
    """The walk above is not vacuous: the main pages answer 200 HTML to their own role."""
    from outcomes.models import Claim

    claim_pk, _role = OBJECT_FACTORIES["claim_pk"](world_a)
    contract_pk = Claim.objects.get(pk=claim_pk).return_record.contract_id
    pages = {
        Role.PROVIDER_MANAGER: ["/provider/", "/returns/", "/returns/claims/",
                                f"/returns/claims/{claim_pk}/", "/returns/evidence/",
                                f"/verification/claims/{claim_pk}/",
                                "/dashboards/provider/"],
        Role.COMMISSIONER: ["/commissioner/", "/contracts/", f"/contracts/{contract_pk}/",
                            f"/contracts/{contract_pk}/design/", "/contracts/design/new/",
                            "/dashboards/", f"/dashboards/contracts/{contract_pk}/",
                            f"/payments/contracts/{contract_pk}/", "/verification/"],
        Role.AUDITOR: ["/auditor/", "/verification/", "/verification/samples/"],
    }
    for role, urls in pages.items():
        client.force_login(world_a.users[role])
        for url in urls:
            seen = []
            frames = "'self'" if url.startswith("/verification/claims/") else "'none'"
            response = _check(client, url, role, seen, frames)
            assert seen == [200], (role, url, response.status_code)


@pytest.mark.django_db
def test_public_pages_and_refused_forms_keep_to_the_policy(client, world_a):
    seen = []
    for url in ("/account/sign-in/", "/account/password-reset/", "/api/docs/",
                "/account/password-reset/x/y/", "/no-such-page/"):
        _check(client, url, "signed out", seen)
    user = world_a.users[Role.PROVIDER_USER]
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    response = client.get(f"/account/password-reset/{uid}/{token}/", follow=True)
    assert not policy_problems(response)
    refused = client.post("/account/sign-in/", {"username": user.username, "password": "wrong"})
    assert "There is a problem" in refused.content.decode()
    assert not policy_problems(refused)
    assert seen == [200, 200, 200, 200, 404]


@pytest.mark.django_db
def test_the_django_admin_keeps_to_the_policy(client, site_admin):
    from django.contrib import admin

    client.force_login(site_admin)
    urls = ["/admin/"]
    for model in admin.site._registry:
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        urls += [base, base + "add/"]
    seen = []
    for url in urls:
        _check(client, url, "site admin", seen)
    assert seen.count(200) >= len(admin.site._registry), seen


# --- evidence shown inline: the one relaxation ------------------------------------------------


@pytest.fixture
def claim_with_inline_evidence(settings, tmp_path, world_a):
    """A C3 claim selected for verification, with a PDF and a PNG as its evidence."""
    import copy

    from outcomes.verification import services
    from tests.outcomes.conftest import c3_document, make_contract
    from tests.verification.conftest import (
        evidence_file,
        make_claims,
        set_policy,
        submitted_return,
    )

    storages = copy.deepcopy(settings.STORAGES)
    storages["evidence"]["OPTIONS"]["location"] = str(tmp_path / "evidence")
    settings.STORAGES = storages
    settings.EVIDENCE_ROOT = tmp_path / "evidence"
    contract = make_contract(world_a, c3_document())
    set_policy(contract, mode="verify_all")
    claim = make_claims(submitted_return(contract, world_a.provider), 1)[0]
    pdf = evidence_file(world_a.provider, "payslip.pdf")
    png = evidence_file(world_a.provider, "letter.png", evidence_type="employer_letter")
    claim.evidence_files.add(pdf, png)
    services.draw_sample(contract, actor=world_a.users[Role.AUDITOR], seed=4)
    return claim, pdf, png


@pytest.mark.django_db
def test_only_the_claim_review_page_may_frame_this_sites_evidence(client, world_a,
                                                                 claim_with_inline_evidence):
    claim, pdf, png = claim_with_inline_evidence
    client.force_login(world_a.users[Role.AUDITOR])
    review = client.get(f"/verification/claims/{claim.pk}/")
    page = review.content.decode()
    assert f'<iframe class="pbr-evidence__pdf" src="/verification/evidence/{pdf.pk}/view/"' in page
    assert f'<img class="pbr-evidence__image" src="/verification/evidence/{png.pk}/view/"' in page
    assert policy_problems(review, frames="'self'") == []
    # A refused form shows the same page again, with the same relaxation.
    refused = client.post(f"/verification/claims/{claim.pk}/query/", {"text": ""})
    assert refused.status_code == 400 and "<iframe" in refused.content.decode()
    assert policy_problems(refused, frames="'self'") == []
    # Elsewhere frames stay refused.
    queue = client.get("/verification/")
    assert directives(queue["Content-Security-Policy"])["frame-src"] == ["'none'"]
    assert queue["X-Frame-Options"] == "DENY"

    # The framed evidence: framable by this site only, inert, with its own policy kept.
    for evidence in (pdf, png):
        shown = client.get(f"/verification/evidence/{evidence.pk}/view/")
        assert shown.status_code == 200, evidence.original_name
        assert shown["X-Frame-Options"] == "SAMEORIGIN"
        policy = directives(shown["Content-Security-Policy"])
        assert policy["default-src"] == ["'none'"] and policy["frame-ancestors"] == ["'self'"]
        assert "script-src" not in policy
        assert shown["X-Content-Type-Options"] == "nosniff"
    # Downloads are never framed or rendered.
    download = client.get(f"/returns/evidence/{pdf.pk}/download/")
    assert download["X-Frame-Options"] == "DENY"
    assert download["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert download["Content-Disposition"].startswith("attachment")


# --- the nonce --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_one_inline_script_carries_a_fresh_nonce_that_is_in_the_header(client):
    nonces = []
    for _ in range(2):
        response = client.get("/account/sign-in/")
        policy = directives(response["Content-Security-Policy"])
        page = response.content.decode()
        inline = re.findall(r'<script nonce="([^"]+)">([^<]*)</script>', page)
        assert len(inline) == 1 and "js-enabled" in inline[0][1]
        assert policy["script-src"] == ["'self'", f"'nonce-{inline[0][0]}'"]
        nonces.append(inline[0][0])
    assert nonces[0] != nonces[1] and len(nonces[0]) >= 22  # 16 random bytes, base64


@pytest.mark.django_db
def test_a_page_without_an_inline_script_sends_no_nonce(client):
    """The nonce is added only when a template used it; JSON and scripts get none."""
    response = client.get("/api/docs/?script=")
    assert response["Content-Type"].startswith("application/javascript")
    assert directives(response["Content-Security-Policy"])["script-src"] == ["'self'"]


def test_the_checker_finds_what_it_looks_for():
    """policy_problems itself: each kind of problem is reported."""
    from django.http import HttpResponse

    good = {"default-src": "'self'", "script-src": "'self' 'nonce-abc'", "style-src": "'self'",
            "connect-src": "'self'", "font-src": "'self'", "form-action": "'self'",
            "base-uri": "'self'", "frame-src": "'none'", "frame-ancestors": "'none'",
            "object-src": "'none'"}

    def response(markup, **changes):
        answer = HttpResponse(markup)
        policy = dict(good, **{k.replace("_", "-"): v for k, v in changes.items()})
        answer["Content-Security-Policy"] = "; ".join(f"{k} {v}" for k, v in policy.items())
        return answer

    assert policy_problems(response(
        '<script nonce="abc">x()</script><script src="/assets/a.js"></script>')) == []
    cases = {
        "<script>x()</script>": "without this response's nonce",
        '<script nonce="other">x()</script>': "without this response's nonce",
        '<script src="https://cdn.example.org/a.js"></script>': "another origin",
        "<style>p{}</style>": "<style> element",
        '<p style="color: red">': 'style="color: red"',
        '<button onclick="go()">': "inline handler",
        '<button hx-on:click="go()">': "inline handler",
        '<a href="javascript:go()">': "javascript:",
        '<div hx-vals="js:{a: 1}">': "needs eval",
    }
    for markup, expected in cases.items():
        found = policy_problems(response(markup))
        assert len(found) == 1 and expected in found[0], (markup, found)
    for weak in ({"script_src": "'self' 'unsafe-inline'"}, {"style_src": "'self' 'unsafe-inline'"},
                 {"script_src": "'self' 'unsafe-eval'"}, {"img_src": "'self' https://img.example.org"},
                 {"frame_ancestors": "'self'"}, {"object_src": "'self'"}, {"frame_src": "'self'"},
                 {"default_src": "*"}):
        assert policy_problems(response("", **weak)), weak
    assert policy_problems(response("", frame_src="'self'"), frames="'self'") == []
    assert policy_problems(HttpResponse("")) == ["no Content-Security-Policy header"]
