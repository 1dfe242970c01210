"""The contract definition ("terms"), format version 1, as frozen dataclasses.

Every field carries a ``doc`` in its metadata: the JSON Schema and docs/contract-format.md are
generated from or checked against these, so the dataclasses are the single statement of the format.
``money=True`` marks amounts that may never be negative.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import ClassVar, Literal, Union

FORMAT_VERSION = 1


def fld(default=dataclasses.MISSING, *, doc: str, money: bool = False, pct: bool = False):
    return field(default=default, metadata={"doc": doc, "money": money, "pct": pct})


frozen = dataclass(frozen=True, kw_only=True)

Direction = Literal["higher_is_better", "lower_is_better"]
Comparison = Literal[">=", ">", "<=", "<"]


# --- parties -------------------------------------------------------------------------------


@frozen
class Funder:
    name: str = fld(doc="Funding body, e.g. a council or a government department.")
    share_pct: Decimal = fld(doc="Share of the pooled budget, in percent; shares sum to 100.",
                             pct=True)


@frozen
class Party:
    name: str = fld(doc="Organisation name.")
    code: str = fld("", doc="Short code used in claims and statements.")


@frozen
class Subcontractor:
    code: str = fld(doc="Code used on claims (Claim.subcontractor) and in statements.")
    name: str = fld("", doc="Organisation name.")
    tier: int = fld(1, doc="Supply-chain tier (1 = delivers outcomes, 2 = specialist/fee).")
    management_fee_pct: Decimal = fld(Decimal(0), pct=True,
                                      doc="Prime's management fee deducted from outcome money.")
    outcome_pass_through_pct: Decimal = fld(
        Decimal(100), pct=True,
        doc="Share of the outcome payment passed down before the management fee.")
    clawback_passdown: Literal["evenly", "pro_rata", "at_fault"] = fld(
        "pro_rata",
        doc="How prime-level recoveries reach this subcontractor (002:2031-2033): evenly across "
            "the chain, pro rata to its share of delivery, or only if its own claims failed.")
    delivery_share_pct: Decimal | None = fld(
        None, pct=True, doc="Share of delivery used by pro_rata pass-down; defaults to its share "
                            "of outcome payments.")


# --- calendar ------------------------------------------------------------------------------


@frozen
class ExplicitPeriod:
    label: str = fld(doc="Period label shown on statements, e.g. 'P1 2013-14'.")
    start: date = fld(doc="First day of the period.")
    end: date = fld(doc="Last day of the period (inclusive).")


@frozen
class ReconciliationGroup:
    label: str = fld(doc="Group label, e.g. 'Q1'; the financial year is appended.")
    periods: tuple[int, ...] = fld(doc="Period numbers within the year, e.g. [10, 11, 12, 13].")


@frozen
class ShadowWindow:
    start: date = fld(doc="First day of the shadow (mobilisation) window.")
    end: date = fld(doc="Last day of the shadow window (inclusive).")
    applies_to: Literal["performance", "all"] = fld(
        "performance",
        doc="'performance': results are computed and shown but not paid, while core payments "
            "continue (000:302-315). 'all': nothing is payable (002:2162).")


@frozen
class Calendar:
    kind: Literal["monthly", "four_weekly", "quarterly", "annual"] = fld(
        doc="Length of a payment period.")
    start: date = fld(doc="First day of the first period.")
    financial_year_start_month: int = fld(4, doc="UK financial years start on 1 April.")
    payment_in_arrears_days: int = fld(0, doc="Days after period end that payment falls due.")
    reconciliation_groups: tuple[ReconciliationGroup, ...] = fld(
        (), doc="How periods of a year are grouped for reconciliation. Default: quarters.")
    shadow: ShadowWindow | None = fld(None, doc="Mobilisation window when nothing is paid.")
    post_contract_claim_days: int = fld(
        0, doc="Days after the contract end during which outcomes achieved in term may be "
               "claimed; they are posted to the last period.")
    periods: tuple[ExplicitPeriod, ...] = fld(
        (), doc="Explicit periods instead of generated ones; must have no gaps or overlaps.")


# --- participants, outcomes, indicators ----------------------------------------------------


@frozen
class Segment:
    code: str = fld(doc="Payment group / tier / client group code.")
    name: str = fld("", doc="Human name.")
    description: str = fld("", doc="Who falls in it.")


@frozen
class Sustainment:
    label: str = fld(doc="Window name, e.g. '12 months'.")
    weeks: int = fld(doc="Length of the window in weeks from the start of the spell.")
    max_adverse_events: int = fld(
        0, doc="Tolerance: adverse events (e.g. rough sleeping incidents) allowed in the window.")


@frozen
class Outcome:
    code: str = fld(doc="Outcome code used on claims.")
    name: str = fld("", doc="Human name.")
    kind: Literal["one_off", "recurring", "progression", "graded", "personal", "milestone"] = fld(
        "one_off",
        doc="one_off: paid once; recurring: paid every N weeks/days after a trigger; progression: "
            "steps on a ladder; graded: priced by grade; personal: recorded, never paid; "
            "milestone: recorded, unpaid, may trigger or unlock others (e.g. job entry).")
    once_per_participant: bool = fld(True, doc="A participant can be paid for it only once.")
    once_within_weeks: int | None = fld(
        None, doc="Instead of once ever: once within N weeks of attachment (Work Programme: 104).")
    trigger: str | None = fld(None, doc="Recurring: outcome whose achievement starts the clock.")
    every_weeks: int | None = fld(None, doc="Recurring: interval in weeks.")
    every_days: int | None = fld(None, doc="Recurring: interval in days.")
    max_count: int | None = fld(None, doc="Recurring: most payments per participant.")
    steps: int | None = fld(None, doc="Progression: number of steps on the scale (1..N).")
    qualifying_weeks: int | None = fld(
        None, doc="Weeks from the start of the spell (Claim.started) before it is due.")
    sustainment: tuple[Sustainment, ...] = fld(
        (), doc="Windows the outcome must be sustained through, with tolerance.")
    voided_by: tuple[str, ...] = fld((), doc="Event codes that void the outcome if recorded.")
    prerequisites: tuple[str, ...] = fld(
        (), doc="Outcomes the participant must already have verified.")
    eligible_segments: tuple[str, ...] = fld((), doc="Segments that may claim it; empty = all.")
    evidence: tuple[str, ...] = fld((), doc="Evidence types that must accompany a claim.")
    category: str = fld("", doc="Grouping for baskets, e.g. 'overarching', 'client_choice'.")


@frozen
class Basket:
    id: str = fld(doc="Basket rule id.")
    paid_outcomes_per_participant: int = fld(doc="Exactly this many paid outcomes per person.")
    outcomes: tuple[str, ...] = fld(doc="Outcomes that count towards the basket.")
    mandatory: tuple[str, ...] = fld((), doc="Outcomes every participant's basket must include.")
    segments: tuple[str, ...] = fld((), doc="Segments it applies to; empty = all.")


@frozen
class Indicator:
    code: str = fld(doc="Indicator code used in indicator returns and rules.")
    name: str = fld("", doc="Human name.")
    kind: Literal["count", "rate", "average"] = fld(
        "count", doc="count: a number; rate: numerator ÷ denominator as a percentage; "
                     "average: a mean value.")
    numerator: str = fld("", doc="Rate: what is counted on top.")
    denominator: str = fld("", doc="Rate: what it is divided by.")
    direction: Direction = fld("higher_is_better", doc="Whether more is better.")
    unit: str = fld("", doc="Display unit, e.g. '%' or 'people'.")


@frozen
class Dataset:
    code: str = fld(doc="External dataset code.")
    kind: Literal["baseline", "comparison_cohort"] = fld(
        doc="baseline: a fixed historical value; comparison_cohort: a matched cohort measured "
            "alongside the intervention cohort and supplied as facts.")
    measure: Literal["binary", "frequency", "value"] = fld(
        "value", doc="binary: share re-offending; frequency: events per person; value: other.")
    value: Decimal | None = fld(None, doc="Baseline value, where fixed in the contract.")
    source: str = fld("", doc="Where the figure comes from.")


@frozen
class Allocation:
    code: str = fld(doc="Allocation code, e.g. 'core', 'accommodation'.")
    name: str = fld("", doc="Human name.")
    pct: Decimal = fld(doc="Percentage of contract value; allocations sum to 100.", pct=True)


# --- rule building blocks -------------------------------------------------------------------


@frozen
class TariffPrice:
    outcome: str = fld(doc="Outcome code priced.")
    segment: str | None = fld(None, doc="Segment (payment group); omitted = any segment.")
    amount: Decimal | None = fld(None, money=True, doc="Price before taper.")
    pct_of_unit_value: Decimal | None = fld(
        None, pct=True, doc="Price as a share of the rule's unit_value (Pathways 30/50/20).")
    max_count: int | None = fld(None, doc="Most payments per participant for this price.")
    qualifying_weeks: int | None = fld(
        None, doc="Weeks from Claim.started before the outcome is due (overrides the outcome).")


@frozen
class Taper:
    outcome: str = fld(doc="Outcome the taper applies to.")
    from_contract_year: int = fld(doc="Contract year from which this percentage applies.")
    pct: Decimal = fld(doc="Percentage of the price paid.", pct=True)


@frozen
class PotPrice:
    pot: Decimal = fld(money=True, doc="Outcome pot for a year.")
    planned_participants: int = fld(doc="Planned participants in the year.")
    outcomes_per_participant: int = fld(doc="Paid outcomes each participant may achieve.")


@frozen
class Band:
    indicator: str = fld(doc="Indicator measured.")
    pot: Decimal = fld(money=True, doc="Amount at stake for this indicator.")
    minimum: Decimal = fld(doc="Below the minimum nothing is paid.")
    target: Decimal | None = fld(None, doc="Optional middle point (stepped bands).")
    stretch: Decimal = fld(doc="At or beyond the stretch target the full pot is paid.")
    shape: Literal["linear", "stepped"] = fld(
        "linear", doc="linear: interpolate between minimum and stretch; stepped: pay the level "
                      "of the highest point reached.")
    at_minimum_pct: Decimal = fld(Decimal(80), pct=True, doc="Share of the pot at the minimum.")
    at_target_pct: Decimal | None = fld(None, pct=True, doc="Share of the pot at the target.")
    at_stretch_pct: Decimal = fld(Decimal(100), pct=True, doc="Share of the pot at stretch.")


@frozen
class GradeLevel:
    grade: str = fld(doc="Grade letter.")
    min_share_pct: Decimal = fld(doc="Least share of criteria met for this grade.", pct=True)
    price: Decimal = fld(money=True, doc="Amount per unit for this grade.")


@frozen
class Condition:
    indicator: str = fld(doc="Indicator tested.")
    op: Comparison = fld(">=", doc="Comparison.")
    threshold: Decimal = fld(doc="Value compared against.")


@frozen
class Threshold:
    indicator: str = fld(doc="Indicator tested.")
    minimum: Decimal = fld(doc="Least acceptable value for the year.")


@frozen
class ScoredIndicator:
    indicator: str = fld(doc="Indicator scored.")
    target: Decimal = fld(doc="Target; score = min(1, achieved ÷ target).")


@frozen
class CurvePoint:
    improvement: Decimal = fld(doc="Improvement against baseline/comparison.")
    pct: Decimal = fld(doc="Percent of value paid (negative: reclaimed).")


# --- payment rules -------------------------------------------------------------------------


@frozen
class RuleBase:
    TYPE: ClassVar[str] = ""
    id: str = fld(doc="Unique rule id; used in line keys, so never change it after publication.")
    type: str = fld(doc="Rule type.")
    description: str = fld("", doc="What the rule is for, in words.")
    allocation: str | None = fld(None, doc="Allocation this rule spends.")


@frozen
class CoreInstalments(RuleBase):
    TYPE: ClassVar[str] = "core_instalments"
    amount_per_year: Decimal | None = fld(None, money=True, doc="Amount for a full year.")
    pct_of_annual_value: Decimal | None = fld(None, pct=True, doc="Or a share of annual_value.")
    schedule: Literal["every_period", "quarterly", "annually"] = fld(
        "every_period", doc="Paid every calendar period, each reconciliation group, or yearly.")
    on_account: bool = fld(
        False, doc="Paid on account of performance and reconciled later (uplift).")


@frozen
class Tariff(RuleBase):
    TYPE: ClassVar[str] = "tariff"
    prices: tuple[TariffPrice, ...] = fld(doc="Price per outcome and segment.")
    tapers: tuple[Taper, ...] = fld((), doc="Price reductions by contract year.")
    unit_value: Decimal | None = fld(None, money=True, doc="Value split by pct_of_unit_value.")
    derived_price: PotPrice | None = fld(
        None, doc="Default price = pot ÷ (planned participants × outcomes each).")


@frozen
class TargetBand(RuleBase):
    TYPE: ClassVar[str] = "target_band"
    bands: tuple[Band, ...] = fld(doc="One band per indicator, assessed per financial year.")


@frozen
class Grade(RuleBase):
    TYPE: ClassVar[str] = "grade"
    outcome: str = fld(doc="Graded outcome claimed.")
    grades: tuple[GradeLevel, ...] = fld(doc="Grades, best first.")


@frozen
class PeriodicBonus(RuleBase):
    TYPE: ClassVar[str] = "periodic_bonus"
    condition: Condition = fld(doc="Condition on the period's indicator value.")
    amount: Decimal = fld(money=True, doc="Bonus for each period the condition holds.")


@frozen
class ThresholdPenalty(RuleBase):
    TYPE: ClassVar[str] = "threshold_penalty"
    thresholds: tuple[Threshold, ...] = fld(doc="Annual minimum thresholds.")
    penalty: Decimal = fld(money=True, doc="Deducted at year end when thresholds are missed.")
    missed: Literal["any", "all"] = fld("any", doc="Penalty if any (or all) are missed.")


@frozen
class CohortBaseline(RuleBase):
    TYPE: ClassVar[str] = "cohort_baseline"
    indicator: str = fld(doc="The intervention cohort's measure, per cohort.")
    against: Literal["baseline", "comparison"] = fld(
        "baseline", doc="Compare with a fixed baseline or a matched comparison cohort.")
    dataset: str | None = fld(None, doc="Dataset holding the baseline or comparison.")
    baseline_value: Decimal | None = fld(None, doc="Baseline value written into the rule.")
    improvement: Literal["relative_pct", "points"] = fld(
        "relative_pct", doc="Improvement as a relative % reduction or in percentage points.")
    value: Decimal = fld(money=True, doc="Amount at stake for each cohort.")
    cohorts: tuple[str, ...] = fld(doc="Cohort labels (the indicator's period keys).")
    curve: tuple[CurvePoint, ...] = fld(doc="Improvement → percent of value.")
    shape: Literal["linear", "stepped"] = fld("stepped", doc="Interpolate or step.")
    below_pct: Decimal = fld(Decimal(0), doc="Percent of value below the first point.")
    all_cohorts_threshold: Decimal | None = fld(
        None, doc="If set, cohorts that failed individually are paid when the improvement "
                  "across all cohorts reaches this (Peterborough 7.5%).")


@frozen
class OnAccountReconciliation(RuleBase):
    TYPE: ClassVar[str] = "on_account_reconciliation"
    on_account_rule: str = fld(doc="The core_instalments rule paying on account.")
    indicators: tuple[ScoredIndicator, ...] = fld(doc="Indicators scored each group.")
    max_score: Decimal = fld(Decimal(1), doc="No uplift above target is paid (cap at 1).")


@frozen
class VolumeReconciliation(RuleBase):
    TYPE: ClassVar[str] = "volume_reconciliation"
    fee_rule: str = fld(doc="The core_instalments rule paying the fee for predicted volume.")
    indicator: str = fld(doc="Actual volume for the year.")
    predicted: Decimal = fld(doc="Predicted annual volume the fee buys.")
    tolerance_pct: Decimal = fld(pct=True, doc="No adjustment within ± this percent.")
    adjust: Literal["excess", "whole"] = fld(
        "excess", doc="Adjust only for volume beyond the tolerance, or for the whole difference.")


@frozen
class PerformancePayment(RuleBase):
    TYPE: ClassVar[str] = "performance_payment"
    conditions: tuple[Condition, ...] = fld(doc="All must hold for the year.")
    amount: Decimal | None = fld(None, money=True, doc="Amount paid after year end.")
    pct_of_annual_value: Decimal | None = fld(None, pct=True, doc="Or a share of annual_value.")


@frozen
class Cap(RuleBase):
    TYPE: ClassVar[str] = "cap"
    scope: Literal["participant", "period", "year", "contract"] = fld(
        doc="What the cap or floor applies to: each participant per year, each period, each "
            "financial year, the whole contract.")
    applies_to: tuple[str, ...] = fld((), doc="Rule ids counted; empty = every other rule.")
    outcomes: tuple[str, ...] = fld((), doc="Only lines for these outcomes; empty = all.")
    maximum: Decimal | None = fld(None, money=True, doc="Cap amount.")
    minimum: Decimal | None = fld(None, money=True, doc="Floor (collar) amount.")
    # may exceed 100 (Sheffield's 105% cap), so checked only for sign, like money
    maximum_pct: Decimal | None = fld(None, money=True, doc="Cap as a share of annual_value.")
    minimum_pct: Decimal | None = fld(None, money=True, doc="Floor as a share of annual_value.")
    allocation_cap: str | None = fld(
        None, doc="Cap at this allocation's share of maximum_value (weighted outcome pots).")


@frozen
class SampleRecovery(RuleBase):
    TYPE: ClassVar[str] = "sample_recovery"
    extrapolate: bool = fld(
        True, doc="Recover the sample's error rate from the whole population (002:2030).")


RULE_TYPES: tuple[type[RuleBase], ...] = (
    CoreInstalments, Tariff, TargetBand, Grade, PeriodicBonus, ThresholdPenalty, CohortBaseline,
    OnAccountReconciliation, VolumeReconciliation, PerformancePayment, Cap, SampleRecovery,
)
RULES_BY_TYPE: dict[str, type[RuleBase]] = {cls.TYPE: cls for cls in RULE_TYPES}

Rule = Union[  # noqa: UP007 - a Union reads better than a 12-way | here
    CoreInstalments, Tariff, TargetBand, Grade, PeriodicBonus, ThresholdPenalty, CohortBaseline,
    OnAccountReconciliation, VolumeReconciliation, PerformancePayment, Cap, SampleRecovery,
]


# --- the whole definition ------------------------------------------------------------------


@frozen
class ContractDefinition:
    format_version: int = fld(doc="Always 1 for this format.")
    reference: str = fld(doc="Contract reference, unique per commissioner.")
    title: str = fld(doc="Contract title.")
    funders: tuple[Funder, ...] = fld(doc="Who pays, with shares summing to 100.")
    prime_provider: Party = fld(doc="The provider contracted.")
    subcontractors: tuple[Subcontractor, ...] = fld((), doc="Supply chain and flow-down terms.")
    start: date = fld(doc="Contract start date.")
    end: date = fld(doc="Contract end date (inclusive).")
    annual_value: Decimal = fld(money=True, doc="Value of a full year.")
    maximum_value: Decimal | None = fld(None, money=True, doc="Most the contract can pay.")
    calendar: Calendar = fld(doc="Payment calendar.")
    segments: tuple[Segment, ...] = fld((), doc="Payment groups.")
    outcomes: tuple[Outcome, ...] = fld((), doc="Outcome definitions.")
    baskets: tuple[Basket, ...] = fld((), doc="Per-participant outcome baskets.")
    indicators: tuple[Indicator, ...] = fld((), doc="Service-level indicators.")
    datasets: tuple[Dataset, ...] = fld((), doc="External baselines and comparison cohorts.")
    allocations: tuple[Allocation, ...] = fld((), doc="Split of value; sums to 100.")
    rules: tuple[Rule, ...] = fld((), doc="Payment rules.")
    sources: tuple[str, ...] = fld((), doc="Citations, e.g. '000:186'.")

    def outcome(self, code: str) -> Outcome | None:
        return next((o for o in self.outcomes if o.code == code), None)

    def indicator(self, code: str) -> Indicator | None:
        return next((i for i in self.indicators if i.code == code), None)

    def rule(self, rule_id: str) -> RuleBase | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def subcontractor(self, code: str) -> Subcontractor | None:
        return next((s for s in self.subcontractors if s.code == code), None)

    def dataset(self, code: str) -> Dataset | None:
        return next((d for d in self.datasets if d.code == code), None)

    def allocation_of(self, code: str) -> Allocation | None:
        return next((a for a in self.allocations if a.code == code), None)
