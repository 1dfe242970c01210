"""Reading and writing definition documents (YAML or JSON) for the CLI, API and web pages."""

import json

import yaml

from .definition import DecimalSafeLoader
from .services import ContractError, Problem

MAX_DOCUMENT_BYTES = 1024 * 1024


def parse_text(raw, filename=""):
    """Bytes or text of a YAML/JSON document -> dict, or ContractError with a clear message."""
    if isinstance(raw, bytes):
        if len(raw) > MAX_DOCUMENT_BYTES:
            raise ContractError([Problem("", "The file is larger than 1 MB; a contract definition "
                                         "is a few kilobytes.", "too-large")])
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ContractError([Problem("", f"The file is not UTF-8 text (byte {exc.start}).",
                                         "encoding")]) from exc
    text = raw.strip()
    if not text:
        raise ContractError([Problem("", "The file is empty.", "empty")])
    try:
        if filename.lower().endswith(".json") or text.startswith("{"):
            document = json.loads(text, parse_float=str)
        else:
            document = yaml.load(text, Loader=DecimalSafeLoader)  # noqa: S506 - SafeLoader subclass
    except json.JSONDecodeError as exc:
        raise ContractError([Problem("", f"This is not valid JSON: {exc.msg} at line {exc.lineno}, "
                                     f"column {exc.colno}.", "syntax")]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "it cannot be read"
        raise ContractError([Problem("", f"This is not valid YAML{where}: {problem}.", "syntax")]) from exc
    if not isinstance(document, dict):
        raise ContractError([Problem("", "The file must contain one contract definition (a mapping "
                                     "of fields such as reference, title, rules).", "not-an-object")])
    return document


def to_yaml(document):
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def to_json(document):
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
