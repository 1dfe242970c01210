"""C6 - collar and cap on the year (Sheffield ex-offenders, 000:839-853)."""

from __future__ import annotations

import pytest

from payments.engine import Facts, entitlement

from .conftest import Runner, example
from .helpers import D, iv

DEFN = "c6-sheffield.yaml"


@pytest.fixture(scope="module")
def run():
    facts = Facts(indicator_values=(iv("planned_move_on", "2012-13", "68.1"),
                                    iv("planned_move_on", "2013-14", "64")))
    return Runner(example(DEFN), facts).run_all()


def test_guaranteed_95_percent_is_132787_20_in_twelve_instalments_of_11065_60():
    lines = [ln for ln in entitlement(example(DEFN), Facts(), "Mar 2013")
             if ln.rule_id == "guaranteed"]
    assert [ln.amount for ln in lines] == [D("11065.60")] * 12
    assert sum(ln.amount for ln in lines) == D("132787.20")


def test_performance_element_is_13977_60(run):
    [perf] = [ln for ln in run.statements["Mar 2013"].lines if ln.kind == "performance"]
    assert perf.amount == D("13977.60")
    assert "Successful planned move-on 68.1% (meets the condition at least 65%)" in \
        perf.explanation


def test_year_one_68_1_percent_totals_146764_80(run):
    assert run.paid_in_year("2012-13") == D("146764.80")


def test_year_two_64_percent_totals_132787_20(run):
    [perf] = [ln for ln in run.statements["Mar 2014"].lines if ln.kind == "performance"]
    assert perf.amount == D("0.00")
    assert "is not paid" in perf.explanation
    assert run.paid_in_year("2013-14") == D("132787.20")


def test_collar_and_cap_never_bind_within_the_designed_range(run):
    assert not [ln for st in run.statements.values() for ln in st.lines
                if ln.kind == "cap_adjustment"]
