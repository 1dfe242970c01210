"""Adjustments computed over other lines: caps and floors, sample-and-extrapolate recovery."""

from __future__ import annotations

from decimal import Decimal

from contracts.definition.model import Cap, SampleRecovery
from contracts.definition.money import fmt_number, gbp, money

from .context import Context
from .types import Line

ZERO = Decimal("0.00")


def sample_recovery(ctx: Context, rule: SampleRecovery) -> None:
    for sample in ctx.facts.samples:
        period = ctx.period(sample.period)
        if period is None:
            ctx.notes.append(f"sample {sample.id}: period {sample.period!r} is not in the "
                             "calendar.")
            continue
        if not ctx.reached(period):
            continue
        rate = Decimal(sample.errors) * 100 / sample.sample_size
        if rule.extrapolate:
            amount = -money(Decimal(sample.population_total) * sample.errors / sample.sample_size)
            scope = (f"so {fmt_number(round(rate, 2))}% of the whole population "
                     f"({gbp(sample.population_total)}) is recovered: {gbp(-amount)}")
        else:
            amount = ZERO
            scope = "recovered claim by claim, not extrapolated"
        ctx.add(Line(
            key=f"{rule.id}:{sample.id}", kind="recovery", rule_id=rule.id, period=period.id,
            amount=amount,
            explanation=f"Post-payment check {sample.id}: {sample.errors} of a sample of "
                        f"{sample.sample_size} from {sample.population_count:,} paid claims "
                        f"could not be verified ({fmt_number(round(rate, 2))}%), {scope}.",
            inputs={"population_total": str(sample.population_total),
                    "population_count": str(sample.population_count),
                    "sample_size": str(sample.sample_size), "errors": str(sample.errors),
                    # the findings travel with the line, so flow-down can find who was at fault
                    **{f"errors_by_subcontractor:{code}": str(n)
                       for code, n in sorted(sample.errors_by_subcontractor.items())}},
            references=(sample.id, *sample.claim_ids),
            shadow=ctx.shadow([period], "recovery")))


def _limits(ctx: Context, rule: Cap) -> tuple[Decimal | None, Decimal | None]:
    annual = Decimal(ctx.defn.annual_value)
    hi = rule.maximum if rule.maximum is not None else (
        money(annual * rule.maximum_pct / 100) if rule.maximum_pct is not None else None)
    if rule.allocation_cap:
        alloc = ctx.defn.allocation_of(rule.allocation_cap)
        pot = money(Decimal(ctx.defn.maximum_value) * alloc.pct / 100)
        hi = pot if hi is None else min(hi, pot)
    lo = rule.minimum if rule.minimum is not None else (
        money(annual * rule.minimum_pct / 100) if rule.minimum_pct is not None else None)
    return hi, lo


def caps(ctx: Context, rule: Cap) -> None:
    hi, lo = _limits(ctx, rule)
    counted = [
        ln for ln in ctx.lines
        if not ln.shadow and ln.kind != "cap_adjustment"
        and (not rule.applies_to or ln.rule_id in rule.applies_to)
        and (not rule.outcomes or ln.inputs.get("outcome") in rule.outcomes)
        and ctx.reached(ctx.period(ln.period))
    ]
    buckets: dict[str, list[Line]] = {}
    for ln in counted:
        period = ctx.period(ln.period)
        if rule.scope == "participant":
            if not ln.participant:
                continue
            bucket = f"{ln.participant}:{period.financial_year}"
        elif rule.scope == "period":
            bucket = period.id
        elif rule.scope == "year":
            bucket = period.financial_year
        else:
            bucket = "contract"
        buckets.setdefault(bucket, []).append(ln)
    what = {"participant": "for participant {b}", "period": "in {b}", "year": "for {b}",
            "contract": "over the contract"}[rule.scope]
    for bucket, lines in buckets.items():
        total = sum((ln.amount for ln in lines), ZERO)
        last = max((ctx.period(ln.period) for ln in lines), key=lambda p: p.index)
        where = what.format(b=bucket.replace(":", " in "))
        if hi is not None and total > hi:
            amount = hi - total
            text = (f"Payments {where} total {gbp(total)}, above the {gbp(hi)} cap: the cap was "
                    f"reached and the {gbp(-amount)} above it is not paid.")
        elif lo is not None and total < lo and _closed(ctx, rule, bucket, last):
            amount = lo - total
            text = (f"Payments {where} total {gbp(total)}, below the {gbp(lo)} floor: "
                    f"{gbp(amount)} is added to reach it.")
        else:
            continue
        ctx.add(Line(
            key=f"{rule.id}:{bucket}", kind="cap_adjustment", rule_id=rule.id, period=last.id,
            amount=amount, explanation=text,
            inputs={"total": str(total), "cap": str(hi) if hi is not None else "",
                    "floor": str(lo) if lo is not None else ""},
            references=tuple(ln.key for ln in lines[-5:]),
            participant=bucket.split(":")[0] if rule.scope == "participant" else None,
            shadow=ctx.shadow([last], "cap_adjustment")))


def _closed(ctx: Context, rule: Cap, bucket: str, last) -> bool:
    """A floor tops up only once what it protects is over: the year, contract or period."""
    if rule.scope == "period":
        return True
    if rule.scope == "contract":
        return ctx.reached(ctx.periods[-1])
    return ctx.year_closed(last.financial_year)
