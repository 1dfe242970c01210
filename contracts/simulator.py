"""What-if simulator: run the real payment engine on assumed results.

Pure Python. From assumptions (indicator values per period, group, year or cohort; numbers of
outcome achievements per period or year, optionally by segment) it builds the engine's own facts,
runs the engine period by period against a growing in-memory ledger (so reconciliations and
clawbacks land in the period they would), and reports payments by period and by financial year.

It also answers the two questions a designer and a finance officer ask before signing:

* the most the contract could cost in each financial year (the engine run on best-case results,
  bounded by caps and the maximum value), and
* where the cliff edges are: for every threshold, what is paid just below it and at it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal

from contracts.definition import ContractDefinition, Period, periods
from contracts.definition.model import (
    Cap,
    CohortBaseline,
    Condition,
    Grade,
    OnAccountReconciliation,
    Outcome,
    PerformancePayment,
    PeriodicBonus,
    TargetBand,
    Tariff,
    ThresholdPenalty,
    VolumeReconciliation,
)
from contracts.definition.money import money, to_decimal
from contracts.summary import cap_limits, indicator_name, lower_is_better, measure, pounds
from payments.engine import (
    Claim,
    ExternalValue,
    Facts,
    IndicatorValue,
    Ledger,
    Line,
    Refusal,
    calculate,
    statement,
)

ZERO = Decimal("0.00")
FINE_STEP = Decimal("0.01")

@dataclass(frozen=True)
class Assumptions:
    """What the provider expects to achieve.

    ``indicators``: indicator code -> key -> value. A key is a period id ("P4 2013-14"), a
    reconciliation group ("Q1 2013-14"), a financial year ("2013-14") or a cohort label. A year's
    value also stands for its groups and periods, and a group's for its periods, unless those are
    given too: a rate assumed for the year is assumed for every month of it.

    ``outcomes``: outcome code -> key -> number of achievements, or {segment: number}. A key is a
    period id, a group or a financial year; a group's or year's number is spread evenly over its
    periods, earlier periods taking the remainder. For a progression outcome each achievement is
    one participant gaining ``steps_gained`` steps (default 1).

    ``external``: dataset code -> cohort -> value, for matched comparison cohorts.
    ``grades``: graded outcome -> grade assumed (default: the best grade).
    """

    indicators: dict[str, dict[str, object]] = field(default_factory=dict)
    outcomes: dict[str, dict[str, object]] = field(default_factory=dict)
    external: dict[str, dict[str, object]] = field(default_factory=dict)
    grades: dict[str, str] = field(default_factory=dict)
    steps_gained: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class PeriodResult:
    period: str
    financial_year: str
    start: date
    end: date
    payment_due: date
    in_shadow: bool
    payable: Decimal  # what this period's run posts as payable (net of clawbacks)
    shadow: Decimal  # shown but not payable
    by_rule: dict[str, Decimal]  # payable amount by rule id
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class YearResult:
    financial_year: str
    total: Decimal
    shadow: Decimal
    by_rule: dict[str, Decimal]
    maximum_liability: Decimal | None  # None: no cap or maximum value bounds it


@dataclass(frozen=True)
class CliffEdge:
    rule_id: str
    rule_type: str
    what: str  # e.g. "band minimum", "condition", "penalty threshold", "grade B boundary"
    indicator: str | None  # indicator code; None for grade boundaries
    assessed: str  # the year, period, group or cohort nudged
    threshold: Decimal
    value_below: Decimal
    value_at: Decimal
    payment_below: Decimal  # what the rule pays for the assessed key at value_below
    payment_at: Decimal
    difference: Decimal  # payment_at - payment_below
    year_total_below: Decimal  # the whole financial year's payable total, caps included
    year_total_at: Decimal
    is_cliff: bool  # the jump is far steeper than the slope either side
    explanation: str


@dataclass(frozen=True)
class Liability:
    by_year: dict[str, Decimal | None]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Simulation:
    reference: str
    periods: tuple[PeriodResult, ...]
    years: tuple[YearResult, ...]
    total: Decimal
    cliff_edges: tuple[CliffEdge, ...]
    refusals: tuple[Refusal, ...]
    notes: tuple[str, ...]

    def period(self, period_id: str) -> PeriodResult:
        return next(p for p in self.periods if p.period == period_id)

    def year(self, financial_year: str) -> YearResult:
        return next(y for y in self.years if y.financial_year == financial_year)

    @property
    def maximum_liability(self) -> dict[str, Decimal | None]:
        return {y.financial_year: y.maximum_liability for y in self.years}


# --- building facts ----------------------------------------------------------------------


def _groups_and_years(ps: list[Period]) -> tuple[list[str], list[str]]:
    return (list(dict.fromkeys(p.group for p in ps)),
            list(dict.fromkeys(p.financial_year for p in ps)))


def indicator_facts(defn: ContractDefinition, values: dict[str, dict[str, object]],
                    ps: list[Period] | None = None) -> list[IndicatorValue]:
    ps = ps if ps is not None else periods(defn)
    groups, _ = _groups_and_years(ps)
    group_year = {p.group: p.financial_year for p in ps}
    out = []
    for code, by_key in values.items():
        given = {k: to_decimal(v) for k, v in by_key.items()}
        keys = dict(given)
        for g in groups:
            if g not in keys and group_year[g] in given:
                keys[g] = given[group_year[g]]
        for p in ps:
            if p.id not in keys:
                inherited = given.get(p.group, keys.get(p.group, given.get(p.financial_year)))
                if inherited is not None:
                    keys[p.id] = inherited
        out += [IndicatorValue(indicator=code, period=k, value=v, id=f"sim:{code}@{k}")
                for k, v in keys.items()]
    return out


def _spread(total: int, slots: list[str]) -> dict[str, int]:
    base, extra = divmod(total, len(slots))
    return {s: base + (1 if i < extra else 0) for i, s in enumerate(slots)}


def _counts_by_period(ps: list[Period], by_key: dict[str, object]) -> dict[str, dict[str | None,
                                                                                     int]]:
    """period id -> segment (None = default) -> achievements."""
    out: dict[str, dict[str | None, int]] = {}
    for key, spec in by_key.items():
        per_segment = spec if isinstance(spec, dict) else {None: spec}
        slots = ([p.id for p in ps if p.id == key] or [p.id for p in ps if p.group == key]
                 or [p.id for p in ps if p.financial_year == key])
        if not slots:
            raise ValueError(f"{key!r} is not a period, group or financial year of the contract")
        for seg, n in per_segment.items():
            for pid, k in _spread(int(n), slots).items():
                if k:
                    bucket = out.setdefault(pid, {})
                    bucket[seg] = bucket.get(seg, 0) + k
    return out


@dataclass
class _Person:
    id: str
    segment: str | None
    attached: date
    got: dict[str, list[date]] = field(default_factory=dict)
    step: int = 1


class _ClaimMaker:
    """Turns numbers of achievements into claims the engine will accept.

    Participants are reused the way a caseload works: an outcome with prerequisites or a trigger
    goes to someone who already has them, a basket outcome fills an existing basket before a new
    participant is enrolled, and a once-only outcome goes to the earliest participant who lacks
    it. Whatever still cannot be placed becomes a claim the engine refuses, so the refusal (and
    its reason) shows up in the simulation instead of being silently dropped.
    """

    def __init__(self, defn: ContractDefinition, assumptions: Assumptions):
        self.defn = defn
        self.a = assumptions
        self.people: list[_Person] = []
        self.claims: list[Claim] = []
        # (outcome, segment asked for) -> [people who may yet be eligible, in enrolment order;
        # how many of self.people have been looked at]. Achievements only accumulate, so someone
        # who can never again be given an outcome is dropped for good: choosing a participant
        # then costs the few who still can, not the whole caseload (a capped basket's maximum
        # enrols tens of thousands of people).
        self._pools: dict[tuple[str, str | None], list] = {}
        # What the terms say about an outcome (and segment), looked up once per maker.
        self._memo: dict[tuple, object] = {}

    def _known(self, key: tuple, work):
        if key not in self._memo:
            self._memo[key] = work()
        return self._memo[key]

    def _default_segment(self, o: Outcome) -> str | None:
        return self._known(("segment", o.code), lambda: self._find_default_segment(o))

    def _find_default_segment(self, o: Outcome) -> str | None:
        if o.eligible_segments:
            return o.eligible_segments[0]
        for r in self.defn.rules:
            if isinstance(r, Tariff):
                prices = [p for p in r.prices if p.outcome == o.code]
                if prices and all(p.segment is not None for p in prices):
                    return prices[0].segment
        return None

    def _baskets(self, o: Outcome):
        return self._known(("baskets", o.code),
                           lambda: [b for b in self.defn.baskets if o.code in b.outcomes])

    def _basket_room(self, person: _Person, o: Outcome) -> bool:
        for b in self._baskets(o):
            if b.segments and person.segment not in b.segments:
                continue
            held = sum(len(person.got.get(c, [])) for c in b.outcomes)
            if held >= b.paid_outcomes_per_participant:
                return False
        return True

    def _limit(self, o: Outcome, segment: str | None) -> int | None:
        return self._known(("limit", o.code, segment), lambda: self._find_limit(o, segment))

    def _find_limit(self, o: Outcome, segment: str | None) -> int | None:
        for r in self.defn.rules:
            if isinstance(r, Tariff):
                for p in r.prices:
                    if p.outcome == o.code and p.segment in (segment, None) and p.max_count:
                        return p.max_count
        return o.max_count

    def _interval(self, o: Outcome) -> timedelta:
        return timedelta(weeks=o.every_weeks) if o.every_weeks else timedelta(days=o.every_days
                                                                              or 0)

    def _eligible(self, person: _Person, o: Outcome, segment: str | None, when: date) -> bool:
        if segment is not None and person.segment != segment:
            return False
        if o.eligible_segments and person.segment not in o.eligible_segments:
            return False
        if any(not [d for d in person.got.get(pre, []) if d <= when] for pre in o.prerequisites):
            return False
        mine = person.got.get(o.code, [])
        if o.kind == "recurring":
            triggers = person.got.get(o.trigger or "", [])
            limit = self._limit(o, person.segment)
            if not triggers or (limit is not None and len(mine) >= limit):
                return False
            return triggers[0] + self._interval(o) * (len(mine) + 1) <= when
        if o.kind == "progression":
            return person.step + self.a.steps_gained.get(o.code, 1) <= (o.steps or 1)
        if o.kind not in ("personal", "milestone") and o.once_per_participant and mine:
            return False
        return self._basket_room(person, o)

    def _never_again(self, person: _Person, o: Outcome, segment: str | None) -> bool:
        """Whether `person` can never again be eligible for `o` (asked for `segment`): the
        conditions of _eligible that only ever turn from yes to no, since a segment never
        changes and achievements and steps only accumulate."""
        if segment is not None and person.segment != segment:
            return True
        if o.eligible_segments and person.segment not in o.eligible_segments:
            return True
        mine = person.got.get(o.code, [])
        if o.kind == "recurring":
            limit = self._limit(o, person.segment)
            return limit is not None and len(mine) >= limit
        if o.kind == "progression":
            return person.step + self.a.steps_gained.get(o.code, 1) > (o.steps or 1)
        if o.kind not in ("personal", "milestone") and o.once_per_participant and mine:
            return True
        return not self._basket_room(person, o)

    def _first_fewest(self, o: Outcome, segment: str | None, when: date) -> _Person | None:
        """The participant _eligible allows with the fewest achievements of `o`, the earliest
        enrolled among equals (what sorting every eligible participant by that count gives)."""
        pool = self._pools.setdefault((o.code, segment), [[], 0])
        people, seen = pool
        people.extend(self.people[seen:])
        pool[1] = len(self.people)
        best, fewest, keep = None, None, []
        for i, person in enumerate(people):
            if self._never_again(person, o, segment):
                continue
            keep.append(person)
            if self._eligible(person, o, segment, when):
                count = len(person.got.get(o.code, []))
                if fewest is None or count < fewest:
                    best, fewest = person, count
                    if count == 0:  # none can have fewer: the rest are kept unexamined
                        keep.extend(people[i + 1:])
                        break
        pool[0] = keep
        return best

    def _wait_weeks(self, o: Outcome, segment: str | None) -> int:
        return self._known(("weeks", o.code, segment), lambda: self._find_wait_weeks(o, segment))

    def _find_wait_weeks(self, o: Outcome, segment: str | None) -> int:
        weeks = [o.qualifying_weeks or 0] + [w.weeks for w in o.sustainment]
        for r in self.defn.rules:
            if isinstance(r, Tariff):
                weeks += [p.qualifying_weeks or 0 for p in r.prices
                          if p.outcome == o.code and p.segment in (segment, None)]
        return max(weeks)

    def _new_person(self, segment: str | None, attached: date) -> _Person:
        person = _Person(id=f"SIM-{len(self.people) + 1}", segment=segment, attached=attached)
        self.people.append(person)
        return person

    def add(self, o: Outcome, period: Period, segment: str | None) -> None:
        when = period.end
        reuse_only = bool(o.prerequisites or o.trigger)
        fills = bool(self._baskets(o)) or (o.once_per_participant and o.kind in (
            "one_off", "graded", "milestone"))
        person = self._first_fewest(o, segment, when) if reuse_only or fills else None
        if person is None:
            seg = segment if segment is not None else self._default_segment(o)
            start = when - timedelta(weeks=self._wait_weeks(o, seg))
            person = self._new_person(seg, start)
        started = when - timedelta(weeks=self._wait_weeks(o, person.segment))
        kw: dict[str, object] = {}
        if o.kind == "progression":
            gained = self.a.steps_gained.get(o.code, 1)
            kw.update(step_from=person.step, step_to=person.step + gained)
            person.step += gained
        if o.kind == "graded":
            kw["grade"] = self.a.grades.get(o.code) or _best_grade(self.defn, o.code)
        self.claims.append(Claim(
            id=f"sim-{len(self.claims) + 1}", participant=person.id, outcome=o.code,
            achieved=when, segment=person.segment, period=period.id,
            attachment_date=min(person.attached, started), started=started,
            evidence=tuple(o.evidence), **kw))
        person.got.setdefault(o.code, []).append(when)


def _best_grade(defn: ContractDefinition, outcome: str) -> str | None:
    rule = next((r for r in defn.rules if isinstance(r, Grade) and r.outcome == outcome), None)
    return rule.grades[0].grade if rule and rule.grades else None


def _dependency_order(defn: ContractDefinition, codes) -> list[Outcome]:
    depth: dict[str, int] = {}

    def level(code: str, seen=()) -> int:
        if code in depth:
            return depth[code]
        o = defn.outcome(code)
        if o is None or code in seen:
            return 0
        deps = list(o.prerequisites) + ([o.trigger] if o.trigger else [])
        depth[code] = 1 + max((level(d, (*seen, code)) for d in deps), default=-1)
        return depth[code]

    known = [defn.outcome(c) for c in codes if defn.outcome(c) is not None]
    return sorted(known, key=lambda o: level(o.code))


def claim_facts(defn: ContractDefinition, assumptions: Assumptions,
                ps: list[Period] | None = None) -> list[Claim]:
    ps = ps if ps is not None else periods(defn)
    unknown = [c for c in assumptions.outcomes if defn.outcome(c) is None]
    if unknown:
        raise ValueError(f"unknown outcome(s) in the assumptions: {', '.join(unknown)}")
    counts = {code: _counts_by_period(ps, by_key) for code, by_key in assumptions.outcomes.items()}
    ordered = _dependency_order(defn, counts)
    maker = _ClaimMaker(defn, assumptions)
    for period in ps:
        for o in ordered:
            for seg, n in counts[o.code].get(period.id, {}).items():
                for _ in range(n):
                    maker.add(o, period, seg)
    return maker.claims


def build_facts(defn: ContractDefinition, assumptions: Assumptions,
                ps: list[Period] | None = None) -> Facts:
    ps = ps if ps is not None else periods(defn)
    external = [ExternalValue(dataset=ds, period=k, value=to_decimal(v), id=f"sim:{ds}@{k}")
                for ds, by_key in assumptions.external.items() for k, v in by_key.items()]
    return Facts(claims=tuple(claim_facts(defn, assumptions, ps)),
                 indicator_values=tuple(indicator_facts(defn, assumptions.indicators, ps)),
                 external=tuple(external))


# --- best case ---------------------------------------------------------------------------


def _step(defn: ContractDefinition, code: str | None, threshold: Decimal) -> Decimal:
    ind = defn.indicator(code) if code else None
    if ind is not None and ind.kind == "count" and threshold == threshold.to_integral_value():
        return Decimal(1)
    return FINE_STEP


def _passing(defn: ContractDefinition, cond: Condition) -> Decimal:
    t = Decimal(cond.threshold)
    step = _step(defn, cond.indicator, t)
    return {">=": t, ">": t + step, "<=": t, "<": t - step}[cond.op]


def _cohort_reference(defn: ContractDefinition, rule: CohortBaseline) -> Decimal | None:
    if rule.against == "comparison":
        return Decimal(100)
    if rule.baseline_value is not None:
        return Decimal(rule.baseline_value)
    ds = defn.dataset(rule.dataset) if rule.dataset else None
    return Decimal(ds.value) if ds and ds.value is not None else None


def _cohort_value(defn: ContractDefinition, rule: CohortBaseline, improvement: Decimal,
                  reference: Decimal) -> Decimal:
    lower = lower_is_better(defn, rule.indicator)
    if rule.improvement == "points":
        return reference - improvement if lower else reference + improvement
    change = reference * improvement / 100
    return reference - change if lower else reference + change


def _best_cohort_improvement(rule: CohortBaseline) -> Decimal:
    best = max(rule.curve, key=lambda p: (p.pct, -p.improvement))
    return Decimal(best.improvement)


def best_case_assumptions(defn: ContractDefinition) -> tuple[Assumptions, list[str]]:
    """Indicator values at or beyond every target, stretch and threshold; comparison cohorts
    measured so that each cohort earns the most its curve pays."""
    wanted: dict[str, list[Decimal]] = {}
    cohorts: dict[str, dict[str, object]] = {}
    external: dict[str, dict[str, object]] = {}
    notes: list[str] = []

    def want(code: str, value: Decimal) -> None:
        wanted.setdefault(code, []).append(Decimal(value))

    for r in defn.rules:
        if isinstance(r, TargetBand):
            for b in r.bands:
                want(b.indicator, b.stretch)
        elif isinstance(r, PeriodicBonus):
            want(r.condition.indicator, _passing(defn, r.condition))
        elif isinstance(r, PerformancePayment):
            for c in r.conditions:
                want(c.indicator, _passing(defn, c))
        elif isinstance(r, ThresholdPenalty):
            for t in r.thresholds:
                want(t.indicator, t.minimum)
        elif isinstance(r, OnAccountReconciliation):
            for s in r.indicators:
                want(s.indicator, s.target)
        elif isinstance(r, VolumeReconciliation):
            tol = Decimal(r.tolerance_pct)
            want(r.indicator, Decimal(r.predicted) * (100 + tol) / 100)
            notes.append(f"{r.id}: volume above {r.predicted} plus the {tol}% tolerance would "
                         "be paid on top; the maximum assumes the volume stays within it.")
        elif isinstance(r, CohortBaseline):
            ref = _cohort_reference(defn, r)
            if ref is None or not r.curve:
                notes.append(f"{r.id}: no baseline value, so its payments cannot be estimated.")
                continue
            value = _cohort_value(defn, r, _best_cohort_improvement(r), ref)
            cohorts.setdefault(r.indicator, {}).update(dict.fromkeys(r.cohorts, value))
            if r.against == "comparison" and r.dataset:
                external.setdefault(r.dataset, {}).update(dict.fromkeys(r.cohorts, ref))
    indicators: dict[str, dict[str, object]] = {}
    _, years = _groups_and_years(periods(defn))
    for code, values in wanted.items():
        ind = defn.indicator(code)
        lower = ind is not None and ind.direction == "lower_is_better"
        best = min(values) if lower else max(values)
        indicators[code] = dict.fromkeys(years, best)
    for code, by_cohort in cohorts.items():
        indicators.setdefault(code, {}).update(by_cohort)
    return Assumptions(indicators=indicators, external=external), notes


# --- running the engine ------------------------------------------------------------------


def _by_rule(lines, payable: bool = True) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for ln in lines:
        if ln.shadow == payable:
            continue
        out[ln.rule_id or "unpaid"] = out.get(ln.rule_id or "unpaid", ZERO) + ln.amount
    return out


def run_periods(defn: ContractDefinition, facts: Facts,
                ps: list[Period] | None = None) -> tuple[list[PeriodResult], tuple[Refusal, ...],
                                                         tuple[str, ...]]:
    """The engine run period by period, posting each statement to an in-memory ledger."""
    ps = ps if ps is not None else periods(defn)
    ledger = Ledger()
    results, refusals, notes = [], (), ()
    for p in ps:
        st = statement(defn, facts, ledger, p)
        ledger = ledger.post(st.lines, id_prefix="SIM")
        results.append(PeriodResult(
            period=p.id, financial_year=p.financial_year, start=p.start, end=p.end,
            payment_due=p.payment_due, in_shadow=p.shadow, payable=st.payable,
            shadow=st.shadow_total, by_rule=_by_rule(st.lines), lines=st.lines))
        refusals, notes = st.refusals, st.notes
    return results, refusals, notes


def _year_totals(defn: ContractDefinition, lines, ps: list[Period]) -> dict[str, Decimal]:
    fy_of = {p.id: p.financial_year for p in ps}
    out = dict.fromkeys(dict.fromkeys(p.financial_year for p in ps), ZERO)
    for ln in lines:
        if not ln.shadow:
            out[fy_of[ln.period]] += ln.amount
    return out


def _volume_for_caps(defn: ContractDefinition, ps: list[Period]) -> tuple[
        dict[str, dict[str, object]], set[str], list[str]]:
    """Outcome volumes that reach every year cap on claim-priced rules; the rules no year cap
    bounds; notes."""
    year_caps: dict[str, Decimal] = {}
    other_caps: dict[str, tuple[str, Decimal]] = {}
    for r in defn.rules:
        if not isinstance(r, Cap) or r.scope == "participant" or r.outcomes:
            continue
        hi, _, _, _ = cap_limits(defn, r)
        if hi is None:
            continue
        covered = r.applies_to or tuple(x.id for x in defn.rules if isinstance(x, (Tariff, Grade)))
        for rid in covered:
            if r.scope == "year":
                year_caps[rid] = min(hi, year_caps.get(rid, hi))
            else:
                other_caps.setdefault(rid, (r.scope, hi))
    _, years = _groups_and_years(ps)
    volumes: dict[str, dict[str, object]] = {}
    unbounded: set[str] = set()
    notes: list[str] = []
    for r in defn.rules:
        if not isinstance(r, (Tariff, Grade)):
            continue
        if r.id not in year_caps:
            if r.id in other_caps:
                scope, hi = other_caps[r.id]
                notes.append(f"{r.id}: bounded only by a {scope} cap of {pounds(hi)}, which is "
                             "counted in full in every year.")
            unbounded.add(r.id)
            continue
        priced = _cheapest_free_outcome(defn, r)
        if priced is None:
            notes.append(f"{r.id}: no outcome can be simulated on its own to reach the cap; the "
                         "cap itself is used.")
            unbounded.add(r.id)
            continue
        code, price, segment = priced
        n = math.ceil(year_caps[r.id] / price) + 1 if price > 0 else 0
        volumes[code] = {fy: ({segment: n} if segment else n) for fy in years}
    return volumes, unbounded, notes


def _cheapest_free_outcome(defn: ContractDefinition, rule) -> tuple[str, Decimal, str | None] | None:
    """The dearest outcome of ``rule`` that needs no earlier outcome: fewest claims to a cap."""
    best = None
    if isinstance(rule, Grade):
        o = defn.outcome(rule.outcome)
        if o and not o.prerequisites and not o.trigger and rule.grades:
            return o.code, Decimal(rule.grades[0].price), None
        return None
    for p in rule.prices:
        o = defn.outcome(p.outcome)
        if o is None or o.prerequisites or o.trigger or o.kind in ("personal", "milestone"):
            continue
        if p.amount is not None:
            amount = Decimal(p.amount)
        elif p.pct_of_unit_value is not None and rule.unit_value is not None:
            amount = Decimal(rule.unit_value) * p.pct_of_unit_value / 100
        elif rule.derived_price is not None:
            dp = rule.derived_price
            amount = Decimal(dp.pot) / (dp.planned_participants * dp.outcomes_per_participant)
        else:
            continue
        if o.kind == "progression" and o.steps:
            amount = amount / (o.steps - 1)
        if best is None or amount > best[1]:
            best = (o.code, amount, p.segment)
    return best


def _cap_scopes(defn: ContractDefinition, rule_id: str) -> list[Cap]:
    return [r for r in defn.rules if isinstance(r, Cap) and r.scope in ("contract", "period")
            and (not r.applies_to or rule_id in r.applies_to) and not r.outcomes]


def maximum_liability(defn: ContractDefinition) -> Liability:
    """The most the commissioner could owe in each financial year: everything achieved at or
    beyond stretch and every cap reached, bounded by the caps and the maximum value.

    Worked out once per set of terms in a process (a definition is an immutable value, and the
    answer depends on nothing else): every what-if run of the simulator page asks for it again,
    and reaching a capped outcome basket's yearly cap means the engine assessing tens of
    thousands of claims (NAT-10 in bench/national.py: 35,007, about a second)."""
    found = _maximum_liability(defn)
    return Liability(by_year=dict(found.by_year), notes=found.notes)


@functools.lru_cache(maxsize=64)
def _maximum_liability(defn: ContractDefinition) -> Liability:
    ps = periods(defn)
    best, notes = best_case_assumptions(defn)
    volumes, unbounded, vol_notes = _volume_for_caps(defn, ps)
    notes += vol_notes
    facts = build_facts(defn, replace(best, outcomes=volumes), ps)
    lines = calculate(defn, facts, ps[-1]).lines
    totals = _year_totals(defn, lines, ps)
    by_year: dict[str, Decimal | None] = {}
    for fy, total in totals.items():
        extra = ZERO
        open_ended = False
        for rid in unbounded:
            scoped = _cap_scopes(defn, rid)
            if not scoped:
                open_ended = True
                continue
            hi, _, _, _ = cap_limits(defn, scoped[0])
            count = sum(1 for p in ps if p.financial_year == fy) if scoped[0].scope == "period" \
                else 1
            extra += (hi or ZERO) * count
        value: Decimal | None = money(total + extra)
        if open_ended:
            value = money(defn.maximum_value) if defn.maximum_value is not None else None
        elif defn.maximum_value is not None:
            value = min(value, money(defn.maximum_value))
        by_year[fy] = value
    if any(v is None for v in by_year.values()):
        notes.append("Outcome payments are not capped and the contract has no maximum value, so "
                     "the most it could cost depends on volumes nobody has fixed.")
    elif any(not _cap_scopes(defn, rid) for rid in unbounded):
        notes.append(f"Outcome payments are bounded only by the {pounds(defn.maximum_value)} "
                     "maximum value.")
    return Liability(by_year=by_year, notes=tuple(notes))


# --- cliff edges -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Probe:
    rule_id: str
    rule_type: str
    what: str
    indicator: str | None
    assessed: str  # key nudged
    threshold: Decimal
    passes_at_or_above: bool  # ">=" semantics (else "<=": passing at the threshold, not above)
    line_key: str  # lines of the rule for the assessed key contain this
    up_to: str  # period to calculate up to
    year: str
    step: Decimal
    cohort_rule: CohortBaseline | None = None
    grade_outcome: str | None = None
    all_cohorts: bool = False


def _probes(defn: ContractDefinition, ps: list[Period]) -> list[_Probe]:
    first = ps[0]
    fy = first.financial_year
    year_end = [p for p in ps if p.financial_year == fy][-1].id
    last = ps[-1]
    out: list[_Probe] = []

    def probe(rule, what, code, key, threshold, op, line_key, up_to=year_end, year=fy, **kw):
        t = Decimal(threshold)
        out.append(_Probe(rule_id=rule.id, rule_type=rule.type, what=what, indicator=code,
                          assessed=key, threshold=t, passes_at_or_above=op in (">=", "<"),
                          line_key=line_key, up_to=up_to, year=year,
                          step=kw.pop("step", None) or _step(defn, code, t), **kw))

    for r in defn.rules:
        if isinstance(r, TargetBand):
            for b in r.bands:
                op = "<=" if lower_is_better(defn, b.indicator) else ">="
                points = [("band minimum", b.minimum)]
                if b.target is not None and b.shape == "stepped":
                    points.append(("band target", b.target))
                points.append(("band stretch", b.stretch))
                for what, t in points:
                    probe(r, what, b.indicator, fy, t, op, f"{r.id}:{b.indicator}:{fy}")
        elif isinstance(r, PeriodicBonus):
            c = r.condition
            probe(r, "bonus condition", c.indicator, first.id, c.threshold, c.op,
                  f"{r.id}:{first.id}", up_to=first.id)
        elif isinstance(r, PerformancePayment):
            for c in r.conditions:
                probe(r, "performance condition", c.indicator, fy, c.threshold, c.op,
                      f"{r.id}:{fy}")
        elif isinstance(r, ThresholdPenalty):
            for t in r.thresholds:
                probe(r, "penalty threshold", t.indicator, fy, t.minimum, ">=", f"{r.id}:{fy}")
        elif isinstance(r, OnAccountReconciliation):
            group = first.group
            for s in r.indicators:
                probe(r, "reconciliation target", s.indicator, group, s.target,
                      "<=" if lower_is_better(defn, s.indicator) else ">=", f"{r.id}:{group}")
        elif isinstance(r, VolumeReconciliation):
            tol = Decimal(r.tolerance_pct)
            low = Decimal(r.predicted) * (100 - tol) / 100
            high = Decimal(r.predicted) * (100 + tol) / 100
            probe(r, "lower tolerance bound", r.indicator, fy, low, ">=", f"{r.id}:{fy}")
            probe(r, "upper tolerance bound", r.indicator, fy, high, "<=", f"{r.id}:{fy}")
        elif isinstance(r, CohortBaseline) and r.cohorts and r.curve:
            cohort = r.cohorts[0]
            points = list(r.curve)
            if r.shape == "linear":
                points = points[:1]  # between points the curve is continuous
            for pt in points:
                probe(r, "curve point", r.indicator, cohort, pt.improvement, ">=",
                      f"{r.id}:{cohort}", up_to=last.id, year=last.financial_year,
                      step=FINE_STEP, cohort_rule=r)
            if r.all_cohorts_threshold is not None and \
                    r.all_cohorts_threshold < r.curve[0].improvement:
                probe(r, "all-cohorts threshold", r.indicator, "all cohorts",
                      r.all_cohorts_threshold, ">=", f"{r.id}:", up_to=last.id,
                      year=last.financial_year, step=FINE_STEP, cohort_rule=r, all_cohorts=True)
        elif isinstance(r, Grade):
            for g in r.grades:
                probe(r, f"grade {g.grade} boundary", None, first.id, g.min_share_pct, ">=",
                      "", up_to=first.id, step=FINE_STEP, grade_outcome=r.outcome)
    return out


def _probe_facts(defn: ContractDefinition, base: Facts, pr: _Probe, value: Decimal,
                 ps: list[Period]) -> Facts | None:
    if pr.grade_outcome is not None:
        o = defn.outcome(pr.grade_outcome)
        period = ps[0]
        total = 10000
        met = int(value * 100)  # share of criteria as a percentage with two places
        if met < 0 or met > total:
            return None
        segment = o.eligible_segments[0] if o and o.eligible_segments else None
        claim = Claim(id="probe", participant="PROBE", outcome=pr.grade_outcome,
                      achieved=period.end, period=period.id, segment=segment,
                      criteria_met=met, criteria_total=total,
                      evidence=tuple(o.evidence) if o else (), started=period.start,
                      attachment_date=period.start)
        return replace(base, claims=(claim,))
    if pr.cohort_rule is not None:
        rule = pr.cohort_rule
        ref = _cohort_reference(defn, rule)
        if ref is None:
            return None
        achieved = _cohort_value(defn, rule, value, ref)
        cohorts = rule.cohorts if pr.all_cohorts else (pr.assessed,)
        extra = tuple(IndicatorValue(indicator=rule.indicator, period=c, value=achieved,
                                     id=f"probe:{c}") for c in cohorts)
        return replace(base, indicator_values=base.indicator_values + extra)
    extra = IndicatorValue(indicator=pr.indicator, period=pr.assessed, value=value,
                           id=f"probe:{pr.indicator}@{pr.assessed}")
    return replace(base, indicator_values=base.indicator_values + (extra,))


def _measure_probe(defn: ContractDefinition, base: Facts, pr: _Probe, value: Decimal,
                   ps: list[Period]) -> tuple[Decimal, Decimal] | None:
    facts = _probe_facts(defn, base, pr, value, ps)
    if facts is None:
        return None
    lines = calculate(defn, facts, pr.up_to).lines
    if pr.grade_outcome is not None:
        rule_lines = [ln for ln in lines if "probe" in ln.references]
    else:
        rule_lines = [ln for ln in lines if ln.rule_id == pr.rule_id and pr.line_key in ln.key]
    payment = sum((ln.amount for ln in rule_lines), ZERO)
    year = _year_totals(defn, lines, ps).get(pr.year, ZERO)
    return payment, year


def _shown(defn: ContractDefinition, pr: _Probe, value: Decimal) -> str:
    if pr.grade_outcome is not None:
        return f"{value.normalize():f}% of criteria met"
    if pr.cohort_rule is not None:
        unit = "%" if pr.cohort_rule.improvement == "relative_pct" else " points"
        return f"an improvement of {value.normalize():f}{unit}"
    return measure(defn, pr.indicator, value)


def _subject(defn: ContractDefinition, pr: _Probe) -> str:
    if pr.grade_outcome is not None:
        o = defn.outcome(pr.grade_outcome)
        return f"A {(o.name if o and o.name else pr.grade_outcome)} claim in {pr.assessed}"
    if pr.assessed == "all cohorts":
        return f"{indicator_name(defn, pr.indicator)} across all cohorts".capitalize()
    name = indicator_name(defn, pr.indicator)
    return f"{name[:1].upper()}{name[1:]} in {pr.assessed}"


def cliff_edges(defn: ContractDefinition, base: Assumptions | None = None) -> list[CliffEdge]:
    """For every threshold, the payment just below it and at it, with everything else at its
    best case so that the threshold under test is the one that decides.

    ``base`` overrides the best case for the measures it names (other than the one nudged).
    """
    ps = periods(defn)
    best, _ = best_case_assumptions(defn)
    if base is not None:
        merged = {k: dict(v) for k, v in best.indicators.items()}
        for code, by_key in base.indicators.items():
            merged.setdefault(code, {}).update(by_key)
        best = replace(best, indicators=merged, external={**best.external, **base.external})
    facts = build_facts(defn, best, ps)
    out = []
    for pr in _probes(defn, ps):
        t, step = pr.threshold, pr.step
        below, at = (t - step, t) if pr.passes_at_or_above else (t, t + step)
        results = [_measure_probe(defn, facts, pr, v, ps)
                   for v in (below - step, below, at, at + step)]
        if any(r is None for r in results):
            continue
        (p0, _), (p1, y1), (p2, y2), (p3, _) = results
        jump = p2 - p1
        slope = max(abs(p1 - p0), abs(p3 - p2))
        is_cliff = jump != 0 and abs(jump) > 2 * slope
        verdict = (f"a cliff edge: one step of {step.normalize():f} moves the payment by "
                   f"{pounds(abs(jump))}" if is_cliff else
                   "no cliff edge: the payment changes smoothly here")
        threshold = (f"{t.normalize():f}%" if pr.grade_outcome is not None else
                     _shown(defn, pr, t).replace("an improvement of ", ""))
        explanation = (f"{_subject(defn, pr)} at {_shown(defn, pr, below)} pays {pounds(p1)} "
                       f"under {pr.rule_id} and at {_shown(defn, pr, at)} pays {pounds(p2)} "
                       f"({pr.what} {threshold}): {verdict}.")
        out.append(CliffEdge(
            rule_id=pr.rule_id, rule_type=pr.rule_type, what=pr.what, indicator=pr.indicator,
            assessed=pr.assessed, threshold=t, value_below=below, value_at=at,
            payment_below=p1, payment_at=p2, difference=jump, year_total_below=y1,
            year_total_at=y2, is_cliff=is_cliff, explanation=explanation))
    return out


# --- the whole simulation ----------------------------------------------------------------


def simulate(defn: ContractDefinition, assumptions: Assumptions, *,
             with_cliff_edges: bool = True) -> Simulation:
    ps = periods(defn)
    facts = build_facts(defn, assumptions, ps)
    results, refusals, notes = run_periods(defn, facts, ps)
    liability = maximum_liability(defn)
    years = []
    for fy in dict.fromkeys(p.financial_year for p in ps):
        mine = [r for r in results if r.financial_year == fy]
        by_rule: dict[str, Decimal] = {}
        for r in mine:
            for rid, amount in r.by_rule.items():
                by_rule[rid] = by_rule.get(rid, ZERO) + amount
        years.append(YearResult(
            financial_year=fy, total=sum((r.payable for r in mine), ZERO),
            shadow=sum((r.shadow for r in mine), ZERO), by_rule=by_rule,
            maximum_liability=liability.by_year.get(fy)))
    edges = tuple(cliff_edges(defn)) if with_cliff_edges else ()
    unique_refusals = tuple({r.claim_id: r for r in refusals}.values())
    return Simulation(
        reference=defn.reference, periods=tuple(results), years=tuple(years),
        total=sum((y.total for y in years), ZERO), cliff_edges=edges,
        refusals=unique_refusals, notes=tuple(dict.fromkeys((*notes, *liability.notes))))


__all__ = [
    "Assumptions", "CliffEdge", "Liability", "PeriodResult", "Simulation", "YearResult",
    "best_case_assumptions", "build_facts", "cliff_edges", "maximum_liability", "simulate",
]
