"""What every mechanism needs to know about one calculation run."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from contracts.definition import ContractDefinition, Period, periods
from contracts.definition.model import Indicator
from contracts.definition.money import money

from .types import ExternalValue, Facts, IndicatorValue, Line, Refusal

# Kinds that measure performance: in a "performance" shadow window these are shown, not paid.
PERFORMANCE_KINDS = frozenset({
    "outcome", "reconciliation", "clawback", "bonus", "penalty", "performance", "cohort",
    "volume", "cap_adjustment", "recovery",
})


@dataclass
class Context:
    defn: ContractDefinition
    facts: Facts
    up_to: Period
    periods: list[Period]
    lines: list[Line] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _by_id: dict[str, Period] = field(default_factory=dict, repr=False)
    # Per-run lookups that every claim repeats (pricing, outcome definitions): computed once.
    memo: dict = field(default_factory=dict, repr=False)
    settled: frozenset[str] = frozenset()  # claim ids whose lines are already posted unchanged
    # Of those, the ones the last computation refused, when the caller knows them: the others
    # were accepted, so they are replayed without their checks (see calculate()).
    settled_refused: frozenset[str] | None = None
    settled_keys: set[str] = field(default_factory=set)
    # Claims accepted before this calculation's first claim of each participant named (ADR 0022)
    prior: dict[str, tuple] = field(default_factory=dict)
    accepted: dict[str, list] = field(default_factory=dict)

    @classmethod
    def create(cls, defn: ContractDefinition, facts: Facts, up_to: Period | str) -> Context:
        all_periods = periods(defn)
        if isinstance(up_to, str):
            match = next((p for p in all_periods if p.id == up_to), None)
            if match is None:
                raise ValueError(f"{up_to!r} is not a period of contract {defn.reference}")
            up_to = match
        return cls(defn=defn, facts=facts, up_to=up_to, periods=all_periods)

    # --- periods ---------------------------------------------------------------------------

    def period(self, period_id: str) -> Period | None:
        # called for every line by caps and the final filter, so index once
        if len(self._by_id) != len(self.periods):
            self._by_id = {p.id: p for p in self.periods}
        return self._by_id.get(period_id)

    def reached(self, period: Period) -> bool:
        return period.index <= self.up_to.index

    def years(self) -> list[str]:
        return list(dict.fromkeys(p.financial_year for p in self.periods))

    def year_periods(self, fy: str) -> list[Period]:
        return [p for p in self.periods if p.financial_year == fy]

    def year_closed(self, fy: str) -> bool:
        return self.reached(self.year_periods(fy)[-1])

    def groups(self) -> list[str]:
        return list(dict.fromkeys(p.group for p in self.periods))

    def group_periods(self, group: str) -> list[Period]:
        return [p for p in self.periods if p.group == group]

    def next_period(self, period: Period) -> Period | None:
        return self.periods[period.index + 1] if period.index + 1 < len(self.periods) else None

    def shadow(self, assessed: list[Period], kind: str) -> bool:
        window = self.defn.calendar.shadow
        if window is None or not assessed:
            return False
        if window.applies_to == "performance" and kind not in PERFORMANCE_KINDS:
            return False
        return all(p.shadow for p in assessed)

    # --- measurements ----------------------------------------------------------------------

    def indicator_value(self, code: str, key: str) -> IndicatorValue | None:
        found = [v for v in self.facts.indicator_values if v.indicator == code and v.period == key]
        return found[-1] if found else None  # a resubmitted return supersedes the earlier one

    def external_value(self, dataset: str, key: str) -> ExternalValue | None:
        found = [v for v in self.facts.external if v.dataset == dataset and v.period == key]
        return found[-1] if found else None

    def indicator_def(self, code: str) -> Indicator:
        ind = self.defn.indicator(code)
        assert ind is not None, code  # validated when the definition was parsed
        return ind

    def name(self, code: str) -> str:
        ind = self.defn.indicator(code)
        return (ind.name or code) if ind else code

    def unit(self, code: str) -> str:
        ind = self.defn.indicator(code)
        if ind is None:
            return ""
        return "%" if ind.kind == "rate" or ind.unit == "%" else ""

    def add(self, line: Line) -> None:
        # Lines are rounded where computed; this only fixes the representation to two places.
        # Every caller passes a Line it has just built and keeps no other reference to, so the
        # amount is set in place rather than copying the whole line (a copy per claim is a
        # measurable share of a national run).
        object.__setattr__(line, "amount", money(line.amount))
        self.lines.append(line)

    def outcome(self, code: str):
        key = ("outcome", code)
        if key not in self.memo:
            self.memo[key] = self.defn.outcome(code)
        return self.memo[key]

    def rule_lines(self, rule_id: str) -> list[Line]:
        return [ln for ln in self.lines if ln.rule_id == rule_id]

    def annual_amount(self, amount: Decimal | None, pct: Decimal | None) -> Decimal:
        if amount is not None:
            return Decimal(amount)
        return Decimal(self.defn.annual_value) * Decimal(pct or 0) / 100
