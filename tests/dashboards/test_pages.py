"""Dashboard pages: who sees what, tables with their charts' data, CSV and XLSX downloads, the
refresh with progress, and empty states."""

import csv
import datetime
import io
import re

import pytest
from openpyxl import load_workbook

from outcomes.models import Claim, ClaimStatus, Return
from pbr.dashboards.models import DashboardSnapshot
from pbr.dashboards.refresh import refresh_contract
from pbr.models import Job, JobStatus, Role

from .conftest import caseload, submitted_return

pytestmark = pytest.mark.django_db


@pytest.fixture
def figures(contract, world_a):
    ret = submitted_return(contract, world_a.provider)
    caseload(ret, "JSA_18_24", 30, 20, 10)
    caseload(ret, "ESA_EXIB", 30, 10, 2)
    Return.objects.filter(pk=ret.pk).update(status="late", marked_late_on=datetime.date(2012, 2, 29))
    refresh_contract(contract, with_forecast=False)
    return ret


def _download(client, url, kind, table):
    response = client.get(url, {"download": kind, "table": table})
    assert response.status_code == 200
    if kind == "csv":
        text = b"".join(response.streaming_content).decode()
        return list(csv.reader(io.StringIO(text)))
    book = load_workbook(io.BytesIO(response.content))
    return [[c.value for c in row] for row in book.active.iter_rows()], book.active


def test_programme_shows_each_contract_and_links_its_dashboard(client, contract, figures,
                                                               commissioner):
    client.force_login(commissioner)
    html = client.get("/dashboards/").content.decode()
    assert f'href="/dashboards/contracts/{contract.pk}/"' in html
    row = re.search(r'<th scope="row" class="govuk-table__header"><a class="govuk-link" '
                    rf'href="/dashboards/contracts/{contract.pk}/">.*?</tr>', html, re.S).group(0)
    # 60 attachments, 30 job entries and 12 job outcomes, none of them paid yet; all passed
    # their checks on a contract without a verification policy, so none awaits verification.
    assert 'data-value="0"' in row and ">1<" in row  # one late return
    assert "Figures as at" in html and "Work the figures out now" in html
    assert 'data-chart="bar"' in html  # results by financial year and liability are charted
    assert 'Late returns' in html and "Submitted late" in html


def test_charts_are_drawn_from_the_tables_by_a_script_file_only(client, contract, figures,
                                                                commissioner):
    client.force_login(commissioner)
    html = client.get(f"/dashboards/contracts/{contract.pk}/").content.decode()
    assert '<script defer src="/assets/chartjs/chart.umd.min.js"></script>' in html
    assert '<script defer src="/assets/js/charts.js"></script>' in html
    # No inline script without the response's CSP nonce, and no event handler (ADR 0016).
    assert not re.search(r"<script(?![^>]*\b(?:src|nonce)=)[^>]*>", html)
    assert not re.search(r"\son[a-z]+=", html)
    table = html.split('id="results_by_period"')[1].split("</table>")[0]
    assert 'data-series="bar"' in table
    assert re.search(r'<th scope="row" class="govuk-table__header">Jan 2012</th>'
                     r'<td class="govuk-table__cell govuk-table__cell--numeric" data-value="60">60</td>'
                     r'<td class="govuk-table__cell govuk-table__cell--numeric" data-value="30">30</td>'
                     r'<td class="govuk-table__cell govuk-table__cell--numeric" data-value="12">12</td>',
                     table), table


def test_every_table_downloads_as_csv_and_xlsx(client, contract, figures, commissioner):
    from contracts.models import Contract

    # A title starting with "=" must never become a formula in either format.
    Contract.objects.filter(pk=contract.pk).update(reference="=HYPERLINK(1)")
    refresh_contract(contract, with_forecast=False)
    client.force_login(commissioner)
    url = f"/dashboards/contracts/{contract.pk}/"
    html = client.get(url).content.decode()
    slugs = re.findall(r'href="\?download=csv&amp;table=([\w-]+)"', html)
    assert {"results_by_period", "results_by_year", "claims_by_status",
            "late_returns"} <= set(slugs)
    assert all(f"?download=xlsx&amp;table={s}" in html for s in slugs)
    for slug in slugs:
        rows = _download(client, url, "csv", slug)
        xlsx_rows, _sheet = _download(client, url, "xlsx", slug)
        assert len(rows) == len(xlsx_rows) > 1, slug
        assert rows[0] == xlsx_rows[0]
    results = _download(client, url, "csv", "results_by_period")
    assert results[0] == ["Period", "Attachment fee", "Job entry", "Job outcome", "Sustainment"]
    assert results[1] == ["Jan 2012", "60", "30", "12", "0"]
    late = _download(client, url, "csv", "late_returns")
    assert late[1][0] == "'=HYPERLINK(1)"
    xlsx, sheet = _download(client, url, "xlsx", "late_returns")
    assert xlsx[1][0] == "'=HYPERLINK(1)" and sheet.cell(row=2, column=1).data_type == "s"
    numbers, _sheet = _download(client, url, "xlsx", "results_by_period")
    assert numbers[1] == ["Jan 2012", 60, 30, 12, 0]
    # Programme tables download the same way.
    programme = _download(client, "/dashboards/", "csv", "contracts")
    assert programme[1][0] == "'=HYPERLINK(1)"


def test_only_commissioners_see_commissioner_dashboards(client, contract, figures, world_a,
                                                        world_b):
    for role in (Role.PROVIDER_USER, Role.PROVIDER_MANAGER, Role.AUDITOR):
        client.force_login(world_a.users[role])
        assert client.get("/dashboards/").status_code == 403
        assert client.get("/dashboards/equity/").status_code == 403
    # The auditor can find the contract but is not its commissioner.
    client.force_login(world_a.users[Role.AUDITOR])
    assert client.get(f"/dashboards/contracts/{contract.pk}/").status_code == 403
    # Another commissioner cannot find it, or see it on their programme.
    client.force_login(world_b.users[Role.COMMISSIONER])
    assert client.get(f"/dashboards/contracts/{contract.pk}/").status_code == 404
    assert client.get(f"/dashboards/contracts/{contract.pk}/equity/").status_code == 404
    assert contract.reference not in client.get("/dashboards/").content.decode()
    assert client.get("/dashboards/provider/").status_code == 403


def test_provider_dashboard(client, contract, figures, world_a, world_b):
    from outcomes.verification.models import ClaimQuery

    claim = Claim.objects.filter(return_record=figures, outcome="job_outcome").first()
    Claim.objects.filter(pk=claim.pk).update(status=ClaimStatus.QUERIED)
    ClaimQuery.objects.create(claim=claim, raised_by=world_a.users[Role.AUDITOR],
                              text="Send the payslip for week 26.", due_date=datetime.date(2012, 3, 1))
    refresh_contract(contract, with_forecast=True)
    client.force_login(world_a.users[Role.PROVIDER_USER])
    html = client.get("/dashboards/provider/").content.decode()
    assert "Send the payslip for week 26." in html
    assert f'href="/verification/claims/{claim.pk}/"' in html
    statuses = dict(row[:2] for row in _download(client, "/dashboards/provider/", "csv",
                                                 "claims_by_status")[1:])
    assert statuses == {"Checks passed": "101", "Query raised": "1"}
    income = _download(client, "/dashboards/provider/", "csv", "income")
    assert income[1][0] == contract.reference
    assert "Returns due" in html
    # Another provider sees none of it.
    client.force_login(world_b.users[Role.PROVIDER_USER])
    other = client.get("/dashboards/provider/").content.decode()
    assert "Send the payslip" not in other and contract.reference not in other
    assert "You have not submitted any claims yet" in other


def test_contract_without_figures_says_what_to_do(client, contract, commissioner):
    client.force_login(commissioner)
    html = client.get(f"/dashboards/contracts/{contract.pk}/").content.decode()
    assert "have not been worked out yet" in html and "Work the figures out now" in html
    programme = client.get("/dashboards/").content.decode()
    assert "Not worked out yet" in programme


def test_refresh_works_the_figures_out_with_progress(client, contract, figures, commissioner,
                                                     django_capture_on_commit_callbacks):
    DashboardSnapshot.objects.all().delete()
    client.force_login(commissioner)
    page = client.get("/dashboards/refresh/").content.decode()
    assert "Not yet" in page
    # Test settings run tasks in-process, once the request's transaction commits.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/dashboards/refresh/")
    job = Job.objects.get(name="Dashboard figures")
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.progress == 1
    assert job.message == "Worked out the figures for 1 contract."
    assert DashboardSnapshot.objects.filter(contract=contract).exists()


def test_navigation_and_home_pages_link_the_dashboards(client, world_a):
    client.force_login(world_a.users[Role.COMMISSIONER])
    home = client.get("/commissioner/").content.decode()
    assert 'href="/dashboards/"' in home and 'href="/dashboards/equity/"' in home
    client.force_login(world_a.users[Role.PROVIDER_USER])
    assert 'href="/dashboards/provider/"' in client.get("/provider/").content.decode()


def test_cached_tables_follow_the_figures(client, contract, figures, commissioner, world_a):
    client.force_login(commissioner)
    url = f"/dashboards/contracts/{contract.pk}/"
    assert 'data-value="60">60</td>' in client.get(url).content.decode()
    assert 'data-value="60">60</td>' in client.get(url).content.decode()  # from the cache
    caseload(figures, "JSA_18_24", 5, 0, 0, prefix="MORE")
    refresh_contract(contract, with_forecast=False)
    assert 'data-value="65">65</td>' in client.get(url).content.decode()
    # A commissioner with no contracts shares nothing with this one.
    other = world_a.users[Role.COMMISSIONER].__class__.objects.create(
        username="other-commissioner", role=Role.COMMISSIONER,
        organisation=world_a.audit_body.__class__.objects.create(
            name="Other Council", slug="other-council", kind="commissioning_body"))
    client.force_login(other)
    assert contract.reference not in client.get("/dashboards/").content.decode()
