"""Outcome claims: eligibility, once-only and recurrence rules, baskets, tariffs, grades,
progression steps. Every claim ends as a line (possibly £0 for unpaid outcomes) or a refusal."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from contracts.definition import contract_year, period_for
from contracts.definition.model import Grade, Outcome, Tariff, TariffPrice
from contracts.definition.money import fmt_number, gbp, money

from .context import Context
from .types import AcceptedClaim, Claim, Line, Refusal

MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@functools.lru_cache(maxsize=8192)
def _d(day: date) -> str:
    # Same text as strftime("%d %b %Y") without the leading zero, without strftime's cost;
    # a run writes the same few thousand days into a hundred thousand explanations.
    return f"{day.day} {MONTH_ABBR[day.month - 1]} {day.year}"


class Refused(Exception):
    def __init__(self, code: str, reason: str, rule_id: str | None = None):
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.rule_id = rule_id


@dataclass
class Accepted:
    # participant -> accepted, in order: Claim, or AcceptedClaim for those accepted before
    claims: dict[str, list[Claim | AcceptedClaim]] = field(default_factory=dict)
    # participant -> outcome -> accepted, built for a participant when first asked
    _by_outcome: dict[str, dict[str, list]] = field(default_factory=dict, repr=False)

    def of(self, participant: str, outcome: str) -> Sequence[Claim | AcceptedClaim]:
        """The participant's accepted claims of `outcome`, in order. The list itself, not a
        copy (one per check of every claim added up): read it, never change it, and do not
        keep it past the next add(). An empty tuple when there are none."""
        mine = self._by_outcome.get(participant)
        if mine is None:
            mine = self._by_outcome[participant] = {}
            for claim in self.claims.get(participant, ()):
                mine.setdefault(claim.outcome, []).append(claim)
        return mine.get(outcome, ())

    def add(self, claim: Claim) -> None:
        self.claims.setdefault(claim.participant, []).append(claim)
        mine = self._by_outcome.get(claim.participant)
        if mine is not None:
            mine.setdefault(claim.outcome, []).append(claim)


@dataclass(frozen=True)
class Pricing:
    rule: Tariff | Grade
    price: TariffPrice | None


def _pricing(ctx: Context, claim: Claim) -> Pricing | None:
    key = ("pricing", claim.outcome, claim.segment)
    if key not in ctx.memo:
        ctx.memo[key] = _find_pricing(ctx, claim)
    return ctx.memo[key]


def _find_pricing(ctx: Context, claim: Claim) -> Pricing | None:
    for rule in ctx.defn.rules:
        if isinstance(rule, Tariff):
            exact = [p for p in rule.prices if p.outcome == claim.outcome
                     and p.segment is not None and p.segment == claim.segment]
            general = [p for p in rule.prices if p.outcome == claim.outcome and p.segment is None]
            if exact or general:
                return Pricing(rule, (exact or general)[0])
        elif isinstance(rule, Grade) and rule.outcome == claim.outcome:
            return Pricing(rule, None)
    return None


def _base_price(rule: Tariff, price: TariffPrice) -> tuple[Decimal, str]:
    if price.amount is not None:
        return Decimal(price.amount), gbp(price.amount)
    if price.pct_of_unit_value is not None:
        amount = money(Decimal(rule.unit_value) * price.pct_of_unit_value / 100)
        return amount, (f"{fmt_number(price.pct_of_unit_value)}% of the {gbp(rule.unit_value)} "
                        f"unit value = {gbp(amount)}")
    dp = rule.derived_price
    amount = money(Decimal(dp.pot) / (dp.planned_participants * dp.outcomes_per_participant))
    return amount, (f"{gbp(dp.pot)} pot ÷ ({dp.planned_participants} planned participants × "
                    f"{dp.outcomes_per_participant} outcomes) = {gbp(amount)}")


def _check_common(ctx: Context, claim: Claim, outcome: Outcome, accepted: Accepted) -> None:
    if outcome.eligible_segments and claim.segment not in outcome.eligible_segments:
        raise Refused("ineligible", f"{outcome.name or outcome.code} is not open to segment "
                      f"{claim.segment or '(none)'}; eligible: "
                      f"{', '.join(outcome.eligible_segments)}.")
    if outcome.evidence:
        missing = [e for e in outcome.evidence if e not in claim.evidence]
        if missing:
            raise Refused("evidence_missing", f"evidence required but not supplied: "
                          f"{', '.join(missing)}.")
    if claim.events:
        voiding = [e for e in claim.events if e in outcome.voided_by]
        if voiding:
            raise Refused("voided", f"the outcome is void because {', '.join(voiding)} was "
                          "recorded.")
    for i, window in enumerate(outcome.sustainment):
        seen = claim.adverse_events[i] if i < len(claim.adverse_events) else 0
        if seen > window.max_adverse_events:
            raise Refused("not_sustained", f"not sustained over {window.label}: {seen} adverse "
                          f"events recorded, at most {window.max_adverse_events} allowed.")
        if claim.started and claim.achieved < claim.started + timedelta(weeks=window.weeks):
            due = claim.started + timedelta(weeks=window.weeks)
            raise Refused("not_due", f"the {window.label} window from {_d(claim.started)} "
                          f"ends on {_d(due)}, after the date claimed ({_d(claim.achieved)}).")
    for pre in outcome.prerequisites:
        if not [c for c in accepted.of(claim.participant, pre) if c.achieved <= claim.achieved]:
            raise Refused("prerequisite", f"{pre} must be achieved and verified first.")


def _check_once(ctx: Context, claim: Claim, outcome: Outcome, accepted: Accepted) -> int:
    """Occurrence number of this claim for its participant; refuses a duplicate."""
    earlier = accepted.of(claim.participant, outcome.code)
    if outcome.kind in ("recurring", "progression", "personal") or not earlier:
        return len(earlier) + 1
    if outcome.once_within_weeks:
        attached = claim.attachment_date or _attachment(accepted, claim.participant)
        if attached is None:
            raise Refused("attachment_unknown", "the attachment date is needed to apply the "
                          f"once-in-{outcome.once_within_weeks}-weeks rule.")
        window_end = attached + timedelta(weeks=outcome.once_within_weeks)
        clash = [c for c in earlier if attached <= c.achieved < window_end]
        if clash and claim.achieved < window_end:
            raise Refused("duplicate", f"duplicate: {outcome.name or outcome.code} was already "
                          f"paid for {claim.participant} on {_d(clash[0].achieved)} (claim "
                          f"{clash[0].id}); only one is paid within {outcome.once_within_weeks}"
                          f" weeks of attachment on {_d(attached)}.")
        return len(earlier) + 1
    if outcome.once_per_participant:
        raise Refused("duplicate", f"duplicate: {outcome.name or outcome.code} was already paid "
                      f"for {claim.participant} (claim {earlier[0].id}); it is paid once per "
                      "participant.")
    return len(earlier) + 1


def _attachment(accepted: Accepted, participant: str) -> date | None:
    dates = [c.attachment_date or c.achieved for c in accepted.claims.get(participant, [])
             if c.outcome == "attachment" or c.attachment_date]
    return min(dates) if dates else None


def _check_recurring(ctx: Context, claim: Claim, outcome: Outcome, pricing: Pricing | None,
                     accepted: Accepted, n: int) -> str:
    triggers = accepted.of(claim.participant, outcome.trigger)
    if not triggers:
        raise Refused("no_trigger", f"no verified {outcome.trigger} for {claim.participant} yet, "
                      f"so {outcome.name or outcome.code} cannot start.")
    limit = (pricing.price.max_count if pricing and pricing.price and pricing.price.max_count
             else outcome.max_count)
    if limit is not None and n > limit:
        group = f" for payment group {claim.segment}" if claim.segment else ""
        raise Refused("max_count", f"at most {limit} {outcome.name or outcome.code} payments"
                      f"{group}; this would be number {n}.")
    interval = timedelta(weeks=outcome.every_weeks) if outcome.every_weeks \
        else timedelta(days=outcome.every_days or 0)
    start = triggers[0].achieved
    due = start + interval * n
    if claim.achieved < due:
        raise Refused("not_due", f"payment {n} is due on {_d(due)} ({n} × "
                      f"{_interval_words(outcome)} after {outcome.trigger} on {_d(start)}); "
                      f"claimed for {_d(claim.achieved)}.")
    return f"payment {n} of at most {limit}, due {_d(due)}" if limit else f"payment {n}"


def _interval_words(outcome: Outcome) -> str:
    return f"{outcome.every_weeks} weeks" if outcome.every_weeks else f"{outcome.every_days} days"


def _check_basket(ctx: Context, claim: Claim, accepted: Accepted) -> None:
    for basket in ctx.defn.baskets:
        if claim.outcome not in basket.outcomes:
            continue
        if basket.segments and claim.segment not in basket.segments:
            continue
        held = [c for c in accepted.claims.get(claim.participant, [])
                if c.outcome in basket.outcomes]
        if len(held) >= basket.paid_outcomes_per_participant:
            raise Refused("basket_full", f"{claim.participant} already has "
                          f"{basket.paid_outcomes_per_participant} paid outcomes, the whole basket "
                          f"({basket.id}); a further paid outcome is not paid.", basket.id)


def _qualifying(claim: Claim, outcome: Outcome, price: TariffPrice | None) -> str:
    weeks = (price.qualifying_weeks if price and price.qualifying_weeks else
             outcome.qualifying_weeks)
    if not weeks:
        return ""
    if claim.started is None:
        raise Refused("start_unknown", f"the start date is needed: {outcome.name or outcome.code}"
                      f" is due {weeks} weeks after it.")
    due = claim.started + timedelta(weeks=weeks)
    if claim.achieved < due:
        raise Refused("not_due", f"not yet due: {weeks} weeks from {_d(claim.started)} is "
                      f"{_d(due)}; claimed for {_d(claim.achieved)}.")
    return f", {weeks} weeks after starting on {_d(claim.started)}"


def _amount(ctx: Context, claim: Claim, outcome: Outcome, pricing: Pricing) -> tuple[
        Decimal, str, dict[str, str]]:
    rule = pricing.rule
    if isinstance(rule, Grade):
        grade, share = _grade(rule, claim)
        level = next((g for g in rule.grades if g.grade == grade), None)
        if level is None:
            raise Refused("ungraded", f"{share} is below the lowest grade, so nothing is paid.",
                          rule.id)
        amount = money(Decimal(level.price) * Decimal(claim.units))
        units = f" × {fmt_number(claim.units)} units" if claim.units != 1 else ""
        return amount, (f"grade {grade} ({share}) pays {gbp(level.price)}{units} = "
                        f"{gbp(amount)}"), {"grade": grade, "price": str(level.price)}
    price = pricing.price
    # The same for every claim at this price: worked out once a run.
    memo_key = ("base_price", id(price))
    found = ctx.memo.get(memo_key)
    if found is None:
        found = ctx.memo[memo_key] = _base_price(rule, price)
    base, how = found
    inputs = {"base_price": str(base)}
    if outcome.kind == "progression":
        if claim.step_from is None or claim.step_to is None:
            raise Refused("steps_missing", "a progression claim needs step_from and step_to.")
        gained = claim.step_to - claim.step_from
        if gained <= 0:
            raise Refused("no_progress", f"no progress: step {claim.step_from} to step "
                          f"{claim.step_to}.")
        span = outcome.steps - 1
        amount = money(base * gained / span)
        inputs.update(step_from=str(claim.step_from), step_to=str(claim.step_to))
        return amount, (f"step {claim.step_from} to step {claim.step_to} on the {outcome.steps}-"
                        f"step scale: {gbp(base)} × {gained} steps gained ÷ {span} = "
                        f"{gbp(amount)}"), inputs
    tapers_key = ("tapers", id(rule), claim.outcome)
    tapers = ctx.memo.get(tapers_key)
    if tapers is None:
        tapers = ctx.memo[tapers_key] = sorted(
            (t for t in rule.tapers if t.outcome == claim.outcome),
            key=lambda t: t.from_contract_year)
    if not tapers:
        return base, f"price {how}", inputs
    taper = None
    year = contract_year(ctx.defn, claim.achieved)
    for t in tapers:
        if year >= t.from_contract_year:
            taper = t
    if taper is None:
        return base, f"price {how}", inputs
    amount = money(base * Decimal(taper.pct) / 100)
    inputs.update(contract_year=str(year), taper_pct=str(taper.pct))
    return amount, (f"contract year {year}, taper {fmt_number(taper.pct)}%: "
                    f"{fmt_number(taper.pct)}% × {how} = {gbp(amount)}"), inputs


def _grade(rule: Grade, claim: Claim) -> tuple[str | None, str]:
    if claim.grade:
        return claim.grade, f"grade {claim.grade} awarded"
    if claim.criteria_met is None or not claim.criteria_total:
        raise Refused("criteria_missing", "a graded claim needs a grade or the criteria met.",
                      rule.id)
    share = Decimal(claim.criteria_met) * 100 / claim.criteria_total
    text = (f"{claim.criteria_met} of {claim.criteria_total} criteria met = "
            f"{fmt_number(round(share, 1))}%")
    for level in rule.grades:
        if share >= level.min_share_pct:
            return level.grade, text
    return None, text


def assess_claims(ctx: Context) -> None:
    accepted = Accepted({who: list(before) for who, before in ctx.prior.items()})
    ctx.accepted = accepted.claims
    claim_days = ctx.defn.calendar.post_contract_claim_days
    ordered = sorted(ctx.facts.claims, key=lambda c: (c.achieved, c.id))
    for claim in ordered:
        if claim.status != "verified":
            continue
        period = ctx.period(claim.period) if claim.period else period_for(
            ctx.periods, claim.achieved, claim_days)
        outcome = ctx.outcome(claim.outcome)
        try:
            if outcome is None:
                raise Refused("unknown_outcome", f"{claim.outcome!r} is not an outcome of "
                              "this contract.")
            if period is None:
                raise Refused("out_of_term", f"achieved {_d(claim.achieved)}, outside the "
                              "contract's periods and claim window.")
            if not ctx.reached(period):
                continue
            if ctx.settled_refused is not None and claim.id in ctx.settled:
                if claim.id not in ctx.settled_refused:
                    _replay(ctx, claim, outcome, accepted)
                continue
            _assess(ctx, claim, outcome, period, accepted)
        except Refused as refusal:
            ctx.refusals.append(Refusal(
                claim_id=claim.id, participant=claim.participant, outcome=claim.outcome,
                reason=refusal.reason, code=refusal.code, rule_id=refusal.rule_id))


def _key(pricing: Pricing, outcome: Outcome, base_key: str, claim: Claim, n: int) -> str:
    if outcome.kind == "recurring":
        return f"{pricing.rule.id}:{base_key}:{n}"
    if n > 1 or not outcome.once_per_participant:
        return f"{pricing.rule.id}:{base_key}:{claim.id}"
    return f"{pricing.rule.id}:{base_key}"


def _replay(ctx: Context, claim: Claim, outcome: Outcome, accepted: Accepted) -> None:
    """A settled claim the last computation accepted: what _assess records for it (accepted,
    its key settled), without the checks that accepted it."""
    base_key = f"{outcome.code}:{claim.participant}"
    n = len(accepted.of(claim.participant, outcome.code)) + 1  # as _check_once counts
    accepted.add(claim)
    if outcome.kind in ("personal", "milestone"):
        ctx.settled_keys.add(f"unpaid:{base_key}:{claim.id}")
        return
    # Accepted, so it had a price (a claim without one is refused).
    ctx.settled_keys.add(_key(_pricing(ctx, claim), outcome, base_key, claim, n))


def _assess(ctx: Context, claim: Claim, outcome: Outcome, period, accepted: Accepted) -> None:
    name = outcome.name or outcome.code
    who = f"{claim.participant}" + (f" ({claim.segment})" if claim.segment else "")
    base_key = f"{outcome.code}:{claim.participant}"
    settled = claim.id in ctx.settled
    _check_common(ctx, claim, outcome, accepted)
    n = _check_once(ctx, claim, outcome, accepted)
    if outcome.kind in ("personal", "milestone"):
        accepted.add(claim)
        if settled:
            ctx.settled_keys.add(f"unpaid:{base_key}:{claim.id}")
            return
        why = ("personal outcomes are recorded but never paid" if outcome.kind == "personal"
               else "it is recorded, and pays nothing on its own")
        ctx.add(Line(
            key=f"unpaid:{base_key}:{claim.id}", kind="outcome", rule_id="", period=period.id,
            amount=Decimal("0.00"),
            explanation=f"{name} for {who}, achieved {_d(claim.achieved)}: £0, because {why}.",
            inputs={"outcome": outcome.code, "segment": claim.segment or ""},
            references=(claim.id,), participant=claim.participant,
            subcontractor=claim.subcontractor, shadow=ctx.shadow([period], "outcome")))
        return
    pricing = _pricing(ctx, claim)
    if pricing is None:
        raise Refused("no_price", f"no price is set for {name} in segment "
                      f"{claim.segment or '(none)'}.")
    detail = ""
    if outcome.kind == "recurring":
        detail = ", " + _check_recurring(ctx, claim, outcome, pricing, accepted, n)
    _check_basket(ctx, claim, accepted)
    detail += _qualifying(claim, outcome, pricing.price)
    if not settled or isinstance(pricing.rule, Grade) or outcome.kind == "progression":
        # (a grade or a progression can still be refused while pricing it)
        amount, how, inputs = _amount(ctx, claim, outcome, pricing)
    accepted.add(claim)
    key = _key(pricing, outcome, base_key, claim, n)
    if settled:
        ctx.settled_keys.add(key)
        return
    ctx.add(Line(
        key=key, kind="outcome", rule_id=pricing.rule.id, period=period.id, amount=amount,
        explanation=f"{name} for {who}, achieved {_d(claim.achieved)}{detail}: {how}.",
        inputs={**inputs, "outcome": outcome.code, "segment": claim.segment or "",
                "achieved": claim.achieved.isoformat(), "occurrence": str(n)},
        references=(claim.id,), participant=claim.participant,
        subcontractor=claim.subcontractor, shadow=ctx.shadow([period], "outcome")))
