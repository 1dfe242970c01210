"""A commissioner imports a contract in the browser, publishes it, reads its plain-English summary,
then runs a period and reads the statement."""

from pathlib import Path

import pytest

from tests.e2e.helpers import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "contracts"


@pytest.fixture
def demo_people(db):
    from pbr.demo import seed_people

    seed_people()


def test_import_publish_summary_run_and_statement(live_server, page, screenshot, demo_people):
    sign_in(page, live_server, "commissioner")
    page.click("text=Contracts")
    page.click("text=Import a contract")
    # A broken definition first: every problem listed, nothing saved.
    text = (EXAMPLES / "c2-southend.yaml").read_text()
    page.fill("#id_text", text.replace('stretch: "135"', 'stretch: "100"'))
    page.click("text=Check and import")
    assert "Nothing has been saved" in page.locator(".govuk-error-summary").inner_text()
    assert "rules[0].bands[0].stretch" in page.locator(".govuk-error-summary").inner_text()
    screenshot("contract-import-errors")
    page.fill("#id_text", text.replace("code: EFS", "code: pathway-housing"))
    page.click("text=Check and import")
    assert "imported as a draft" in page.locator(".govuk-notification-banner").inner_text()
    page.click("text=Publish version 1")
    assert "is published" in page.locator(".govuk-notification-banner").inner_text()
    body = page.locator("main").inner_text()
    assert "The terms in plain English" in body
    assert "£10,000.00" in body
    screenshot("contract-summary")
    page.click("text=Payments and statements")
    page.click("button:has-text('Run Q1 2011-12')")
    page.wait_for_selector("text=Succeeded")
    screenshot("payment-run-progress")
    page.goto(page.url.split("/jobs/")[0] + "/contracts/")
    page.click("text=C2-SOUTHEND")
    page.click("text=Payments and statements")
    page.click("a:has-text('Q1 2011-12')")
    assert "Statement for Q1 2011-12" in page.locator("h1").inner_text()
    screenshot("statement")
