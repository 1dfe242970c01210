"""C6 Sheffield (payment-cases.md C6) through the whole stack: the provider returns each year's
planned move-on rate with March's return (the service every way in calls), and the collar and
cap hold the year between 95% and 105%."""

from decimal import Decimal

import pytest

from tests.payments.scheme import Scheme

pytestmark = pytest.mark.django_db


@pytest.fixture
def sheffield(world_a):
    scheme = Scheme(world_a, "c6-sheffield.yaml")
    scheme.submit("Mar 2013", indicators=[
        {"indicator": "planned_move_on", "measure_period": "2012-13", "value": "68.1"}])
    # 64% as planned departures over all departures.
    scheme.submit("Mar 2014", indicators=[
        {"indicator": "planned_move_on", "measure_period": "2013-14", "numerator": "32",
         "denominator": "50"}])
    return scheme.run_all()


def test_guaranteed_95_percent_is_twelve_instalments_of_11065_60(sheffield):
    for year in ("2012-13", "2013-14"):
        months = [p.id for p in sheffield.calendar if p.financial_year == year]
        assert [ln["amount"] for ln in sheffield.lines(months) if ln["rule"] == "guaranteed"] \
            == ["11065.60"] * 12, year
    assert Decimal("11065.60") * 12 == Decimal("132787.20")


def test_year_one_68_1_percent_pays_the_13977_60_element_year_two_64_percent_does_not(
        sheffield):
    perf = [ln for ln in sheffield.lines() if ln["kind"] == "performance"]
    assert [ln["amount"] for ln in perf if ln["amount"] != "0.00"] == ["13977.60"]
    assert "68.1" in perf[0]["explanation"]
    assert sheffield.paid_in_year("2012-13") == Decimal("146764.80")
    assert sheffield.paid_in_year("2013-14") == Decimal("132787.20")
    march = sheffield.statement("Mar 2013")
    assert march["total"] == str(Decimal("11065.60") + Decimal("13977.60"))
    assert march["by_funder"][0] == {"funder": "Sheffield City Council", "share_pct": "100",
                                     "exact": march["total"], "amount": march["total"],
                                     "rounding": "0.00"}
