"""The pages under the national-scale speed target ask the database at most 20 times, and as
often for 50 rows as for 5 (docs/performance.md, "Dashboards")."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from outcomes.models import Claim, ClaimStatus, Return, ReturnStatus
from pbr.dashboards.models import DashboardSnapshot
from pbr.dashboards.refresh import refresh_contract
from pbr.models import Role

from .conftest import caseload, submitted_return

pytestmark = pytest.mark.django_db
BUDGET = 20


def count_queries(client, url, params=None):
    """Queries for one request with nothing cached: the dashboards cache their rendered tables
    per set of figures, and the budget is for the first person to open the page."""
    from django.core.cache import cache

    cache.clear()
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200, (url, response.status_code)
    return len(ctx.captured_queries)


def more_contracts(world, template, n):
    """n more contracts of the same commissioner, each with the template's figures and a late
    return, made directly: the budget is about rows, not about how they were made."""
    from contracts.models import Contract, ContractParty, PartyRole

    snap = DashboardSnapshot.objects.get(contract=template)
    for i in range(n):
        contract = Contract.objects.create(
            reference=f"EXTRA-{Contract.objects.count():03d}", title=f"Extra contract {i}",
            commissioner=world.commissioning_body, status="live", start=template.start,
            end=template.end, annual_value=template.annual_value)
        ContractParty.objects.create(contract=contract, role=PartyRole.PRIME, name="Prime",
                                     code="PRIME", organisation=world.provider)
        DashboardSnapshot.objects.create(contract=contract, computed_at=snap.computed_at,
                                         forecast_computed_at=snap.forecast_computed_at,
                                         summary=snap.summary, detail=snap.detail)
        Return.objects.create(contract=contract, provider=world.provider, period_id="Jan 2012",
                              period_start=datetime.date(2012, 1, 1),
                              period_end=datetime.date(2012, 1, 31),
                              due_date=datetime.date(2012, 2, 28), status=ReturnStatus.DRAFT,
                              marked_late_on=datetime.date(2012, 2, 29))


@pytest.fixture
def programme(contract, world_a):
    ret = submitted_return(contract, world_a.provider)
    caseload(ret, "JSA_18_24", 20, 10, 5)
    caseload(ret, "ESA_EXIB", 20, 4, 1)
    refresh_contract(contract, with_forecast=True)
    return contract


@pytest.mark.parametrize("url", ["/dashboards/", "/dashboards/equity/"])
def test_commissioner_programme_pages(client, programme, world_a, url,
                                      django_assert_max_num_queries):
    client.force_login(world_a.users[Role.COMMISSIONER])
    more_contracts(world_a, programme, 4)
    five = count_queries(client, url)
    more_contracts(world_a, programme, 45)
    with django_assert_max_num_queries(BUDGET):
        fifty = count_queries(client, url)
    assert five == fifty


def test_contract_dashboard(client, programme, world_a, django_assert_max_num_queries):
    client.force_login(world_a.users[Role.COMMISSIONER])
    url = f"/dashboards/contracts/{programme.pk}/"
    five = count_queries(client, url)
    late = [Return(contract=programme, provider=world_a.provider, period_id=f"P{i}",
                   period_start=datetime.date(2012, 1, 1), period_end=datetime.date(2012, 1, 31),
                   due_date=datetime.date(2012, 2, 28), status=ReturnStatus.LATE,
                   marked_late_on=datetime.date(2012, 2, 29)) for i in range(50)]
    Return.objects.bulk_create(late)
    with django_assert_max_num_queries(BUDGET):
        fifty = count_queries(client, url)
    assert five == fifty


def test_provider_dashboard(client, programme, world_a, django_assert_max_num_queries):
    from outcomes.verification.models import ClaimQuery

    auditor = world_a.users[Role.AUDITOR]

    def queried(n):
        claims = list(Claim.objects.filter(status=ClaimStatus.PASSED).order_by("pk")[:n])
        Claim.objects.filter(pk__in=[c.pk for c in claims]).update(status=ClaimStatus.QUERIED)
        ClaimQuery.objects.bulk_create([ClaimQuery(
            claim=c, raised_by=auditor, text="Send the payslip.",
            due_date=datetime.date(2012, 3, 1)) for c in claims])

    client.force_login(world_a.users[Role.PROVIDER_USER])
    more_contracts(world_a, programme, 4)
    queried(5)
    five = count_queries(client, "/dashboards/provider/")
    more_contracts(world_a, programme, 45)
    queried(45)
    with django_assert_max_num_queries(BUDGET):
        fifty = count_queries(client, "/dashboards/provider/")
    assert five == fifty


def test_providers_filtered_claim_list(client, contract, world_a, django_assert_max_num_queries):
    client.force_login(world_a.users[Role.PROVIDER_USER])
    ret = submitted_return(contract, world_a.provider)
    params = {"contract": contract.reference, "status": "passed", "outcome": "attachment"}
    caseload(ret, "JSA_18_24", 5, 0, 0, prefix="A")
    five = count_queries(client, "/returns/claims/", params)
    caseload(ret, "JSA_18_24", 45, 0, 0, prefix="B")
    with django_assert_max_num_queries(BUDGET):
        fifty = count_queries(client, "/returns/claims/", params)
    assert five == fifty


def test_auditor_queue(client, contract, world_a, django_assert_max_num_queries):
    client.force_login(world_a.users[Role.AUDITOR])
    ret = submitted_return(contract, world_a.provider)
    caseload(ret, "JSA_18_24", 5, 0, 0, prefix="A", status=ClaimStatus.SAMPLED)
    five = count_queries(client, "/verification/")
    caseload(ret, "JSA_18_24", 45, 0, 0, prefix="B", status=ClaimStatus.SAMPLED)
    with django_assert_max_num_queries(BUDGET):
        fifty = count_queries(client, "/verification/")
    assert five == fifty


def test_auditor_queue_with_many_contracts(client, contract, world_a,
                                           django_assert_max_num_queries):
    from contracts.models import ContractParty, PartyRole

    client.force_login(world_a.users[Role.AUDITOR])
    ret = submitted_return(contract, world_a.provider)
    caseload(ret, "JSA_18_24", 5, 0, 0, status=ClaimStatus.SAMPLED)
    refresh_contract(contract, with_forecast=False)

    def audited(n):
        more_contracts(world_a, contract, n)
        for extra in type(contract).objects.exclude(parties__role=PartyRole.AUDITOR):
            ContractParty.objects.create(contract=extra, role=PartyRole.AUDITOR, name="Audit",
                                         organisation=world_a.audit_body)

    audited(4)
    five = count_queries(client, "/verification/")
    audited(45)
    fifty = count_queries(client, "/verification/")
    assert five == fifty <= BUDGET
