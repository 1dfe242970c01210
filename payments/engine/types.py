"""Plain inputs and outputs of the engine. The Django layer builds these from its models."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal, NamedTuple

ClaimStatus = Literal["verified", "rejected", "pending"]


@dataclass(frozen=True, kw_only=True)
class Claim:
    id: str
    participant: str  # pseudonymised participant reference
    outcome: str
    achieved: date
    segment: str | None = None
    status: ClaimStatus = "verified"
    period: str | None = None  # period the claim was returned in; default: the one holding achieved
    attachment_date: date | None = None  # start of the participant's time on the programme
    started: date | None = None  # start of the spell measured (e.g. first day in work)
    step_from: int | None = None  # progression ladder
    step_to: int | None = None
    grade: str | None = None  # graded outcomes: a grade already decided...
    criteria_met: int | None = None  # ...or the criteria met, graded by the rule
    criteria_total: int | None = None
    units: Decimal = Decimal(1)  # graded prices are per unit (e.g. per unit of sheltered housing)
    subcontractor: str | None = None
    evidence: tuple[str, ...] = ()
    adverse_events: tuple[int, ...] = ()  # per sustainment window of the outcome, in order
    events: tuple[str, ...] = ()  # recorded events, checked against Outcome.voided_by


class AcceptedClaim(NamedTuple):
    """What later claims need of an accepted one (once-only windows, recurrence, prerequisites,
    baskets, attachment): a claim as the engine's running tally of accepted claims holds it.
    Given back in ``Assessment.accepted`` and taken as ``calculate(prior=...)``, so a caller can
    keep it between runs instead of reading and replaying a participant's history (ADR 0022)."""

    id: str
    participant: str
    outcome: str
    achieved: date
    attachment_date: date | None


@dataclass(frozen=True, kw_only=True)
class IndicatorValue:
    indicator: str
    period: str  # a period id ("P4 2013-14"), group ("Q1 2013-14"), year ("2013-14") or cohort
    value: Decimal | None = None
    numerator: Decimal | None = None
    denominator: Decimal | None = None
    id: str | None = None  # the indicator return's id, quoted in line references
    reported_in: str | None = None  # period the result became known (cohort measures)

    def resolved(self) -> Decimal:
        if self.value is not None:
            return Decimal(self.value)
        if self.numerator is None or not self.denominator:
            raise ValueError(f"indicator value {self.ref} has neither a value nor a rate")
        return Decimal(self.numerator) * 100 / Decimal(self.denominator)

    @property
    def ref(self) -> str:
        return self.id or f"{self.indicator}@{self.period}"


@dataclass(frozen=True, kw_only=True)
class ExternalValue:
    dataset: str
    period: str  # cohort label or period key, matching the rule's cohorts
    value: Decimal
    id: str | None = None

    @property
    def ref(self) -> str:
        return self.id or f"{self.dataset}@{self.period}"


@dataclass(frozen=True, kw_only=True)
class SampleCheck:
    """A post-payment check of a sample of paid claims (Work Programme, 002:2027-2033)."""

    id: str
    period: str  # the period whose statement carries the recovery
    population_total: Decimal  # money paid for the whole population sampled from
    population_count: int
    sample_size: int
    errors: int  # sampled claims that could not be verified
    claim_ids: tuple[str, ...] = ()  # the sampled claims found in error
    errors_by_subcontractor: dict[str, int] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, kw_only=True)
class Facts:
    claims: tuple[Claim, ...] = ()
    indicator_values: tuple[IndicatorValue, ...] = ()
    external: tuple[ExternalValue, ...] = ()
    samples: tuple[SampleCheck, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Line:
    key: str  # stable identity of what is paid, e.g. "core:P4 2013-14"; diffing relies on it
    kind: str  # core, uplift_on_account, outcome, reconciliation, clawback, bonus, penalty, ...
    rule_id: str
    period: str  # period id the line belongs to (for posted lines: the run's period)
    amount: Decimal  # two places, half-up
    explanation: str  # one sentence a provider can check by hand
    inputs: dict[str, str] = field(default_factory=dict, hash=False)
    references: tuple[str, ...] = ()  # claim ids, indicator return ids, sample ids
    shadow: bool = False  # computed and shown, never payable
    subcontractor: str | None = None
    participant: str | None = None
    corrects: str | None = None  # ledger line id this line corrects (posted lines only)


@dataclass(frozen=True, kw_only=True)
class LedgerLine:
    """A line already posted. Append-only: corrections are new lines."""

    id: str
    key: str
    amount: Decimal
    period: str
    kind: str = ""
    rule_id: str = ""
    shadow: bool = False
    subcontractor: str | None = None


@dataclass(frozen=True)
class Ledger:
    lines: tuple[LedgerLine, ...] = ()

    def post(self, new_lines, id_prefix: str = "L") -> Ledger:
        """A ledger with ``new_lines`` appended; ids are generated. For tests and simulations."""
        start = len(self.lines)
        added = tuple(
            LedgerLine(id=f"{id_prefix}{start + i + 1}", key=ln.key, amount=ln.amount,
                       period=ln.period, kind=ln.kind, rule_id=ln.rule_id, shadow=ln.shadow,
                       subcontractor=ln.subcontractor)
            for i, ln in enumerate(new_lines))
        return Ledger(self.lines + added)

    def paid(self, key: str | None = None) -> Decimal:
        return sum((ln.amount for ln in self.lines
                    if not ln.shadow and (key is None or ln.key == key)), Decimal("0.00"))


@dataclass(frozen=True, kw_only=True)
class Refusal:
    claim_id: str
    participant: str
    outcome: str
    reason: str  # a sentence for the provider
    code: str  # duplicate, max_count, not_due, basket_full, ...
    rule_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class Assessment:
    lines: tuple[Line, ...]
    refusals: tuple[Refusal, ...]
    notes: tuple[str, ...] = ()  # e.g. awaited indicator returns
    # Keys of the lines of claims given as `settled` to calculate(): not rebuilt (see there).
    settled_keys: frozenset[str] = frozenset()
    # Participant -> the claims accepted for them so far, in the order they were accepted
    # (Claim or AcceptedClaim: both carry AcceptedClaim's fields), `prior` included.
    accepted: dict[str, list] = field(default_factory=dict, hash=False, compare=False)

    @property
    def total(self) -> Decimal:
        return sum((ln.amount for ln in self.lines if not ln.shadow), Decimal("0.00"))


@dataclass(frozen=True, kw_only=True)
class Statement:
    period: str
    lines: tuple[Line, ...]  # what this run posts
    refusals: tuple[Refusal, ...]
    notes: tuple[str, ...] = ()

    @property
    def payable(self) -> Decimal:
        return sum((ln.amount for ln in self.lines if not ln.shadow), Decimal("0.00"))

    @property
    def shadow_total(self) -> Decimal:
        return sum((ln.amount for ln in self.lines if ln.shadow), Decimal("0.00"))
