"""Each dashboard in a real browser: the commissioner's programme and contract dashboards and
the equity view (one segment parked), and the provider's dashboard. Charts are drawn by
static/js/charts.js from the tables, which stay on the page; a screenshot of each is kept."""

import datetime

import pytest

from tests.e2e.helpers import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def programme(db):
    """C3 for Northshire with Pathway as prime: a month paid and approved, an ESA caseload left
    without activity (parked), a late return and an open query to Pathway."""
    from contracts.definition import load_document
    from contracts.services import import_contract
    from outcomes.models import Claim, ClaimStatus, Return
    from outcomes.verification.models import ClaimQuery
    from payments.services import approve_run, run_period
    from pbr.dashboards.refresh import refresh_contract
    from pbr.demo import seed_people
    from pbr.models import User
    from tests.dashboards.conftest import caseload, submitted_return
    from tests.outcomes.conftest import EXAMPLES

    orgs, _users = seed_people()
    users = {u.username: u for u in User.objects.all()}
    contract = import_contract(load_document(EXAMPLES / "c3-work-programme.yaml"),
                               commissioner=orgs["northshire-council"],
                               links={"PRIME": orgs["pathway-housing"]},
                               auditor=orgs["clearview-assurance"], publish=True)
    ret = submitted_return(contract, orgs["pathway-housing"])
    caseload(ret, "JSA_18_24", 120, 84, 48, {"T1-NORTH": 60, "T1-SOUTH": 60})
    caseload(ret, "ESA_EXIB", 120, 14, 4, {"T1-NORTH": 60, "T1-SOUTH": 60})
    run, _lines = run_period(contract, "Jan 2012")
    approve_run(run, actor=users["commissioner"])
    late = submitted_return(contract, orgs["pathway-housing"], "Feb 2012")
    Return.objects.filter(pk=late.pk).update(status="late",
                                             marked_late_on=datetime.date(2012, 3, 31))
    claim = Claim.objects.filter(return_record=ret, outcome="job_entry").first()
    Claim.objects.filter(pk=claim.pk).update(status=ClaimStatus.QUERIED)
    ClaimQuery.objects.create(claim=claim, raised_by=users["auditor"],
                              text="Please send the employer's confirmation of the start date.",
                              due_date=datetime.date(2012, 3, 15))
    refresh_contract(contract, with_forecast=True)
    return contract


def charts_drawn(page):
    page.wait_for_selector("table[data-chart-drawn] ", state="attached")
    return page.locator("figure.pbr-chart canvas").count()


def test_commissioner_dashboards(live_server, page, screenshot, programme):
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, live_server, "commissioner")
    page.click("nav a:text-is('Dashboards')")
    assert page.locator("h1").inner_text() == "Programme dashboard"
    assert charts_drawn(page) >= 2  # liability and results by year
    row = page.locator("#contracts tbody tr", has_text=programme.reference)
    assert "£" in row.inner_text()
    assert page.locator("#late_returns tbody tr").count() == 1
    screenshot("dashboard-programme")

    row.locator("a").click()
    assert page.locator("h1").inner_text() == programme.title
    assert charts_drawn(page) >= 3  # results by period, payments, liability, claims by status
    # The table under each chart is still there, with the figures the chart was drawn from.
    assert page.locator("#results_by_period tbody tr").first.inner_text().startswith("Jan 2012")
    assert page.locator("#key-figures").inner_text().count("£") >= 3
    screenshot("dashboard-contract")

    page.click("a:text-is('Equity view for this contract')")
    assert page.locator("h1").inner_text().startswith("Equity")
    flags = page.locator("#equity_flags tbody tr")
    assert flags.count() == 1 and "Possible parking" in flags.first.inner_text()
    assert "ESA ex-incapacity benefit" in flags.first.inner_text()
    assert "less than 50% of the rate" in page.locator("#flag-rules").inner_text()
    assert charts_drawn(page) >= 1
    screenshot("dashboard-equity")
    assert errors == []


def test_provider_dashboard(live_server, page, screenshot, programme):
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, live_server, "provider-manager")
    page.click("nav a:text-is('Dashboard')")
    assert page.locator("h1").inner_text() == "Provider dashboard"
    queries = page.locator("#queries tbody tr")
    assert queries.count() == 1
    assert "employer's confirmation" in queries.first.inner_text()
    assert page.locator("#claims_by_status tbody tr").count() == 2  # passed, queried
    assert page.locator("#income tbody tr", has_text=programme.reference).count() == 1
    assert charts_drawn(page) >= 1
    screenshot("dashboard-provider")
    assert errors == []


def test_tables_stand_alone_without_javascript(live_server, browser, programme):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, live_server, "commissioner")
        page.goto(f"{live_server.url}/dashboards/contracts/{programme.pk}/")
        assert page.locator("figure.pbr-chart").count() == 0
        assert page.locator("#results_by_period tbody tr").count() == 1
        assert page.locator("a:text-is('CSV')").count() >= 5
    finally:
        context.close()
