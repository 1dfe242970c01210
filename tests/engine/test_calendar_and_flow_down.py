"""Calendar generation for every kind, and supply-chain pass-down policies (002:2031-2033)."""

from __future__ import annotations

from datetime import date

from contracts.definition import parse, periods
from payments.engine import Facts, Line, SampleCheck, flow_down

from .helpers import D
from .test_mechanisms import contract


def test_monthly_quarterly_and_annual_calendars_use_date_ranges_and_fy_labels():
    monthly = periods(parse(contract(rules=[], start="2012-06-01", end="2013-05-31")))
    assert [p.id for p in monthly[:2]] == ["Jun 2012", "Jul 2012"]
    assert (monthly[0].start, monthly[0].end) == (date(2012, 6, 1), date(2012, 6, 30))
    assert monthly[0].financial_year == "2012-13"
    assert monthly[0].group == "Q1 2012-13"
    assert (monthly[-3].id, monthly[-3].financial_year) == ("Mar 2013", "2012-13")
    assert (monthly[-2].id, monthly[-2].financial_year) == ("Apr 2013", "2013-14")
    quarterly = periods(parse(contract(rules=[], kind="quarterly")))
    assert [p.id for p in quarterly] == ["Q1 2013-14", "Q2 2013-14", "Q3 2013-14", "Q4 2013-14"]
    assert quarterly[-1].end == date(2014, 3, 31)
    annual = periods(parse(contract(rules=[], kind="annual", end="2015-03-31")))
    assert [(p.id, p.start, p.end) for p in annual] == [
        ("2013-14", date(2013, 4, 1), date(2014, 3, 31)),
        ("2014-15", date(2014, 4, 1), date(2015, 3, 31))]


def test_explicit_periods_and_payment_in_arrears():
    data = contract(rules=[])
    data["calendar"]["payment_in_arrears_days"] = 30
    data["calendar"]["periods"] = [
        {"label": "Mobilisation", "start": "2013-04-01", "end": "2013-09-30"},
        {"label": "H2 2013-14", "start": "2013-10-01", "end": "2014-03-31"}]
    data["calendar"]["shadow"] = {"start": "2013-04-01", "end": "2013-09-30"}
    ps = periods(parse(data))
    assert [(p.id, p.shadow, p.payment_due) for p in ps] == [
        ("Mobilisation", True, date(2013, 10, 30)), ("H2 2013-14", False, date(2014, 4, 30))]


def chain(policy: str) -> dict:
    return contract(rules=[], subcontractors=[
        {"code": "S1", "management_fee_pct": "10", "clawback_passdown": policy,
         "delivery_share_pct": "75"},
        {"code": "S2", "management_fee_pct": "20", "clawback_passdown": policy,
         "delivery_share_pct": "25"}])


def lines() -> list[Line]:
    def outcome(sub, amount):
        return Line(key=f"t:{sub}", kind="outcome", rule_id="t", period="Apr 2013",
                    amount=D(amount), explanation="Outcome.", subcontractor=sub)
    return [outcome("S1", "3000"), outcome("S2", "1000"),
            Line(key="rec:S", kind="recovery", rule_id="rec", period="Apr 2013",
                 amount=D("-800"), explanation="Recovery.", references=("S",))]


def passed(policy: str, facts=None) -> dict[tuple[str, str], D]:
    return {(ln.subcontractor, ln.kind): ln.amount
            for ln in flow_down(lines(), parse(chain(policy)), facts)}


def test_management_fee_is_deducted_from_each_subcontractors_outcomes():
    got = passed("evenly")
    assert got[("S1", "flow_down")] == D("2700.00")
    assert got[("S2", "flow_down")] == D("800.00")


def test_recovery_passed_down_evenly():
    got = passed("evenly")
    assert (got[("S1", "recovery")], got[("S2", "recovery")]) == (D("-400.00"), D("-400.00"))


def test_recovery_passed_down_pro_rata_to_delivery():
    got = passed("pro_rata")
    assert (got[("S1", "recovery")], got[("S2", "recovery")]) == (D("-600.00"), D("-200.00"))


def test_recovery_passed_down_only_to_those_at_fault():
    facts = Facts(samples=(SampleCheck(id="S", period="Apr 2013", population_total=D(8000),
                                       population_count=100, sample_size=10, errors=1,
                                       errors_by_subcontractor={"S2": 1}),))
    got = passed("at_fault", facts)
    assert ("S1", "recovery") not in got
    assert got[("S2", "recovery")] == D("-800.00")
