"""The claim list across returns: filters, pagination, and CSV/XLSX exports safe against formula
injection."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from outcomes.models import Claim
from outcomes.services import add_rows, amend_return, start_return, submit_return
from pbr.models import Role
from tests.outcomes.factories import bulk_claims

from .conftest import c3_document, make_contract, row

pytestmark = pytest.mark.django_db


def listed(response):
    return [(c.participant.provider_reference, c.outcome, c.return_record.version)
            for c in response.context["page"].object_list]


def csv_rows(response):
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def claims(draft, provider_user):
    add_rows(draft, [(2, row()),
                     (3, row(outcome="job_outcome", achieved="2012-01-10", started="2011-07-01")),
                     (4, row(participant_ref="CASE-2", ni_number="AB123457C",
                             start_date="2012-02-01", achieved="2012-02-01"))],
             actor=provider_user)
    submit_return(draft, actor=provider_user)
    return draft


def test_claims_of_every_return_are_listed_with_links(client, provider_user, claims):
    client.force_login(provider_user)
    response = client.get("/returns/claims/")
    page = response.content.decode()
    assert sorted(listed(response)) == [("CASE-1", "attachment", 1), ("CASE-1", "job_outcome", 1),
                                        ("CASE-2", "attachment", 1)]
    claim = Claim.objects.get(outcome="job_outcome")
    assert f'href="/returns/claims/{claim.pk}/">job_outcome</a>' in page
    assert f'href="/returns/participants/{claim.participant_id}/">CASE-1</a>' in page
    assert f'href="/returns/{claims.pk}/">Jun 2013 v1</a>' in page
    assert "Failed checks" in page and "Checks passed" in page


@pytest.mark.parametrize(("query", "expected"), [
    ("status=failed", [("CASE-1", "job_outcome", 1)]),
    ("outcome=job", [("CASE-1", "job_outcome", 1)]),
    ("participant=case-2", [("CASE-2", "attachment", 1)]),
    ("period=jun 2013&status=passed", [("CASE-1", "attachment", 1), ("CASE-2", "attachment", 1)]),
    ("period=Jul 2013", [("OTHER-0000", "attachment", 1)]),
    ("contract=OTHER", [("OTHER-0000", "attachment", 1)]),
])
def test_filters(client, world_a, provider_user, claims, query, expected):
    other = make_contract(world_a, c3_document(), reference="OTHER")
    bulk_claims(start_return(other, "Jul 2013", actor=provider_user), 1, prefix="OTHER")
    client.force_login(provider_user)
    response = client.get(f"/returns/claims/?{query}")
    assert sorted(listed(response)) == expected
    exported = csv_rows(client.get(f"/returns/claims/export.csv?{query}"))
    assert sorted((r["participant_ref"], r["outcome"], int(r["return_version"]))
                  for r in exported) == expected


def test_versions_replaced_by_an_amendment_are_left_out_unless_asked_for(client, provider_user,
                                                                        claims):
    amend_return(claims, actor=provider_user, reason="Correct a date")
    client.force_login(provider_user)
    assert {v for _p, _o, v in listed(client.get("/returns/claims/"))} == {2}
    every = listed(client.get("/returns/claims/?all_versions=on"))
    assert len(every) == 6 and {v for _p, _o, v in every} == {1, 2}
    assert len(csv_rows(client.get("/returns/claims/export.csv?all_versions=on"))) == 6
    assert len(csv_rows(client.get("/returns/claims/export.csv"))) == 3


def test_pagination(client, draft, provider_user):
    bulk_claims(draft, 51)
    client.force_login(provider_user)
    first = client.get("/returns/claims/?outcome=attachment")
    assert len(first.context["page"].object_list) == 50
    page = first.content.decode()
    assert "Showing 1 to 50 of 51" in page and "outcome=attachment&amp;page=2" in page
    second = client.get("/returns/claims/?outcome=attachment&page=2")
    assert listed(second) == [("CASE-0050", "attachment", 1)]


def test_only_claims_the_user_may_see(client, world_a, world_b, claims):
    client.force_login(world_b.users[Role.PROVIDER_MANAGER])
    assert listed(client.get("/returns/claims/")) == []
    assert csv_rows(client.get("/returns/claims/export.csv")) == []
    client.force_login(world_a.users[Role.COMMISSIONER])
    response = client.get("/returns/claims/")
    assert len(listed(response)) == 3 and world_a.provider.name in response.content.decode()
    client.force_login(world_a.users[Role.AUDITOR])
    assert len(listed(client.get("/returns/claims/"))) == 3


def test_empty_states(client, provider_user, c3):
    client.force_login(provider_user)
    assert "You have not made any claims yet" in client.get("/returns/claims/").content.decode()
    assert "No claims match these filters" in client.get(
        "/returns/claims/?outcome=zzz").content.decode()


def test_csv_export_columns_and_formula_injection(client, provider_user, claims):
    Claim.objects.filter(outcome="attachment", participant__provider_reference="CASE-2").update(
        subcontractor="=cmd|' /C calc'!A0", grade="@SUM(1)", value=Decimal("-3.50"))
    client.force_login(provider_user)
    response = client.get("/returns/claims/export.csv?participant=CASE-2")
    assert response["Content-Disposition"].startswith('attachment; filename="claims-')
    [exported] = csv_rows(response)
    assert exported["subcontractor"] == "'=cmd|' /C calc'!A0"
    assert exported["grade"] == "'@SUM(1)"
    assert exported["value"] == "-3.50"  # a negative number is data, not a formula
    assert exported["contract"] == "C3-WORK-PROGRAMME" and exported["period"] == "Jun 2013"
    assert exported["achieved"] == "2012-02-01" and exported["status"] == "Checks passed"
    assert exported["pseudonym"].startswith("P") and exported["segment"] == "JSA_18_24"
    failed = csv_rows(client.get("/returns/claims/export.csv?status=failed"))[0]
    assert "off_benefit_check" in failed["checks_not_passed"]


def test_xlsx_export_is_typed_and_never_holds_a_formula(client, provider_user, claims):
    Claim.objects.filter(participant__provider_reference="CASE-2").update(
        subcontractor='=HYPERLINK("http://evil","x")', value=Decimal("2.50"))
    client.force_login(provider_user)
    response = client.get("/returns/claims/export.xlsx?participant=CASE-2")
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = workbook["Claims"]
    header = [c.value for c in sheet[1]]
    values = dict(zip(header, sheet[2], strict=True))
    assert values["subcontractor"].value == "'=HYPERLINK(\"http://evil\",\"x\")"
    assert values["subcontractor"].data_type == "s"
    assert values["achieved"].value == datetime.datetime(2012, 2, 1)  # a real date cell
    assert values["value"].value == 2.5 and values["row"].value == 4
    assert not any(cell.data_type == "f" for r in sheet.iter_rows() for cell in r)
    assert sheet.max_row == 2


def test_return_page_keeps_its_own_claim_filters(client, provider_user, claims):
    client.force_login(provider_user)
    response = client.get(f"/returns/{claims.pk}/?status=failed")
    assert [c.outcome for c in response.context["page"].object_list] == ["job_outcome"]


def test_every_role_finds_returns_in_the_service_navigation(client, world_a):
    for user in world_a.users.values():
        client.force_login(user)
        page = client.get("/returns/claims/").content.decode()
        assert ('<a class="govuk-service-navigation__link" href="/returns/" '
                'aria-current="page">Returns</a>') in page
