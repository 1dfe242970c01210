"""The what-if simulator runs the real engine: case figures, maximum liability, cliff edges."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contracts.simulator import (
    Assumptions,
    CliffEdge,
    Simulation,
    build_facts,
    cliff_edges,
    maximum_liability,
    simulate,
)

from .conftest import D, all_rules_contract, example

C1_QUARTERS = {"Q1 2013-14": ("63", "95"), "Q2 2013-14": ("77", "81"),
               "Q3 2013-14": ("70", "90"), "Q4 2013-14": ("56", "90")}
C1 = Assumptions(indicators={
    "planned_move_on": {q: D(mo) for q, (mo, _) in C1_QUARTERS.items()},
    "utilisation": {q: D(ut) for q, (_, ut) in C1_QUARTERS.items()},
})
C2 = Assumptions(indicators={
    "individuals_supported": {"2011-12": D("122"), "2012-13": D("89")},
    "tenancy_sustainment": {"2011-12": D("99.5"), "2012-13": D("96.25")},
})
C4 = Assumptions(indicators={"entering": {"2012-13": 44, "2013-14": 52, "2014-15": 49},
                             "moving_on": {"2012-13": 31, "2013-14": 66, "2014-15": 66}})
C6 = Assumptions(indicators={"planned_move_on": {"2012-13": "68.1", "2013-14": "64"}})


def edge(edges: list[CliffEdge], rule_id: str, indicator: str | None, what: str) -> CliffEdge:
    [found] = [e for e in edges if e.rule_id == rule_id and e.indicator == indicator
               and e.what == what]
    return found


# --- C2: the brief's headline figures -------------------------------------------------------


def test_c2_year_totals_and_maximum_liability():
    sim = simulate(example("c2-southend.yaml"), C2)
    assert sim.year("2011-12").total == D("18960.00")
    assert sim.year("2012-13").total == D("9666.67")
    assert sim.maximum_liability == {"2011-12": D("20000.00"), "2012-13": D("20000.00")}
    assert sim.total == D("28626.67")
    # paid after the year ends, in the year's last quarter
    assert sim.period("Q4 2011-12").payable == D("18960.00")
    assert sim.period("Q3 2011-12").payable == D("0.00")
    assert sim.year("2011-12").by_rule == {"annual_performance": D("18960.00")}


def test_c2_cliff_edge_109_pays_nothing_110_pays_8000():
    edges = cliff_edges(example("c2-southend.yaml"))
    minimum = edge(edges, "annual_performance", "individuals_supported", "band minimum")
    assert (minimum.value_below, minimum.value_at) == (D(109), D(110))
    assert (minimum.payment_below, minimum.payment_at) == (D("0.00"), D("8000.00"))
    assert minimum.is_cliff
    assert minimum.explanation == (
        "Individuals supported in 2011-12 at 109 pays £0.00 under annual_performance and at 110 "
        "pays £8,000.00 (band minimum 110): a cliff edge: one step of 1 moves the payment by "
        "£8,000.00.")
    stretch = edge(edges, "annual_performance", "individuals_supported", "band stretch")
    assert (stretch.payment_below, stretch.payment_at) == (D("9920.00"), D("10000.00"))
    assert not stretch.is_cliff  # linear to the stretch: no jump there
    rate = edge(edges, "annual_performance", "tenancy_sustainment", "band minimum")
    assert (rate.value_below, rate.payment_below, rate.payment_at) == (
        D("94.99"), D("0.00"), D("8000.00"))


# --- C1: period by period, clawbacks where they land ---------------------------------------


def test_c1_per_period_payments_match_the_case():
    sim = simulate(example("c1-derbyshire.yaml"), C1)
    assert [sim.period(f"P{n} 2013-14").payable for n in (1, 2, 3)] == [D("20000.00")] * 3
    p4 = sim.period("P4 2013-14")
    assert p4.payable == D("19400.00")
    assert p4.by_rule == {"core": D("16000.00"), "uplift": D("4000.00"),
                          "uplift_reconciliation": D("-600.00")}
    assert sim.period("P7 2013-14").payable == D("19400.00")
    assert sim.period("P13 2013-14").by_rule["uplift_reconciliation"] == D("-1600.00")
    assert sim.year("2013-14").total == D("260000") - D("600") - D("600") - D("1600")
    assert sim.maximum_liability == {"2013-14": D("260000.00")}


def test_c1_shadow_variant_shows_but_does_not_apply_q1():
    sim = simulate(example("c1-derbyshire-shadow.yaml"), C1)
    p4 = sim.period("P4 2013-14")
    assert p4.payable == D("20000.00")
    assert p4.shadow == D("-600.00")
    assert sim.period("P7 2013-14").payable == D("19400.00")


def test_c1_reconciliation_targets_are_not_cliffs():
    edges = cliff_edges(example("c1-derbyshire.yaml"))
    assert {e.indicator for e in edges} == {"planned_move_on", "utilisation"}
    assert not any(e.is_cliff for e in edges)


# --- C4 and C6: penalties and all-or-nothing payments --------------------------------------


def test_c4_year_totals_and_49_vs_50_entering_is_a_45000_cliff():
    defn = example("c4-lewisham.yaml")
    sim = simulate(defn, C4)
    assert [y.total for y in sim.years] == [D("455000.00"), D("500000.00"), D("455000.00")]
    assert set(sim.maximum_liability.values()) == {D("500000.00")}
    entering = edge(list(sim.cliff_edges), "thresholds", "entering", "penalty threshold")
    assert (entering.value_below, entering.value_at) == (D(49), D(50))
    assert entering.payment_below == D("-45000.00")
    assert entering.payment_at == D("0.00")
    assert entering.difference == D("45000.00")
    assert (entering.year_total_below, entering.year_total_at) == (D("455000.00"),
                                                                    D("500000.00"))
    assert edge(list(sim.cliff_edges), "thresholds", "moving_on", "penalty threshold").is_cliff


def test_c6_year_totals_and_64_99_vs_65_is_a_13977_60_cliff():
    sim = simulate(example("c6-sheffield.yaml"), C6)
    assert sim.year("2012-13").total == D("146764.80")
    assert sim.year("2013-14").total == D("132787.20")
    assert set(sim.maximum_liability.values()) == {D("146764.80")}
    [perf] = sim.cliff_edges
    assert (perf.value_below, perf.value_at) == (D("64.99"), D("65"))
    assert perf.difference == D("13977.60")
    assert (perf.year_total_below, perf.year_total_at) == (D("132787.20"), D("146764.80"))
    assert "64.99%" in perf.explanation and "£13,977.60" in perf.explanation


# --- outcome volumes: C5 basket and cap, C3 caseload ---------------------------------------


def test_c5_outcomes_are_priced_at_50_and_stop_at_the_20000_cap():
    defn = example("c5-birmingham.yaml")
    basket = ("accommodation", "primary_health", "staying_safe", "money_management", "training")
    some = simulate(defn, Assumptions(outcomes={"accommodation": {"Jun 2013": 10},
                                                "personal": {"Jun 2013": 4}}),
                    with_cliff_edges=False)
    assert some.period("Jun 2013").by_rule["outcomes"] == D("500.00")
    assert some.period("Jun 2013").by_rule["unpaid"] == D("0.00")
    # 81 participants' full baskets: £20,250 of outcomes, £250 over the pot
    full = simulate(defn, Assumptions(outcomes={c: {"2013-14": 81} for c in basket}),
                    with_cliff_edges=False)
    year = full.year("2013-14")
    assert year.by_rule["outcomes"] + year.by_rule["outcome_pot_cap"] == D("20000.00")
    assert year.total == D("200000.00")
    assert not full.refusals  # baskets were filled, never overfilled
    assert maximum_liability(defn).by_year == {"2013-14": D("200000.00")}


def test_c5_distance_travelled_one_step_per_achievement():
    defn = example("c5-birmingham.yaml")
    sim = simulate(defn, Assumptions(outcomes={"independence_steps": {"Jun 2013": 2}},
                                     steps_gained={"independence_steps": 2}),
                   with_cliff_edges=False)
    assert sim.period("Jun 2013").by_rule["outcomes"] == D("50.00")  # 2 × £25


def test_c3_caseload_attachment_job_outcome_and_sustainments():
    defn = example("c3-work-programme.yaml")
    sim = simulate(defn, Assumptions(outcomes={
        "attachment": {"Jul 2011": {"JSA_18_24": 10}},
        "job_outcome": {"Mar 2012": 4},
        "sustainment": {"2012-13": 30},
    }))
    assert sim.period("Jul 2011").payable == D("4000.00")
    assert sim.period("Mar 2012").payable == D("4800.00")  # 4 × £1,200 for JSA_18_24
    assert sim.year("2012-13").total == D("5100.00")  # 30 × £170
    assert not sim.refusals
    # no cap and no maximum value: the exposure cannot be bounded, and the result says so
    assert set(sim.maximum_liability.values()) == {None}
    assert any("not capped" in n for n in sim.notes)


def test_more_achievements_than_the_caseload_allows_become_refusals():
    defn = example("c3-work-programme.yaml")
    sim = simulate(defn, Assumptions(outcomes={"sustainment": {"Apr 2012": 3}}),
                   with_cliff_edges=False)
    assert {r.code for r in sim.refusals} == {"no_trigger"}
    assert sim.total == D("0.00")


# --- every mechanism ----------------------------------------------------------------------


def test_cliff_edges_cover_every_kind_of_threshold():
    edges = cliff_edges(all_rules_contract())
    whats = {(e.rule_id, e.what) for e in edges}
    assert {("bands", "band minimum"), ("bands", "band target"), ("bands", "band stretch"),
            ("qaf_grades", "grade A boundary"), ("qaf_grades", "grade B boundary"),
            ("bonus", "bonus condition"), ("penalty", "penalty threshold"),
            ("doncaster", "curve point"), ("recon", "reconciliation target"),
            ("wav", "lower tolerance bound"), ("wav", "upper tolerance bound"),
            ("perf", "performance condition")} <= whats
    stepped_target = edge(edges, "bands", "supported", "band target")
    assert stepped_target.is_cliff and stepped_target.difference == D("1000.00")
    grade_b = edge(edges, "qaf_grades", None, "grade B boundary")
    assert (grade_b.payment_below, grade_b.payment_at) == (D("0.00"), D("8.16"))
    bonus = edge(edges, "bonus", "returned_home", "bonus condition")
    assert bonus.difference == D("2000.00")
    cohort = [e for e in edges if e.rule_id == "doncaster"]
    assert [e.payment_at - e.payment_below for e in cohort] == [D("10000.00"), D("100000.00")]


def test_a_year_value_stands_for_each_period_of_the_year():
    sim = simulate(all_rules_contract(), Assumptions(indicators={"returned_home": {
        "2013-14": "12", "Jun 2013": "8"}}), with_cliff_edges=False)
    bonus = [p.by_rule.get("bonus") for p in sim.periods if p.financial_year == "2013-14"]
    assert bonus.count(D("2000.00")) == 11 and bonus[2] == D("0.00")


def test_outcome_counts_for_a_year_spread_evenly_over_its_periods():
    facts = build_facts(example("c5-birmingham.yaml"),
                        Assumptions(outcomes={"accommodation": {"2013-14": 14}}))
    by_period: dict[str, int] = {}
    for c in facts.claims:
        by_period[c.period] = by_period.get(c.period, 0) + 1
    assert sorted(by_period.values(), reverse=True) == [2, 2] + [1] * 10
    assert by_period["Apr 2013"] == 2 and by_period["Mar 2014"] == 1


def test_unknown_outcome_or_period_is_refused():
    with pytest.raises(ValueError, match="unknown outcome"):
        simulate(example("c5-birmingham.yaml"), Assumptions(outcomes={"nope": {"2013-14": 1}}))
    with pytest.raises(ValueError, match="not a period"):
        simulate(example("c5-birmingham.yaml"),
                 Assumptions(outcomes={"accommodation": {"2020-21": 1}}))


# --- properties of the results -------------------------------------------------------------


CASES = [("c1-derbyshire.yaml", C1), ("c1-derbyshire-shadow.yaml", C1), ("c2-southend.yaml", C2),
         ("c3-work-programme.yaml", Assumptions(outcomes={"attachment": {"2011-12": 50},
                                                          "job_outcome": {"2012-13": 20}})),
         ("c4-lewisham.yaml", C4),
         ("c5-birmingham.yaml", Assumptions(outcomes={"accommodation": {"2013-14": 60}})),
         ("c6-sheffield.yaml", C6)]


@pytest.mark.parametrize(("name", "assumptions"), CASES)
def test_deterministic_and_money_is_decimal_pennies(name, assumptions):
    defn = example(name)
    first = simulate(defn, assumptions)
    again = simulate(defn, assumptions)
    assert isinstance(first, Simulation)
    assert [(p.period, p.payable, p.by_rule) for p in first.periods] == \
        [(p.period, p.payable, p.by_rule) for p in again.periods]
    assert [e.explanation for e in first.cliff_edges] == [e.explanation for e in again.cliff_edges]
    for p in first.periods:
        assert isinstance(p.payable, Decimal) and p.payable.as_tuple().exponent == -2
        assert p.payable == sum(p.by_rule.values(), D("0.00"))
    for y in first.years:
        assert y.total == sum((p.payable for p in first.periods
                               if p.financial_year == y.financial_year), D("0.00"))
        if y.maximum_liability is not None:
            assert y.total <= y.maximum_liability
