"""The half-hourly refresh does not work out again a contract whose figures' inputs have not
changed since its snapshot (ADR 0020): the facts version (ADR 0021), the ledger, approvals and
parties. Anything that changes a figure is one of those."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from outcomes.models import Claim, ClaimStatus, Participant
from pbr.dashboards import refresh
from pbr.dashboards.models import DashboardSnapshot

from .conftest import caseload, submitted_return

pytestmark = pytest.mark.django_db


@pytest.fixture
def builds(monkeypatch):
    """How many times a contract's figures were worked out."""
    calls = []
    build = refresh.build

    def counted(contract, **kwargs):
        calls.append(contract.reference)
        return build(contract, **kwargs)

    monkeypatch.setattr(refresh, "build", counted)
    return calls


@pytest.fixture
def worked_out(contract, world_a, builds):
    ret = submitted_return(contract, world_a.provider)
    caseload(ret, "JSA_18_24", 10, 4, 2)
    refresh.refresh_contract(contract, with_forecast=False)
    assert builds == [contract.reference]
    return ret


def _earlier(contract):
    """Pretend the figures were worked out an hour ago."""
    snap = DashboardSnapshot.objects.get(contract=contract)
    DashboardSnapshot.objects.filter(pk=snap.pk).update(
        computed_at=snap.computed_at - datetime.timedelta(hours=1))
    return DashboardSnapshot.objects.get(pk=snap.pk)


def test_an_unchanged_contract_is_not_worked_out_again(contract, worked_out, builds):
    before = _earlier(contract)
    again = refresh.refresh_contract(contract, with_forecast=False)
    assert builds == [contract.reference]  # not again
    assert again.summary == before.summary and again.detail == before.detail
    assert again.computed_at > before.computed_at  # checked now, and the page says so
    # Refreshing every contract, as the half-hourly task does, skips it too.
    done, failed = refresh.refresh_contracts([contract.pk], with_forecast=False)
    assert (done, failed, builds) == ([contract.reference], [], [contract.reference])


def test_the_nightly_refresh_always_works_the_figures_out(contract, worked_out, builds):
    refresh.refresh_contract(contract, with_forecast=True)
    assert builds == [contract.reference] * 2


def _claims_by_status(contract, world):
    snap = DashboardSnapshot.objects.get(contract=contract)
    return snap.summary["claims"]["by_provider_status"][str(world.provider.pk)]


def test_a_claim_changed_by_any_path_is_worked_out_again(contract, worked_out, world_a, builds):
    assert _claims_by_status(contract, world_a) == {"passed": 16}
    # A bulk update, as verification's bulk decisions and the benchmarks' set-up write.
    first = list(Claim.objects.order_by("pk").values_list("pk", flat=True)[:3])
    Claim.objects.filter(pk__in=first).update(status=ClaimStatus.VERIFIED)
    refresh.refresh_contract(contract, with_forecast=False)
    assert builds == [contract.reference] * 2
    assert _claims_by_status(contract, world_a) == {"passed": 13, "verified": 3}


def test_a_new_return_a_participant_change_and_the_policy_are_changes(contract, worked_out,
                                                                     world_a, builds):
    from outcomes.verification.models import VerificationPolicy

    later = submitted_return(contract, world_a.provider, period_id="Feb 2012")
    caseload(later, "ESA_EXIB", 2, 0, 0)
    refresh.refresh_contract(contract, with_forecast=False)
    Participant.objects.filter(contract=contract, segment="ESA_EXIB").update(segment="JSA_18_24")
    refresh.refresh_contract(contract, with_forecast=False)
    VerificationPolicy.objects.create(contract=contract)
    snap = refresh.refresh_contract(contract, with_forecast=False)
    assert builds == [contract.reference] * 4
    assert snap.summary["requires_verification"] is True
    assert {g["segment"] for g in snap.summary["equity"]["groups"]} == {"JSA_18_24"}


def test_a_payment_run_and_its_approval_are_changes(contract, worked_out, commissioner,
                                                    builds):
    from payments.models import PaymentRun, RunStatus
    from payments.services import run_period

    run, _lines = run_period(contract, "Jan 2012")
    snap = refresh.refresh_contract(contract, with_forecast=False)
    assert Decimal(snap.summary["ledger"]["awaiting_paid"]) == run.payable_total() > 0
    # Approved without the approval's own refresh (a direct update, as an import might).
    PaymentRun.objects.filter(pk=run.pk).update(status=RunStatus.APPROVED,
                                                approved_at=timezone.now())
    snap = refresh.refresh_contract(contract, with_forecast=False)
    assert Decimal(snap.summary["ledger"]["paid"]) == run.payable_total()
    assert builds == [contract.reference] * 3
    refresh.refresh_contract(contract, with_forecast=False)
    assert builds == [contract.reference] * 3


def test_a_renamed_provider_is_a_change(contract, worked_out, world_a, builds):
    world_a.provider.name = "Renamed Provider"
    world_a.provider.save()
    snap = refresh.refresh_contract(contract, with_forecast=False)
    assert builds == [contract.reference] * 2
    assert snap.summary["providers"][str(world_a.provider.pk)] == "Renamed Provider"


def test_figures_of_an_older_format_are_worked_out_again(contract, worked_out, builds,
                                                         monkeypatch):
    monkeypatch.setattr(refresh, "SNAPSHOT_VERSION", refresh.SNAPSHOT_VERSION + 1)
    snap = refresh.refresh_contract(contract, with_forecast=False)
    assert builds == [contract.reference] * 2
    assert snap.summary["version"] == refresh.SNAPSHOT_VERSION


def test_forced_figures_are_worked_out_even_when_unchanged(contract, worked_out, builds):
    """Writes that bypass the triggers (the benchmarks' bulk set-up) are not inputs; the
    benchmark runner forces its refresh."""
    refresh.refresh_contract(contract, with_forecast=False, force=True)
    assert builds == [contract.reference] * 2
