"""Forecast and liability pages, CSV exports and API endpoints: who may open them, and that
they show the same figures the services compute."""

import pytest

from payments.engine import Facts
from payments.models import PaymentRun
from payments.services import approve_run
from pbr.models import Role
from pbr.services import issue_api_token
from tests.engine.test_case_c2 import facts as c2_facts
from tests.engine.test_case_c3 import participant_a
from tests.payments.statement_helpers import Scheme

pytestmark = pytest.mark.django_db


@pytest.fixture
def c2(world_a, monkeypatch):
    scheme = Scheme(world_a, "c2-southend.yaml", c2_facts())
    scheme.run_all(until="Q4 2011-12")
    approve_run(PaymentRun.objects.get(contract=scheme.contract, period_id="Q4 2011-12"),
                actor=world_a.users[Role.COMMISSIONER])
    # The pages read facts from the outcomes app; here the returns are the engine facts above.
    monkeypatch.setattr("payments.forecast.known_facts", lambda contract: c2_facts())
    return scheme.contract


def _csv(response):
    return b"".join(response.streaming_content).decode().splitlines()


def test_provider_sees_income_forecast_page_and_csv(client, world_a, c2):
    client.force_login(world_a.users[Role.PROVIDER_USER])
    page = client.get(f"/payments/contracts/{c2.pk}/forecast/").content.decode()
    assert "This is a forecast, not a statement" in page
    assert "assumed to be verified as submitted" in page
    assert "£9,666.67" in page and "Q4 2012-13" in page
    assert "£18,960.00 approved" in page
    rows = _csv(client.get(f"/payments/contracts/{c2.pk}/forecast.csv"))
    assert rows[0].startswith("contract,period,financial_year,start,end,payment_due,state,expected")
    assert len(rows) == 1 + 4  # Q1 to Q4 2012-13
    assert rows[-1].startswith("C2-SOUTHEND,Q4 2012-13,2012-13,2013-01-01,2013-03-31,")
    assert ",9666.67,0.00,9666.67," in rows[-1]


def test_commissioner_sees_liability_page_and_csv(client, world_a, c2):
    client.force_login(world_a.users[Role.COMMISSIONER])
    page = client.get(f"/payments/contracts/{c2.pk}/liability/").content.decode()
    assert "£18,960.00" in page and "£20,000.00" in page and "£1,040.00" in page
    rows = _csv(client.get(f"/payments/contracts/{c2.pk}/liability.csv"))
    assert rows[0] == ("contract,financial_year,approved,awaiting_approval,committed,"
                       "expected_further,maximum,headroom")
    assert rows[1] == "C2-SOUTHEND,2011-12,18960.00,0.00,18960.00,0.00,20000.00,1040.00"
    assert rows[2] == "C2-SOUTHEND,2012-13,0.00,0.00,0.00,9666.67,20000.00,20000.00"


def test_roles_without_the_permission_get_403(client, world_a, c2):
    client.force_login(world_a.users[Role.PROVIDER_MANAGER])
    assert client.get(f"/payments/contracts/{c2.pk}/liability/").status_code == 403
    assert client.get(f"/payments/contracts/{c2.pk}/liability.csv").status_code == 403
    # The commissioner may read the provider's forecast of its income.
    client.force_login(world_a.users[Role.COMMISSIONER])
    assert client.get(f"/payments/contracts/{c2.pk}/forecast/").status_code == 200


def test_another_organisation_gets_404(client, world_b, c2):
    for user in world_b.users.values():
        client.force_login(user)
        for suffix in ("forecast/", "forecast.csv", "liability/", "liability.csv"):
            assert client.get(f"/payments/contracts/{c2.pk}/{suffix}").status_code == 404


def test_forecast_list_offers_each_role_its_forecasts(client, world_a, world_b, c2):
    client.force_login(world_a.users[Role.PROVIDER_USER])
    page = client.get("/payments/forecasts/").content.decode()
    assert f"/payments/contracts/{c2.pk}/forecast/" in page
    assert f"/payments/contracts/{c2.pk}/liability/" not in page
    client.force_login(world_a.users[Role.COMMISSIONER])
    page = client.get("/payments/forecasts/").content.decode()
    assert f"/payments/contracts/{c2.pk}/liability/" in page
    client.force_login(world_b.users[Role.COMMISSIONER])
    page = client.get("/payments/forecasts/").content.decode()
    assert "C2-SOUTHEND" not in page and "no contracts to forecast yet" in page


def test_api_forecast_liability_and_subcontractor_ledger(client, world_a, world_b, c2):
    provider = world_a.users[Role.PROVIDER_MANAGER]
    _token, key = issue_api_token(actor=provider, organisation=world_a.provider, name="finance")
    auth = {"HTTP_AUTHORIZATION": f"Token {key}"}
    data = client.get(f"/api/v1/contracts/{c2.pk}/income-forecast/", **auth).json()
    assert data["forecast"] is True and data["total"] == "9666.67"
    assert data["years"] == [{"financial_year": "2012-13", "expected": "9666.67",
                              "from_pipeline": "0.00"}]
    assert client.get(f"/api/v1/contracts/{c2.pk}/liability/", **auth).status_code == 403

    client.force_login(world_a.users[Role.COMMISSIONER])
    data = client.get(f"/api/v1/contracts/{c2.pk}/liability/").json()
    assert data["years"][0] == {
        "financial_year": "2011-12", "approved": "18960.00", "awaiting_approval": "0.00",
        "committed": "18960.00", "expected_further": "0.00", "maximum": "20000.00",
        "headroom": "1040.00"}
    assert data["total"]["maximum"] == "40000.00"

    client.force_login(world_b.users[Role.COMMISSIONER])
    for suffix in ("income-forecast/", "liability/", "subcontractor-ledger/"):
        assert client.get(f"/api/v1/contracts/{c2.pk}/{suffix}").status_code == 404


def test_api_subcontractor_ledger_and_statement_pdf(client, world_a):
    scheme = Scheme(world_a, "c3-work-programme.yaml", Facts(claims=tuple(participant_a())))
    scheme.run_all(until="Mar 2012")
    client.force_login(world_a.users[Role.PROVIDER_USER])
    data = client.get(f"/api/v1/contracts/{scheme.contract.pk}/subcontractor-ledger/").json()
    north = data["subcontractors"][0]
    assert (north["subcontractor"], north["total"]) == ("T1-NORTH", "1360.00")
    assert [line["running_total"] for line in north["lines"]] == ["340.00", "1360.00"]
    run = PaymentRun.objects.get(contract=scheme.contract, period_id="Mar 2012")
    response = client.get(f"/api/v1/payment-runs/{run.pk}/statement-pdf/",
                          HTTP_ACCEPT="application/pdf")
    assert response.status_code == 200 and response.content.startswith(b"%PDF-")
    assert "DRAFT" in response["Content-Disposition"]
    # ?status=approved is documented, so the API fuzz (tests/api) sends it too.
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    ledger = schema["paths"]["/api/v1/contracts/{contract_pk}/subcontractor-ledger/"]["get"]
    assert [p["name"] for p in ledger["parameters"] if p["in"] == "query"] == ["status"]


def test_a_contract_with_no_published_terms_has_nothing_to_forecast(client, world_a):
    from contracts.definition import load_document
    from contracts.services import import_contract
    from tests.payments.statement_helpers import EXAMPLES

    draft = import_contract(load_document(EXAMPLES / "c2-southend.yaml"),
                            commissioner=world_a.commissioning_body,
                            links={"EFS": world_a.provider})
    client.force_login(world_a.users[Role.COMMISSIONER])
    for suffix in ("forecast/", "liability/"):
        response = client.get(f"/payments/contracts/{draft.pk}/{suffix}")
        assert response.status_code == 200
        assert "no published terms yet" in response.content.decode()
    page = client.get(f"/payments/contracts/{draft.pk}/").content.decode()
    assert "No payments have been calculated yet" in page


def test_forecast_list_query_budget(client, world_a, django_assert_max_num_queries):
    from contracts.definition import load_document
    from contracts.services import import_contract
    from tests.payments.statement_helpers import EXAMPLES

    document = load_document(EXAMPLES / "c2-southend.yaml")
    for n in range(12):
        document["reference"] = f"C2-COPY-{n}"
        import_contract(document, commissioner=world_a.commissioning_body,
                        links={"EFS": world_a.provider}, publish=True)
    for role in (Role.PROVIDER_USER, Role.COMMISSIONER):
        client.force_login(world_a.users[role])
        with django_assert_max_num_queries(8):
            page = client.get("/payments/forecasts/").content.decode()
        assert page.count("/forecast/") + page.count("/liability/") >= 12
