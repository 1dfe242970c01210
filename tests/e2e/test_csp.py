"""The Content-Security-Policy in a real browser (ADR 0016): every role's main pages load with no
`securitypolicyviolation` event and no CSP message in the console, in any frame, while the
charts still draw, htmx buttons still work, Swagger UI still renders and the claim review page
still shows its evidence (a PDF in a frame, an image)."""

import re

import pytest

from tests.e2e.helpers import (
    northshire_c3,
    sampled_march_return,
    sign_in,
    sign_out,
    use_private_evidence,
)
from tests.e2e.test_returns import HEADER as UPLOAD_HEADER

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Runs in every page and frame before the page's own scripts (Playwright injects it through the
# DevTools protocol, which the policy does not govern) and reports each violation to Python.
LISTEN = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.pbrReportViolation({
    page: location.href, directive: e.effectiveDirective, blocked: e.blockedURI,
    source: e.sourceFile, line: e.lineNumber, sample: e.sample,
  });
});
"""
CSP_MESSAGE = re.compile(r"Content[ -]Security[ -]Policy|Permissions-Policy|Refused to",
                         re.IGNORECASE)


@pytest.fixture
def programme(db, settings, tmp_path):
    """C3 for Northshire with Pathway as prime and Clearview as auditor: January paid (a
    statement and dashboard figures), a March claim with a payslip (PDF) and an employer's letter
    (PNG) selected for verification, and an April return open for upload."""
    from outcomes.models import Claim
    from outcomes.services import start_return
    from outcomes.verification.services import save_policy
    from payments.services import run_period
    from pbr.dashboards.refresh import refresh_contract
    from pbr.demo import seed_people
    from pbr.models import User
    from tests.dashboards.conftest import caseload
    from tests.dashboards.conftest import submitted_return as january_return

    use_private_evidence(settings, tmp_path)
    orgs, _users = seed_people()
    users = {u.username: u for u in User.objects.all()}
    pathway = orgs["pathway-housing"]
    contract = northshire_c3(orgs)
    caseload(january_return(contract, pathway), "JSA_18_24", 30, 20, 10)
    run, _lines = run_period(contract, "Jan 2012")

    save_policy(contract, actor=users["commissioner"], values={"mode": "verify_all"})
    provider = users["provider-manager"]
    march = sampled_march_return(contract, provider, users["auditor"])
    april = start_return(contract, "Apr 2012", actor=provider)
    refresh_contract(contract, with_forecast=True)
    return {"contract": contract, "run": run, "claim": Claim.objects.get(return_record=march),
            "april": april}


@pytest.fixture
def watched(page):
    """The page, with every CSP violation, CSP console message and script error recorded."""
    found = {"violations": [], "console": [], "errors": []}
    page.context.expose_function("pbrReportViolation",
                                 lambda violation: found["violations"].append(violation))
    page.context.add_init_script(LISTEN)
    page.on("console", lambda m: CSP_MESSAGE.search(m.text) and found["console"].append(
        f"{m.type}: {m.text} ({page.url})"))
    page.on("pageerror", lambda exc: found["errors"].append(f"{exc} ({page.url})"))
    return page, found


def visit(page, live_server, path):
    response = page.goto(live_server.url + path)
    assert response.ok, (path, response.status)
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]
    page.wait_for_load_state("load")
    return response


def assert_clean(found):
    assert not found["violations"], found["violations"]
    assert not found["console"], found["console"]
    assert not found["errors"], found["errors"]


def charts_drawn(page):
    page.wait_for_selector("table[data-chart-drawn]", state="attached")
    canvases = page.locator("figure.pbr-chart canvas")
    assert canvases.count() >= 1
    # Chart.js sized the canvas through the CSSOM (allowed) and painted something on it.
    size = canvases.first.bounding_box()
    assert size["width"] > 100 and size["height"] > 100, size
    return canvases.count()


def test_no_policy_violation_on_any_roles_main_pages(live_server, watched, screenshot,
                                                     programme):
    page, found = watched
    contract, run, claim = programme["contract"], programme["run"], programme["claim"]

    # Signed out: the sign-in page and the API documentation (Swagger UI from files only).
    visit(page, live_server, "/account/sign-in/")
    assert page.evaluate("document.body.classList.contains('govuk-frontend-supported')"), \
        "the nonce'd js-enabled snippet did not run"
    visit(page, live_server, "/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "Payment by Results API" in page.locator(".swagger-ui .info .title").inner_text()
    assert_clean(found)

    # The provider.
    sign_in(page, live_server, "provider-manager")
    for path in ("/provider/", "/returns/", f"/returns/{programme['april'].pk}/upload/",
                 "/returns/claims/", "/returns/evidence/", "/verification/my-claims/"):
        visit(page, live_server, path)
    # The upload script sends a file by XMLHttpRequest (connect-src 'self') and swaps in the
    # refusal.
    visit(page, live_server, f"/returns/{programme['april'].pk}/upload/")
    bad = f"{UPLOAD_HEADER}\nCASE-1,AB123456C,1990-05-01,JSA_18_24,2011-06-15,attachment,2011-02-30,,\n"
    page.set_input_files("#id_file", files=[{"name": "bad.csv", "mimeType": "text/csv",
                                              "buffer": bad.encode()}])
    with page.expect_request(lambda r: r.method == "POST"
                             and r.headers.get("x-requested-with") == "XMLHttpRequest"):
        page.click("button:has-text('Upload and check')")
    page.locator(".govuk-error-summary").wait_for()
    visit(page, live_server, "/dashboards/provider/")
    charts_drawn(page)
    assert_clean(found)
    sign_out(page)

    # The commissioner: contracts, the designer's htmx buttons, dashboards, a statement.
    sign_in(page, live_server, "commissioner")
    for path in ("/commissioner/", "/contracts/", f"/contracts/{contract.pk}/",
                 f"/contracts/{contract.pk}/design/", f"/payments/runs/{run.pk}/",
                 "/verification/"):
        visit(page, live_server, path)
    visit(page, live_server, f"/dashboards/contracts/{contract.pk}/")
    assert charts_drawn(page) >= 2
    screenshot("csp-contract-dashboard")
    visit(page, live_server, "/dashboards/")
    charts_drawn(page)
    visit(page, live_server, "/contracts/design/new/")
    page.fill("#f-reference", "CSP-1")
    page.fill("#f-title", "Designed under the policy")
    page.fill("#f-start", "2024-04-01")
    page.fill("#f-end", "2025-03-31")
    page.fill("#f-annual_value", "100000")
    page.select_option("#f-_prime_organisation", label="Pathway Housing Trust")
    page.select_option("#f-calendar-kind", "quarterly")
    page.fill("#f-calendar-start", "2024-04-01")
    page.click("text=Save and start designing")
    page.click("a.govuk-task-list__link:has-text('Segments')")
    page.evaluate("window.__samePage = true")
    page.click("button:has-text('Add a segment')")
    page.wait_for_selector("#f-segments-0-code")
    assert page.evaluate("window.__samePage === true"), "htmx did not swap: the page reloaded"
    assert_clean(found)
    sign_out(page)

    # The auditor: the queue and the claim with its evidence inline.
    sign_in(page, live_server, "auditor")
    visit(page, live_server, "/auditor/")
    visit(page, live_server, "/verification/")
    visit(page, live_server, f"/verification/claims/{claim.pk}/")
    image = page.locator("img.pbr-evidence__image")
    image.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=image.element_handle())
    assert page.evaluate("getComputedStyle(document.querySelector('img.pbr-evidence__image'))"
                         ".maxWidth") == "100%"  # the rule moved from style="" to app.css
    # The PDF's frame loaded the evidence (a blocked frame would be about:blank or an error page,
    # and the violation would be recorded).
    frame = page.locator("iframe.pbr-evidence__pdf")
    content = frame.element_handle().content_frame()
    content.wait_for_load_state()
    assert content.url == live_server.url + frame.get_attribute("src")
    screenshot("csp-claim-review")
    assert_clean(found)
