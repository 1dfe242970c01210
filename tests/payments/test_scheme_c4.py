"""C4 Lewisham (payment-cases.md C4) through the whole stack: each year's counts of young people
entering and moving on are uploaded as an Excel workbook on the returns page with March's
return; the year-end penalty comes from those figures."""

from decimal import Decimal

import pytest

from tests.payments.scheme import Scheme

pytestmark = pytest.mark.django_db

YEARS = {  # financial year: (return carrying it, entering, moving on)
    "2012-13": ("Mar 2013", "44", "31"),  # both missed: penalty
    "2013-14": ("Mar 2014", "52", "66"),  # both met
    "2014-15": ("Mar 2015", "49", "66"),  # one missed is enough
}


@pytest.fixture
def lewisham(world_a):
    scheme = Scheme(world_a, "c4-lewisham.yaml")
    for year, (period, entering, moving_on) in YEARS.items():
        scheme.submit(period, via="upload", fmt="xlsx", indicators=[
            {"indicator": "entering", "measure_period": year, "value": entering},
            {"indicator": "moving_on", "measure_period": year, "value": moving_on}])
    return scheme.run_all()


def test_core_is_eleven_instalments_of_26666_67_then_26666_63(lewisham):
    for year in YEARS:
        months = [p.id for p in lewisham.calendar if p.financial_year == year]
        core = [ln["amount"] for ln in lewisham.lines(months) if ln["rule"] == "core"]
        assert core == ["26666.67"] * 11 + ["26666.63"], year


def test_variable_element_is_45000_a_quarter_on_account(lewisham):
    months = [p.id for p in lewisham.calendar if p.financial_year == "2012-13"]
    variable = [ln["amount"] for ln in lewisham.lines(months) if ln["rule"] == "variable"]
    assert variable == ["45000.00"] * 4


def test_penalty_of_45000_when_either_threshold_is_missed(lewisham):
    assert lewisham.paid_in_year("2012-13") == Decimal("455000.00")
    assert lewisham.paid_in_year("2013-14") == Decimal("500000.00")
    assert lewisham.paid_in_year("2014-15") == Decimal("455000.00")
    penalties = [(period, ln) for period in lewisham.periods
                 for ln in lewisham.statement(period)["lines"] if ln["kind"] == "penalty"]
    assert [(period, ln["amount"]) for period, ln in penalties if ln["amount"] != "0.00"] == [
        ("Mar 2013", "-45000.00"), ("Mar 2015", "-45000.00")]
    [missed_both] = [ln for period, ln in penalties if period == "Mar 2013"]
    assert "44" in missed_both["explanation"] and "31" in missed_both["explanation"]
    march = lewisham.statement("Mar 2013")
    assert march["by_funder"][0]["amount"] == march["total"]
