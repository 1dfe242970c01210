"""A plain-English summary of a contract definition, for a provider to read before signing.

Pure Python: takes a ``ContractDefinition`` and returns sections of sentences. Every figure a
provider would check by hand is spelled out in pounds and pence, so the summary can be compared
line by line with the contract text and with the statements the engine will later produce.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from contracts.definition import ContractDefinition, periods
from contracts.definition.calendar import default_groups
from contracts.definition.model import (
    Band,
    Cap,
    CohortBaseline,
    Condition,
    CoreInstalments,
    Grade,
    OnAccountReconciliation,
    Outcome,
    PerformancePayment,
    PeriodicBonus,
    RuleBase,
    SampleRecovery,
    TargetBand,
    Tariff,
    TariffPrice,
    ThresholdPenalty,
    VolumeReconciliation,
)
from contracts.definition.money import fmt_number, instalments, money

MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December"]
PERIODS_IN_FULL_YEAR = {"four_weekly": 13, "monthly": 12, "quarterly": 4, "annual": 1}
KIND_WORDS = {"four_weekly": "four-weekly", "monthly": "monthly", "quarterly": "quarterly",
              "annual": "annual"}
OP_WORDS = {">=": "at least", ">": "above", "<=": "at most", "<": "below"}


@dataclass(frozen=True)
class Section:
    title: str
    sentences: list[str] = field(default_factory=list)
    key: str = ""  # stable slug for templates and anchors, e.g. "payment-rules"


# --- formatting ---------------------------------------------------------------------------


def pounds(amount: object) -> str:
    """Always pounds and pence (£12,345.67): a summary reader compares figures digit by digit."""
    value = money(amount)
    sign = "-" if value < 0 else ""
    return f"{sign}£{abs(value):,.2f}"


def num(value: object) -> str:
    return fmt_number(Decimal(value)) if not isinstance(value, int) else f"{value:,}"


def pct(value: object) -> str:
    return f"{num(value)}%"


def day(d: date) -> str:
    return f"{d.day} {MONTH_NAMES[d.month - 1]} {d.year}"


def lower_first(text: str) -> str:
    # Keep acronyms ("ESA claimants") as written; lower only an ordinary capitalised word.
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def join_words(items: list[str], last: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def label(rule: RuleBase) -> str:
    text = rule.id.replace("_", " ").replace("-", " ")
    return text[:1].upper() + text[1:]


def indicator_name(defn: ContractDefinition, code: str) -> str:
    ind = defn.indicator(code)
    return lower_first(ind.name) if ind and ind.name else code


def is_rate(defn: ContractDefinition, code: str) -> bool:
    ind = defn.indicator(code)
    return bool(ind and (ind.kind == "rate" or ind.unit == "%"))


def measure(defn: ContractDefinition, code: str, value: object) -> str:
    """A value of an indicator as written on the contract: 110, 96.5%."""
    return f"{num(value)}{'%' if is_rate(defn, code) else ''}"


def lower_is_better(defn: ContractDefinition, code: str) -> bool:
    ind = defn.indicator(code)
    return bool(ind and ind.direction == "lower_is_better")


def outcome_name(defn: ContractDefinition, code: str) -> str:
    o = defn.outcome(code)
    return (o.name or code) if o else code


def segment_name(defn: ContractDefinition, code: str | None) -> str:
    if code is None:
        return "any segment"
    seg = next((s for s in defn.segments if s.code == code), None)
    return f"{seg.name} ({code})" if seg and seg.name else code


def annual_amount(defn: ContractDefinition, amount: Decimal | None,
                  share: Decimal | None) -> Decimal:
    if amount is not None:
        return money(amount)
    return money(Decimal(defn.annual_value) * Decimal(share or 0) / 100)


def condition_text(defn: ContractDefinition, cond: Condition, verb: str = "is") -> str:
    return (f"{indicator_name(defn, cond.indicator)} {verb} {OP_WORDS[cond.op]} "
            f"{measure(defn, cond.indicator, cond.threshold)}")


# --- sections -----------------------------------------------------------------------------


def _parties(defn: ContractDefinition) -> list[str]:
    prime = defn.prime_provider
    out = [f"{defn.title} (reference {defn.reference})."]
    funders = [f"{f.name} ({pct(f.share_pct)})" for f in defn.funders]
    if len(funders) == 1:
        out.append(f"Funded by {defn.funders[0].name}, which pays 100% of the cost.")
    else:
        out.append(f"Funded jointly by {join_words(funders)}; the shares add up to 100%.")
    out.append(f"The provider is {prime.name}" + (f" ({prime.code})." if prime.code else "."))
    for sub in defn.subcontractors:
        passed = (f"{pct(sub.outcome_pass_through_pct)} of the outcome money is passed down, "
                  if sub.outcome_pass_through_pct != 100 else "")
        passdown = {"evenly": "shared evenly across the supply chain",
                    "pro_rata": "shared pro rata to its share of delivery",
                    "at_fault": "passed down only when its own claims failed"}[
            sub.clawback_passdown]
        out.append(f"Subcontractor {sub.name or sub.code} ({sub.code}, tier {sub.tier}): "
                   f"{passed}less the prime's {pct(sub.management_fee_pct)} management fee; "
                   f"recoveries and clawbacks are {passdown}.")
    if defn.sources:
        out.append(f"Modelled on: {', '.join(defn.sources)}.")
    return out


def _term(defn: ContractDefinition) -> list[str]:
    years = list(dict.fromkeys(p.financial_year for p in periods(defn)))
    span = (f"{len(years)} financial year" + ("s" if len(years) != 1 else "")
            + f": {join_words(years)}")
    out = [f"The contract runs from {day(defn.start)} to {day(defn.end)} ({span})."]
    value = f"The annual value is {pounds(defn.annual_value)}"
    if defn.maximum_value is not None:
        value += f"; the most the contract can pay is {pounds(defn.maximum_value)}"
    out.append(value + ".")
    for a in defn.allocations:
        share = money(Decimal(defn.annual_value) * a.pct / 100)
        out.append(f"{a.name or a.code}: {pct(a.pct)} of the value ({pounds(share)} a year).")
    return out


def _calendar(defn: ContractDefinition) -> list[str]:
    cal = defn.calendar
    ps = periods(defn)
    out = []
    if cal.periods:
        out.append(f"Payments follow {len(cal.periods)} periods listed in the contract.")
    elif cal.kind == "four_weekly":
        out.append("Payment periods are four-weekly: thirteen periods of 28 days make a year.")
    else:
        out.append(f"Payment periods are {KIND_WORDS[cal.kind]}.")
    if ps:
        first = ps[0]
        out.append(f"The first period, {first.id}, runs from {day(first.start)} to "
                   f"{day(first.end)}.")
    fy_month = MONTH_NAMES[cal.financial_year_start_month - 1]
    out.append(f"Financial years start on 1 {fy_month}; annual results are assessed after the "
               "financial year ends.")
    if cal.payment_in_arrears_days:
        out.append(f"Payment is made in arrears: due {cal.payment_in_arrears_days} days after "
                   "each period ends.")
    else:
        out.append("Payment falls due at the end of each period.")
    if cal.kind != "annual":
        groups = default_groups(cal)
        parts = [f"{g.label} = period{'s' if len(g.periods) > 1 else ''} "
                 + (f"{g.periods[0]}–{g.periods[-1]}" if len(g.periods) > 1 else
                    f"{g.periods[0]}") for g in groups]
        out.append(f"Periods are grouped for reconciliation as {join_words(parts)}.")
    if cal.shadow:
        what = ("performance results are calculated and shown but not paid, while core "
                "payments continue" if cal.shadow.applies_to == "performance" else
                "everything is calculated and shown, and nothing is paid")
        out.append(f"Shadow (mobilisation) window from {day(cal.shadow.start)} to "
                   f"{day(cal.shadow.end)}: {what}.")
    if cal.post_contract_claim_days:
        out.append(f"Outcomes achieved during the contract may still be claimed for "
                   f"{cal.post_contract_claim_days} days after it ends; they are paid in the "
                   "last period.")
    else:
        out.append("Outcomes must be claimed before the contract ends; there is no "
                   "post-contract claim window.")
    return out


def _segments(defn: ContractDefinition) -> list[str]:
    return [f"{s.name or s.code} ({s.code})" + (f": {s.description}." if s.description else ".")
            for s in defn.segments]


def _outcome(defn: ContractDefinition, o: Outcome) -> str:
    name = f"{o.name or o.code} ({o.code})"
    if o.kind == "personal":
        return f"{name}: a personal outcome, recorded but never paid."
    if o.kind == "milestone":
        how = "a milestone: recorded, pays nothing on its own, but may start or unlock others"
    elif o.kind == "recurring":
        every = f"{o.every_weeks} weeks" if o.every_weeks else f"{o.every_days} days"
        how = (f"recurring: paid every {every} after {outcome_name(defn, o.trigger or '')}"
               + (f", at most {o.max_count} times" if o.max_count else ""))
    elif o.kind == "progression":
        how = (f"progression on a {o.steps}-step scale: paid in proportion to the steps a "
               "participant gains")
    elif o.kind == "graded":
        how = "graded: the price depends on the grade awarded"
    elif o.once_within_weeks:
        how = f"once-only: paid once per participant within {o.once_within_weeks} weeks of attachment"
    elif o.once_per_participant:
        how = "once-only: paid once per participant"
    else:
        how = "paid each time it is achieved"
    parts = [how]
    if o.qualifying_weeks:
        parts.append(f"due {o.qualifying_weeks} weeks after the start of the spell")
    for w in o.sustainment:
        tol = (f" with at most {w.max_adverse_events} adverse event"
               f"{'s' if w.max_adverse_events != 1 else ''}" if w.max_adverse_events else
               " with no adverse events")
        parts.append(f"must be sustained over {w.label} ({w.weeks} weeks){tol}")
    if o.evidence:
        parts.append(f"evidence required: {join_words([e.replace('_', ' ') for e in o.evidence])}")
    else:
        parts.append("no evidence type is specified")
    if o.voided_by:
        parts.append(f"void if {join_words([e.replace('_', ' ') for e in o.voided_by], 'or')} "
                     "is recorded")
    if o.prerequisites:
        parts.append("only after " + join_words([outcome_name(defn, p) for p in o.prerequisites])
                     + " is verified")
    if o.eligible_segments:
        parts.append("open only to " + join_words([segment_name(defn, s)
                                                   for s in o.eligible_segments], "or"))
    if o.category:
        parts.append(f"category {o.category.replace('_', ' ')}")
    return f"{name}: {'; '.join(parts)}."


def _outcomes(defn: ContractDefinition) -> list[str]:
    out = [_outcome(defn, o) for o in defn.outcomes]
    for b in defn.baskets:
        text = (f"Basket {b.id}: each participant has exactly {b.paid_outcomes_per_participant} "
                f"paid outcomes from {join_words([outcome_name(defn, c) for c in b.outcomes], 'or')}")
        if b.mandatory:
            text += ("; every basket must include "
                     + join_words([outcome_name(defn, c) for c in b.mandatory]))
        if b.segments:
            text += "; applies to " + join_words([segment_name(defn, s) for s in b.segments])
        out.append(text + ". A further paid outcome for the same participant is refused.")
    return out


def _indicators(defn: ContractDefinition) -> list[str]:
    out = []
    for ind in defn.indicators:
        if ind.kind == "rate":
            what = "a rate"
            if ind.numerator and ind.denominator:
                what += f" ({ind.numerator} ÷ {ind.denominator}, as a percentage)"
        elif ind.kind == "average":
            what = "an average"
        else:
            what = "a count" + (f" of {ind.unit}" if ind.unit and ind.unit != "%" else "")
        better = "lower is better" if ind.direction == "lower_is_better" else "higher is better"
        out.append(f"{ind.name or ind.code} ({ind.code}): {what}; {better}.")
    for ds in defn.datasets:
        kind = "baseline" if ds.kind == "baseline" else "matched comparison cohort"
        value = f" of {num(ds.value)}" if ds.value is not None else " (value supplied later)"
        src = f", from {ds.source}" if ds.source else ""
        out.append(f"Dataset {ds.code}: a {kind}{value}{src}.")
    return out


# --- one summariser per rule type --------------------------------------------------------


def _instalment_count(defn: ContractDefinition, rule: CoreInstalments) -> tuple[int, str]:
    cal = defn.calendar
    if rule.schedule == "annually":
        return 1, "as one payment at the end of each financial year{each}"
    if rule.schedule == "quarterly":
        n = len(default_groups(cal))
        return n, f"in {n} equal instalments{{each}}, one at the end of each reconciliation group"
    if cal.periods:
        ps = periods(defn)
        n = sum(1 for p in ps if p.financial_year == ps[0].financial_year)
    else:
        n = PERIODS_IN_FULL_YEAR[cal.kind]
    return n, f"in {n} equal {KIND_WORDS[cal.kind]} instalments{{each}}"


def core_instalments(defn: ContractDefinition, rule: CoreInstalments) -> list[str]:
    per_year = annual_amount(defn, rule.amount_per_year, rule.pct_of_annual_value)
    share = (f" ({pct(rule.pct_of_annual_value)} of the annual value)"
             if rule.pct_of_annual_value is not None else "")
    n, how = _instalment_count(defn, rule)
    split = instalments(per_year, n)
    each = f" of {pounds(split[0])}" if n > 1 else ""
    last = (f" (the last {pounds(split[-1])}, so the year totals exactly)"
            if split[-1] != split[0] else "")
    what = "paid on account of performance" if rule.on_account else "guaranteed"
    out = [f"{label(rule)}: {pounds(per_year)} a year{share}, {what}, {how.format(each=each)}{last}."]
    if rule.on_account:
        recs = [r.id for r in defn.rules
                if isinstance(r, OnAccountReconciliation) and r.on_account_rule == rule.id]
        if recs:
            out.append(f"Money paid on account under {rule.id} is reconciled by "
                       f"{join_words(recs)} and any shortfall is clawed back.")
        else:
            out.append(f"Money paid on account under {rule.id} is not reconciled by any rule, so "
                       "in practice it is guaranteed.")
    full = PERIODS_IN_FULL_YEAR.get(defn.calendar.kind)
    counts: dict[str, int] = {}
    for p in periods(defn):
        counts[p.financial_year] = counts.get(p.financial_year, 0) + 1
    part_years = [fy for fy, c in counts.items() if not defn.calendar.periods and c < (full or c)]
    if part_years:
        out.append(f"Part years ({join_words(part_years)}) are paid pro rata to the periods "
                   "they contain.")
    return out


def _price_text(defn: ContractDefinition, rule: Tariff, price: TariffPrice) -> tuple[Decimal, str]:
    if price.amount is not None:
        return money(price.amount), pounds(price.amount)
    if price.pct_of_unit_value is not None and rule.unit_value is not None:
        amount = money(Decimal(rule.unit_value) * price.pct_of_unit_value / 100)
        return amount, (f"{pct(price.pct_of_unit_value)} of the {pounds(rule.unit_value)} unit "
                        f"value = {pounds(amount)}")
    dp = rule.derived_price
    if dp is None:
        return Decimal("0.00"), "no price set"
    amount = money(Decimal(dp.pot) / (dp.planned_participants * dp.outcomes_per_participant))
    return amount, f"{pounds(amount)} (the derived price)"


def tariff(defn: ContractDefinition, rule: Tariff) -> list[str]:
    out = []
    dp = rule.derived_price
    if dp is not None:
        price = money(Decimal(dp.pot) / (dp.planned_participants * dp.outcomes_per_participant))
        out.append(f"{label(rule)}: price per paid outcome = {pounds(dp.pot)} pot ÷ "
                   f"({dp.planned_participants} planned participants × "
                   f"{dp.outcomes_per_participant} outcomes) = {pounds(price)}.")
    for price in rule.prices:
        outcome = defn.outcome(price.outcome)
        base, text = _price_text(defn, rule, price)
        who = f" for {segment_name(defn, price.segment)}" if price.segment else ""
        extra = []
        if outcome is not None and outcome.kind == "recurring":
            every = (f"{outcome.every_weeks} weeks" if outcome.every_weeks
                     else f"{outcome.every_days} days")
            extra.append(f"every {every} after {outcome_name(defn, outcome.trigger or '')}")
        if outcome is not None and outcome.kind == "progression" and outcome.steps:
            extra.append(f"for the whole {outcome.steps}-step scale, paid as {pounds(base)} × "
                         f"steps gained ÷ {outcome.steps - 1}")
        limit = price.max_count or (outcome.max_count if outcome else None)
        if limit:
            extra.append(f"at most {limit} per participant")
        weeks = price.qualifying_weeks or (outcome.qualifying_weeks if outcome else None)
        if weeks:
            extra.append(f"due {weeks} weeks after the start of the spell")
        tail = f" ({'; '.join(extra)})" if extra else ""
        out.append(f"{label(rule)}: {outcome_name(defn, price.outcome)}{who} pays {text}{tail}.")
    by_outcome: dict[str, list] = {}
    for t in sorted(rule.tapers, key=lambda t: t.from_contract_year):
        by_outcome.setdefault(t.outcome, []).append(t)
    for code, tapers in by_outcome.items():
        steps = []
        for i, t in enumerate(tapers):
            onwards = " onwards" if i == len(tapers) - 1 else ""
            steps.append(f"year {t.from_contract_year}{onwards} {pct(t.pct)}")
        sentence = (f"{label(rule)}: {outcome_name(defn, code)} tapers by contract year: "
                    f"{', '.join(steps)}")
        figures = []
        for price in rule.prices:
            if price.outcome != code:
                continue
            base, _ = _price_text(defn, rule, price)
            amounts = ", ".join(pounds(base * t.pct / 100) for t in tapers)
            figures.append(f"{amounts}" + (f" for {price.segment}" if price.segment else ""))
        if figures:
            sentence += f" ({'; '.join(figures)})"
        out.append(sentence + f". Contract year 1 starts on {day(defn.start)} and each later "
                   "year on its anniversary.")
    if not out:
        out.append(f"{label(rule)}: a tariff with no prices, so it pays nothing.")
    return out


def band_sentence(defn: ContractDefinition, band: Band, prefix: str) -> str:
    code = band.indicator
    lower = lower_is_better(defn, code)
    pot = money(band.pot)
    at_min = money(pot * band.at_minimum_pct / 100)
    at_max = money(pot * band.at_stretch_pct / 100)
    worse, more = ("above", "or less") if lower else ("below", "or more")
    lo, hi = measure(defn, code, band.minimum), measure(defn, code, band.stretch)
    head = f"{prefix}{pounds(pot)} for {indicator_name(defn, code)}: nothing {worse} {lo}; "
    if band.shape == "stepped":
        steps = [f"{pct(band.at_minimum_pct)} ({pounds(at_min)}) from {lo}"]
        if band.target is not None:
            tgt_pct = band.at_target_pct if band.at_target_pct is not None else band.at_minimum_pct
            steps.append(f"{pct(tgt_pct)} ({pounds(money(pot * tgt_pct / 100))}) from the target "
                         f"{measure(defn, code, band.target)}")
        steps.append(f"{pct(band.at_stretch_pct)} ({pounds(at_max)}) at {hi} {more}")
        return head + "; ".join(steps) + ", in steps with nothing in between."
    return (head + f"{pct(band.at_minimum_pct)} ({pounds(at_min)}) at {lo} rising evenly to "
            f"{pct(band.at_stretch_pct)} ({pounds(at_max)}) at {hi} {more}.")


def target_band(defn: ContractDefinition, rule: TargetBand) -> list[str]:
    total = sum((money(b.pot) for b in rule.bands), Decimal("0.00"))
    out = [f"{label(rule)}: up to {pounds(total)} a year, assessed per indicator after each "
           "financial year ends and paid then."]
    out += [band_sentence(defn, b, f"{label(rule)}: ") for b in rule.bands]
    return out


def grade(defn: ContractDefinition, rule: Grade) -> list[str]:
    levels = [f"grade {g.grade} at {pct(g.min_share_pct)} or more of criteria met pays "
              f"{pounds(g.price)} a unit" for g in rule.grades]
    lowest = rule.grades[-1].min_share_pct if rule.grades else Decimal(0)
    return [f"{label(rule)}: {outcome_name(defn, rule.outcome)} is graded by the share of "
            f"criteria met: {'; '.join(levels)}; below {pct(lowest)} nothing is paid."]


def periodic_bonus(defn: ContractDefinition, rule: PeriodicBonus) -> list[str]:
    n = PERIODS_IN_FULL_YEAR.get(defn.calendar.kind, 1)
    most = money(Decimal(rule.amount) * n)
    return [f"{label(rule)}: {pounds(rule.amount)} extra in each period in which "
            f"{condition_text(defn, rule.condition)}; nothing in a period where it is not "
            f"(at most {pounds(most)} in a full year of {n} periods)."]


def threshold_penalty(defn: ContractDefinition, rule: ThresholdPenalty) -> list[str]:
    mins = [f"{indicator_name(defn, t.indicator)} at least {measure(defn, t.indicator, t.minimum)}"
            for t in rule.thresholds]
    which = "any of these annual minimums is" if rule.missed == "any" and len(mins) > 1 else \
        "all of these annual minimums are" if len(mins) > 1 else "this annual minimum is"
    return [f"{label(rule)}: at the end of each financial year a penalty of "
            f"{pounds(rule.penalty)} is deducted if {which} missed: {'; '.join(mins)}."]


def _curve_pct_text(rule: CohortBaseline, share: Decimal) -> str:
    amount = money(Decimal(rule.value) * share / 100)
    if share < 0:
        return f"{pct(-share)} ({pounds(-amount)}) reclaimed"
    if share == 0:
        return "nothing paid"
    return f"{pct(share)} ({pounds(amount)}) paid"


def cohort_baseline(defn: ContractDefinition, rule: CohortBaseline) -> list[str]:
    lower = lower_is_better(defn, rule.indicator)
    verb = "reduction" if lower else "improvement"
    unit = "%" if rule.improvement == "relative_pct" else " points"
    how = "as a relative percentage" if rule.improvement == "relative_pct" else \
        "in percentage points"
    if rule.against == "comparison":
        ref = f"a matched comparison cohort (dataset {rule.dataset})"
    else:
        ds = defn.dataset(rule.dataset) if rule.dataset else None
        value = rule.baseline_value if rule.baseline_value is not None else (
            ds.value if ds else None)
        ref = (f"a baseline of {num(value)}" if value is not None else
               "a baseline that the contract does not state")
    cohorts = join_words(list(rule.cohorts))
    out = [f"{label(rule)}: for each cohort ({cohorts}) {pounds(rule.value)} is at stake, judged "
           f"by the {verb} in {indicator_name(defn, rule.indicator)} against {ref}, measured "
           f"{how}."]
    points = [f"{_curve_pct_text(rule, p.pct)} at a {num(p.improvement)}{unit} {verb}"
              for p in rule.curve]
    first = rule.curve[0].improvement if rule.curve else Decimal(0)
    below = (f"below a {num(first)}{unit} {verb}: "
             f"{_curve_pct_text(rule, Decimal(rule.below_pct))}")
    shape = ("rising evenly between the points" if rule.shape == "linear"
             else "in steps: each level holds until the next point is reached")
    out.append(f"{label(rule)}: {'; '.join(points)}, {shape}; {below}.")
    if rule.all_cohorts_threshold is not None:
        out.append(f"{label(rule)}: cohorts that fail on their own are still paid if the "
                   f"{verb} across all cohorts reaches {num(rule.all_cohorts_threshold)}{unit}.")
    return out


def on_account_reconciliation(defn: ContractDefinition, rule: OnAccountReconciliation) -> list[str]:
    scored = [f"{indicator_name(defn, s.indicator)} (target {measure(defn, s.indicator, s.target)})"
              for s in rule.indicators]
    cap = ("no uplift above target is paid" if rule.max_score == 1 else
           f"each indicator's score is capped at {num(rule.max_score)}")
    return [f"{label(rule)}: after each reconciliation group the money paid on account under "
            f"{rule.on_account_rule} is reconciled: score = mean over {join_words(scored)} of "
            f"min({num(rule.max_score)}, achieved ÷ target); the provider keeps score × the "
            "amount paid on account in the group, and the shortfall is clawed back from the first "
            f"period of the next group (the year's last group is settled at year end); {cap}."]


def volume_reconciliation(defn: ContractDefinition, rule: VolumeReconciliation) -> list[str]:
    fee_rule = defn.rule(rule.fee_rule)
    fee = (annual_amount(defn, fee_rule.amount_per_year, fee_rule.pct_of_annual_value)
           if isinstance(fee_rule, CoreInstalments) else None)
    tol = Decimal(rule.tolerance_pct)
    low = Decimal(rule.predicted) * (100 - tol) / 100
    high = Decimal(rule.predicted) * (100 + tol) / 100
    scope = ("only for the volume beyond the tolerance bound" if rule.adjust == "excess"
             else "for the whole difference from the prediction")
    out = [f"{label(rule)}: the fee under {rule.fee_rule} buys a predicted "
           f"{num(rule.predicted)} of {indicator_name(defn, rule.indicator)} a year; no "
           f"adjustment between {num(low)} and {num(high)} (±{pct(tol)}); outside that, a "
           f"year-end payment or deduction {scope}."]
    if fee is not None:
        unit = money(fee / Decimal(rule.predicted))
        out.append(f"{label(rule)}: each unit of volume is worth {pounds(fee)} ÷ "
                   f"{num(rule.predicted)} = {pounds(unit)}.")
    return out


def performance_payment(defn: ContractDefinition, rule: PerformancePayment) -> list[str]:
    full = annual_amount(defn, rule.amount, rule.pct_of_annual_value)
    share = (f" ({pct(rule.pct_of_annual_value)} of the annual value)"
             if rule.pct_of_annual_value is not None else "")
    conds = join_words([condition_text(defn, c) for c in rule.conditions])
    return [f"{label(rule)}: a performance payment of {pounds(full)}{share} is paid after each "
            f"financial year ends if {conds}; otherwise nothing."]


def cap_limits(defn: ContractDefinition, rule: Cap) -> tuple[Decimal | None, Decimal | None, str,
                                                              str]:
    """(cap, floor, how the cap is set, how the floor is set)."""
    hi, hi_how = None, ""
    if rule.maximum is not None:
        hi = money(rule.maximum)
    elif rule.maximum_pct is not None:
        hi = money(Decimal(defn.annual_value) * rule.maximum_pct / 100)
        hi_how = f" ({pct(rule.maximum_pct)} of the annual value)"
    if rule.allocation_cap:
        alloc = defn.allocation_of(rule.allocation_cap)
        if alloc is not None and defn.maximum_value is not None:
            pot = money(Decimal(defn.maximum_value) * alloc.pct / 100)
            if hi is None or pot < hi:
                hi = pot
                hi_how = (f" ({pct(alloc.pct)} of the {pounds(defn.maximum_value)} maximum value, "
                          f"the {alloc.name or alloc.code} allocation)")
    lo, lo_how = None, ""
    if rule.minimum is not None:
        lo = money(rule.minimum)
    elif rule.minimum_pct is not None:
        lo = money(Decimal(defn.annual_value) * rule.minimum_pct / 100)
        lo_how = f" ({pct(rule.minimum_pct)} of the annual value)"
    return hi, lo, hi_how, lo_how


def cap(defn: ContractDefinition, rule: Cap) -> list[str]:
    hi, lo, hi_how, lo_how = cap_limits(defn, rule)
    what = (f"payments under {join_words(list(rule.applies_to))}" if rule.applies_to
            else "all payments")
    if rule.outcomes:
        what += " for " + join_words([outcome_name(defn, o) for o in rule.outcomes], "or")
    scope = {"participant": "for each participant in each financial year",
             "period": "in each period", "year": "for each financial year",
             "contract": "over the whole contract"}[rule.scope]
    if hi is not None and lo is not None:
        return [f"{label(rule)}: {what} {scope} are kept between {pounds(lo)}{lo_how} and "
                f"{pounds(hi)}{hi_how}: a shortfall below the floor is topped up once the "
                "scope closes, and anything above the cap is not paid."]
    if hi is not None:
        return [f"{label(rule)}: {what} {scope} are capped at {pounds(hi)}{hi_how}; once the "
                "cap is reached further payments stop and the statement says so."]
    if lo is not None:
        return [f"{label(rule)}: {what} {scope} are guaranteed at least {pounds(lo)}{lo_how}; a "
                "shortfall is topped up once the scope closes."]
    return [f"{label(rule)}: a cap with no amount, so it limits nothing."]


def sample_recovery(defn: ContractDefinition, rule: SampleRecovery) -> list[str]:
    if rule.extrapolate:
        return [f"{label(rule)}: after payment the commissioner may check a sample of paid "
                "claims; the share that cannot be verified is recovered from the whole "
                "population the sample was drawn from (for example 10 unverifiable in a sample "
                "of 200 = 5% of all the money paid for those claims)."]
    return [f"{label(rule)}: after payment the commissioner may check a sample of paid claims; "
            "only the claims found in error are recovered, and the error rate is not "
            "extrapolated."]


RULE_SUMMARISERS: dict[str, Callable[[ContractDefinition, RuleBase], list[str]]] = {
    CoreInstalments.TYPE: core_instalments,
    Tariff.TYPE: tariff,
    TargetBand.TYPE: target_band,
    Grade.TYPE: grade,
    PeriodicBonus.TYPE: periodic_bonus,
    ThresholdPenalty.TYPE: threshold_penalty,
    CohortBaseline.TYPE: cohort_baseline,
    OnAccountReconciliation.TYPE: on_account_reconciliation,
    VolumeReconciliation.TYPE: volume_reconciliation,
    PerformancePayment.TYPE: performance_payment,
    Cap.TYPE: cap,
    SampleRecovery.TYPE: sample_recovery,
}


def summarise_rule(defn: ContractDefinition, rule: RuleBase) -> list[str]:
    summariser = RULE_SUMMARISERS.get(rule.TYPE or rule.type)
    if summariser is None:
        return [f"{label(rule)}: a {rule.type} rule that this summary cannot describe yet; read "
                "the contract text."]
    return summariser(defn, rule)


# --- warnings -----------------------------------------------------------------------------


def _capped_rule_ids(defn: ContractDefinition) -> tuple[set[str], bool]:
    """Rules covered by a cap that bounds the total (not a per-participant cap), and whether
    some such cap covers every rule."""
    covered: set[str] = set()
    everything = False
    for r in defn.rules:
        if isinstance(r, Cap) and r.scope != "participant" and not r.outcomes:
            hi, _, _, _ = cap_limits(defn, r)
            if hi is None:
                continue
            if r.applies_to:
                covered.update(r.applies_to)
            else:
                everything = True
    return covered, everything


def cliff_warnings(defn: ContractDefinition) -> list[str]:
    out = []
    for r in defn.rules:
        if isinstance(r, TargetBand):
            for b in r.bands:
                name = indicator_name(defn, b.indicator)
                pot = money(b.pot)
                side = "above" if lower_is_better(defn, b.indicator) else "below"
                if b.at_minimum_pct > 0:
                    out.append(f"Cliff edge in {r.id}: {name} just {side} "
                               f"{measure(defn, b.indicator, b.minimum)} pays nothing, while "
                               f"{measure(defn, b.indicator, b.minimum)} pays "
                               f"{pounds(pot * b.at_minimum_pct / 100)}.")
                if b.shape == "stepped":
                    out.append(f"Cliff edges in {r.id}: the stepped band for {name} jumps at "
                               "each point instead of rising evenly, so a result just short of "
                               "the target or stretch loses the whole step; a linear band avoids "
                               "this.")
        elif isinstance(r, PerformancePayment):
            full = annual_amount(defn, r.amount, r.pct_of_annual_value)
            conds = join_words([condition_text(defn, c, "being") for c in r.conditions])
            out.append(f"Cliff edge in {r.id}: the whole {pounds(full)} depends on {conds}; a "
                       "result just short of it pays nothing.")
        elif isinstance(r, ThresholdPenalty):
            out.append(f"Cliff edge in {r.id}: missing a minimum by one costs the whole "
                       f"{pounds(r.penalty)} penalty.")
        elif isinstance(r, PeriodicBonus):
            out.append(f"Cliff edge in {r.id}: a period just short of "
                       f"{measure(defn, r.condition.indicator, r.condition.threshold)} loses "
                       f"the whole {pounds(r.amount)} bonus.")
        elif isinstance(r, CohortBaseline) and r.shape == "stepped":
            out.append(f"Cliff edge in {r.id}: the payment curve is stepped, so a cohort just "
                       "short of a point loses that step (as with a 19% reduction against a "
                       "20% target paying nothing).")
        elif isinstance(r, Grade) and len(r.grades) > 0:
            out.append(f"Cliff edges in {r.id}: the price jumps at each grade boundary "
                       f"({', '.join(pct(g.min_share_pct) for g in r.grades)} of criteria met).")
    return out


def warnings(defn: ContractDefinition) -> list[str]:
    out = []
    for r in defn.rules:
        if isinstance(r, CohortBaseline):
            ds = defn.dataset(r.dataset) if r.dataset else None
            if r.against == "baseline" and r.baseline_value is None and (ds is None or
                                                                          ds.value is None):
                out.append(f"No baseline: {r.id} pays against a baseline, but the contract gives "
                           "no baseline value, so results cannot be judged until one is agreed.")
            if r.against == "comparison" and (ds is None or ds.kind != "comparison_cohort"):
                out.append(f"No comparison cohort: {r.id} compares against a matched cohort but "
                           "names no comparison cohort dataset.")
    out += cliff_warnings(defn)
    covered, everything = _capped_rule_ids(defn)
    uncapped = [r.id for r in defn.rules if isinstance(r, (Tariff, Grade))
                and r.id not in covered and not everything]
    if uncapped and defn.maximum_value is None:
        out.append(f"No cap on volume: payments under {join_words(uncapped)} grow with the number "
                   "of outcomes achieved and the contract sets no maximum value, so the most it "
                   "could cost cannot be known in advance.")
    elif uncapped:
        out.append(f"Payments under {join_words(uncapped)} are not capped by a rule; only the "
                   f"{pounds(defn.maximum_value)} maximum value limits them.")
    on_account = [r for r in defn.rules if isinstance(r, CoreInstalments) and r.on_account]
    for r in on_account:
        reconciled = any(isinstance(x, OnAccountReconciliation) and x.on_account_rule == r.id
                         for x in defn.rules)
        kind = "clawed back at year end through a threshold penalty" if any(
            isinstance(x, ThresholdPenalty) for x in defn.rules) else "reconciled"
        if not reconciled:
            out.append(f"{r.id} is paid on account but no reconciliation rule reconciles it; it "
                       f"is only {kind}.")
    return out


# --- the whole summary --------------------------------------------------------------------


def summarise(defn: ContractDefinition) -> list[Section]:
    rules = [s for r in defn.rules if not isinstance(r, Cap) for s in summarise_rule(defn, r)]
    limits = [s for r in defn.rules if isinstance(r, Cap) for s in summarise_rule(defn, r)]
    if defn.maximum_value is not None:
        limits.append(f"The contract as a whole can never pay more than "
                      f"{pounds(defn.maximum_value)} (its maximum value).")
    if not limits:
        limits.append("No cap or floor limits the payments.")
    sections = [
        Section("Parties and funders", _parties(defn), "parties"),
        Section("Term and value", _term(defn), "term"),
        Section("Payment calendar", _calendar(defn), "calendar"),
        Section("Segments", _segments(defn), "segments"),
        Section("Outcomes", _outcomes(defn), "outcomes"),
        Section("Indicators", _indicators(defn), "indicators"),
        Section("Payment rules", rules, "payment-rules"),
        Section("Caps and floors", limits, "caps"),
    ]
    found = warnings(defn)
    sections = [s for s in sections if s.sentences]
    sections.append(Section("Warnings", found or ["No warnings."], "warnings"))
    return sections


def as_text(sections: list[Section]) -> str:
    """The summary as plain text, e.g. for a management command or an email."""
    blocks = []
    for s in sections:
        blocks.append(s.title + "\n" + "\n".join(f"- {line}" for line in s.sentences))
    return "\n\n".join(blocks)


__all__ = ["RULE_SUMMARISERS", "Section", "as_text", "pounds", "summarise", "summarise_rule"]

