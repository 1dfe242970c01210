"""A provider submits a return in the browser: starts it, uploads an evidence file and a claims
CSV (through the upload script and the background check), reads the check results and a claim
page, and submits."""

import re
from pathlib import Path

import pytest

from tests.e2e.helpers import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "contracts"
HEADER = ("participant_ref,ni_number,date_of_birth,segment,start_date,outcome,achieved,started,"
          "evidence")


@pytest.fixture
def c3_for_pathway(db):
    from contracts.definition import load_document
    from contracts.services import import_contract
    from pbr.demo import seed_people

    orgs, _users = seed_people()
    return import_contract(load_document(EXAMPLES / "c3-work-programme.yaml"),
                           commissioner=orgs["northshire-council"],
                           links={"PRIME": orgs["pathway-housing"]},
                           auditor=orgs["clearview-assurance"], publish=True)


def test_provider_starts_uploads_checks_and_submits_a_return(live_server, page, screenshot,
                                                            c3_for_pathway, settings):
    # A file over 250 bytes counts as large here, so the full upload goes through the background
    # check (run in-process: there is no broker in tests) and the short bad one is checked at once.
    settings.PBR_UPLOAD_BACKGROUND_BYTES = 250
    sign_in(page, live_server, "provider-user")
    page.click("main a:text-is('Returns')")
    page.click("text=Start a return")
    page.select_option("#id_contract", str(c3_for_pathway.pk))
    page.fill("#id_period_id", "Jun 2013")
    page.click("button:has-text('Start the return')")
    assert "Jun 2013 return, version 1" in page.locator("h1").inner_text()
    return_url = page.url
    screenshot("return-started")

    # Evidence first: one file can support many claims.
    page.goto(f"{live_server.url}/returns/evidence/")
    page.set_input_files("#id_file", files=[{
        "name": "off-benefit-check.txt", "mimeType": "text/plain",
        "buffer": b"DWP off-benefit check for CASE-1: off benefit from 10 January 2012.\n"}])
    page.fill("#id_evidence_type", "off_benefit_check")
    page.click("button:has-text('Upload')")
    banner = page.locator(".govuk-notification-banner").inner_text()
    evidence_number = re.search(r"evidence file (E\d+)", banner).group(1)
    screenshot("evidence-uploaded")

    page.goto(return_url)
    page.click("text=Upload a file")
    # A bad file first: the upload script sends it, and shows the refusal in place of the form.
    bad = f"{HEADER}\nCASE-1,AB123456C,1990-05-01,JSA_18_24,2011-06-15,attachment,2011-02-30,,\n"
    page.set_input_files("#id_file", files=[{"name": "bad.csv", "mimeType": "text/csv",
                                              "buffer": bad.encode()}])
    with page.expect_request(lambda r: r.method == "POST"
                             and r.headers.get("x-requested-with") == "XMLHttpRequest"):
        page.click("button:has-text('Upload and check')")
    summary = page.locator(".govuk-error-summary")
    summary.wait_for()
    assert "1 problem found. Nothing has been saved." in summary.inner_text()
    assert "achieved" in summary.inner_text()
    screenshot("return-upload-refused")
    content = "\n".join([
        HEADER,
        "CASE-1,AB123456C,1990-05-01,JSA_18_24,2011-06-15,attachment,2011-06-15,,",
        f"CASE-1,,,,,job_outcome,2012-01-10,2011-07-01,{evidence_number}",
        "CASE-2,AB123457C,1988-02-03,JSA_18_24,2011-08-01,attachment,2011-08-01,,",
        "CASE-2,,,,,job_outcome,2012-03-01,2011-08-20,",
    ]) + "\n"
    page.set_input_files("#id_file", files=[{"name": "june.csv", "mimeType": "text/csv",
                                              "buffer": content.encode()}])
    page.click("button:has-text('Upload and check')")
    page.wait_for_url(re.compile(r".*/returns/uploads/\d+/$"))
    page.wait_for_selector("text=File saved")
    assert "4 claim rows added" in page.locator("main").inner_text()
    screenshot("return-upload-checked")

    page.click("text=Go to the return")
    assert page.locator("tbody tr").count() == 4
    page.click("button:has-text('Submit the return')")
    banner = page.locator(".govuk-notification-banner").inner_text()
    assert "Return submitted (submitted late)" in banner
    assert "1 claim did not pass the automatic checks" in banner
    claims = page.locator("table.govuk-table >> nth=0").inner_text()
    assert claims.count("Checks passed") == 3 and claims.count("Failed checks") == 1
    screenshot("return-submitted-with-check-results")

    page.click("a:has-text('job_outcome') >> nth=1")
    claim_page = page.locator("main").inner_text()
    assert "job_outcome for CASE-2" in claim_page
    assert "Attach evidence of type off_benefit_check." in claim_page
    screenshot("claim-failed-check")
    page.go_back()
    page.click("a:has-text('job_outcome') >> nth=0")
    claim_page = page.locator("main").inner_text()
    assert "job_outcome for CASE-1" in claim_page
    assert "Required evidence attached: off_benefit_check." in claim_page
    assert f"{evidence_number} off-benefit-check.txt" in claim_page
    screenshot("claim-with-evidence")

    page.click("main >> a:has-text('CASE-1')")
    assert "Participant CASE-1" in page.locator("h1").inner_text()
    screenshot("participant-page")
