"""The snapshot holds the owning apps' own figures: the ledger, payments/forecast.py's liability
and forecast, verification's error rate and rating, and what still awaits verification."""

from decimal import Decimal

import pytest
from django.db.models import Sum

from outcomes.models import Claim, ClaimStatus
from pbr.dashboards.refresh import refresh_contract

from .conftest import caseload, submitted_return

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid(contract, commissioner, world_a):
    """Jan 2012 run approved (attachment fees); then one attachment is rejected and Feb 2012's
    run claws it back."""
    from payments.services import approve_run, run_period

    ret = submitted_return(contract, world_a.provider)
    caseload(ret, "JSA_18_24", 30, 20, 10)
    caseload(ret, "ESA_EXIB", 30, 10, 4)
    run, _lines = run_period(contract, "Jan 2012")
    approve_run(run, actor=commissioner)
    rejected = Claim.objects.filter(return_record=ret, outcome="attachment").order_by("pk").first()
    Claim.objects.filter(pk=rejected.pk).update(status=ClaimStatus.REJECTED)
    run_period(contract, "Feb 2012")
    return ret


def test_payments_and_clawbacks_are_the_ledgers(contract, paid):
    from payments.models import LedgerLine

    snap = refresh_contract(contract, with_forecast=False)
    lines = LedgerLine.objects.filter(contract=contract, shadow=False)
    approved = lines.filter(run__status="approved")
    awaiting = lines.exclude(run__status="approved")
    ledger = snap.summary["ledger"]
    assert Decimal(ledger["paid"]) == approved.filter(amount__gt=0).aggregate(t=Sum("amount"))["t"]
    assert Decimal(ledger["paid"]) > 0
    clawed = -awaiting.filter(amount__lt=0).aggregate(t=Sum("amount"))["t"]
    assert clawed == Decimal("400.00")  # the rejected JSA attachment, reversed in Feb 2012
    assert Decimal(ledger["awaiting_clawed_back"]) == clawed
    assert Decimal(ledger["clawed_back"]) == 0  # not approved yet
    periods = {row["period"]: row for row in snap.detail["ledger"]}
    assert Decimal(periods["Feb 2012"]["clawed_back"]) == clawed
    assert periods["Feb 2012"]["approved"] is False and periods["Jan 2012"]["approved"] is True


def test_liability_and_forecast_are_payments_forecast_figures(contract, paid):
    from payments.forecast import contract_liability, income_forecast

    snap = refresh_contract(contract, with_forecast=True)
    liability = contract_liability(contract, with_forecast=False)
    assert Decimal(snap.summary["liability"]["committed"]) == liability.committed
    assert snap.summary["liability"]["maximum"] == (
        None if liability.maximum is None else str(liability.maximum))
    assert [y["financial_year"] for y in snap.summary["liability"]["years"]] == \
        [y.financial_year for y in liability.years]
    forecast = income_forecast(contract)
    assert Decimal(snap.summary["forecast"]["total"]) == forecast.total
    assert Decimal(snap.summary["forecast"]["ledger_approved"]) == forecast.ledger_approved
    assert snap.forecast_computed_at is not None
    # A quick refresh keeps the last forecast and maximum, and takes committed afresh.
    again = refresh_contract(contract, with_forecast=False)
    assert again.summary["forecast"] == snap.summary["forecast"]
    assert again.forecast_computed_at == snap.forecast_computed_at
    assert again.summary["liability"] == snap.summary["liability"]


def test_a_forecast_past_its_time_limit_still_refreshes_the_rest(contract, paid, monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    from pbr.dashboards import tasks

    calls = []

    def slow_forecast(contract, *, with_forecast):
        calls.append(with_forecast)
        if with_forecast:
            raise SoftTimeLimitExceeded()
        return refresh_contract(contract, with_forecast=False)

    monkeypatch.setattr(tasks, "refresh_contract", slow_forecast)
    result = tasks.refresh_dashboard_contract(contract.pk, True)
    assert calls == [True, False] and result["forecast"] is False
    snap = contract.dashboard_snapshot
    assert "forecast" not in snap.summary and snap.summary["liability"]["maximum_as_of"] is None
    assert Decimal(snap.summary["liability"]["committed"]) > 0


def test_error_rate_and_rating_are_verifications_own(contract, world_a):
    from django.utils import timezone

    from outcomes.verification.models import ClaimReview, VerificationPolicy
    from outcomes.verification.sampling import provider_error_rate

    VerificationPolicy.objects.create(contract=contract)
    ret = submitted_return(contract, world_a.provider)
    caseload(ret, "JSA_18_24", 10, 0, 0)
    claims = list(Claim.objects.filter(return_record=ret).order_by("pk"))
    for i, claim in enumerate(claims[:8]):
        status = ClaimStatus.REJECTED if i < 2 else ClaimStatus.VERIFIED
        Claim.objects.filter(pk=claim.pk).update(status=status)
        ClaimReview.objects.create(claim=claim, decided_at=timezone.now())
    Claim.objects.filter(pk=claims[8].pk).update(status=ClaimStatus.QUERIED)
    snap = refresh_contract(contract, with_forecast=False)
    row = snap.summary["errors"]["rows"][0]
    assert Decimal(row["rate"]) == provider_error_rate(contract, world_a.provider.pk) == \
        Decimal("25.00")
    assert row["rating"] == "red"  # the default policy: red from 10%
    # With a policy, a claim that passed its checks still awaits verification; so does a query.
    assert snap.summary["claims"]["awaiting"] == {str(world_a.provider.pk): 2}
    assert snap.summary["claims"]["by_provider_status"][str(world_a.provider.pk)] == {
        "rejected": 2, "verified": 6, "queried": 1, "passed": 1}


def test_approving_a_run_refreshes_its_contract(contract, commissioner, world_a,
                                                 django_capture_on_commit_callbacks):
    from payments.services import approve_run, run_period
    from pbr.dashboards.models import DashboardSnapshot

    ret = submitted_return(contract, world_a.provider)
    caseload(ret, "JSA_18_24", 5, 2, 1)
    run, _lines = run_period(contract, "Jan 2012")
    assert not DashboardSnapshot.objects.filter(contract=contract).exists()
    with django_capture_on_commit_callbacks(execute=True):
        approve_run(run, actor=commissioner)
    snap = DashboardSnapshot.objects.get(contract=contract)
    assert Decimal(snap.summary["ledger"]["paid"]) == run.payable_total() > 0
    assert snap.forecast_computed_at is not None


def test_a_contract_without_published_terms_has_figures_and_says_so(client, world_a, commissioner):
    from contracts.services import import_contract
    from tests.outcomes.conftest import c3_document

    draft = import_contract(dict(c3_document(), reference="C3-DRAFT"),
                            commissioner=world_a.commissioning_body,
                            links={"PRIME": world_a.provider}, publish=False)
    snap = refresh_contract(draft, with_forecast=True)
    assert snap.summary["liability"]["published"] is False
    assert snap.summary["forecast"]["published"] is False
    client.force_login(commissioner)
    html = client.get(f"/dashboards/contracts/{draft.pk}/").content.decode()
    assert "No published terms yet" in html
    assert "This contract has no published terms yet" in html
