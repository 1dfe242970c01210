"""Structural (JSON Schema) and semantic validation of a contract definition."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

from .calendar import calendar_problems, default_groups
from .model import (
    Cap,
    CohortBaseline,
    ContractDefinition,
    CoreInstalments,
    Grade,
    OnAccountReconciliation,
    PerformancePayment,
    PeriodicBonus,
    TargetBand,
    Tariff,
    ThresholdPenalty,
    VolumeReconciliation,
)
from .money import HUNDRED, fmt_number
from .serial import DATE_PATTERN, DECIMAL_PATTERN, BuildError, build

SCHEMA_PATH = Path(__file__).parent / "schema" / "contract-v1.schema.json"


@dataclass(frozen=True)
class ValidationError:
    path: str  # e.g. "rules[2].bands[1].stretch"; "" for the document itself
    message: str
    code: str  # the rule broken, stable for tests and translations, e.g. "allocations-sum"

    def __str__(self) -> str:
        return f"{self.path or '(document)'}: {self.message} [{self.code}]"


class DefinitionError(ValueError):
    """Raised by parse(); carries every error found, not only the first."""

    def __init__(self, errors: list[ValidationError]):
        self.errors = list(errors)
        lines = "\n".join(f"  - {e}" for e in self.errors)
        super().__init__(f"contract definition has {len(self.errors)} error(s):\n{lines}")


@cache
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


def _json_path(parts) -> str:
    out = ""
    for part in parts:
        out = f"{out}[{part}]" if isinstance(part, int) else (f"{out}.{part}" if out else part)
    return out


def _wants_decimal(schema_part: dict[str, Any]) -> bool:
    return any(alt.get("pattern") == DECIMAL_PATTERN or _wants_decimal(alt)
               for alt in schema_part.get("anyOf", ()))


def _structural(data: Any) -> list[ValidationError]:
    validator = jsonschema.Draft202012Validator(schema())
    errors = []
    for err in validator.iter_errors(data):
        leaf = err
        if err.validator == "anyOf" and err.context:
            if _wants_decimal(err.schema):
                errors.append(ValidationError(_json_path(err.absolute_path), f"{err.instance!r} "
                              "is not a number; write amounts as text such as \"1200.50\"",
                              "schema-number"))
                continue
            # An optional field: explain what the non-null alternative wanted.
            leaf = best_match(e for e in err.context if e.validator != "type"
                              or e.validator_value != "null") or err
        path = _json_path(leaf.absolute_path)
        if leaf.validator == "additionalProperties":
            extra = sorted(set(leaf.instance) - set(leaf.schema.get("properties", {})))
            msg = f"unknown field(s) {', '.join(extra)}"
        elif leaf.validator == "required":
            msg = leaf.message.replace("is a required property", "is required")
        elif leaf.validator == "pattern" and leaf.schema.get("pattern") == DATE_PATTERN:
            msg = f"{leaf.instance!r} is not a date; write it as YYYY-MM-DD"
        else:
            msg = leaf.message
        errors.append(ValidationError(path, msg, f"schema-{leaf.validator}"))
    unique = {(e.path, e.message): e for e in errors}
    return sorted(unique.values(), key=lambda e: e.path)


def _walk(obj: Any, path: str):
    """Yield (path, field, value) for every field of every dataclass in the tree."""
    if dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            sub = f"{path}.{f.name}" if path else f.name
            yield sub, f, value
            yield from _walk(value, sub)
    elif isinstance(obj, tuple):
        for i, item in enumerate(obj):
            yield from _walk(item, f"{path}[{i}]")


def _sum_check(items, attr: str, path: str, what: str, code: str) -> list[ValidationError]:
    if not items:
        return []
    values = [getattr(i, attr) for i in items]
    total = sum(values, Decimal(0))
    if total != HUNDRED:
        parts = " + ".join(f"{fmt_number(v)}%" for v in values)
        return [ValidationError(path, f"{what} must add up to 100%, but {parts} = "
                                f"{fmt_number(total)}%", code)]
    return []


def semantic(defn: ContractDefinition) -> list[ValidationError]:
    errors: list[ValidationError] = []
    add = errors.append

    def err(path: str, message: str, code: str) -> None:
        add(ValidationError(path, message, code))

    if defn.format_version != 1:
        err("format_version", "only format_version 1 is understood", "format-version")
    if defn.end < defn.start:
        err("end", f"contract ends ({defn.end}) before it starts ({defn.start})", "dates-order")
    errors += _sum_check(defn.funders, "share_pct", "funders", "funder shares", "funders-sum")
    errors += _sum_check(defn.allocations, "pct", "allocations", "allocations of the "
                         "contract's value", "allocations-sum")

    for path, f, value in _walk(defn, ""):
        if isinstance(value, Decimal) and f.metadata.get("money") and value < 0:
            err(path, f"a price, amount or limit must not be negative (got {value})",
                "negative-amount")
        if isinstance(value, Decimal) and f.metadata.get("pct") and not 0 <= value <= 100:
            err(path, f"a percentage must be between 0 and 100 (got {value})",
                "pct-range")

    for path, message in calendar_problems(defn):
        err(path, message, "calendar-continuity")
    cal = defn.calendar
    groups = default_groups(cal)
    numbered = [n for g in groups for n in g.periods]
    if len(numbered) != len(set(numbered)):
        err("calendar.reconciliation_groups", "a period belongs to more than one reconciliation "
            "group", "calendar-groups")
    if cal.reconciliation_groups and sorted(numbered) != list(range(1, max(numbered) + 1)):
        err("calendar.reconciliation_groups", "reconciliation groups leave periods out: they "
            f"cover {sorted(numbered)}", "calendar-groups")
    if cal.shadow and cal.shadow.end < cal.shadow.start:
        err("calendar.shadow.end", "shadow window ends before it starts", "dates-order")

    outcomes = {o.code for o in defn.outcomes}
    indicators = {i.code for i in defn.indicators}
    segments = {s.code for s in defn.segments}
    datasets = {d.code: d for d in defn.datasets}
    allocations = {a.code for a in defn.allocations}
    rule_ids = [r.id for r in defn.rules]
    rules_by_id = {r.id: r for r in defn.rules}

    def must_exist(kind: str, code: str | None, known, path: str) -> None:
        if code is not None and code not in known:
            names = ", ".join(sorted(known)) or "none are defined"
            err(path, f"refers to {kind} {code!r}, which does not exist (known: {names})",
                f"unknown-{kind}")

    for what, codes, path in (("outcome", [o.code for o in defn.outcomes], "outcomes"),
                              ("indicator", [i.code for i in defn.indicators], "indicators"),
                              ("segment", [s.code for s in defn.segments], "segments"),
                              ("rule", rule_ids, "rules"),
                              ("subcontractor", [s.code for s in defn.subcontractors],
                               "subcontractors")):
        seen = set()
        for i, code in enumerate(codes):
            if code in seen:
                err(f"{path}[{i}]", f"{what} {code!r} is defined twice", "duplicate-code")
            seen.add(code)

    for i, o in enumerate(defn.outcomes):
        p = f"outcomes[{i}]"
        must_exist("outcome", o.trigger, outcomes, f"{p}.trigger")
        for j, pre in enumerate(o.prerequisites):
            must_exist("outcome", pre, outcomes, f"{p}.prerequisites[{j}]")
        for j, seg in enumerate(o.eligible_segments):
            must_exist("segment", seg, segments, f"{p}.eligible_segments[{j}]")
        if o.kind == "recurring" and not (o.trigger and (o.every_weeks or o.every_days)):
            err(p, f"recurring outcome {o.code!r} needs a trigger and every_weeks or every_days",
                "recurring-incomplete")
        if o.kind == "progression" and not (o.steps and o.steps >= 2):
            err(f"{p}.steps", f"progression outcome {o.code!r} needs a scale of at least 2 steps",
                "progression-steps")

    for i, b in enumerate(defn.baskets):
        p = f"baskets[{i}]"
        for j, code in enumerate(b.outcomes):
            must_exist("outcome", code, outcomes, f"{p}.outcomes[{j}]")
        for j, code in enumerate(b.mandatory):
            must_exist("outcome", code, outcomes, f"{p}.mandatory[{j}]")
        if len(b.mandatory) > b.paid_outcomes_per_participant:
            err(f"{p}.mandatory", f"{len(b.mandatory)} mandatory outcomes do not fit in a basket "
                f"of {b.paid_outcomes_per_participant}", "basket-size")

    for i, r in enumerate(defn.rules):
        p = f"rules[{i}]"
        must_exist("allocation", r.allocation, allocations, f"{p}.allocation")
        if isinstance(r, CoreInstalments):
            if (r.amount_per_year is None) == (r.pct_of_annual_value is None):
                err(p, "core_instalments needs exactly one of amount_per_year or "
                    "pct_of_annual_value", "amount-choice")
        elif isinstance(r, Tariff):
            for j, price in enumerate(r.prices):
                must_exist("outcome", price.outcome, outcomes, f"{p}.prices[{j}].outcome")
                must_exist("segment", price.segment, segments, f"{p}.prices[{j}].segment")
                given = [x for x in (price.amount, price.pct_of_unit_value) if x is not None]
                if len(given) > 1 or (not given and r.derived_price is None):
                    err(f"{p}.prices[{j}]", "a tariff price needs exactly one of amount or "
                        "pct_of_unit_value (or the rule's derived_price)", "amount-choice")
                if price.pct_of_unit_value is not None and r.unit_value is None:
                    err(f"{p}.unit_value", "pct_of_unit_value prices need the rule's unit_value",
                        "amount-choice")
            for j, taper in enumerate(r.tapers):
                must_exist("outcome", taper.outcome, outcomes, f"{p}.tapers[{j}].outcome")
        elif isinstance(r, TargetBand):
            for j, band in enumerate(r.bands):
                bp = f"{p}.bands[{j}]"
                must_exist("indicator", band.indicator, indicators, f"{bp}.indicator")
                ind = defn.indicator(band.indicator)
                lower = ind is not None and ind.direction == "lower_is_better"
                if (band.stretch < band.minimum) if not lower else (band.stretch > band.minimum):
                    better = "below" if not lower else "above"
                    err(f"{bp}.stretch", f"stretch target {fmt_number(band.stretch)} is {better} "
                        f"the minimum {fmt_number(band.minimum)}: a stretch must be at least as "
                        "demanding as the minimum", "band-order")
                if band.target is not None and not (
                        min(band.minimum, band.stretch) <= band.target
                        <= max(band.minimum, band.stretch)):
                    err(f"{bp}.target", "target must lie between the minimum and the stretch",
                        "band-order")
                if band.at_minimum_pct > band.at_stretch_pct:
                    err(f"{bp}.at_minimum_pct", "pays more at the minimum than at the stretch",
                        "band-order")
        elif isinstance(r, Grade):
            must_exist("outcome", r.outcome, outcomes, f"{p}.outcome")
            shares = [g.min_share_pct for g in r.grades]
            if shares != sorted(shares, reverse=True):
                err(f"{p}.grades", "grades must be listed best first, with falling "
                    "min_share_pct", "grade-order")
        elif isinstance(r, PeriodicBonus):
            must_exist("indicator", r.condition.indicator, indicators, f"{p}.condition.indicator")
        elif isinstance(r, ThresholdPenalty):
            for j, t in enumerate(r.thresholds):
                must_exist("indicator", t.indicator, indicators, f"{p}.thresholds[{j}].indicator")
        elif isinstance(r, PerformancePayment):
            for j, c in enumerate(r.conditions):
                must_exist("indicator", c.indicator, indicators, f"{p}.conditions[{j}].indicator")
            if (r.amount is None) == (r.pct_of_annual_value is None):
                err(p, "performance_payment needs exactly one of amount or pct_of_annual_value",
                    "amount-choice")
        elif isinstance(r, CohortBaseline):
            must_exist("indicator", r.indicator, indicators, f"{p}.indicator")
            must_exist("dataset", r.dataset, datasets, f"{p}.dataset")
            ds = datasets.get(r.dataset) if r.dataset else None
            if r.against == "baseline":
                has_value = r.baseline_value is not None or (ds is not None and
                                                            ds.value is not None)
                if not has_value:
                    err(f"{p}.baseline_value",
                        f"cohort_baseline rule {r.id!r} has no baseline value: a result cannot "
                        "be judged against a baseline nobody has measured (004:248). Give "
                        "baseline_value or a baseline dataset with a value", "baseline-missing")
            elif ds is None or ds.kind != "comparison_cohort":
                err(f"{p}.dataset", f"cohort_baseline rule {r.id!r} compares against a "
                    "comparison cohort but names no comparison_cohort dataset",
                    "baseline-missing")
            if not r.curve:
                err(f"{p}.curve", "needs at least one point", "curve-empty")
            xs = [c.improvement for c in r.curve]
            if xs != sorted(xs):
                err(f"{p}.curve", "points must be in increasing order of improvement",
                    "curve-order")
        elif isinstance(r, OnAccountReconciliation):
            target = rules_by_id.get(r.on_account_rule)
            if target is None:
                must_exist("rule", r.on_account_rule, rules_by_id, f"{p}.on_account_rule")
            elif not (isinstance(target, CoreInstalments) and target.on_account):
                err(f"{p}.on_account_rule", f"rule {r.on_account_rule!r} is not a "
                    "core_instalments rule paid on account", "wrong-rule-type")
            for j, si in enumerate(r.indicators):
                must_exist("indicator", si.indicator, indicators, f"{p}.indicators[{j}].indicator")
                if si.target <= 0:
                    err(f"{p}.indicators[{j}].target", "target must be above zero",
                        "target-positive")
        elif isinstance(r, VolumeReconciliation):
            must_exist("indicator", r.indicator, indicators, f"{p}.indicator")
            if not isinstance(rules_by_id.get(r.fee_rule), CoreInstalments):
                err(f"{p}.fee_rule", f"refers to rule {r.fee_rule!r}, which is not a "
                    "core_instalments rule", "unknown-rule")
            if r.predicted <= 0:
                err(f"{p}.predicted", "predicted volume must be above zero", "target-positive")
        elif isinstance(r, Cap):
            for j, rid in enumerate(r.applies_to):
                must_exist("rule", rid, rules_by_id, f"{p}.applies_to[{j}]")
            for j, code in enumerate(r.outcomes):
                must_exist("outcome", code, outcomes, f"{p}.outcomes[{j}]")
            must_exist("allocation", r.allocation_cap, allocations, f"{p}.allocation_cap")
            if r.allocation_cap and defn.maximum_value is None:
                err(f"{p}.allocation_cap", "an allocation cap needs the contract's "
                    "maximum_value", "amount-choice")
            hi = r.maximum if r.maximum is not None else (
                defn.annual_value * r.maximum_pct / HUNDRED if r.maximum_pct is not None
                else None)
            lo = r.minimum if r.minimum is not None else (
                defn.annual_value * r.minimum_pct / HUNDRED if r.minimum_pct is not None
                else None)
            if hi is None and lo is None and r.allocation_cap is None:
                err(p, "a cap needs a maximum or a minimum", "amount-choice")
            if hi is not None and lo is not None and lo > hi:
                err(f"{p}.minimum", "the floor is above the cap", "band-order")
    return errors


def validate(data: Any) -> list[ValidationError]:
    """Every problem with a document (dict from YAML/JSON). Empty list = valid.

    Semantic checks need a structurally sound document, so they run only when the schema passes.
    """
    structural = _structural(data)
    if structural:
        return structural
    try:
        defn = build(ContractDefinition, data)
    except BuildError as exc:
        return [ValidationError(exc.path, exc.message, "schema-value")]
    return semantic(defn)
