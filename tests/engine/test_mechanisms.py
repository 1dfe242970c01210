"""The PRIMER's other mechanisms, each with the seed's own figures where it gives them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from contracts.definition import parse
from payments.engine import ExternalValue, Facts, calculate, entitlement

from .conftest import Runner
from .helpers import D, claim, iv


def contract(*, rules, kind="monthly", start="2013-04-01", end="2014-03-31", **extra) -> dict:
    return {
        "format_version": 1, "reference": "T", "title": "test",
        "funders": [{"name": "Council", "share_pct": "100"}],
        "prime_provider": {"name": "Provider"},
        "start": start, "end": end, "annual_value": extra.pop("annual_value", "100000"),
        "calendar": {"kind": kind, "start": start}, "rules": rules, **extra,
    }


def test_kent_a_grade_pays_12_24():
    # Kent QAF: A if all/most criteria met, B at 66%, C at 33%; £12.24 for an A (003:37, 003:145).
    defn = parse(contract(
        outcomes=[{"code": "qaf", "name": "QAF assessment", "kind": "graded",
                   "once_per_participant": False}],
        rules=[{"id": "qaf", "type": "grade", "outcome": "qaf", "grades": [
            {"grade": "A", "min_share_pct": "90", "price": "12.24"},
            {"grade": "B", "min_share_pct": "66", "price": "8.16"},
            {"grade": "C", "min_share_pct": "33", "price": "4.08"}]}]))
    claims = (
        claim("k1", "scheme-1", "qaf", date(2013, 6, 1), criteria_met=10, criteria_total=10),
        claim("k2", "scheme-2", "qaf", date(2013, 6, 1), criteria_met=2, criteria_total=3),
        claim("k3", "scheme-3", "qaf", date(2013, 6, 1), criteria_met=1, criteria_total=3),
        claim("k4", "scheme-4", "qaf", date(2013, 6, 1), criteria_met=1, criteria_total=10),
        claim("k5", "scheme-5", "qaf", date(2013, 6, 1), grade="A", units=D(40)),
    )
    result = calculate(defn, Facts(claims=claims), "Mar 2014")
    got = {ln.references[0]: ln for ln in result.lines}
    assert got["k1"].amount == D("12.24")
    assert "grade A (10 of 10 criteria met = 100%) pays £12.24" in got["k1"].explanation
    assert got["k2"].inputs["grade"] == "B"  # 66.7% of criteria
    assert got["k3"].inputs["grade"] == "C"
    assert got["k5"].amount == D("489.60")  # per unit: 40 units × £12.24
    [refusal] = result.refusals
    assert (refusal.claim_id, refusal.code) == ("k4", "ungraded")


def test_progression_steps_pay_staged_amounts():
    # Stockport / Cheshire West and Chester: steps under each indicator, staged payments (000:582)
    defn = parse(contract(
        outcomes=[{"code": "employment_ladder", "kind": "progression", "steps": 4,
                   "once_per_participant": False}],
        rules=[{"id": "ladder", "type": "tariff",
                "prices": [{"outcome": "employment_ladder", "amount": "300"}]}]))
    claims = (
        claim("s1", "P", "employment_ladder", date(2013, 5, 1), step_from=1, step_to=2),
        claim("s2", "P", "employment_ladder", date(2013, 8, 1), step_from=2, step_to=4),
        claim("s3", "P", "employment_ladder", date(2013, 9, 1), step_from=4, step_to=4),
    )
    result = calculate(defn, Facts(claims=claims), "Mar 2014")
    assert [ln.amount for ln in result.lines] == [D("100.00"), D("200.00")]
    assert sum(ln.amount for ln in result.lines) == D("300.00")  # whole ladder = full price
    assert [r.code for r in result.refusals] == ["no_progress"]


def salford() -> dict:
    # Salford: £2,000 extra in each month where ≥10% of young people referred return home
    # (000:765-767).
    return contract(
        start="2012-09-01", end="2013-08-31",
        indicators=[{"code": "returned_home", "name": "Young people returning home",
                     "kind": "rate"}],
        rules=[{"id": "mediation_bonus", "type": "periodic_bonus", "amount": "2000",
                "condition": {"indicator": "returned_home", "op": ">=", "threshold": "10"}}])


def test_salford_pays_2000_in_each_month_at_least_10_percent_return_home():
    facts = Facts(indicator_values=(
        iv("returned_home", "Sep 2012", "12.5"),
        iv("returned_home", "Oct 2012", "10"),
        # a rate from its numerator and denominator: 4 of 41 = 9.76%
        iv("returned_home", "Nov 2012", None, numerator=D(4), denominator=D(41)),
    ))
    run = Runner(parse(salford()), facts).run_all(until="Dec 2012")
    assert run.paid_in("Sep 2012") == D("2000.00")
    assert run.paid_in("Oct 2012") == D("2000.00")
    assert run.paid_in("Nov 2012") == D("0.00")
    [nov] = run.statements["Nov 2012"].lines
    assert "misses the condition at least 10%" in nov.explanation
    assert run.statements["Dec 2012"].lines == ()  # no return yet, nothing posted


def test_north_lincolnshire_per_service_user_payment_with_35000_annual_ceiling():
    # Paid per service user who moves to and sustains a less intensive service; annual ceiling
    # £35,000 (000:261, 000:793). Price illustrative.
    defn = parse(contract(
        outcomes=[{"code": "step_down", "name": "Moved to and sustained less support",
                   "sustainment": [{"label": "26 weeks", "weeks": 26}]}],
        rules=[{"id": "enhanced", "type": "tariff",
                "prices": [{"outcome": "step_down", "amount": "750"}]},
               {"id": "ceiling", "type": "cap", "scope": "year", "applies_to": ["enhanced"],
                "maximum": "35000"}]))
    claims = tuple(claim(f"n{i}", f"U{i}", "step_down", date(2013, 10, 1),
                         started=date(2013, 3, 1)) for i in range(50))  # 50 × £750 = £37,500
    lines = entitlement(defn, Facts(claims=claims), "Mar 2014")
    assert sum(ln.amount for ln in lines) == D("35000.00")
    [cap] = [ln for ln in lines if ln.kind == "cap_adjustment"]
    assert cap.amount == D("-2500.00")
    # below the ceiling nothing is adjusted
    lines = entitlement(defn, Facts(claims=claims[:10]), "Mar 2014")
    assert sum(ln.amount for ln in lines) == D("7500.00")


def test_per_participant_cap_holds_for_each_person():
    defn = parse(contract(
        outcomes=[{"code": "session", "once_per_participant": False}],
        rules=[{"id": "sessions", "type": "tariff",
                "prices": [{"outcome": "session", "amount": "40"}]},
               {"id": "per_person", "type": "cap", "scope": "participant", "maximum": "100"}]))
    claims = tuple(claim(f"c{i}", "P1" if i < 4 else "P2", "session", date(2013, 5, i + 1))
                   for i in range(6))
    lines = entitlement(defn, Facts(claims=claims), "Mar 2014")
    by_person: dict[str, Decimal] = {}
    for ln in lines:
        by_person[ln.participant] = by_person.get(ln.participant, D(0)) + ln.amount
    assert by_person == {"P1": D("100.00"), "P2": D("80.00")}


def peterborough() -> dict:
    # Frequency of reconviction events vs a matched cohort: pays at ≥10% reduction per cohort, or
    # ≥7.5% across all cohorts (002:2294-2299). Values per cohort illustrative.
    return contract(
        start="2010-09-01", end="2016-08-31",
        indicators=[{"code": "reconviction_events", "kind": "average",
                     "direction": "lower_is_better"}],
        datasets=[{"code": "matched", "kind": "comparison_cohort", "measure": "frequency"}],
        rules=[{"id": "peterborough", "type": "cohort_baseline", "indicator": "reconviction_events",
                "against": "comparison", "dataset": "matched", "value": "1000000",
                "cohorts": ["cohort 1", "cohort 2", "cohort 3"],
                "curve": [{"improvement": "10", "pct": "100"}], "shape": "stepped",
                "all_cohorts_threshold": "7.5"}])


def test_peterborough_pays_a_cohort_at_10_percent_and_the_rest_at_7_5_overall():
    facts = Facts(
        indicator_values=(iv("reconviction_events", "cohort 1", "0.88"),
                          iv("reconviction_events", "cohort 2", "0.95"),
                          iv("reconviction_events", "cohort 3", "0.93")),
        external=tuple(ExternalValue(dataset="matched", period=c, value=D("1.00"))
                       for c in ("cohort 1", "cohort 2", "cohort 3")))
    lines = {ln.key: ln for ln in entitlement(parse(peterborough()), facts, "Aug 2016")}
    assert lines["peterborough:cohort 1"].amount == D("1000000.00")  # 12% reduction
    assert lines["peterborough:cohort 2"].amount == D("0.00")  # 5%
    assert "against the matched comparison cohort 1 is a 5% reduction" in \
        lines["peterborough:cohort 2"].explanation
    # overall (0.88 + 0.95 + 0.93) / 3 = 0.92: 8% reduction ≥ 7.5% pays the two that failed
    assert lines["peterborough:all_cohorts"].amount == D("2000000.00")


def test_peterborough_overall_below_7_5_pays_nothing_more():
    facts = Facts(
        indicator_values=tuple(iv("reconviction_events", c, v) for c, v in
                               (("cohort 1", "0.95"), ("cohort 2", "0.96"), ("cohort 3", "0.94"))),
        external=tuple(ExternalValue(dataset="matched", period=c, value=D("1"))
                       for c in ("cohort 1", "cohort 2", "cohort 3")))
    lines = {ln.key: ln for ln in entitlement(parse(peterborough()), facts, "Aug 2016")}
    assert lines["peterborough:all_cohorts"].amount == D("0.00")


def doncaster() -> dict:
    # Baseline not beaten ⇒ 10% reclaimed; 5 points better ⇒ full value; more ⇒ up to +10%
    # (002:2509-2511). Made graduated between the seed's anchor points.
    return contract(
        start="2011-10-01", end="2013-09-30",
        indicators=[{"code": "reoffending_rate", "kind": "rate", "direction": "lower_is_better"}],
        rules=[{"id": "doncaster", "type": "cohort_baseline", "indicator": "reoffending_rate",
                "baseline_value": "58", "improvement": "points", "value": "100000",
                "cohorts": ["2012-13"], "shape": "linear", "below_pct": "-10",
                "curve": [{"improvement": "0", "pct": "-10"}, {"improvement": "5", "pct": "0"},
                          {"improvement": "10", "pct": "10"}]}])


def test_doncaster_bands_around_the_baseline():
    defn = parse(doncaster())

    def result(rate: str) -> Decimal:
        facts = Facts(indicator_values=(iv("reoffending_rate", "2012-13", rate),))
        [line] = entitlement(defn, facts, "Sep 2013")
        return line.amount

    assert result("59") == D("-10000.00")  # baseline not beaten: 10% reclaimed
    assert result("53") == D("0.00")  # 5 points better: full value, no adjustment
    assert result("50.5") == D("5000.00")  # 7.5 points: half-way to the +10% bonus
    assert result("40") == D("10000.00")  # capped at +10%


def test_transforming_rehabilitation_volume_tolerance():
    # Twelve equal monthly payments in arrears; year-end payment or deduction only outside a
    # tolerance (002:3713-3720). Tolerance and volumes illustrative.
    defn = parse(contract(
        annual_value="1200000",
        indicators=[{"code": "weighted_volume", "kind": "count"}],
        rules=[{"id": "ffs", "type": "core_instalments", "amount_per_year": "1200000"},
               {"id": "wav", "type": "volume_reconciliation", "fee_rule": "ffs",
                "indicator": "weighted_volume", "predicted": "1000", "tolerance_pct": "5"}]))

    def year_end(volume: str):
        facts = Facts(indicator_values=(iv("weighted_volume", "2013-14", volume),))
        return [ln for ln in entitlement(defn, facts, "Mar 2014") if ln.rule_id == "wav"][0]

    assert year_end("1040").amount == D("0.00")
    assert "within the ±5% tolerance" in year_end("1040").explanation
    assert year_end("1100").amount == D("60000.00")  # 50 units beyond 1,050 × £1,200
    assert year_end("900").amount == D("-60000.00")


def london_sib() -> dict:
    # £5m maximum: 25% rough sleeping, 40% accommodation (12 and 18 months sustained, ≤2
    # incidents in the first 12 months, ≤1 in months 12-18), 25% reconnection, 5% ETE, 5% health
    # (002:817-851). Prices illustrative.
    return contract(
        start="2012-11-01", end="2015-10-31", annual_value="1666666.67", maximum_value="5000000",
        kind="quarterly",
        outcomes=[
            {"code": "accommodation_12m", "name": "Accommodation sustained 12 months",
             "sustainment": [{"label": "the first 12 months", "weeks": 52,
                              "max_adverse_events": 2}]},
            {"code": "accommodation_18m", "name": "Accommodation sustained 18 months",
             "prerequisites": ["accommodation_12m"],
             "sustainment": [{"label": "the first 12 months", "weeks": 52,
                              "max_adverse_events": 2},
                             {"label": "months 12 to 18", "weeks": 78,
                              "max_adverse_events": 1}]},
            {"code": "reconnection", "voided_by": ["rough_sleeping_within_6_months"]}],
        allocations=[{"code": c, "pct": p} for c, p in
                     (("rough_sleeping", "25"), ("accommodation", "40"), ("reconnection", "25"),
                      ("ete", "5"), ("health", "5"))],
        rules=[{"id": "accommodation", "type": "tariff", "allocation": "accommodation",
                "prices": [{"outcome": "accommodation_12m", "amount": "6000"},
                           {"outcome": "accommodation_18m", "amount": "6000"}]},
               {"id": "reconnection", "type": "tariff", "allocation": "reconnection",
                "prices": [{"outcome": "reconnection", "amount": "5000"}]},
               {"id": "accommodation_pot", "type": "cap", "scope": "contract",
                "applies_to": ["accommodation"], "allocation_cap": "accommodation"},
               {"id": "reconnection_pot", "type": "cap", "scope": "contract",
                "applies_to": ["reconnection"], "allocation_cap": "reconnection"}])


def test_london_sib_sustainment_windows_with_tolerance():
    start = date(2013, 1, 7)
    claims = (
        claim("a12", "R1", "accommodation_12m", date(2014, 1, 6), started=start,
              adverse_events=(2,)),
        claim("a18", "R1", "accommodation_18m", date(2014, 7, 7), started=start,
              adverse_events=(2, 2)),
        claim("b12", "R2", "accommodation_12m", date(2014, 1, 6), started=start,
              adverse_events=(3,)),
        claim("c18", "R3", "accommodation_18m", date(2014, 7, 7), started=start),
        claim("r1", "R4", "reconnection", date(2013, 6, 1), events=("rough_sleeping_within_6_"
                                                                     "months",)),
    )
    result = calculate(parse(london_sib()), Facts(claims=claims), "Q2 2015-16")
    assert [ln.references[0] for ln in result.lines] == ["a12"]
    reasons = {r.claim_id: (r.code, r.reason) for r in result.refusals}
    assert reasons["a18"] == ("not_sustained", "not sustained over months 12 to 18: 2 adverse "
                              "events recorded, at most 1 allowed.")
    assert reasons["b12"][0] == "not_sustained"
    assert reasons["c18"][0] == "prerequisite"
    assert reasons["r1"][0] == "voided"


def test_london_sib_weighted_pots_cap_each_outcome_at_its_share_of_5m():
    # 40% of £5m = £2m for accommodation: 400 × £6,000 = £2.4m is cut to £2m.
    claims = tuple(claim(f"a{i}", f"R{i}", "accommodation_12m", date(2014, 3, 1),
                         started=date(2013, 1, 1)) for i in range(400))
    lines = entitlement(parse(london_sib()), Facts(claims=claims), "Q2 2015-16")
    assert sum(ln.amount for ln in lines) == D("2000000.00")
    [cap] = [ln for ln in lines if ln.kind == "cap_adjustment"]
    assert cap.amount == D("-400000.00")
    assert "above the £2,000,000 cap" in cap.explanation


def test_pathways_to_work_30_50_20_split():
    # 30% on attachment, 50% on job entry, 20% sustained (002:1580). Unit value illustrative.
    defn = parse(contract(
        outcomes=[{"code": "attachment"}, {"code": "job_entry"},
                  {"code": "sustained", "prerequisites": ["job_entry"],
                   "sustainment": [{"label": "13 of the previous 26 weeks", "weeks": 13}]}],
        allocations=[{"code": "attachment", "pct": "30"}, {"code": "job_entry", "pct": "50"},
                     {"code": "sustained", "pct": "20"}],
        rules=[{"id": "pathways", "type": "tariff", "unit_value": "2000", "prices": [
            {"outcome": "attachment", "pct_of_unit_value": "30"},
            {"outcome": "job_entry", "pct_of_unit_value": "50"},
            {"outcome": "sustained", "pct_of_unit_value": "20"}]}]))
    claims = (claim("p1", "X", "attachment", date(2013, 4, 10)),
              claim("p2", "X", "job_entry", date(2013, 6, 3)),
              claim("p3", "X", "sustained", date(2013, 9, 2), started=date(2013, 6, 3)))
    lines = entitlement(defn, Facts(claims=claims), "Mar 2014")
    assert [ln.amount for ln in lines] == [D("600.00"), D("1000.00"), D("400.00")]
    assert "30% of the £2,000 unit value = £600" in lines[0].explanation
