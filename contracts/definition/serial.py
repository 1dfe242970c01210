"""Generic conversion between plain documents and the definition dataclasses, and the JSON Schema
derived from the same type hints (so the schema cannot drift from the dataclasses)."""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from datetime import date
from decimal import Decimal
from typing import Any, Literal, Union

from .model import RULES_BY_TYPE, ContractDefinition, RuleBase
from .money import to_decimal

DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


@functools.cache
def hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (Union, types.UnionType)


def _is_rule_union(tp: Any) -> bool:
    return _is_union(tp) and all(
        isinstance(a, type) and issubclass(a, RuleBase) for a in typing.get_args(tp))


class BuildError(ValueError):
    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def join(path: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{path}[{part}]"
    return f"{path}.{part}" if path else part


def build(tp: Any, value: Any, path: str = "") -> Any:
    """Turn a plain value into ``tp``. Assumes the schema has already accepted the document."""
    if _is_rule_union(tp):
        cls = RULES_BY_TYPE.get(value.get("type")) if isinstance(value, dict) else None
        if cls is None:
            raise BuildError(join(path, "type"), f"unknown rule type {value.get('type')!r}")
        return build(cls, value, path)
    if _is_union(tp):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return build(args[0], value, path)
    origin = typing.get_origin(tp)
    if origin is tuple:
        (item_tp, _ellipsis) = typing.get_args(tp)
        return tuple(build(item_tp, v, join(path, i)) for i, v in enumerate(value or ()))
    if origin is Literal:
        return value
    if dataclasses.is_dataclass(tp):
        hs = hints(tp)
        kwargs = {}
        for f in dataclasses.fields(tp):
            if f.name in value:
                kwargs[f.name] = build(hs[f.name], value[f.name], join(path, f.name))
        return tp(**kwargs)
    if tp is Decimal:
        try:
            return to_decimal(value)
        except ValueError as exc:
            raise BuildError(path, str(exc)) from exc
    if tp is date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError as exc:
            raise BuildError(path, f"{value!r} is not a date (YYYY-MM-DD)") from exc
    if tp is int:
        return int(value)
    if tp is bool:
        return bool(value)
    if tp is str:
        return str(value)
    raise TypeError(f"cannot build {tp!r}")


def dump(value: Any) -> Any:
    """Plain, JSON-safe document: money as strings, dates ISO, defaults left out."""
    if dataclasses.is_dataclass(value):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            if f.name != "type" and f.default is not dataclasses.MISSING and v == f.default:
                continue
            out[f.name] = dump(v)
        return out
    if isinstance(value, tuple):
        return [dump(v) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    return value


# --- JSON Schema ---------------------------------------------------------------------------


def _schema_for(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    if _is_rule_union(tp):
        return {"$ref": "#/$defs/Rule"}
    if _is_union(tp):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        inner = _schema_for(args[0], defs)
        return {"anyOf": [inner, {"type": "null"}]}
    origin = typing.get_origin(tp)
    if origin is tuple:
        return {"type": "array", "items": _schema_for(typing.get_args(tp)[0], defs)}
    if origin is Literal:
        return {"enum": list(typing.get_args(tp))}
    if dataclasses.is_dataclass(tp):
        _define(tp, defs)
        return {"$ref": f"#/$defs/{tp.__name__}"}
    if tp is Decimal:
        return {"anyOf": [{"type": "string", "pattern": DECIMAL_PATTERN}, {"type": "number"}]}
    if tp is date:
        return {"type": "string", "pattern": DATE_PATTERN, "format": "date"}
    if tp is int:
        return {"type": "integer"}
    if tp is bool:
        return {"type": "boolean"}
    if tp is str:
        return {"type": "string"}
    raise TypeError(f"no schema for {tp!r}")


def _define(cls: type, defs: dict[str, Any]) -> None:
    if cls.__name__ in defs:
        return
    defs[cls.__name__] = {}  # placeholder stops recursion
    hs = hints(cls)
    props: dict[str, Any] = {}
    required: list[str] = []
    for f in dataclasses.fields(cls):
        prop = dict(_schema_for(hs[f.name], defs))
        prop["description"] = f.metadata.get("doc", "")
        if f.name == "type" and issubclass(cls, RuleBase):
            prop = {"const": cls.TYPE, "description": "Rule type."}
        props[f.name] = prop
        if f.default is dataclasses.MISSING:
            required.append(f.name)
    defs[cls.__name__] = {
        "type": "object",
        "description": (cls.__doc__ or "").strip() if cls is ContractDefinition else "",
        "properties": props,
        "required": required,
        "additionalProperties": False,
    }


def json_schema() -> dict[str, Any]:
    defs: dict[str, Any] = {}
    for cls in RULES_BY_TYPE.values():
        _define(cls, defs)
    _define(ContractDefinition, defs)
    defs["Rule"] = {
        "type": "object",
        "required": ["id", "type"],
        "properties": {"type": {"enum": sorted(RULES_BY_TYPE)}},
        "allOf": [
            {"if": {"properties": {"type": {"const": t}}, "required": ["type"]},
             "then": {"$ref": f"#/$defs/{cls.__name__}"}}
            for t, cls in sorted(RULES_BY_TYPE.items())
        ],
    }
    root = dict(defs.pop("ContractDefinition"))
    root["description"] = "PbR contract definition, format version 1 (docs/contract-format.md)."
    root["properties"]["format_version"] = {"const": 1, "description": "Format version."}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://pbr.example/schema/contract-v1.schema.json",
        "title": "PbR contract definition v1",
        **root,
        "$defs": dict(sorted(defs.items())),
    }
