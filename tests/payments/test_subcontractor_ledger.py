"""Per-subcontractor ledger: each subcontractor's flow-down lines across periods with a running
total, CSV export, and a subcontractor sees only its own lines."""

from decimal import Decimal as D

import pytest

from payments.engine import Facts
from payments.models import PaymentRun
from payments.services import approve_run
from payments.subcontractors import subcontractor_ledgers
from pbr.models import OrganisationKind, Role
from tests.engine.test_case_c3 import participant_a
from tests.factories import OrganisationFactory, UserFactory
from tests.payments.statement_helpers import runner_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def c3(world_a):
    runner = runner_for(world_a, "c3-work-programme.yaml", Facts(claims=tuple(participant_a())))
    runner.run_all(until="Jun 2012")
    return runner.contract


def subcontractor_user(contract, code, name):
    org = OrganisationFactory(name=name, kind=OrganisationKind.PROVIDER)
    party = contract.parties.get(role="subcontractor", code=code)
    party.organisation = org
    party.save()
    return UserFactory(username=f"{code.lower()}-manager", role=Role.PROVIDER_MANAGER,
                       organisation=org)


def test_running_total_across_periods_net_of_the_management_fee(c3):
    north = subcontractor_ledgers(c3)["T1-NORTH"]
    # Attachment £400 (Jul 2011), job outcome £1,200 (Mar 2012), sustainments £170 on 2 and
    # 30 Apr, 28 May and 25 Jun 2012; each less the prime's 15% fee.
    assert [(r.period, r.amount, r.running_total) for r in north.rows] == [
        ("Jul 2011", D("340.00"), D("340.00")),
        ("Mar 2012", D("1020.00"), D("1360.00")),
        ("Apr 2012", D("144.50"), D("1504.50")),
        ("Apr 2012", D("144.50"), D("1649.00")),
        ("May 2012", D("144.50"), D("1793.50")),
        ("Jun 2012", D("144.50"), D("1938.00")),
    ]
    assert (north.outcome_payments, north.management_fee, north.deductions) == (
        D("2280.00"), D("342.00"), D("0.00"))
    assert north.total == north.awaiting_approval == D("1938.00")
    assert north.rows[1].prime_line_id == PaymentRun.objects.get(
        contract=c3, period_id="Mar 2012").lines.get(key="tariff:job_outcome:A").pk
    assert subcontractor_ledgers(c3)["T1-SOUTH"].rows == []


def test_page_and_csv_for_the_prime(client, world_a, c3):
    client.force_login(world_a.users[Role.PROVIDER_USER])
    page = client.get(f"/payments/contracts/{c3.pk}/subcontractors/").content.decode()
    assert "Northern Employment Trust" in page and "Southern Skills CIC" in page
    assert "£1,938.00" in page and "£1,020.00" in page
    south = client.get(f"/payments/contracts/{c3.pk}/subcontractors/?subcontractor=T1-SOUTH")
    assert "Nothing has flowed down to Southern Skills CIC yet" in south.content.decode()
    csv = b"".join(client.get(f"/payments/contracts/{c3.pk}/subcontractors.csv")
                   .streaming_content).decode().splitlines()
    assert csv[0].startswith("contract,subcontractor,name,period,run_status")
    assert len(csv) == 7
    assert csv[-1].startswith("C3-WORK-PROGRAMME,T1-NORTH,Northern Employment Trust,Jun 2012,"
                              "draft,")
    assert ",144.50,1938.00," in csv[-1]


def test_approved_only_filter(client, world_a, c3):
    approve_run(PaymentRun.objects.get(contract=c3, period_id="Jul 2011"),
                actor=world_a.users[Role.COMMISSIONER])
    north = subcontractor_ledgers(c3, approved_only=True)["T1-NORTH"]
    assert [(r.period, r.running_total) for r in north.rows] == [("Jul 2011", D("340.00"))]
    client.force_login(world_a.users[Role.COMMISSIONER])
    csv = b"".join(client.get(f"/payments/contracts/{c3.pk}/subcontractors.csv?status=approved")
                   .streaming_content).decode().splitlines()
    assert len(csv) == 2 and ",approved," in csv[1]


def test_a_subcontractor_sees_only_its_own_lines(client, c3):
    south_user = subcontractor_user(c3, "T1-SOUTH", "Southern Skills CIC")
    client.force_login(south_user)
    page = client.get(f"/payments/contracts/{c3.pk}/subcontractors/").content.decode()
    assert "Southern Skills CIC" in page and "Northern Employment Trust" not in page
    refused = client.get(f"/payments/contracts/{c3.pk}/subcontractors/?subcontractor=T1-NORTH")
    assert refused.status_code == 200
    body = refused.content.decode()
    assert "Choose a subcontractor from the list" in body and "£1,020.00" not in body
    csv = b"".join(client.get(f"/payments/contracts/{c3.pk}/subcontractors.csv?subcontractor="
                              "T1-NORTH").streaming_content).decode().splitlines()
    assert csv[1:] == []  # its own ledger has no lines; another's is never exported

    north_user = subcontractor_user(c3, "T1-NORTH", "Northern Employment Trust")
    client.force_login(north_user)
    csv = b"".join(client.get(f"/payments/contracts/{c3.pk}/subcontractors.csv")
                   .streaming_content).decode().splitlines()
    assert len(csv) == 7 and all(",T1-NORTH," in row for row in csv[1:])


def test_contract_without_subcontractors_says_so(client, world_a):
    from tests.engine.test_case_c2 import facts

    runner = runner_for(world_a, "c2-southend.yaml", facts())
    client.force_login(world_a.users[Role.COMMISSIONER])
    page = client.get(f"/payments/contracts/{runner.contract.pk}/subcontractors/").content.decode()
    assert "name no subcontractors you can see" in page


def test_another_organisation_gets_404(client, world_b, c3):
    for user in world_b.users.values():
        client.force_login(user)
        assert client.get(f"/payments/contracts/{c3.pk}/subcontractors/").status_code == 404
        assert client.get(f"/payments/contracts/{c3.pk}/subcontractors.csv").status_code == 404
