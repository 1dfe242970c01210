"""Forecasts with exact figures: a provider's expected income (pipeline claims treated as
verified, minus what the ledger holds) and a commissioner's committed and maximum liability by
UK financial year (C2 and C3 from examples/contracts/)."""

import datetime
from dataclasses import replace
from decimal import Decimal as D

import pytest

from contracts.definition import load_document, parse, periods
from payments import engine
from payments.engine import Facts
from payments.forecast import contract_liability, income_forecast, income_projection
from payments.models import LedgerLine, PaymentRun
from payments.services import approve_run
from pbr.models import Role
from tests.engine.helpers import claim, iv
from tests.engine.test_case_c2 import facts as c2_facts
from tests.engine.test_case_c3 import SAMPLE, participant_a
from tests.engine.test_case_c5 import BASKET
from tests.payments.statement_helpers import EXAMPLES, Scheme

pytestmark = pytest.mark.django_db
TODAY = datetime.date(2012, 2, 15)


def c3_pending(*ids):
    return Facts(claims=tuple(replace(c, status="pending") if c.id in ids else c
                              for c in participant_a()))


# --- the engine invariant the forecast relies on ------------------------------------------------


def _facts_for_every_case():
    c5 = Facts(claims=tuple(claim(f"u{p}-{i}", f"U{p}", code,
                                  datetime.date(2013, 6, 1) + datetime.timedelta(days=p % 200),
                                  segment="socially_excluded")
                            for p in range(81) for i, code in enumerate(BASKET)))
    c6 = Facts(indicator_values=(iv("planned_move_on", "2012-13", "68.1"),
                                 iv("planned_move_on", "2013-14", "64")))
    from tests.engine import test_case_c1, test_case_c4

    return [("c1-derbyshire.yaml", test_case_c1.facts()),
            ("c1-derbyshire-shadow.yaml", test_case_c1.facts()),
            ("c2-southend.yaml", c2_facts()),
            ("c3-work-programme.yaml", Facts(claims=tuple(participant_a()), samples=(SAMPLE,))),
            ("c4-lewisham.yaml", test_case_c4.facts()),
            ("c5-birmingham.yaml", c5), ("c6-sheffield.yaml", c6)]


@pytest.mark.parametrize(("example", "facts"), _facts_for_every_case(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_forecast_in_one_calculation_equals_period_by_period_runs(example, facts):
    """The forecast calculates once and diffs each period against the growing ledger; that must
    give exactly what running every period on its own would post."""
    defn = parse(load_document(EXAMPLES / example))
    ps = periods(defn)
    projected, _refused, _notes = income_projection([(p, defn) for p in ps], facts,
                                                    engine.Ledger())
    ledger = engine.Ledger()
    for (period, expected, _pipeline, shadow, _lines), p in zip(projected, ps, strict=True):
        st = engine.statement(defn, facts, ledger, p)
        ledger = ledger.post(st.lines)
        assert (period.id, expected, shadow) == (p.id, st.payable, st.shadow_total)


# --- provider: expected income ----------------------------------------------------------------


def test_pipeline_claims_are_forecast_as_if_verified_from_the_next_period(world_a):
    scheme = Scheme(world_a, "c3-work-programme.yaml", c3_pending("A-job", "A-sus-01"))
    scheme.run_all(until="Feb 2012")  # Jul 2011 posted the £400 attachment fee
    forecast = income_forecast(scheme.contract, facts=scheme.facts, today=TODAY)
    by_period = {p.period: p for p in forecast.periods}
    assert forecast.periods[0].period == "Feb 2012"
    assert forecast.periods[0].state == "recalculation"  # Feb 2012 is a draft run
    assert by_period["Mar 2012"].state == "future"
    assert (by_period["Mar 2012"].expected, by_period["Mar 2012"].from_pipeline) == (
        D("1200.00"), D("1200.00"))
    # Two sustainments fall due in April (2 and 30 Apr 2012), then one every 28 days.
    assert (by_period["Apr 2012"].expected, by_period["Apr 2012"].from_pipeline) == (
        D("340.00"), D("340.00"))
    # The job outcome (£1,200) and 20 sustainments (£170 each): all wait on the pipeline,
    # because sustainments need the job outcome verified first. The attachment is paid already.
    assert forecast.total == forecast.from_pipeline == D("4600.00")
    assert [(y.financial_year, y.expected) for y in forecast.years[:3]] == [
        ("2011-12", D("1200.00")), ("2012-13", D("2210.00")), ("2013-14", D("1190.00"))]
    assert forecast.ledger_awaiting == D("400.00") and forecast.ledger_approved == D("0.00")
    assert [c.id for c in forecast.pipeline] == ["A-job", "A-sus-01"]
    assert "assumed to be verified as submitted" in forecast.assumptions[0]
    assert not LedgerLine.objects.filter(key__startswith="FORECAST").exists()


def test_only_the_pipelines_share_is_counted_as_from_the_pipeline(world_a):
    scheme = Scheme(world_a, "c3-work-programme.yaml", c3_pending("A-sus-01"))
    scheme.run_all(until="Feb 2012")
    by_period = {p.period: p for p in income_forecast(scheme.contract, facts=scheme.facts,
                                                      today=TODAY).periods}
    assert (by_period["Mar 2012"].expected, by_period["Mar 2012"].from_pipeline) == (
        D("1200.00"), D("0.00"))
    assert (by_period["Apr 2012"].expected, by_period["Apr 2012"].from_pipeline,
            by_period["Apr 2012"].from_known) == (D("340.00"), D("170.00"), D("170.00"))


def test_what_the_ledger_holds_is_subtracted(world_a):
    scheme = Scheme(world_a, "c3-work-programme.yaml", Facts(claims=tuple(participant_a())))
    scheme.run_all(until="Apr 2012")
    forecast = income_forecast(scheme.contract, facts=scheme.facts, today=TODAY)
    # Apr 2012 is a draft that already holds both April sustainments: recalculating adds nothing.
    assert forecast.periods[0].period == "Apr 2012" and forecast.periods[0].expected == D("0.00")
    assert forecast.total == D("3060.00")  # the 18 sustainments still to fall due
    assert forecast.from_pipeline == D("0.00")


def test_c2_forecast_from_results_already_returned(world_a):
    scheme = Scheme(world_a, "c2-southend.yaml", c2_facts())
    scheme.run_all(until="Q2 2011-12")
    approve_run(PaymentRun.objects.get(contract=scheme.contract, period_id="Q1 2011-12"),
                actor=world_a.users[Role.COMMISSIONER])
    forecast = income_forecast(scheme.contract, facts=scheme.facts, today=TODAY)
    assert [(p.period, p.expected) for p in forecast.periods] == [
        ("Q2 2011-12", D("0.00")), ("Q3 2011-12", D("0.00")), ("Q4 2011-12", D("18960.00")),
        ("Q1 2012-13", D("0.00")), ("Q2 2012-13", D("0.00")), ("Q3 2012-13", D("0.00")),
        ("Q4 2012-13", D("9666.67"))]
    assert [(y.financial_year, y.expected, y.from_pipeline) for y in forecast.years] == [
        ("2011-12", D("18960.00"), D("0.00")), ("2012-13", D("9666.67"), D("0.00"))]
    q4 = next(p for p in forecast.periods if p.period == "Q4 2011-12")
    assert any("between the minimum 110 and the stretch 135" in ln.explanation for ln in q4.lines)


def test_forecast_reads_submitted_claims_awaiting_checks_from_the_outcomes_app(world_a):
    from outcomes.models import Claim, ClaimStatus, Participant, Return, ReturnStatus

    scheme = Scheme(world_a, "c3-work-programme.yaml", None)
    contract = scheme.contract
    ret = Return.objects.create(
        contract=contract, provider=world_a.provider, period_id="Jul 2011",
        period_start=datetime.date(2011, 7, 1), period_end=datetime.date(2011, 7, 31),
        due_date=datetime.date(2011, 8, 31), status=ReturnStatus.SUBMITTED)
    people = [Participant.objects.create(
        contract=contract, provider=world_a.provider, provider_reference=f"R{n}",
        identity_hash=f"{n}" * 64, segment="JSA_18_24", start_date=datetime.date(2011, 7, 4))
        for n in range(3)]
    held, failed, draft = (
        Claim.objects.create(return_record=ret, participant=people[n], outcome="attachment",
                             achieved=datetime.date(2011, 7, 4), status=status)
        for n, status in enumerate((ClaimStatus.HELD, ClaimStatus.FAILED, ClaimStatus.DRAFT)))
    forecast = income_forecast(contract, today=TODAY)
    # Two claims are awaiting a decision (held as a possible duplicate, and not yet checked):
    # £400 each; the claim that failed its checks is left out.
    assert sorted(c.claim_pk for c in forecast.pipeline) == sorted([held.pk, draft.pk])
    assert forecast.periods[0].period == "Jun 2011"
    jul = forecast.periods[1]
    assert (jul.period, jul.expected, jul.from_pipeline) == ("Jul 2011", D("800.00"),
                                                             D("800.00"))
    assert f"C{failed.pk}" not in {ref for ln in jul.lines for ref in ln.references}


# --- commissioner: liability by financial year --------------------------------------------------


def test_c2_committed_and_maximum_liability_by_financial_year(world_a):
    scheme = Scheme(world_a, "c2-southend.yaml", c2_facts())
    scheme.run_all()
    commissioner = world_a.users[Role.COMMISSIONER]
    for period in ("Q1 2011-12", "Q2 2011-12", "Q3 2011-12", "Q4 2011-12"):
        approve_run(PaymentRun.objects.get(contract=scheme.contract, period_id=period),
                    actor=commissioner)
    liability = contract_liability(scheme.contract, facts=scheme.facts, today=TODAY)
    y1, y2 = liability.years
    assert (y1.financial_year, y1.approved, y1.awaiting_approval, y1.committed, y1.maximum,
            y1.headroom, y1.expected_further) == (
        "2011-12", D("18960.00"), D("0.00"), D("18960.00"), D("20000.00"), D("1040.00"),
        D("0.00"))
    assert (y2.financial_year, y2.approved, y2.awaiting_approval, y2.committed, y2.maximum,
            y2.headroom) == ("2012-13", D("0.00"), D("9666.67"), D("9666.67"), D("20000.00"),
                             D("10333.33"))
    assert (liability.committed, liability.maximum, liability.headroom) == (
        D("28626.67"), D("40000.00"), D("11373.33"))


def test_liability_uses_the_simulators_maximum_and_says_when_nothing_bounds_it(world_a):
    from contracts.simulator import maximum_liability

    scheme = Scheme(world_a, "c3-work-programme.yaml", Facts(claims=tuple(participant_a())))
    scheme.run_all(until="Mar 2012")
    liability = contract_liability(scheme.contract, facts=scheme.facts, today=TODAY)
    expected = maximum_liability(scheme.contract.current_version().definition())
    assert {y.financial_year: y.maximum for y in liability.years} == expected.by_year
    assert liability.years[0].maximum is None and liability.maximum is None
    assert any("not capped" in n for n in liability.notes)
    assert (liability.years[0].financial_year, liability.years[0].committed) == (
        "2011-12", D("1600.00"))  # £400 attachment (Jul 2011) + £1,200 job outcome (Mar 2012)
