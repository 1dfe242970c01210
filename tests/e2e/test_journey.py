"""The whole journey, in a real browser and only through the pages a person uses:

1. a commissioner imports a contract (naming its audit body), publishes it and sets its
   verification policy;
2. a provider uploads evidence and a return of three claims, and submits it;
3. the auditor draws a sample, verifies two claims and rejects the third;
4. the provider's manager appeals the rejection;
5. a commissioner (not the auditor who rejected it) dismisses the appeal, runs the period and
   approves the payment run;
6. the provider's manager downloads the PDF statement, which pays the two verified claims only.

A screenshot of each step is kept (`journey-NN-*.png` under $PBR_ARTIFACTS_DIR/screenshots/), and
axe-core checks every page of the journey against WCAG 2.2 AA: no serious or critical violation.
"""

import io
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.axe import describe, violations
from tests.e2e.conftest import artifacts_dir
from tests.e2e.helpers import sign_in, sign_out
from tests.verification.conftest import pdf_bytes

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# A small contract made for the journey: one payment group, one outcome that needs evidence,
# £1,200 a claim, quarterly periods from April 2024. Its prime and funder are linked by the
# organisation's code and name on this service.
CONTRACT = """\
format_version: 1
reference: JOURNEY-1
title: Rough sleeping - settled accommodation (journey test)
funders:
  - {name: Northshire County Council, share_pct: "100"}
prime_provider: {name: Pathway Housing Trust, code: pathway-housing}
start: 2024-04-01
end: 2025-03-31
annual_value: "50000"
calendar:
  kind: quarterly
  start: 2024-04-01
  payment_in_arrears_days: 30
segments:
  - {code: ROUGH, name: Rough sleepers}
outcomes:
  - {code: settled, name: Settled accommodation, kind: one_off, evidence: [tenancy_agreement]}
rules:
  - id: tariff
    type: tariff
    description: £1,200 for each person settled in accommodation.
    prices:
      - {outcome: settled, segment: ROUGH, amount: "1200"}
"""
PERIOD = "Q1 2024-25"
CLAIMS_HEADER = "participant_ref,ni_number,date_of_birth,segment,start_date,outcome,achieved,evidence"


@pytest.fixture
def demo_people(db):
    from pbr.demo import seed_people

    seed_people()


class Journey:
    """Numbered screenshots, and axe-core on every page the journey shows. Violations are
    gathered and reported together at the end, so one run lists every page's problems."""

    def __init__(self, page, screenshot):
        self.page, self._screenshot, self.step = page, screenshot, 0
        self.problems = []

    def check(self, label):
        found = violations(self.page)
        if found:
            self.problems.append(f"{label} ({self.page.url}):\n{describe(found)}")

    def assert_accessible(self):
        assert not self.problems, ("Accessibility (axe-core, WCAG 2.2 AA): serious or critical "
                                   "violations on " + "\n\n".join(self.problems))

    def shot(self, name):
        self.step += 1
        self.check(name)
        return self._screenshot(f"journey-{self.step:02d}-{name}")


def banner(page):
    return page.locator(".govuk-notification-banner").inner_text()


def test_the_whole_journey(live_server, page, screenshot, demo_people):
    from pypdf import PdfReader

    journey = Journey(page, screenshot)

    # --- 1. The commissioner imports the contract, publishes it and sets its policy. ---------
    sign_in(page, live_server, "commissioner")
    journey.check("commissioner home")
    page.click("nav a:text-is('Contracts')")
    journey.check("contract list")
    page.click("text=Import a contract")
    page.set_input_files("#id_file", files=[{"name": "journey-1.yaml", "mimeType": "text/yaml",
                                             "buffer": CONTRACT.encode()}])
    page.select_option("#id_auditor", label="Clearview Assurance")
    journey.shot("import-contract")
    page.click("button:has-text('Check and import')")
    assert "JOURNEY-1 imported as a draft" in banner(page)
    parties = page.locator("dl.govuk-summary-list").first.inner_text()
    assert "Clearview Assurance" in parties and "Pathway Housing Trust" in parties
    journey.check("imported draft")
    page.click("button:has-text('Publish version 1')")
    assert "is published" in banner(page)
    assert "£1,200.00" in page.locator("main").inner_text()
    journey.shot("contract-published")

    page.click("main a:text-is('Verification policy')")
    assert "No policy is set" in page.locator("main").inner_text()
    page.check("input[name=mode][value=verify_all]")
    page.click("button:has-text('Save the policy')")
    assert "Verification policy for JOURNEY-1 saved" in banner(page)
    journey.shot("verification-policy")
    sign_out(page)

    # --- 2. The provider uploads evidence and a return, and submits it. ---------------------
    sign_in(page, live_server, "provider-user")
    journey.check("provider home")
    page.click("nav a:text-is('Returns')")
    journey.check("return list")
    page.goto(f"{live_server.url}/returns/evidence/")
    page.set_input_files("#id_file", files=[{
        "name": "tenancy-agreements.pdf", "mimeType": "application/pdf",
        "buffer": pdf_bytes("Tenancy agreements: CASE-1, CASE-2, CASE-3")}])
    page.fill("#id_evidence_type", "tenancy_agreement")
    page.click("button:has-text('Upload')")
    evidence = re.search(r"evidence file (E\d+)", banner(page)).group(1)
    journey.shot("evidence-uploaded")

    page.click("nav a:text-is('Returns')")
    page.click("text=Start a return")
    page.select_option("#id_contract", label="JOURNEY-1: Rough sleeping - settled "
                                             "accommodation (journey test)")
    page.fill("#id_period_id", PERIOD)
    journey.check("start a return")
    page.click("button:has-text('Start the return')")
    assert f"{PERIOD} return, version 1" in page.locator("h1").inner_text()
    journey.check("draft return")
    page.click("text=Upload a file")
    claims = "\n".join([
        CLAIMS_HEADER,
        f"CASE-1,AB123456C,1980-01-15,ROUGH,2024-04-02,settled,2024-05-10,{evidence}",
        f"CASE-2,AB123457C,1975-06-30,ROUGH,2024-04-03,settled,2024-05-20,{evidence}",
        f"CASE-3,AB123458C,1990-11-02,ROUGH,2024-04-08,settled,2024-06-03,{evidence}",
    ]) + "\n"
    page.set_input_files("#id_file", files=[{"name": "q1.csv", "mimeType": "text/csv",
                                              "buffer": claims.encode()}])
    journey.shot("return-upload")
    page.click("button:has-text('Upload and check')")
    page.wait_for_url(re.compile(r".*/returns/\d+/$"))
    assert "3 claim rows added" in banner(page)
    page.click("button:has-text('Submit the return')")
    assert "Return submitted" in banner(page)
    rows = page.locator("table.govuk-table >> nth=0").inner_text()
    assert rows.count("Checks passed") == 3
    journey.shot("return-submitted")
    sign_out(page)

    # --- 3. The auditor draws the sample, verifies two claims and rejects one. --------------
    sign_in(page, live_server, "auditor")
    journey.check("auditor home")
    page.click("nav a:text-is('Verification')")
    assert "JOURNEY-1: 3 claims passed the automatic checks" in page.locator("main").inner_text()
    journey.check("verification queue, waiting")
    page.click("a:has-text('Draw a sample for JOURNEY-1')")
    page.select_option("#id_period_id", PERIOD)
    page.fill("#id_seed", "2024")
    journey.check("draw a sample")
    page.click("button:has-text('Draw the sample')")
    assert "3 of 3 claims selected for verification" in banner(page)
    journey.shot("sample-drawn")

    claim_ids = {}
    page.click("nav a:text-is('Verification')")
    for case in ("CASE-1", "CASE-2", "CASE-3"):
        row = page.locator("tbody tr", has_text=case)
        claim_ids[case] = int(re.search(r"Claim (\d+)", row.inner_text()).group(1))
    journey.shot("verification-queue")

    for case in ("CASE-1", "CASE-2"):
        page.goto(f"{live_server.url}/verification/claims/{claim_ids[case]}/")
        assert "Required evidence attached: tenancy_agreement." in page.locator("main").inner_text()
        if case == "CASE-1":
            assert page.locator("iframe.pbr-evidence__pdf").count() == 1
            journey.shot("claim-review")
        page.click("button:has-text('Start the review')")
        assert "You are reviewing this claim." in banner(page)
        page.fill("form[action$='/verify/'] textarea[name=note]",
                  f"Tenancy agreement for {case} seen.")
        page.click("button:has-text('Verify the claim')")
        assert "Claim verified." in banner(page)
        journey.check(f"{case} verified")

    page.goto(f"{live_server.url}/verification/claims/{claim_ids['CASE-3']}/")
    page.click("button:has-text('Start the review')")
    page.click("button:has-text('Reject the claim')")  # no reason: refused, with the error shown
    assert "Choose the reason." in page.locator(".govuk-error-summary").inner_text()
    journey.check("rejection refused without a reason")
    page.select_option("form[action$='/reject/'] select[name=reason_code]", "evidence_mismatch")
    page.fill("form[action$='/reject/'] textarea[name=note]",
              "The tenancy agreement starts after the claimed date.")
    journey.check("rejecting a claim")
    page.click("button:has-text('Reject the claim')")
    assert "Claim rejected." in banner(page)
    assert "Rejected" in page.locator("#where-this-claim-is").inner_text()
    journey.shot("claim-rejected")
    sign_out(page)

    # --- 4. The provider's manager appeals the rejection. -----------------------------------
    sign_in(page, live_server, "provider-manager")
    page.click("nav a:text-is('Claims in verification')")
    row = page.locator("tbody tr", has_text="CASE-3")
    assert "You can appeal until" in row.inner_text()
    journey.shot("provider-claims")
    row.locator("a").first.click()
    page.fill("textarea[name=grounds]", "The tenancy began on 3 June 2024; the agreement is "
                                        "dated when it was signed, a week later.")
    journey.check("appeal form")
    page.click("button:has-text('Lodge the appeal')")
    assert "Appeal lodged. A commissioner will decide it." in banner(page)
    journey.shot("appeal-lodged")
    sign_out(page)

    # --- 5. The commissioner dismisses the appeal, runs the period and approves the run. -----
    sign_in(page, live_server, "commissioner")
    page.click("nav a:text-is('Verification')")
    page.select_option("#id_status", "appealed")
    page.click("button:has-text('Apply filters')")
    row = page.locator("tbody tr", has_text="CASE-3")
    expect(row).to_have_count(1)  # waits for the filtered page (count() alone would not)
    journey.check("queue of appeals")
    row.locator(f"a:text-is('Claim {claim_ids['CASE-3']}')").click()
    page.check("input[name=upheld][value=no]")
    page.fill("form[action$='/decide-appeal/'] textarea[name=note]",
              "The agreement's start date is the date that counts under the terms.")
    journey.check("deciding the appeal")
    page.click("button:has-text('Record the decision')")
    assert "Appeal decided." in banner(page)
    appeal = page.locator("main").inner_text()
    assert "Dismissed: The agreement's start date is the date that counts" in appeal
    journey.shot("appeal-dismissed")

    page.click("nav a:text-is('Contracts')")
    page.click("a:text-is('JOURNEY-1')")
    page.click("text=Payments and statements")
    journey.check("payment runs")
    page.click(f"button:has-text('Run {PERIOD}')")
    page.wait_for_selector("text=Succeeded")
    journey.shot("payment-run")
    page.click("nav a:text-is('Contracts')")
    page.click("a:text-is('JOURNEY-1')")
    page.click("text=Payments and statements")
    page.click(f"a:text-is('{PERIOD}')")
    statement = page.locator("main").inner_text()
    assert "Total payable: £2,400.00" in statement
    # One £1,200 line for each verified claim; nothing for the claim whose rejection stood.
    paid = {int(n) for n in re.findall(r"Based on: C(\d+)", statement)}
    assert paid == {claim_ids["CASE-1"], claim_ids["CASE-2"]}
    journey.check("statement awaiting approval")
    page.click("button:has-text('Approve this statement')")
    assert f"{PERIOD} approved and locked" in banner(page)
    assert "Approved by Cara Commissioner" in page.locator("main").inner_text()
    journey.shot("run-approved")
    sign_out(page)

    # --- 6. The provider's manager downloads the PDF statement. -----------------------------
    sign_in(page, live_server, "provider-manager")
    page.click("nav a:text-is('Contracts')")
    page.click("a:text-is('JOURNEY-1')")
    page.click("text=Payments and statements")
    journey.check("provider's payment runs")
    page.click(f"a:text-is('{PERIOD}')")
    assert "Approved" in page.locator("main").inner_text()
    journey.shot("provider-statement")
    with page.expect_download() as download:
        page.click("a:text-is('Download as PDF')")
    pdf = download.value
    assert pdf.suggested_filename.endswith(".pdf")
    pdf.save_as(artifacts_dir() / f"journey-{journey.step + 1:02d}-statement.pdf")  # kept too
    with open(pdf.path(), "rb") as handle:
        body = handle.read()
    assert body.startswith(b"%PDF-")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(body)).pages)
    assert "JOURNEY-1" in text and PERIOD in text
    assert "£2,400.00" in text
    journey.assert_accessible()
