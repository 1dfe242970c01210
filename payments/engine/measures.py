"""Payments driven by service-level indicators: target bands, periodic bonuses, threshold
penalties, annual performance payments, cohort measures against a baseline or comparison."""

from __future__ import annotations

import operator
from decimal import Decimal

from contracts.definition.model import (
    Band,
    CohortBaseline,
    Condition,
    PerformancePayment,
    PeriodicBonus,
    TargetBand,
    ThresholdPenalty,
)
from contracts.definition.money import fmt_number, gbp, money

from .context import Context
from .types import Line

OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
OP_WORDS = {">=": "at least", ">": "above", "<=": "at most", "<": "below"}
ZERO = Decimal("0.00")


def _pct(value: Decimal) -> str:
    return f"{fmt_number(round(value, 4))}%"


def band_share(band: Band, achieved: Decimal, lower_is_better: bool) -> tuple[Decimal, str, str]:
    """(percent of pot, band name, formula) for one indicator."""
    sign = -1 if lower_is_better else 1
    lo, hi = Decimal(band.minimum), Decimal(band.stretch)
    at_min, at_max = Decimal(band.at_minimum_pct), Decimal(band.at_stretch_pct)
    if sign * (achieved - lo) < 0:
        return Decimal(0), "below minimum", f"below the minimum {fmt_number(lo)}, so nothing"
    if sign * (achieved - hi) >= 0:
        return at_max, "at or above stretch", (f"at or beyond the stretch {fmt_number(hi)}, so "
                                                f"{_pct(at_max)}")
    if band.shape == "stepped":
        share, reached = at_min, f"the minimum {fmt_number(lo)}"
        if band.target is not None and sign * (achieved - Decimal(band.target)) >= 0:
            share = Decimal(band.at_target_pct if band.at_target_pct is not None else at_min)
            reached = f"the target {fmt_number(band.target)}"
        return share, "between minimum and stretch", (f"reaches {reached} but not the stretch "
                                                       f"{fmt_number(hi)}, so {_pct(share)}")
    share = at_min + (at_max - at_min) * (achieved - lo) / (hi - lo)
    formula = (f"between the minimum {fmt_number(lo)} and the stretch {fmt_number(hi)}, so "
               f"{_pct(at_min)} + {_pct(at_max - at_min)} × ({fmt_number(achieved)} − "
               f"{fmt_number(lo)}) ÷ ({fmt_number(hi)} − {fmt_number(lo)}) = {_pct(share)}")
    return share, "between minimum and stretch", formula


def target_band(ctx: Context, rule: TargetBand) -> None:
    for fy in ctx.years():
        if not ctx.year_closed(fy):
            continue
        year = ctx.year_periods(fy)
        for band in rule.bands:
            iv = ctx.indicator_value(band.indicator, fy)
            if iv is None:
                ctx.notes.append(f"{rule.id}: no {band.indicator} value for {fy} yet.")
                continue
            achieved = iv.resolved()
            lower = ctx.indicator_def(band.indicator).direction == "lower_is_better"
            share, band_name, formula = band_share(band, achieved, lower)
            amount = money(Decimal(band.pot) * share / 100)
            unit = ctx.unit(band.indicator)
            ctx.add(Line(
                key=f"{rule.id}:{band.indicator}:{fy}", kind="performance", rule_id=rule.id,
                period=year[-1].id, amount=amount,
                explanation=f"{ctx.name(band.indicator)} {fmt_number(achieved)}{unit} in {fy} "
                            f"is {formula} of the {gbp(band.pot)} pot = £{amount:,.2f}.",
                inputs={"indicator": band.indicator, "achieved": str(achieved),
                        "minimum": str(band.minimum), "stretch": str(band.stretch),
                        "band": band_name, "share_pct": str(share), "pot": str(band.pot)},
                references=(iv.ref,), shadow=ctx.shadow(year, "performance")))


def _holds(ctx: Context, cond: Condition, key: str):
    iv = ctx.indicator_value(cond.indicator, key)
    if iv is None:
        return None
    achieved = iv.resolved()
    ok = OPS[cond.op](achieved, Decimal(cond.threshold))
    unit = ctx.unit(cond.indicator)
    text = (f"{ctx.name(cond.indicator)} {fmt_number(achieved)}{unit} "
            f"({'meets' if ok else 'misses'} the condition {OP_WORDS[cond.op]} "
            f"{fmt_number(cond.threshold)}{unit})")
    return ok, text, iv


def periodic_bonus(ctx: Context, rule: PeriodicBonus) -> None:
    for period in ctx.periods:
        if not ctx.reached(period):
            break
        result = _holds(ctx, rule.condition, period.id)
        if result is None:
            continue
        ok, text, iv = result
        amount = money(rule.amount) if ok else ZERO
        ctx.add(Line(
            key=f"{rule.id}:{period.id}", kind="bonus", rule_id=rule.id, period=period.id,
            amount=amount,
            explanation=f"{period.id}: {text}, so the bonus of {gbp(rule.amount)} "
                        f"{'is' if ok else 'is not'} paid.",
            inputs={"achieved": str(iv.resolved()), "threshold": str(rule.condition.threshold)},
            references=(iv.ref,), shadow=ctx.shadow([period], "bonus")))


def threshold_penalty(ctx: Context, rule: ThresholdPenalty) -> None:
    for fy in ctx.years():
        if not ctx.year_closed(fy):
            continue
        year = ctx.year_periods(fy)
        results = []
        for t in rule.thresholds:
            r = _holds(ctx, Condition(indicator=t.indicator, op=">=", threshold=t.minimum), fy)
            if r is None:
                break
            results.append(r)
        else:
            missed = [text for ok, text, _ in results if not ok]
            due = bool(missed) if rule.missed == "any" else len(missed) == len(results)
            amount = -money(rule.penalty) if due else ZERO
            texts = "; ".join(text for _, text, _ in results)
            if due:
                verdict = (f"{'a threshold was' if len(missed) == 1 else 'thresholds were'} "
                           f"missed, so the {gbp(rule.penalty)} penalty is deducted")
            else:
                verdict = "no penalty"
            ctx.add(Line(
                key=f"{rule.id}:{fy}", kind="penalty", rule_id=rule.id, period=year[-1].id,
                amount=amount, explanation=f"{fy}: {texts}; {verdict}.",
                inputs={t.indicator: str(r[2].resolved())
                        for t, r in zip(rule.thresholds, results, strict=True)},
                references=tuple(r[2].ref for r in results),
                shadow=ctx.shadow(year, "penalty")))
            continue
        ctx.notes.append(f"{rule.id}: thresholds for {fy} cannot be assessed until every "
                         "indicator is returned.")


def performance_payment(ctx: Context, rule: PerformancePayment) -> None:
    full = money(ctx.annual_amount(rule.amount, rule.pct_of_annual_value))
    for fy in ctx.years():
        if not ctx.year_closed(fy):
            continue
        year = ctx.year_periods(fy)
        results = [_holds(ctx, c, fy) for c in rule.conditions]
        if any(r is None for r in results):
            ctx.notes.append(f"{rule.id}: waiting for the {fy} indicator returns.")
            continue
        ok = all(r[0] for r in results)
        texts = "; ".join(r[1] for r in results)
        share = (f" ({fmt_number(rule.pct_of_annual_value)}% of {gbp(ctx.defn.annual_value)})"
                 if rule.pct_of_annual_value is not None else "")
        ctx.add(Line(
            key=f"{rule.id}:{fy}", kind="performance", rule_id=rule.id, period=year[-1].id,
            amount=full if ok else ZERO,
            explanation=f"{fy}: {texts}, so the performance payment of {gbp(full)}{share} "
                        f"{'is' if ok else 'is not'} paid.",
            inputs={r[2].indicator: str(r[2].resolved()) for r in results},
            references=tuple(r[2].ref for r in results),
            shadow=ctx.shadow(year, "performance")))


def curve_pct(rule: CohortBaseline, improvement: Decimal) -> Decimal:
    points = rule.curve
    if improvement < points[0].improvement:
        return Decimal(rule.below_pct)
    if rule.shape == "stepped" or len(points) == 1:
        return Decimal([p for p in points if p.improvement <= improvement][-1].pct)
    for a, b in zip(points, points[1:], strict=False):
        if a.improvement <= improvement <= b.improvement:
            span = b.improvement - a.improvement
            return Decimal(a.pct) + (b.pct - a.pct) * (improvement - a.improvement) / span
    return Decimal(points[-1].pct)


def _improvement(rule: CohortBaseline, achieved: Decimal, reference: Decimal,
                 lower: bool) -> Decimal:
    gain = (reference - achieved) if lower else (achieved - reference)
    if rule.improvement == "points":
        return gain
    return gain * 100 / reference if reference else Decimal(0)


def cohort_baseline(ctx: Context, rule: CohortBaseline) -> None:
    lower = ctx.indicator_def(rule.indicator).direction == "lower_is_better"
    ds = ctx.defn.dataset(rule.dataset) if rule.dataset else None
    unit = "%" if rule.improvement == "relative_pct" else " points"
    seen = []
    for cohort in rule.cohorts:
        iv = ctx.indicator_value(rule.indicator, cohort)
        if rule.against == "comparison":
            ext = ctx.external_value(rule.dataset, cohort)
            ref_value, ref_ref = (ext.value, ext.ref) if ext else (None, None)
            ref_name = "the matched comparison cohort"
        else:
            ext = ctx.external_value(rule.dataset, cohort) if rule.dataset else None
            ref_value = rule.baseline_value if rule.baseline_value is not None else (
                ext.value if ext else ds.value if ds else None)
            ref_ref = ext.ref if ext else (f"dataset:{ds.code}" if ds else f"rule:{rule.id}")
            ref_name = "the baseline"
        if iv is None or ref_value is None:
            ctx.notes.append(f"{rule.id}: cohort {cohort} is not measured yet.")
            continue
        period = ctx.period(iv.reported_in) if iv.reported_in else ctx.up_to
        if period is None or not ctx.reached(period):
            continue
        achieved = iv.resolved()
        improvement = _improvement(rule, achieved, Decimal(ref_value), lower)
        pct = curve_pct(rule, improvement)
        amount = money(Decimal(rule.value) * pct / 100)
        seen.append((cohort, achieved, Decimal(ref_value), pct, period))
        verb = "reduction" if lower else "improvement"
        if pct > 0:
            outcome = f"{fmt_number(round(pct, 2))}% of {gbp(rule.value)} = {gbp(amount)} is paid"
        elif pct < 0:
            outcome = (f"{fmt_number(round(-pct, 2))}% of {gbp(rule.value)} = {gbp(-amount)} is "
                       "reclaimed")
        else:
            outcome = "nothing is paid"
        ctx.add(Line(
            key=f"{rule.id}:{cohort}", kind="cohort", rule_id=rule.id, period=period.id,
            amount=amount,
            explanation=f"Cohort {cohort}: {ctx.name(rule.indicator)} {fmt_number(achieved)} "
                        f"against {ref_name} {fmt_number(ref_value)} is a "
                        f"{fmt_number(round(improvement, 2))}{unit} {verb}, so {outcome}.",
            inputs={"achieved": str(achieved), "reference": str(ref_value),
                    "improvement": str(improvement), "pct": str(pct)},
            references=(iv.ref, ref_ref), shadow=ctx.shadow([period], "cohort")))
    if rule.all_cohorts_threshold is None or len(seen) != len(rule.cohorts) or not seen:
        return
    # Peterborough's second chance: cohorts that failed alone are paid if all together improve
    # enough (002:2297).
    mean_achieved = sum((s[1] for s in seen), Decimal(0)) / len(seen)
    mean_ref = sum((s[2] for s in seen), Decimal(0)) / len(seen)
    overall = _improvement(rule, mean_achieved, mean_ref, lower)
    unpaid = [s for s in seen if s[3] <= 0]
    if not unpaid:
        return
    ok = overall >= rule.all_cohorts_threshold
    amount = money(Decimal(rule.value) * len(unpaid)) if ok else ZERO
    last_period = max((s[4] for s in seen), key=lambda p: p.index)
    ctx.add(Line(
        key=f"{rule.id}:all_cohorts", kind="cohort", rule_id=rule.id, period=last_period.id,
        amount=amount,
        explanation=f"Across all {len(seen)} cohorts the {fmt_number(round(overall, 2))}{unit} "
                    f"improvement {'reaches' if ok else 'misses'} the "
                    f"{fmt_number(rule.all_cohorts_threshold)}{unit} threshold, so the "
                    f"{len(unpaid)} cohort(s) not paid individually "
                    f"{'are paid ' + gbp(amount) if ok else 'are not paid'}.",
        inputs={"overall_improvement": str(overall)},
        references=tuple(s[0] for s in unpaid), shadow=ctx.shadow([last_period], "cohort")))
