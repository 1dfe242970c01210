"""Scheduled money: core instalments, payment on account and its reconciliation, volume
reconciliation of a fee paid in instalments."""

from __future__ import annotations

from decimal import Decimal

from contracts.definition.model import (
    CoreInstalments,
    OnAccountReconciliation,
    VolumeReconciliation,
)
from contracts.definition.money import fmt_number, gbp, instalments, money

from .context import Context
from .types import Line

PERIODS_IN_FULL_YEAR = {"four_weekly": 13, "monthly": 12, "quarterly": 4, "annual": 1}
WORDS = {"four_weekly": "four-weekly", "monthly": "monthly", "quarterly": "quarterly",
         "annual": "annual"}


def core_instalments(ctx: Context, rule: CoreInstalments) -> None:
    kind = "uplift_on_account" if rule.on_account else "core"
    what = "Payment on account of the performance uplift" if rule.on_account else "Core payment"
    per_year = ctx.annual_amount(rule.amount_per_year, rule.pct_of_annual_value)
    cal = ctx.defn.calendar
    for fy in ctx.years():
        year = ctx.year_periods(fy)
        if rule.schedule == "every_period":
            slots = [[p] for p in year]
        elif rule.schedule == "quarterly":
            slots = [ctx.group_periods(g) for g in dict.fromkeys(p.group for p in year)]
        else:
            slots = [year]
        full = len(year) if cal.periods else PERIODS_IN_FULL_YEAR[cal.kind]
        # A part year (contract starting or ending mid-year) is paid pro rata by periods.
        amount = money(per_year * min(len(year), full) / full)
        split = instalments(amount, len(slots))
        how = (f"{len(slots)} equal {WORDS[cal.kind]} instalments"
               if rule.schedule == "every_period" else
               f"{len(slots)} equal instalments, one per quarter" if rule.schedule == "quarterly"
               else "one annual payment")
        for n, (slot, each) in enumerate(zip(slots, split, strict=True), start=1):
            period = slot[-1]
            last_note = (" (the last instalment takes the rounding difference so the year totals "
                         f"exactly {gbp(amount)})") if n == len(slots) and len(set(split)) > 1 \
                else ""
            ctx.add(Line(
                key=f"{rule.id}:{period.id}", kind=kind, rule_id=rule.id, period=period.id,
                amount=each,
                explanation=f"{what}: {gbp(amount)} for {fy} in {how}; instalment {n} of "
                            f"{len(slots)} = {gbp(each)}{last_note}.",
                inputs={"year_amount": str(amount), "instalment": str(n),
                        "instalments": str(len(slots))},
                shadow=ctx.shadow(slot, kind),
            ))


def _score(ctx: Context, rule: OnAccountReconciliation, group: str):
    parts, inputs, refs = [], {}, []
    scores = []
    for si in rule.indicators:
        iv = ctx.indicator_value(si.indicator, group)
        if iv is None:
            return None
        achieved = iv.resolved()
        lower = ctx.indicator_def(si.indicator).direction == "lower_is_better"
        ratio = (Decimal(si.target) / achieved if achieved else rule.max_score) if lower \
            else achieved / Decimal(si.target)
        score = min(rule.max_score, ratio)
        scores.append(score)
        unit = ctx.unit(si.indicator)
        parts.append(f"{ctx.name(si.indicator)} {fmt_number(achieved)}{unit} against target "
                     f"{fmt_number(si.target)}{unit} scores {_show_score(score)}")
        inputs[f"{si.indicator}.achieved"] = str(achieved)
        inputs[f"{si.indicator}.target"] = str(si.target)
        inputs[f"{si.indicator}.score"] = str(score)
        refs.append(iv.ref)
    mean = sum(scores, Decimal(0)) / len(scores)
    return mean, parts, inputs, refs


def _show_score(score: Decimal) -> str:
    text = fmt_number(round(score, 4))
    return text if "." in text else f"{text}.0"


def on_account_reconciliation(ctx: Context, rule: OnAccountReconciliation) -> None:
    paid_on_account = ctx.rule_lines(rule.on_account_rule)
    for group in ctx.groups():
        members = ctx.group_periods(group)
        last = members[-1]
        year_end = last == ctx.year_periods(last.financial_year)[-1]
        # The shortfall comes back in the first period of the next group; the year's last group
        # is settled by a year-end line in its own last period, so a year never spills over.
        settle = last if year_end else (ctx.next_period(last) or last)
        if not ctx.reached(settle):
            continue
        scored = _score(ctx, rule, group)
        if scored is None:
            ctx.notes.append(f"{rule.id}: {group} cannot be reconciled until its indicator "
                             "returns are in.")
            continue
        mean, parts, inputs, refs = scored
        ids = {p.id for p in members}
        on_account = sum((ln.amount for ln in paid_on_account if ln.period in ids),
                         Decimal("0.00"))
        earned = money(mean * on_account)
        amount = earned - on_account
        shadow = ctx.shadow(members, "reconciliation")
        verdict = (f"so {gbp(-amount)} is clawed back" if amount < 0
                   else "so nothing is clawed back")
        sentence = (f"{'; '.join(parts)}; mean {_show_score(mean)} × {gbp(on_account)} on account "
                    f"= {gbp(earned)} earned, {verdict}.")
        sentence = sentence[0].upper() + sentence[1:]
        if year_end:
            sentence = f"Year-end reconciliation of {group}: {sentence}"
        else:
            sentence = f"Reconciliation of {group}: {sentence}"
        if shadow:
            sentence += " Shadow period: shown for information, not applied."
        ctx.add(Line(
            key=f"{rule.id}:{group}", kind="clawback" if amount < 0 else "reconciliation",
            rule_id=rule.id, period=settle.id, amount=amount, explanation=sentence,
            inputs={**inputs, "group": group, "score": str(mean), "on_account": str(on_account),
                    "earned": str(earned)},
            references=tuple(refs), shadow=shadow,
        ))


def volume_reconciliation(ctx: Context, rule: VolumeReconciliation) -> None:
    fees = ctx.rule_lines(rule.fee_rule)
    for fy in ctx.years():
        year = ctx.year_periods(fy)
        if not ctx.year_closed(fy):
            continue
        iv = ctx.indicator_value(rule.indicator, fy)
        if iv is None:
            ctx.notes.append(f"{rule.id}: the actual volume for {fy} has not been returned.")
            continue
        actual = iv.resolved()
        ids = {p.id for p in year}
        fee = sum((ln.amount for ln in fees if ln.period in ids), Decimal("0.00"))
        predicted = Decimal(rule.predicted)
        tol = Decimal(rule.tolerance_pct)
        low, high = predicted * (100 - tol) / 100, predicted * (100 + tol) / 100
        deviation = (actual - predicted) * 100 / predicted
        head = (f"Actual volume {fmt_number(actual)} against predicted {fmt_number(predicted)} "
                f"is {fmt_number(round(deviation, 2))}% away")
        if low <= actual <= high:
            amount = Decimal("0.00")
            sentence = f"{head}, within the ±{fmt_number(tol)}% tolerance, so no adjustment."
        else:
            bound = high if actual > high else low
            basis = actual - bound if rule.adjust == "excess" else actual - predicted
            amount = money(fee * basis / predicted)
            what = "payment" if amount > 0 else "deduction"
            scope = (f"volume beyond the tolerance bound {fmt_number(bound)}"
                     if rule.adjust == "excess" else "the whole difference")
            sentence = (f"{head}, outside the ±{fmt_number(tol)}% tolerance: {what} for {scope} "
                        f"= {gbp(fee)} fee × {fmt_number(basis)} ÷ {fmt_number(predicted)} = "
                        f"{gbp(amount)}.")
        ctx.add(Line(
            key=f"{rule.id}:{fy}", kind="volume", rule_id=rule.id, period=year[-1].id,
            amount=amount, explanation=sentence,
            inputs={"actual": str(actual), "predicted": str(predicted), "fee": str(fee),
                    "tolerance_pct": str(tol)},
            references=(iv.ref,), shadow=ctx.shadow(year, "volume"),
        ))
