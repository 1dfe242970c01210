"""Regenerate the published schema: ``python -m contracts.definition.write_schema``."""

import json

from .serial import json_schema
from .validate import SCHEMA_PATH


def render() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    SCHEMA_PATH.write_text(render(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
