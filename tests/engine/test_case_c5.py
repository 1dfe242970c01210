"""C5 - outcome basket, unpaid personal outcomes, distance travelled (Birmingham, 000:738-750)."""

from __future__ import annotations

from datetime import date, timedelta

from payments.engine import Facts, calculate, entitlement

from .conftest import Runner, example
from .helpers import D, claim

DEFN = "c5-birmingham.yaml"
BASKET = ("accommodation", "primary_health", "staying_safe", "money_management", "training")


def test_core_is_15000_a_month():
    lines = entitlement(example(DEFN), Facts(), "Mar 2014")
    assert {ln.amount for ln in lines if ln.rule_id == "core"} == {D("15000.00")}


def test_price_per_paid_outcome_is_pot_over_80_times_5():
    c = claim("c1", "U1", "accommodation", date(2013, 5, 10), segment="socially_excluded")
    [line] = entitlement(example(DEFN), Facts(claims=(c,)), "Mar 2014")[-1:]
    assert line.amount == D("50.00")
    assert "£20,000 pot ÷ (80 planned participants × 5 outcomes) = £50" in line.explanation


def test_distance_travelled_step_2_to_4_pays_25_and_1_to_5_pays_50():
    claims = (
        claim("s1", "U1", "independence_steps", date(2013, 6, 1), segment="older_people",
              step_from=2, step_to=4),
        claim("s2", "U2", "independence_steps", date(2013, 6, 1), segment="older_people",
              step_from=1, step_to=5),
    )
    got = {ln.references[0]: ln for ln in calculate(example(DEFN), Facts(claims=claims),
                                                    "Mar 2014").lines if ln.references}
    assert got["s1"].amount == D("25.00")
    assert "£50 × 2 steps gained ÷ 4 = £25" in got["s1"].explanation
    assert got["s2"].amount == D("50.00")


def test_personal_outcome_recorded_but_pays_0():
    c = claim("p1", "U1", "personal", date(2013, 5, 1), segment="socially_excluded")
    [line] = [ln for ln in entitlement(example(DEFN), Facts(claims=(c,)), "Mar 2014")
              if ln.references == ("p1",)]
    assert line.amount == D("0.00")
    assert "personal outcomes are recorded but never paid" in line.explanation


def test_sixth_paid_outcome_for_one_participant_is_refused():
    claims = [claim(f"b{i}", "U1", code, date(2013, 5, 1) + timedelta(days=i),
                    segment="socially_excluded") for i, code in enumerate(BASKET)]
    claims.append(claim("b6", "U1", "social_contact", date(2013, 7, 1),
                        segment="socially_excluded"))
    claims.append(claim("p", "U1", "personal", date(2013, 7, 2), segment="socially_excluded"))
    result = calculate(example(DEFN), Facts(claims=tuple(claims)), "Mar 2014")
    [refusal] = result.refusals
    assert refusal.claim_id == "b6"
    assert refusal.code == "basket_full"
    assert "already has 5 paid outcomes" in refusal.reason
    paid = [ln for ln in result.lines if ln.rule_id == "outcomes"]
    assert len(paid) == 5


def test_distance_travelled_is_not_open_to_socially_excluded_services():
    c = claim("s", "U1", "independence_steps", date(2013, 6, 1), segment="socially_excluded",
              step_from=1, step_to=2)
    [refusal] = calculate(example(DEFN), Facts(claims=(c,)), "Mar 2014").refusals
    assert refusal.code == "ineligible"


def test_payments_stop_at_the_20000_cap_and_the_statement_says_so():
    # 81 participants x 5 outcomes x £50 = £20,250: £250 over the pot.
    claims = tuple(
        claim(f"u{p}-{i}", f"U{p}", code, date(2013, 6, 1) + timedelta(days=p % 200),
              segment="socially_excluded")
        for p in range(81) for i, code in enumerate(BASKET))
    run = Runner(example(DEFN), Facts(claims=claims)).run_all()
    outcome_total = sum(ln.amount for st in run.statements.values() for ln in st.lines
                        if ln.rule_id in ("outcomes", "outcome_pot_cap"))
    assert outcome_total == D("20000.00")
    caps = [ln for st in run.statements.values() for ln in st.lines
            if ln.kind == "cap_adjustment"]
    assert caps, "the cap must appear on a statement"
    assert any("the cap was reached" in ln.explanation for ln in caps)
    assert run.paid_in_year("2013-14") == D("200000.00")
