"""Every example survives load -> to_dict -> parse, and the published schema is current."""

from __future__ import annotations

import json

import pytest

from contracts.definition import load_file, parse, to_dict
from contracts.definition.validate import SCHEMA_PATH
from contracts.definition.write_schema import render

from .conftest import EXAMPLES

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))


def test_there_is_an_example_per_case():
    names = {p.name for p in EXAMPLE_FILES}
    assert {"c1-derbyshire.yaml", "c1-derbyshire-shadow.yaml", "c2-southend.yaml",
            "c3-work-programme.yaml", "c4-lewisham.yaml", "c5-birmingham.yaml",
            "c6-sheffield.yaml"} <= names


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_round_trip(path, tmp_path):
    defn = load_file(path)
    document = to_dict(defn)
    assert parse(document) == defn
    # and through JSON text, as the API would carry it
    as_json = tmp_path / "contract.json"
    as_json.write_text(json.dumps(document))
    assert load_file(as_json) == defn


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_examples_cite_the_seeds(path):
    head = path.read_text().split("format_version")[0]
    assert "Seeds:" in head or "Seeds" in head
    assert "(0" in head  # a file:line citation such as (000:186)


def test_published_schema_matches_the_dataclasses():
    assert SCHEMA_PATH.read_text() == render(), (
        "run: python -m contracts.definition.write_schema")


def test_yaml_floats_become_exact_decimals(tmp_path):
    text = (EXAMPLES / "c2-southend.yaml").read_text().replace('stretch: "96.5"', "stretch: 96.5")
    path = tmp_path / "c2.yaml"
    path.write_text(text)
    band = load_file(path).rules[0].bands[1]
    assert str(band.stretch) == "96.5"


def test_docs_describe_every_field_and_rule_type():
    import dataclasses

    from contracts.definition import model

    doc = (EXAMPLES.parents[1] / "docs" / "contract-format.md").read_text()
    for cls in vars(model).values():
        if dataclasses.is_dataclass(cls) and isinstance(cls, type):
            for f in dataclasses.fields(cls):
                assert f"`{f.name}`" in doc, f"{cls.__name__}.{f.name} is not documented"
    for rule_type in model.RULES_BY_TYPE:
        assert f"### `{rule_type}`" in doc
