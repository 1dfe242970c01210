"""C1 Derbyshire (payment-cases.md C1) through the whole stack: the example contract imported,
the provider's quarterly indicator figures uploaded as a CSV on the returns page, each period run
with the facts the outcomes app holds, every figure read off the statement."""

from decimal import Decimal

import pytest

from outcomes.models import IndicatorReturn
from payments.services import RunError
from tests.payments.scheme import Scheme

pytestmark = pytest.mark.django_db

# Quarter -> (last period of the quarter, planned move-on as departures, utilisation %).
QUARTERS = {
    "Q1 2013-14": ("P3 2013-14", (63, 100), "95"),
    "Q2 2013-14": ("P6 2013-14", (77, 100), "81"),
    "Q3 2013-14": ("P9 2013-14", (70, 100), "90"),
    "Q4 2013-14": ("P13 2013-14", (56, 100), "90"),
}


def derbyshire(world, example="c1-derbyshire.yaml", until=None):
    scheme = Scheme(world, example)
    for quarter, (last, (planned, departures), utilisation) in QUARTERS.items():
        scheme.submit(last, via="upload", indicators=[
            {"indicator": "planned_move_on", "measure_period": quarter,
             "numerator": str(planned), "denominator": str(departures)},
            {"indicator": "utilisation", "measure_period": quarter, "value": utilisation}])
        if last == until:
            break
    return scheme.run_all(until=until)


def test_every_period_pays_16000_core_and_4000_on_account(world_a):
    scheme = derbyshire(world_a)
    for period in scheme.periods:
        lines = scheme.statement(period)["lines"]
        assert [ln["amount"] for ln in lines if ln["rule"] == "core"] == ["16000.00"], period
        assert [ln["amount"] for ln in lines if ln["kind"] == "uplift_on_account"] == \
            ["4000.00"], period
    for period in ("P1 2013-14", "P2 2013-14", "P3 2013-14"):
        assert scheme.paid_in(period) == Decimal("20000.00")


def test_q1_clawback_600_makes_p4_pay_19400_and_q2_makes_p7_pay_19400(world_a):
    scheme = derbyshire(world_a)
    p4 = scheme.statement("P4 2013-14")
    assert p4["total"] == "19400.00"
    [claw] = [ln for ln in p4["lines"] if ln["kind"] == "clawback"]
    assert claw["amount"] == "-600.00"
    assert claw["rule"] == "uplift_reconciliation"
    assert claw["explanation"] == (
        "Reconciliation of Q1 2013-14: Planned move-on 63% against target 70% scores 0.9; "
        "Utilisation 95% against target 90% scores 1.0; mean 0.95 × £12,000 on account = "
        "£11,400 earned, so £600 is clawed back.")
    # The line points at the indicator returns the provider uploaded.
    q1 = IndicatorReturn.objects.filter(measure_period="Q1 2013-14")
    assert sorted(claw["references"]) == sorted(f"I{i.pk}" for i in q1)
    assert p4["by_funder"] == [{"funder": "Derbyshire County Council", "share_pct": "100",
                                "exact": "19400.00", "amount": "19400.00",
                                "rounding": "0.00"}]
    p7 = scheme.statement("P7 2013-14")
    assert p7["total"] == "19400.00"
    assert [ln["amount"] for ln in p7["lines"] if ln["kind"] == "clawback"] == ["-600.00"]


def test_q4_clawback_1600_is_settled_by_a_year_end_line(world_a):
    scheme = derbyshire(world_a)
    p13 = scheme.statement("P13 2013-14")
    [claw] = [ln for ln in p13["lines"] if ln["kind"] == "clawback"]
    assert claw["amount"] == "-1600.00"
    assert claw["explanation"].startswith("Year-end reconciliation of Q4 2013-14")
    assert "mean 0.9 × £16,000 on account = £14,400 earned" in claw["explanation"]
    assert p13["total"] == "18400.00"
    # Q3 met both targets: nothing clawed back in P10.
    assert scheme.paid_in("P10 2013-14") == Decimal("20000.00")
    assert scheme.paid_in_year("2013-14") == Decimal("260000") - 600 - 600 - 1600


def test_shadow_variant_shows_the_600_but_p4_pays_20000(world_a):
    scheme = derbyshire(world_a, "c1-derbyshire-shadow.yaml", until="P7 2013-14")
    p4 = scheme.statement("P4 2013-14")
    assert p4["total"] == "20000.00"
    assert p4["shadow_total"] == "-600.00"
    [shadow] = [ln for ln in p4["lines"] if ln["shadow"]]
    assert shadow["amount"] == "-600.00" and shadow["kind"] == "clawback"
    assert p4["by_funder"][0]["amount"] == "20000.00"
    assert scheme.paid_in("P7 2013-14") == Decimal("19400.00")


def test_rerun_with_no_new_facts_posts_nothing(world_a):
    scheme = derbyshire(world_a, until="P4 2013-14")
    assert scheme.run("P4 2013-14") == []
    assert scheme.paid_in("P4 2013-14") == Decimal("19400.00")


def test_an_earlier_period_cannot_be_recomputed_once_a_later_one_exists(world_a):
    scheme = derbyshire(world_a, until="P4 2013-14")
    with pytest.raises(RunError, match="P4 2013-14 has been computed since"):
        scheme.run("P1 2013-14")
    assert scheme.paid_in("P1 2013-14") == Decimal("20000.00")
