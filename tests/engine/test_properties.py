"""Properties that must hold for any facts, not only the worked cases."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.definition import periods
from payments.engine import Facts, Ledger, calculate, diff, entitlement, instalments

from .conftest import Runner, example
from .helpers import D, claim, iv

FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

C1 = example("c1-derbyshire.yaml")
C3 = example("c3-work-programme.yaml")
C5 = example("c5-birmingham.yaml")
C6 = example("c6-sheffield.yaml")
C1_PERIODS = [p.id for p in periods(C1)]

pennies = st.integers(min_value=0, max_value=10**9).map(lambda n: Decimal(n) / 100)
rates = st.integers(min_value=0, max_value=1000).map(lambda n: Decimal(n) / 10)


@given(total=pennies, count=st.integers(min_value=1, max_value=53))
def test_instalments_sum_exactly_to_the_year(total, count):
    parts = instalments(total, count)
    assert len(parts) == count
    assert sum(parts) == total
    assert len(set(parts[:-1])) <= 1
    assert all(p.as_tuple().exponent == -2 for p in parts)
    assert abs(parts[-1] - parts[0]) <= Decimal("0.01") * count


c1_facts = st.lists(st.tuples(rates, rates), min_size=4, max_size=4).map(
    lambda qs: Facts(indicator_values=tuple(
        v for n, (mo, ut) in enumerate(qs, start=1)
        for v in (iv("planned_move_on", f"Q{n} 2013-14", mo),
                  iv("utilisation", f"Q{n} 2013-14", ut)))))


@FAST
@given(facts=c1_facts, until=st.sampled_from(C1_PERIODS))
def test_ledger_total_equals_entitlement_and_rerun_posts_nothing(facts, until):
    run = Runner(C1, facts).run_all(until=until)
    lines = entitlement(C1, facts, until)
    assert run.ledger.paid() == sum((ln.amount for ln in lines if not ln.shadow), Decimal(0))
    for st_ in run.statements.values():
        assert st_.payable == sum((ln.amount for ln in st_.lines if not ln.shadow), Decimal(0))
    assert diff(lines, run.ledger, until) == []


@FAST
@given(facts=c1_facts)
def test_a_clawback_never_exceeds_what_was_paid_on_account(facts):
    lines = entitlement(C1, facts, C1_PERIODS[-1])
    on_account = {}
    for ln in lines:
        if ln.rule_id == "uplift":
            group = next(p.group for p in periods(C1) if p.id == ln.period)
            on_account[group] = on_account.get(group, Decimal(0)) + ln.amount
    for ln in lines:
        if ln.rule_id == "uplift_reconciliation":
            assert ln.amount <= 0  # no uplift above target
            assert -ln.amount <= on_account[ln.inputs["group"]]


c3_claims = st.lists(
    st.tuples(st.sampled_from(["A", "B", "C"]),
              st.sampled_from(["attachment", "job_entry", "job_outcome", "sustainment"]),
              st.integers(min_value=0, max_value=900),
              st.sampled_from(["verified", "verified", "rejected", "pending"])),
    max_size=25,
).map(lambda rows: tuple(
    claim(f"c{i}", who, outcome, date(2011, 7, 1) + timedelta(days=day), segment="JSA_18_24",
          attachment_date=date(2011, 7, 1), started=date(2011, 7, 1) + timedelta(days=day // 3),
          evidence=("off_benefit_check",), status=status, subcontractor="T1-NORTH")
    for i, (who, outcome, day, status) in enumerate(rows)))


@FAST
@given(claims=c3_claims, rejected=st.sets(st.integers(min_value=0, max_value=24)))
def test_late_rejections_are_corrected_by_the_next_run(claims, rejected):
    facts = Facts(claims=claims)
    first = "Dec 2013"
    lines = entitlement(C3, facts, first)
    ledger = Ledger().post(diff(lines, Ledger(), first))
    later = Facts(claims=tuple(replace(c, status="rejected") if i in rejected else c
                               for i, c in enumerate(claims)))
    posted = diff(entitlement(C3, later, "Jan 2014"), ledger, "Jan 2014")
    ledger = ledger.post(posted)
    assert ledger.paid() == sum(ln.amount for ln in entitlement(C3, later, "Jan 2014"))
    for ln in posted:
        if ln.amount < 0:
            assert ln.corrects is not None
            assert ln.period == "Jan 2014"
    assert diff(entitlement(C3, later, "Jan 2014"), ledger, "Jan 2014") == []


@FAST
@given(claims=c3_claims)
def test_no_participant_exceeds_one_job_outcome_in_104_weeks_or_twenty_sustainments(claims):
    result = calculate(C3, Facts(claims=claims), "May 2016")
    for who in "ABC":
        mine = [ln for ln in result.lines if ln.participant == who]
        # one job outcome within 104 weeks of attachment (1 Jul 2011); another may follow later
        window_end = (date(2011, 7, 1) + timedelta(weeks=104)).isoformat()
        assert len([ln for ln in mine if ln.inputs.get("outcome") == "job_outcome"
                    and ln.inputs["achieved"] < window_end]) <= 1
        assert len([ln for ln in mine if ln.inputs.get("outcome") == "sustainment"]) <= 20
    assert all(ln.amount.as_tuple().exponent == -2 for ln in result.lines)
    paid_ids = {r for ln in result.lines for r in ln.references}
    assert not paid_ids & {r.claim_id for r in result.refusals}


@FAST
@given(participants=st.integers(min_value=0, max_value=120))
def test_outcome_cap_always_holds(participants):
    codes = ("accommodation", "primary_health", "staying_safe", "money_management", "training")
    claims = tuple(claim(f"u{p}-{c}", f"U{p}", c, date(2013, 6, 1), segment="socially_excluded")
                   for p in range(participants) for c in codes)
    lines = entitlement(C5, Facts(claims=claims), "Mar 2014")
    outcome_total = sum((ln.amount for ln in lines if ln.rule_id in ("outcomes",
                                                                      "outcome_pot_cap")),
                        Decimal(0))
    assert outcome_total == min(D(50 * 5 * participants), D(20000))


@FAST
@given(move_on=rates)
def test_collar_and_cap_hold_for_any_result(move_on):
    facts = Facts(indicator_values=(iv("planned_move_on", "2012-13", move_on),))
    total = sum(ln.amount for ln in entitlement(C6, facts, "Mar 2013"))
    assert D("132787.20") <= total <= D("146764.80")


@FAST
@given(population=pennies, sample=st.integers(min_value=1, max_value=500), data=st.data())
def test_recovery_never_exceeds_the_population_paid(population, sample, data):
    from payments.engine import SampleCheck

    errors = data.draw(st.integers(min_value=0, max_value=sample))
    check = SampleCheck(id="S", period="Jun 2012", population_total=population,
                        population_count=sample * 10, sample_size=sample, errors=errors)
    [line] = entitlement(C3, Facts(samples=(check,)), "Jun 2012")
    assert -population <= line.amount <= 0
