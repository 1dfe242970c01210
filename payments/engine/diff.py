"""Recompute and diff: post only the difference between entitlement and the ledger."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal

from contracts.definition import ContractDefinition, Period
from contracts.definition.money import gbp

from .calculate import calculate
from .types import Facts, Ledger, LedgerLine, Line, Statement

ZERO = Decimal("0.00")


def diff(entitlement_lines: Iterable[Line], ledger: Ledger | Iterable[LedgerLine],
         period: Period | str) -> list[Line]:
    """Lines to post in ``period`` so that the ledger equals entitlement, key by key.

    Shadow lines are diffed separately from payable ones (a key's shadow and real amounts never
    net off). A key seen for the first time is posted even at £0, so the statement explains
    refusals to pay (a personal outcome, a missed bonus); re-running then posts nothing.
    """
    period_id = period.id if isinstance(period, Period) else period
    posted = tuple(ledger.lines if isinstance(ledger, Ledger) else ledger)
    wanted: dict[tuple[str, bool], list[Line]] = {}
    for ln in entitlement_lines:
        wanted.setdefault((ln.key, ln.shadow), []).append(ln)
    paid: dict[tuple[str, bool], list[LedgerLine]] = {}
    for ln in posted:
        paid.setdefault((ln.key, ln.shadow), []).append(ln)

    out: list[Line] = []
    for ident in list(wanted) + [k for k in paid if k not in wanted]:
        target = wanted.get(ident, [])
        history = paid.get(ident, [])
        due = sum((ln.amount for ln in target), ZERO)
        already = sum((ln.amount for ln in history), ZERO)
        delta = due - already
        if history and delta == 0:
            continue
        if not history:
            last = target[-1]
            # (most keys are new and already in this period: the line is posted as it is)
            out.append(last if last.period == period_id and last.amount == delta
                       else replace(last, period=period_id, amount=delta))
            continue
        last = history[-1]
        if not target:
            out.append(Line(
                key=ident[0], kind="reversal", rule_id=last.rule_id, period=period_id,
                amount=delta, shadow=ident[1], subcontractor=last.subcontractor,
                corrects=last.id, references=(last.id,),
                explanation=f"No longer due: what this line paid ({gbp(already)}, last posted "
                            f"as {last.id} in {last.period}) is reversed because the claim or "
                            "measurement behind it was withdrawn or rejected.",
                inputs={"previously_paid": str(already)}))
            continue
        template = target[-1]
        kind = template.kind if delta > 0 or template.kind in ("clawback", "penalty",
                                                                "recovery") else "reversal"
        out.append(replace(
            template, period=period_id, amount=delta, kind=kind, corrects=last.id,
            explanation=f"Correction of {last.id} ({last.period}): now due {gbp(due)}, already "
                        f"paid {gbp(already)}, so {gbp(delta)}. {template.explanation}",
            inputs={**template.inputs, "previously_paid": str(already)}))
    return out


def statement(defn: ContractDefinition, facts: Facts, ledger: Ledger | Iterable[LedgerLine],
              period: Period | str) -> Statement:
    """One period's run: entitlement to date, minus the ledger, with refusals and notes."""
    assessment = calculate(defn, facts, period)
    period_id = period.id if isinstance(period, Period) else period
    lines = diff(assessment.lines, ledger, period_id)
    return Statement(period=period_id, lines=tuple(lines), refusals=assessment.refusals,
                     notes=assessment.notes)
