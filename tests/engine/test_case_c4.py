"""C4 - minimum thresholds and penalty (Lewisham, 000:894-907)."""

from __future__ import annotations

import pytest

from payments.engine import Facts, entitlement

from .conftest import Runner, example
from .helpers import D, iv

DEFN = "c4-lewisham.yaml"
YEARS = {"2012-13": ("44", "31"), "2013-14": ("52", "66"), "2014-15": ("49", "66")}


def facts() -> Facts:
    return Facts(indicator_values=tuple(
        v for fy, (entering, moving_on) in YEARS.items()
        for v in (iv("entering", fy, entering), iv("moving_on", fy, moving_on))))


@pytest.fixture(scope="module")
def run():
    return Runner(example(DEFN), facts()).run_all()


def test_core_is_eleven_instalments_of_26666_67_then_26666_63():
    lines = [ln for ln in entitlement(example(DEFN), Facts(), "Mar 2013") if ln.rule_id == "core"]
    assert [ln.amount for ln in lines] == [D("26666.67")] * 11 + [D("26666.63")]
    assert sum(ln.amount for ln in lines) == D("320000.00")
    assert "last instalment takes the rounding difference" in lines[-1].explanation


def test_variable_element_paid_quarterly_on_account_45000():
    lines = [ln for ln in entitlement(example(DEFN), Facts(), "Mar 2013")
             if ln.rule_id == "variable"]
    assert [(ln.period, ln.amount) for ln in lines] == [
        ("Jun 2012", D("45000.00")), ("Sep 2012", D("45000.00")), ("Dec 2012", D("45000.00")),
        ("Mar 2013", D("45000.00"))]
    assert {ln.kind for ln in lines} == {"uplift_on_account"}


def test_44_entering_31_moving_on_penalty_45000_year_total_455000(run):
    [penalty] = [ln for ln in run.statements["Mar 2013"].lines if ln.kind == "penalty"]
    assert penalty.amount == D("-45000.00")
    assert "thresholds were missed" in penalty.explanation
    assert run.paid_in_year("2012-13") == D("455000.00")


def test_52_entering_66_moving_on_no_penalty_year_total_500000(run):
    [line] = [ln for ln in run.statements["Mar 2014"].lines if ln.kind == "penalty"]
    assert line.amount == D("0.00")
    assert line.explanation.endswith("no penalty.")
    assert run.paid_in_year("2013-14") == D("500000.00")


def test_one_threshold_missed_is_enough_49_entering(run):
    [penalty] = [ln for ln in run.statements["Mar 2015"].lines if ln.kind == "penalty"]
    assert penalty.amount == D("-45000.00")
    assert "Young people entering the service 49 (misses the condition at least 50)" in \
        penalty.explanation
    assert "a threshold was missed" in penalty.explanation
    assert run.paid_in_year("2014-15") == D("455000.00")


def test_monthly_statements_before_year_end_carry_no_penalty(run):
    assert run.paid_in("Apr 2012") == D("26666.67")
    assert run.paid_in("Jun 2012") == D("71666.67")
