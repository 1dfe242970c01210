"""C1 - core plus uplift on account, four-weekly, quarterly reconciliation (000:186).

Every figure in shared/domain/payment-cases.md C1, through load_file -> facts -> statement.
"""

from __future__ import annotations

from datetime import date

from contracts.definition import periods
from payments.engine import Facts, entitlement

from .conftest import Runner, example
from .helpers import D, iv

QUARTERS = {
    "Q1 2013-14": ("63", "95"),
    "Q2 2013-14": ("77", "81"),
    "Q3 2013-14": ("70", "90"),
    "Q4 2013-14": ("56", "90"),
}


def facts() -> Facts:
    values = []
    for quarter, (move_on, utilisation) in QUARTERS.items():
        values += [iv("planned_move_on", quarter, move_on, id=f"IR-{quarter}-mo"),
                   iv("utilisation", quarter, utilisation, id=f"IR-{quarter}-ut")]
    return Facts(indicator_values=tuple(values))


def test_calendar_is_thirteen_four_weekly_periods_from_1_april_2013():
    ps = periods(example("c1-derbyshire.yaml"))
    assert len(ps) == 13
    assert (ps[0].id, ps[0].start, ps[0].end) == ("P1 2013-14", date(2013, 4, 1),
                                                  date(2013, 4, 28))
    assert (ps[-1].id, ps[-1].start, ps[-1].end) == ("P13 2013-14", date(2014, 3, 3),
                                                     date(2014, 3, 30))
    assert all((p.end - p.start).days == 27 for p in ps)
    assert [p.group for p in ps].count("Q4 2013-14") == 4


def test_each_period_pays_16000_core_and_4000_on_account():
    lines = entitlement(example("c1-derbyshire.yaml"), Facts(), "P1 2013-14")
    assert {(ln.kind, ln.amount) for ln in lines} == {("core", D("16000.00")),
                                                      ("uplift_on_account", D("4000.00"))}


def test_p4_pays_19400_after_q1_clawback_of_600():
    run = Runner(example("c1-derbyshire.yaml"), facts()).run_all(until="P4 2013-14")
    for p in ("P1 2013-14", "P2 2013-14", "P3 2013-14"):
        assert run.paid_in(p) == D("20000.00")
    assert run.paid_in("P4 2013-14") == D("19400.00")
    [claw] = [ln for ln in run.statements["P4 2013-14"].lines if ln.kind == "clawback"]
    assert claw.amount == D("-600.00")
    assert claw.key == "uplift_reconciliation:Q1 2013-14"
    assert claw.explanation == (
        "Reconciliation of Q1 2013-14: Planned move-on 63% against target 70% scores 0.9; "
        "Utilisation 95% against target 90% scores 1.0; mean 0.95 × £12,000 on account = "
        "£11,400 earned, so £600 is clawed back.")
    assert set(claw.references) == {"IR-Q1 2013-14-mo", "IR-Q1 2013-14-ut"}


def test_p7_pays_19400_after_q2_clawback():
    run = Runner(example("c1-derbyshire.yaml"), facts()).run_all(until="P7 2013-14")
    assert run.paid_in("P7 2013-14") == D("19400.00")


def test_q4_clawback_1600_settled_by_year_end_line():
    run = Runner(example("c1-derbyshire.yaml"), facts()).run_all()
    [claw] = [ln for ln in run.statements["P13 2013-14"].lines if ln.kind == "clawback"]
    assert claw.amount == D("-1600.00")
    assert claw.explanation.startswith("Year-end reconciliation of Q4 2013-14")
    assert "mean 0.9 × £16,000 on account = £14,400 earned" in claw.explanation
    assert run.paid_in_year("2013-14") == D("260000") - D("600") - D("600") - D("1600")


def test_no_uplift_above_target_is_paid():
    over = Facts(indicator_values=(iv("planned_move_on", "Q1 2013-14", "99"),
                                   iv("utilisation", "Q1 2013-14", "100")))
    lines = entitlement(example("c1-derbyshire.yaml"), over, "P4 2013-14")
    [rec] = [ln for ln in lines if ln.rule_id == "uplift_reconciliation"]
    assert rec.amount == D("0.00")
    assert "mean 1.0" in rec.explanation


def test_reconciliation_waits_for_indicator_returns():
    run = Runner(example("c1-derbyshire.yaml"), Facts()).run_all(until="P4 2013-14")
    assert run.paid_in("P4 2013-14") == D("20000.00")
    assert any("Q1 2013-14 cannot be reconciled" in n
               for n in run.statements["P4 2013-14"].notes)


def test_shadow_variant_shows_q1_reconciliation_but_p4_pays_20000():
    run = Runner(example("c1-derbyshire-shadow.yaml"), facts()).run_all(until="P7 2013-14")
    p4 = run.statements["P4 2013-14"]
    assert p4.payable == D("20000.00")
    [shadow] = [ln for ln in p4.lines if ln.shadow]
    assert shadow.amount == D("-600.00")
    assert p4.shadow_total == D("-600.00")
    assert "Shadow period: shown for information, not applied." in shadow.explanation
    # Core money is paid during mobilisation; only performance is shadowed (000:302-315).
    assert run.paid_in("P1 2013-14") == D("20000.00")
    # After the window the real reconciliation applies.
    assert run.paid_in("P7 2013-14") == D("19400.00")
