"""The designer's forms, generated from the definition dataclasses (contracts/definition/model.py).

Every input is named by its path in the definition document, e.g. ``rules[2].bands[1].stretch``.
So a POST binds straight back into a document, and a path in a validation error names the input
it belongs to. Binding only turns form text into the document's plain types (text, whole
numbers, lists); whether the document is any good is decided by ``contracts.definition.validate``,
the same validator the importer uses. There is no second validator here.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal, Union

from contracts.definition.model import (
    RULES_BY_TYPE,
    Band,
    Basket,
    Calendar,
    Cap,
    CohortBaseline,
    Condition,
    ContractDefinition,
    Grade,
    OnAccountReconciliation,
    Outcome,
    RuleBase,
    ScoredIndicator,
    Taper,
    TariffPrice,
    Threshold,
    VolumeReconciliation,
)
from contracts.definition.serial import hints

# --- sections ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    slug: str
    title: str
    fields: tuple[str, ...]
    intro: str


SECTIONS = (
    Section("details", "Contract details", (
        "reference", "title", "start", "end", "annual_value", "maximum_value", "funders",
        "prime_provider", "subcontractors", "sources"),
        "Reference, term, value, who pays and who delivers, and the flow-down terms for "
        "subcontractors."),
    Section("calendar", "Payment calendar", ("calendar",),
            "How often the provider is paid, when payment falls due, reconciliation periods, a "
            "shadow (mobilisation) window and a claim window after the contract ends."),
    Section("segments", "Segments", ("segments",),
            "Payment groups, tiers or client groups that prices and eligibility refer to."),
    Section("outcomes", "Outcomes", ("outcomes",),
            "What is paid for: one-off, recurring, progression ladders, graded, unpaid personal "
            "outcomes and milestones, with sustainment, voiding, prerequisites, eligibility and "
            "evidence."),
    Section("baskets", "Outcome baskets", ("baskets",),
            "Per-participant baskets, for example exactly five paid outcomes, some mandatory."),
    Section("indicators", "Indicators", ("indicators",),
            "Service-level measures reported each period: counts, rates and averages."),
    Section("datasets", "External datasets", ("datasets",),
            "Baselines and matched comparison cohorts that cohort rules are judged against."),
    Section("allocations", "Allocations", ("allocations",),
            "How the contract's value is split between elements; the shares add up to 100%."),
    Section("rules", "Payment rules, caps and floors", ("rules",),
            "Each rule with its pot or price: core instalments, tariffs, target bands, grades, "
            "bonuses, penalties, baseline rules, reconciliations, caps and floors."),
)
SECTIONS_BY_SLUG = {s.slug: s for s in SECTIONS}
SECTION_OF_FIELD = {name: s.slug for s in SECTIONS for name in s.fields}
# A new contract starts from the details plus the calendar's kind and start.
NEW_CONTRACT_CALENDAR_FIELDS = ("kind", "start")


def section_of_path(path: str) -> str:
    first = re.match(r"[A-Za-z_]+", path or "")
    return SECTION_OF_FIELD.get(first.group(0), "details") if first else "details"


# --- words -------------------------------------------------------------------------------------

LABELS = {
    "reference": "Contract reference",
    "title": "Contract title",
    "start": "Start date",
    "end": "End date",
    "annual_value": "Annual value",
    "maximum_value": "Maximum value",
    "funders": "Funders",
    "share_pct": "Share of funding",
    "prime_provider": "Prime provider",
    "subcontractors": "Subcontractors",
    "sources": "Sources",
    "code": "Code",
    "name": "Name",
    "tier": "Supply-chain tier",
    "management_fee_pct": "Management fee",
    "outcome_pass_through_pct": "Outcome payment passed down",
    "clawback_passdown": "How clawbacks are passed down",
    "delivery_share_pct": "Share of delivery",
    "kind": "Kind",
    "financial_year_start_month": "Financial year starts in month",
    "payment_in_arrears_days": "Paid in arrears by (days)",
    "reconciliation_groups": "Reconciliation groups",
    "shadow": "Shadow (mobilisation) window",
    "post_contract_claim_days": "Claim window after the contract ends (days)",
    "periods": "Explicit periods",
    "label": "Label",
    "applies_to": "Applies to",
    "description": "Description",
    "weeks": "Weeks",
    "max_adverse_events": "Adverse events tolerated",
    "once_per_participant": "Paid at most once per participant",
    "once_within_weeks": "Once within (weeks)",
    "trigger": "Triggered by outcome",
    "every_weeks": "Every (weeks)",
    "every_days": "Every (days)",
    "max_count": "Most payments per participant",
    "steps": "Steps on the ladder",
    "qualifying_weeks": "Qualifying period (weeks)",
    "sustainment": "Sustainment windows",
    "voided_by": "Voided by events",
    "prerequisites": "Prerequisite outcomes",
    "eligible_segments": "Eligible segments",
    "evidence": "Evidence required",
    "category": "Category",
    "id": "Rule id",
    "paid_outcomes_per_participant": "Paid outcomes per participant",
    "outcomes": "Outcomes",
    "mandatory": "Mandatory outcomes",
    "segments": "Segments",
    "numerator": "Numerator",
    "denominator": "Denominator",
    "direction": "Direction",
    "unit": "Unit",
    "measure": "Measure",
    "value": "Value",
    "source": "Source",
    "pct": "Percentage",
    "outcome": "Outcome",
    "segment": "Segment",
    "amount": "Amount",
    "pct_of_unit_value": "Share of the unit value",
    "from_contract_year": "From contract year",
    "pot": "Pot",
    "planned_participants": "Planned participants",
    "outcomes_per_participant": "Paid outcomes per participant",
    "indicator": "Indicator",
    "minimum": "Minimum",
    "target": "Target",
    "stretch": "Stretch",
    "shape": "Shape",
    "at_minimum_pct": "Paid at the minimum",
    "at_target_pct": "Paid at the target",
    "at_stretch_pct": "Paid at the stretch",
    "grade": "Grade",
    "min_share_pct": "Least share of criteria met",
    "price": "Price",
    "op": "Comparison",
    "threshold": "Threshold",
    "improvement": "Improvement",
    "allocation": "Allocation spent",
    "amount_per_year": "Amount per year",
    "pct_of_annual_value": "Share of the annual value",
    "schedule": "Schedule",
    "on_account": "Paid on account and reconciled later",
    "prices": "Prices",
    "tapers": "Tapers",
    "unit_value": "Unit value",
    "derived_price": "Price derived from a pot",
    "bands": "Bands",
    "grades": "Grades",
    "condition": "Condition",
    "thresholds": "Thresholds",
    "penalty": "Penalty",
    "missed": "Penalty when",
    "against": "Compared against",
    "dataset": "Dataset",
    "baseline_value": "Baseline value",
    "cohorts": "Cohorts",
    "curve": "Payment curve",
    "below_pct": "Paid below the first point",
    "all_cohorts_threshold": "Improvement across all cohorts that pays every cohort",
    "on_account_rule": "Rule paying on account",
    "indicators": "Indicators",
    "max_score": "Highest score",
    "fee_rule": "Rule paying the fee",
    "predicted": "Predicted annual volume",
    "tolerance_pct": "Tolerance",
    "adjust": "Adjust for",
    "conditions": "Conditions",
    "scope": "Applies per",
    "maximum": "Cap",
    "maximum_pct": "Cap as a share of the annual value",
    "minimum_pct": "Floor as a share of the annual value",
    "allocation_cap": "Cap at an allocation's share of the maximum value",
    "extrapolate": "Extrapolate the sample's error rate to the whole population",
}
# Where one field name means different things in different places.
CLASS_LABELS = {
    ("Cap", "minimum"): "Floor",
    ("Cap", "outcomes"): "Only these outcomes",
    ("Calendar", "kind"): "Payment period",
    ("Calendar", "start"): "First period starts",
    ("ShadowWindow", "applies_to"): "What is withheld",
    ("ShadowWindow", "start"): "Start date",
    ("Basket", "id"): "Basket id",
    ("Basket", "outcomes"): "Outcomes that count",
    ("Basket", "segments"): "Segments it applies to",
    ("Threshold", "minimum"): "Minimum for the year",
    ("ReconciliationGroup", "periods"): "Period numbers in the year",
    ("Dataset", "value"): "Baseline value",
    ("CohortBaseline", "value"): "Amount at stake per cohort",
    ("CohortBaseline", "improvement"): "Improvement measured as",
    ("CurvePoint", "pct"): "Share of the value paid",
    ("Taper", "pct"): "Share of the price paid",
    ("Allocation", "pct"): "Share of the contract's value",
    ("GradeLevel", "price"): "Price per unit",
    ("Outcome", "kind"): "Kind of outcome",
    ("Indicator", "kind"): "Kind of indicator",
    ("Dataset", "kind"): "Kind of dataset",
    ("PeriodicBonus", "amount"): "Bonus per period",
    ("PerformancePayment", "amount"): "Amount paid after the year",
    ("Sustainment", "label"): "Window name",
}
ITEM_NAMES = {
    "Funder": "funder", "Subcontractor": "subcontractor", "ExplicitPeriod": "period",
    "ReconciliationGroup": "reconciliation group", "Segment": "segment", "Outcome": "outcome",
    "Sustainment": "sustainment window", "Basket": "basket", "Indicator": "indicator",
    "Dataset": "dataset", "Allocation": "allocation", "TariffPrice": "price", "Taper": "taper",
    "Band": "band", "GradeLevel": "grade", "Condition": "condition", "Threshold": "threshold",
    "ScoredIndicator": "scored indicator", "CurvePoint": "curve point",
}
CHOICE_LABELS = {
    "one_off": "One-off", "recurring": "Recurring (every N weeks after a trigger)",
    "progression": "Progression ladder (paid per step gained)",
    "graded": "Graded (achieved, partial, not achieved)", "personal": "Personal (recorded, unpaid)",
    "milestone": "Milestone (recorded, unpaid; may trigger others)",
    "monthly": "Monthly", "four_weekly": "Four-weekly (28 days)", "quarterly": "Quarterly",
    "annual": "Annual", "every_period": "Every period", "annually": "Once a year",
    "evenly": "Evenly across the chain", "pro_rata": "Pro rata to delivery",
    "at_fault": "Only to the one at fault",
    "performance": "Performance payments only (core continues)", "all": "Everything",
    "higher_is_better": "Higher is better", "lower_is_better": "Lower is better",
    "count": "Count", "rate": "Rate (numerator ÷ denominator)", "average": "Average",
    "baseline": "A fixed baseline", "comparison_cohort": "A matched comparison cohort",
    "comparison": "A matched comparison cohort",
    "binary": "Binary (share of people)", "frequency": "Frequency (events per person)",
    "value": "Other value", "linear": "Linear (in proportion)", "stepped": "Stepped",
    ">=": "At least (≥)", ">": "More than (>)", "<=": "At most (≤)", "<": "Less than (<)",
    "any": "Any threshold is missed", "excess": "Only volume beyond the tolerance",
    "whole": "The whole difference", "relative_pct": "Relative reduction (%)",
    "points": "Percentage points", "participant": "Participant, per year", "period": "Period",
    "year": "Financial year", "contract": "Whole contract",
}
RULE_TYPE_LABELS = {
    "core_instalments": "Core instalments (guaranteed or on account)",
    "tariff": "Tariff: price per outcome, segment and contract year",
    "target_band": "Target bands: minimum, target and stretch",
    "grade": "Grades from the share of criteria met",
    "periodic_bonus": "Bonus in each period a condition holds",
    "threshold_penalty": "Penalty when annual thresholds are missed",
    "cohort_baseline": "Cohort against a baseline or comparison cohort",
    "on_account_reconciliation": "Reconciliation of payment on account",
    "volume_reconciliation": "Volume reconciliation with a tolerance",
    "performance_payment": "Performance payment after the year",
    "cap": "Cap or floor",
    "sample_recovery": "Sample and extrapolate recovery",
}

# Fields naming one thing defined elsewhere in the document: shown as a select of what exists.
REFERENCES = {
    (Outcome, "trigger"): "outcomes", (TariffPrice, "outcome"): "outcomes",
    (TariffPrice, "segment"): "segments", (Taper, "outcome"): "outcomes",
    (Band, "indicator"): "indicators", (Grade, "outcome"): "outcomes",
    (Condition, "indicator"): "indicators", (Threshold, "indicator"): "indicators",
    (ScoredIndicator, "indicator"): "indicators", (CohortBaseline, "indicator"): "indicators",
    (CohortBaseline, "dataset"): "datasets", (OnAccountReconciliation, "on_account_rule"): "rules",
    (VolumeReconciliation, "fee_rule"): "rules", (VolumeReconciliation, "indicator"): "indicators",
    (Cap, "allocation_cap"): "allocations", (RuleBase, "allocation"): "allocations",
}
# Lists of codes defined elsewhere: the hint says which codes exist.
LIST_REFERENCES = {
    (Outcome, "prerequisites"): "outcomes", (Outcome, "eligible_segments"): "segments",
    (Basket, "outcomes"): "outcomes", (Basket, "mandatory"): "outcomes",
    (Basket, "segments"): "segments", (Cap, "applies_to"): "rules", (Cap, "outcomes"): "outcomes",
}
NONE_LABELS = {"segments": "Any segment", "allocations": "None"}
WIDE_TEXT = {"title", "name", "description", "source", "numerator", "denominator"}


def humanise(name: str) -> str:
    text = name.removesuffix("_pct").replace("_", " ")
    return text[:1].upper() + text[1:]


def label_for(cls: type, name: str) -> str:
    for klass in cls.__mro__:
        if (klass.__name__, name) in CLASS_LABELS:
            return CLASS_LABELS[(klass.__name__, name)]
    return LABELS.get(name) or humanise(name)


def item_name(cls: type) -> str:
    if issubclass(cls, RuleBase):
        return "rule"
    return ITEM_NAMES.get(cls.__name__) or humanise(cls.__name__).lower()


def choice_label(value: str) -> str:
    return CHOICE_LABELS.get(value) or humanise(value)


# The order rules are offered in when adding one.
RULE_TYPE_CHOICES = tuple((t, RULE_TYPE_LABELS.get(t) or humanise(t)) for t in RULES_BY_TYPE)


def _lookup(table: dict, cls: type, name: str):
    for klass in cls.__mro__:
        if (klass, name) in table:
            return table[(klass, name)]
    return None


# --- types -------------------------------------------------------------------------------------


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (Union, types.UnionType)


def _is_rule(tp: Any) -> bool:
    return _is_union(tp) and all(isinstance(a, type) and issubclass(a, RuleBase)
                                 for a in typing.get_args(tp))


@dataclass(frozen=True)
class Kind:
    """What one dataclass field holds, as far as a form is concerned."""

    kind: str  # text, int, decimal, date, bool, choice, texts, ints, object, objects, rules
    optional: bool = False
    cls: type | None = None
    choices: tuple[str, ...] = ()


def kind_of(tp: Any) -> Kind:
    optional = False
    if _is_union(tp) and not _is_rule(tp):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        optional, tp = True, args[0]
    origin = typing.get_origin(tp)
    if origin is tuple:
        item = typing.get_args(tp)[0]
        if _is_rule(item):
            return Kind("rules", optional)
        if dataclasses.is_dataclass(item):
            return Kind("objects", optional, cls=item)
        return Kind("ints" if item is int else "texts", optional)
    if origin is Literal:
        return Kind("choice", optional, choices=tuple(typing.get_args(tp)))
    if dataclasses.is_dataclass(tp):
        return Kind("object", optional, cls=tp)
    return Kind({Decimal: "decimal", date: "date", int: "int", bool: "bool", str: "text"}[tp],
                optional)


# --- paths -------------------------------------------------------------------------------------

_TOKEN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def split_path(path: str) -> list[str | int]:
    return [name if name else int(index) for name, index in _TOKEN.findall(path or "")]


def join(path: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{path}[{part}]"
    return f"{path}.{part}" if path else part


def dom_id(path: str) -> str:
    """The HTML id of the input (or fieldset) for a definition path: rules[2].bands[1].stretch ->
    f-rules-2-bands-1-stretch."""
    return "f-" + (re.sub(r"[^A-Za-z0-9_]+", "-", path).strip("-") or "document")


def parent_path(path: str) -> str:
    m = re.match(r"^(.*?)(\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])$", path)
    return m.group(1) if m else ""


def _container(doc: dict, path: str, create: bool = False):
    """The list or dict at `path` within doc (creating empty lists on the way when asked)."""
    node: Any = doc
    parts = split_path(path)
    for i, part in enumerate(parts):
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return None
            node = node[part]
        else:
            if not isinstance(node, dict):
                return None
            if part not in node or node[part] is None:
                if not create:
                    return None
                node[part] = [] if i == len(parts) - 1 else {}
            node = node[part]
    return node


def add_item(doc: dict, list_path: str, item: dict | None = None) -> dict:
    doc = copy.deepcopy(doc)
    target = _container(doc, list_path, create=True)
    if isinstance(target, list):
        target.append(item or {})
    return doc


def remove_item(doc: dict, item_path: str) -> dict:
    doc = copy.deepcopy(doc)
    parts = split_path(item_path)
    if not parts or not isinstance(parts[-1], int):
        return doc
    target = _container(doc, parent_path(item_path))
    if isinstance(target, list) and parts[-1] < len(target):
        del target[parts[-1]]
    return doc


# --- what the form shows -----------------------------------------------------------------------


@dataclass
class Node:
    """One piece of a designer form: an input, a fieldset, a list of items or one item."""

    kind: str  # text, textarea, select, checkbox, hidden, group, list, item
    path: str
    label: str = ""
    hint: str = ""
    value: Any = ""
    options: list[tuple[str, str]] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    input_type: str = "text"
    inputmode: str = ""
    prefix: str = ""
    suffix: str = ""
    width: str = ""
    optional_group: bool = False  # a group with an "include" checkbox
    present: bool = True
    item_label: str = ""  # list: what one item is called
    add_choices: tuple[tuple[str, str], ...] = ()  # list of rules: the types to add
    caption: str = ""
    autofocus: bool = False
    readonly: bool = False
    name_override: str = ""

    @property
    def id(self) -> str:
        return dom_id(self.path)

    @property
    def name(self) -> str:
        return self.name_override or self.path

    @property
    def described_by(self) -> str:
        ids = []
        if self.hint:
            ids.append(f"{self.id}-hint")
        if self.errors:
            ids.append(f"{self.id}-error")
        return " ".join(ids)

    @property
    def depth(self) -> int:
        return self.path.count("[")

    @property
    def add_text(self) -> str:
        article = "another" if self.children else ("an" if self.item_label[:1] in "aeiou" else "a")
        return f"Add {article} {self.item_label}"

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


def known_codes(doc: dict) -> dict[str, list[tuple[str, str]]]:
    """(code, label) of each outcome, segment, indicator, dataset, allocation and rule defined."""
    out: dict[str, list[tuple[str, str]]] = {}
    for list_name, key in (("outcomes", "code"), ("segments", "code"), ("indicators", "code"),
                           ("datasets", "code"), ("allocations", "code"), ("rules", "id")):
        items = doc.get(list_name) if isinstance(doc, dict) else None
        codes = []
        for item in items if isinstance(items, list) else ():
            if isinstance(item, dict) and isinstance(item.get(key), str) and item[key].strip():
                name = item.get("name") or item.get("description") or ""
                if list_name == "rules":
                    name = RULE_TYPE_LABELS.get(item.get("type"), "")
                codes.append((item[key], f"{item[key]} – {name}" if name else item[key]))
        out[list_name] = codes
    return out


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


class Builder:
    """Builds the Node tree for a document (a plain dict, possibly incomplete or invalid)."""

    def __init__(self, doc: dict, *, errors: dict[str, list[str]] | None = None,
                 focus: str = "", readonly: bool = False):
        self.doc = doc if isinstance(doc, dict) else {}
        self.known = known_codes(self.doc)
        self.errors = errors or {}
        self.focus = focus
        self.readonly = readonly
        self._focused = False

    def section(self, slug: str) -> list[Node]:
        section = SECTIONS_BY_SLUG[slug]
        return self.fields(ContractDefinition, self.doc, "", only=section.fields)

    def new_contract(self) -> list[Node]:
        nodes = self.section("details")
        calendar = self.doc.get("calendar") if isinstance(self.doc.get("calendar"), dict) else {}
        group = Node("group", "calendar", label="Payment calendar",
                     hint="You can set the rest of the calendar in the designer.",
                     children=self.fields(Calendar, calendar, "calendar",
                                          only=NEW_CONTRACT_CALENDAR_FIELDS))
        self._decorate(group)
        return [*nodes, group]

    def fields(self, cls: type, value: Any, path: str, only: tuple[str, ...] = ()) -> list[Node]:
        value = value if isinstance(value, dict) else {}
        hs = hints(cls)
        nodes = []
        fields_ = dataclasses.fields(cls)
        if only:  # in the order the section lists them
            fields_ = sorted((f for f in fields_ if f.name in only), key=lambda f: only.index(f.name))
        for f in fields_:
            sub = join(path, f.name)
            if issubclass(cls, RuleBase) and f.name == "type":
                nodes.append(self._decorate(Node("hidden", sub, value=value.get("type", ""))))
                continue
            if cls is ContractDefinition and f.name == "format_version":
                continue
            present = f.name in value
            current = value.get(f.name) if present else (
                None if f.default is dataclasses.MISSING else f.default)
            nodes.append(self.node(cls, f, kind_of(hs[f.name]), current, sub, present))
        return nodes

    def _decorate(self, node: Node) -> Node:
        node.errors = list(self.errors.get(node.path, ()))
        node.readonly = self.readonly
        if (self.focus and not self._focused and node.kind in ("text", "textarea", "select")
                and (node.path == self.focus or node.path.startswith(self.focus + "."))):
            node.autofocus = self._focused = True
        return node

    def node(self, cls: type, f: dataclasses.Field, kind: Kind, current: Any, path: str,
             present: bool) -> Node:
        label = label_for(cls, f.name)
        hint = f.metadata.get("doc", "")
        if kind.kind == "objects":
            return self.list_node(kind.cls, current, path, label, hint)
        if kind.kind == "rules":
            return self.rules_node(current, path, label, hint)
        if kind.kind == "object":
            group = Node("group", path, label=label, hint=hint if kind.optional else "",
                         optional_group=kind.optional,
                         present=(not kind.optional) or (present and current is not None))
            self._decorate(group)
            group.children = self.fields(kind.cls, current if isinstance(current, dict) else {},
                                         path)
            return group
        if kind.kind == "bool":
            return self._decorate(Node("checkbox", path, label=label, hint=hint,
                                       value=current is True or current == "true"))
        if kind.kind == "choice":
            options = [] if f.default is not dataclasses.MISSING and f.default is not None \
                else [("", "Choose…" if not kind.optional else "None")]
            options += [(c, choice_label(c)) for c in kind.choices]
            return self._select(path, label, hint, _text(current), options)
        if kind.kind in ("texts", "ints"):
            refs = _lookup(LIST_REFERENCES, cls, f.name)
            items = current if isinstance(current, list | tuple) else (
                [] if current in (None, "") else [current])
            if kind.kind == "ints":
                node = Node("text", path, label=label,
                            hint=f"{hint} Separate numbers with commas.",
                            value=", ".join(_text(v) for v in items), width="20")
            else:
                if refs:
                    codes = ", ".join(code for code, _ in self.known.get(refs, ())) or "none yet"
                    hint = f"{hint} One code per line. Defined: {codes}."
                else:
                    hint = f"{hint} One per line."
                node = Node("textarea", path, label=label, hint=hint,
                            value="\n".join(_text(v) for v in items))
            return self._decorate(node)
        refs = _lookup(REFERENCES, cls, f.name)
        text = _text(current)
        if refs and kind.kind == "text":
            codes = self.known.get(refs, [])
            options = [("", NONE_LABELS.get(refs, "None") if kind.optional or
                        f.default is not dataclasses.MISSING else "Choose…")]
            options += codes
            if text and text not in {c for c, _ in codes}:
                options.append((text, f"{text} (not defined)"))
            return self._select(path, label, hint, text, options)
        node = Node("text", path, label=label, hint=hint, value=text)
        meta = f.metadata
        if kind.kind == "decimal":
            node.inputmode, node.width = "decimal", "10"
            if meta.get("pct"):
                node.suffix = "%"
            elif meta.get("money") and not f.name.endswith("_pct"):
                node.prefix = "£"
            elif f.name.endswith("_pct"):
                node.suffix = "%"
        elif kind.kind == "int":
            node.inputmode, node.width = "numeric", "5"
        elif kind.kind == "date":
            node.input_type = "date"
        elif f.name in ("description",):
            node.kind = "textarea"
        elif f.name not in WIDE_TEXT:
            node.width = "20"
        return self._decorate(node)

    def _select(self, path, label, hint, value, options) -> Node:
        if value and value not in {v for v, _ in options}:
            options = [*options, (value, f"{value} (not a choice)")]
        return self._decorate(Node("select", path, label=label, hint=hint, value=value,
                                   options=options))

    def list_node(self, cls: type, current: Any, path: str, label: str, hint: str) -> Node:
        items = current if isinstance(current, list | tuple) else []
        name = item_name(cls)
        node = self._decorate(Node("list", path, label=label, hint=hint, item_label=name))
        for i, item in enumerate(items):
            sub = join(path, i)
            code = ""
            if isinstance(item, dict):
                code = next((item[k] for k in ("code", "id", "label", "outcome", "indicator",
                                                "grade", "name") if item.get(k)), "")
            child = self._decorate(Node("item", sub, label=f"{name.capitalize()} {i + 1}",
                                        caption=str(code)))
            child.children = self.fields(cls, item, sub)
            node.children.append(child)
        return node

    def rules_node(self, current: Any, path: str, label: str, hint: str) -> Node:
        items = current if isinstance(current, list | tuple) else []
        node = self._decorate(Node("list", path, label=label, hint=hint, item_label="rule",
                                   add_choices=RULE_TYPE_CHOICES))
        for i, item in enumerate(items):
            sub = join(path, i)
            item = item if isinstance(item, dict) else {}
            cls = RULES_BY_TYPE.get(item.get("type"), RuleBase)
            child = self._decorate(Node(
                "item", sub, label=f"Rule {i + 1}", caption=str(item.get("id") or ""),
                hint=RULE_TYPE_LABELS.get(item.get("type"), f"Unknown type {item.get('type')!r}")))
            child.children = self.fields(cls, item, sub)
            node.children.append(child)
        return node


def find(nodes: list[Node], path: str) -> Node | None:
    for node in nodes:
        for n in node.walk():
            if n.path == path:
                return n
    return None


# --- binding: POST -> document -----------------------------------------------------------------

_INT = re.compile(r"^[+-]?\d+$")


def _clean_number(raw: str) -> str:
    text = raw.strip().replace(",", "").replace(" ", "")
    return text.removeprefix("£").removesuffix("%")


class Binder:
    """Reads a submitted designer form back into a definition document (plain dict).

    Text is kept as the author typed it (amounts stay strings, as the format prefers); only
    whole numbers become ints. Text that is not a whole number is passed on unchanged so that
    the validator reports it at its path.
    """

    def __init__(self, data):
        self.data = data
        self.keys = list(data.keys())

    def get(self, name: str) -> str:
        value = self.data.get(name)
        return value if isinstance(value, str) else ""

    def section(self, slug: str) -> dict:
        return self.fields(ContractDefinition, "", only=SECTIONS_BY_SLUG[slug].fields)

    def new_contract(self) -> dict:
        doc = self.section("details")
        doc["calendar"] = self.fields(Calendar, "calendar", only=NEW_CONTRACT_CALENDAR_FIELDS)
        return doc

    def fields(self, cls: type, path: str, only: tuple[str, ...] = ()) -> dict:
        hs = hints(cls)
        out: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if only and f.name not in only:
                continue
            if cls is ContractDefinition and f.name == "format_version":
                continue
            sub = join(path, f.name)
            if issubclass(cls, RuleBase) and f.name == "type":
                out["type"] = self.get(sub)
                continue
            value = self.value(kind_of(hs[f.name]), sub)
            if value is not _OMIT:
                out[f.name] = value
        return out

    def indices(self, path: str) -> list[int]:
        pattern = re.compile(re.escape(path) + r"\[(\d+)\]\._item$")
        return sorted({int(m.group(1)) for k in self.keys if (m := pattern.match(k))})

    def value(self, kind: Kind, path: str) -> Any:
        if kind.kind in ("objects", "rules"):
            items = []
            for i in self.indices(path):
                sub = join(path, i)
                if kind.kind == "rules":
                    cls = RULES_BY_TYPE.get(self.get(join(sub, "type")), RuleBase)
                else:
                    cls = kind.cls
                items.append(self.fields(cls, sub))
            return items if items else _OMIT
        if kind.kind == "object":
            if kind.optional and not self.get(join(path, "_present")):
                return _OMIT
            return self.fields(kind.cls, path)
        if kind.kind == "bool":
            return self.get(path) == "true"
        raw = self.get(path).strip()
        if kind.kind == "texts":
            items = [line.strip() for line in raw.splitlines() if line.strip()]
            return items if items else _OMIT
        if kind.kind == "ints":
            items = [p.strip() for p in raw.replace(";", ",").split(",") if p.strip()]
            return [int(p) if _INT.match(p) else p for p in items] if items else _OMIT
        if raw == "":
            return _OMIT
        if kind.kind == "int":
            return int(raw) if _INT.match(raw) else raw
        if kind.kind == "decimal":
            return _clean_number(raw)
        return raw


class _Omit:
    def __repr__(self):
        return "OMIT"


_OMIT = _Omit()


def merge_section(stored: dict, slug: str, bound: dict) -> dict:
    """The stored document with one section replaced by what was submitted."""
    doc = copy.deepcopy(stored) if isinstance(stored, dict) else {}
    for name in SECTIONS_BY_SLUG[slug].fields:
        doc.pop(name, None)
        if name in bound:
            doc[name] = bound[name]
    doc["format_version"] = 1
    return _ordered(doc)


def _ordered(doc: dict) -> dict:
    order = [f.name for f in dataclasses.fields(ContractDefinition)]
    return {k: doc[k] for k in sorted(doc, key=lambda k: order.index(k) if k in order else 99)}


# --- errors -> fields --------------------------------------------------------------------------

_REQUIRED = re.compile(r"^'([A-Za-z_][A-Za-z0-9_]*)' is required")


def error_target(path: str, message: str, code: str) -> str:
    """The path of the input an error belongs to: a missing field's own input, not its parent."""
    if code == "schema-required" and (m := _REQUIRED.match(message)):
        return join(path, m.group(1))
    return path


def anchor_for(target: str, paths: set[str]) -> str:
    """The nearest rendered path at or above `target` (an item in a list of codes is the list's
    input; a whole-object error is the object's fieldset)."""
    probe = target
    while probe:
        if probe in paths:
            return probe
        probe = parent_path(probe)
    return ""


def all_paths(doc: dict) -> dict[str, set[str]]:
    """Every path rendered in each section of the designer, for linking errors to inputs."""
    builder = Builder(doc)
    return {s.slug: {n.path for node in builder.section(s.slug) for n in node.walk()}
            for s in SECTIONS}


LIST_ITEM_NAMES = {
    "funders": "funder", "subcontractors": "subcontractor", "reconciliation_groups":
    "reconciliation group", "periods": "period", "segments": "segment", "outcomes": "outcome",
    "sustainment": "sustainment window", "baskets": "basket", "indicators": "indicator",
    "datasets": "dataset", "allocations": "allocation", "rules": "rule", "prices": "price",
    "tapers": "taper", "bands": "band", "grades": "grade", "thresholds": "threshold",
    "conditions": "condition", "curve": "curve point", "voided_by": "event",
    "prerequisites": "prerequisite", "eligible_segments": "segment", "evidence": "evidence type",
    "mandatory": "mandatory outcome", "applies_to": "rule", "cohorts": "cohort",
    "sources": "source",
}


def describe_path(path: str) -> str:
    """Words for where a problem is: rules[2].bands[1].stretch -> Rule 3 › Band 2 › Stretch."""
    if not path:
        return "The whole contract"
    parts = split_path(path)
    words = []
    for i, part in enumerate(parts):
        if isinstance(part, int):
            continue
        nxt = parts[i + 1] if i + 1 < len(parts) else None
        if isinstance(nxt, int):
            words.append(f"{LIST_ITEM_NAMES.get(part, humanise(part)).capitalize()} {nxt + 1}")
        else:
            words.append(LABELS.get(part) or humanise(part))
    return " › ".join(words)
