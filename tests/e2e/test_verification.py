"""The auditor opens the verification queue, looks at a claim's evidence (a PDF in a frame and an
image preview), raises a query; the provider reads why the claim is held, answers with a new
file; the auditor verifies the claim."""

import re

import pytest

from tests.e2e.helpers import (
    northshire_c3,
    sampled_march_return,
    sign_in,
    sign_out,
    use_private_evidence,
)
from tests.verification.conftest import pdf_bytes

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sampled_claim(db, settings, tmp_path):
    """C3 with Clearview as auditor and a verify-all policy; Pathway submits a job outcome with
    a payslip (PDF) and an employer's letter (PNG); the sample selects it."""
    from outcomes.models import Claim
    from outcomes.verification.services import save_policy
    from pbr.demo import seed_people
    from pbr.models import User

    use_private_evidence(settings, tmp_path)
    orgs, _users = seed_people()
    contract = northshire_c3(orgs)
    save_policy(contract, actor=User.objects.get(username="commissioner"),
                values={"mode": "verify_all"})
    ret = sampled_march_return(contract, User.objects.get(username="provider-manager"),
                               User.objects.get(username="auditor"))
    return Claim.objects.get(return_record=ret)


def test_auditor_queries_provider_answers_auditor_verifies(live_server, page, screenshot,
                                                           sampled_claim):
    claim = sampled_claim
    # The auditor's queue.
    sign_in(page, live_server, "auditor")
    page.click("nav a:text-is('Verification')")
    assert page.locator("h1").inner_text() == "Verification queue"
    row = page.locator("tbody tr", has_text=f"Claim {claim.pk}")
    assert "Selected for verification" in row.inner_text()
    screenshot("verification-queue")

    # The claim, with its evidence inline.
    row.locator(f"a:text-is('Claim {claim.pk}')").click()
    assert f"Claim {claim.pk}: job_outcome for CASE-7" in page.locator("h1").inner_text()
    frame = page.locator("iframe.pbr-evidence__pdf")
    assert "Evidence" in frame.get_attribute("title")
    pdf = page.request.get(live_server.url + frame.get_attribute("src"))
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("inline")
    assert pdf.body().startswith(b"%PDF-")
    image = page.locator("img.pbr-evidence__image")
    image.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth === 160",
                           arg=image.element_handle())
    checks = page.locator("main").inner_text()
    assert "Required evidence attached: off_benefit_check." in checks
    frame.scroll_into_view_if_needed()  # Chromium renders a PDF frame once it is in view
    page.wait_for_timeout(1500)  # only so the screenshot shows the PDF viewer's rendering
    screenshot("verification-claim-evidence")

    # Start the review and ask a question.
    page.click("button:has-text('Start the review')")
    assert "You are reviewing this claim." in page.locator(".govuk-notification-banner").inner_text()
    page.click("button:has-text('Raise the query')")  # empty: refused with the reason
    assert "Enter the question for the provider." in page.locator(".govuk-error-summary") \
        .inner_text()
    page.fill("textarea[name=text]", "The payslip is for week 20. Send the week 26 payslip.")
    page.click("button:has-text('Raise the query')")
    assert "Query sent to the provider." in page.locator(".govuk-notification-banner").inner_text()
    assert "Query raised" in page.locator("main").inner_text()
    screenshot("verification-query-raised")
    sign_out(page)

    # The provider sees why the claim is held and answers with a new file.
    sign_in(page, live_server, "provider-user")
    page.click("nav a:text-is('Claims in verification')")
    row = page.locator("tbody tr", has_text=f"Claim {claim.pk}")
    assert re.search(r"The auditor asked a question on .*\. Answer by ", row.inner_text())
    screenshot("verification-provider-claims")
    row.locator("a").first.click()
    assert "The payslip is for week 20." in page.locator("main").inner_text()
    page.fill("textarea[name=text]", "Attached: the payslip for week 26.")
    page.set_input_files("input[name=file]", files=[{
        "name": "payslip-week-26.pdf", "mimeType": "application/pdf",
        "buffer": pdf_bytes("Payslip: week 26 (corrected)")}])
    page.fill("input[name=evidence_type]", "payslip")
    page.click("button:has-text('Send the answer')")
    assert "Your answer has been sent" in page.locator(".govuk-notification-banner").inner_text()
    assert "You answered the auditor's question" in page.locator("#where-this-claim-is") \
        .inner_text()
    screenshot("verification-provider-answered")
    sign_out(page)

    # The auditor reads the answer, sees the new file inline and verifies.
    sign_in(page, live_server, "auditor")
    page.goto(f"{live_server.url}/verification/?status=responded")
    page.locator(f"a:text-is('Claim {claim.pk}')").click()
    main = page.locator("main").inner_text()
    assert "Attached: the payslip for week 26." in main
    assert page.locator("iframe.pbr-evidence__pdf").count() == 2
    page.fill("form[action$='/verify/'] textarea[name=note]", "Week 26 payslip matches.")
    page.click("button:has-text('Verify the claim')")
    assert "Claim verified." in page.locator(".govuk-notification-banner").inner_text()
    assert "Verified" in page.locator("#where-this-claim-is").inner_text()
    history = page.locator("table", has_text="claim.verified").inner_text()
    for action in ("claim.selected", "claim.review_started", "claim.query_raised",
                   "claim.query_answered", "claim.verified"):
        assert action in history
    screenshot("verification-verified")
    claim.refresh_from_db()
    assert claim.status == "verified"
