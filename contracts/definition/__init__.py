"""Contract definition format v1: dataclasses, parser, validator, calendar. No Django here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from .calendar import Period, contract_year, financial_year_of, period_for, periods
from .model import FORMAT_VERSION, RULES_BY_TYPE, ContractDefinition
from .money import gbp, instalments, money, to_decimal
from .serial import build, dump
from .validate import DefinitionError, ValidationError, validate

__all__ = [
    "FORMAT_VERSION", "RULES_BY_TYPE", "ContractDefinition", "DefinitionError", "Period",
    "ValidationError", "contract_year", "financial_year_of", "gbp", "instalments", "load_file",
    "money", "parse", "period_for", "periods", "to_decimal", "to_dict", "validate",
]


def parse(data: dict[str, Any]) -> ContractDefinition:
    errors = validate(data)
    if errors:
        raise DefinitionError(errors)
    return build(ContractDefinition, data)


def to_dict(defn: ContractDefinition) -> dict[str, Any]:
    return dump(defn)


class DecimalSafeLoader(yaml.SafeLoader):
    """Reads YAML floats and dates as text: 0.1 stays exactly 0.1 on its way to Decimal, and a
    date is checked by the same schema rule whether it came from YAML or JSON."""


for _tag in ("tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp"):
    DecimalSafeLoader.add_constructor(_tag, lambda loader, node: loader.construct_scalar(node))


def load_document(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        return json.loads(text, parse_float=str)
    return yaml.load(text, Loader=DecimalSafeLoader)  # noqa: S506 - SafeLoader subclass


def load_file(path: str | Path) -> ContractDefinition:
    return parse(load_document(path))
