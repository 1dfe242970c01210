"""Bad definitions are refused with a path and a message naming the rule broken."""

from __future__ import annotations

import copy

import pytest

from contracts.definition import DefinitionError, parse, validate
from contracts.definition.__init__ import load_document

from .conftest import EXAMPLES


def doc(name: str = "c1-derbyshire.yaml") -> dict:
    return copy.deepcopy(load_document(EXAMPLES / name))


def errors_of(data: dict) -> dict[str, tuple[str, str]]:
    return {e.path: (e.code, e.message) for e in validate(data)}


def test_every_example_is_valid():
    for path in sorted(EXAMPLES.glob("*.yaml")):
        assert validate(load_document(path)) == [], path.name


def test_allocations_not_summing_to_100_are_refused():
    data = doc()
    data["allocations"] = [{"code": c, "pct": p} for c, p in
                           (("core", "70"), ("a", "10"), ("b", "5"), ("c", "5"), ("d", "5"))]
    for rule in data["rules"]:
        rule.pop("allocation", None)
    assert errors_of(data) == {"allocations": (
        "allocations-sum",
        "allocations of the contract's value must add up to 100%, but 70% + 10% + 5% + 5% + 5% "
        "= 95%")}


def test_funder_shares_not_summing_to_100_are_refused():
    data = doc()
    data["funders"] = [{"name": "Council", "share_pct": "60"}, {"name": "NHS", "share_pct": "30"}]
    code, message = errors_of(data)["funders"]
    assert code == "funders-sum"
    assert "60% + 30% = 90%" in message


def test_stretch_below_minimum_is_refused_at_its_path():
    data = doc("c2-southend.yaml")
    data["rules"][0]["bands"][1]["stretch"] = "94"
    code, message = errors_of(data)["rules[0].bands[1].stretch"]
    assert code == "band-order"
    assert message.startswith("stretch target 94 is below the minimum 95")


def test_negative_price_is_refused():
    data = doc("c3-work-programme.yaml")
    data["rules"][0]["prices"][2]["amount"] = "-1200"
    assert errors_of(data) == {"rules[0].prices[2].amount": (
        "negative-amount", "a price, amount or limit must not be negative (got -1200)")}


def test_calendar_gap_is_refused():
    data = doc()
    data["calendar"]["periods"] = [
        {"label": "P1", "start": "2013-04-01", "end": "2013-04-28"},
        {"label": "P2", "start": "2013-04-30", "end": "2013-05-26"},
    ]
    code, message = errors_of(data)["calendar.periods[1].start"]
    assert code == "calendar-continuity"
    assert "gap in the calendar" in message and "2013-04-29" in message


def test_calendar_overlap_is_refused():
    data = doc()
    data["calendar"]["periods"] = [
        {"label": "P1", "start": "2013-04-01", "end": "2013-04-28"},
        {"label": "P2", "start": "2013-04-28", "end": "2013-05-26"},
    ]
    code, message = errors_of(data)["calendar.periods[1].start"]
    assert code == "calendar-continuity"
    assert message.startswith("overlap in the calendar")


def test_rule_referring_to_a_missing_outcome_is_refused():
    data = doc("c3-work-programme.yaml")
    data["rules"][0]["prices"][0]["outcome"] = "job_start"
    code, message = errors_of(data)["rules[0].prices[0].outcome"]
    assert code == "unknown-outcome"
    assert "'job_start', which does not exist" in message


def test_rule_referring_to_a_missing_indicator_or_segment_is_refused():
    data = doc("c3-work-programme.yaml")
    data["rules"][0]["prices"][1]["segment"] = "JSA_25_PLUS"
    assert errors_of(data)["rules[0].prices[1].segment"][0] == "unknown-segment"
    data = doc()
    data["rules"][2]["indicators"][0]["indicator"] = "move_on"
    assert errors_of(data)["rules[2].indicators[0].indicator"][0] == "unknown-indicator"


def cohort_doc() -> dict:
    data = doc()
    data["indicators"].append({"code": "reconviction", "kind": "rate",
                               "direction": "lower_is_better"})
    data["rules"].append({"id": "reoffending", "type": "cohort_baseline",
                          "indicator": "reconviction", "value": "10000",
                          "cohorts": ["cohort 1"], "curve": [{"improvement": "20", "pct": "100"}]})
    return data


def test_cohort_rule_without_a_baseline_value_is_flagged():
    code, message = errors_of(cohort_doc())["rules[3].baseline_value"]
    assert code == "baseline-missing"
    assert "has no baseline value" in message and "004:248" in message


def test_cohort_rule_with_baseline_dataset_lacking_a_value_is_flagged():
    data = cohort_doc()
    data["datasets"] = [{"code": "hist", "kind": "baseline"}]
    data["rules"][3]["dataset"] = "hist"
    assert errors_of(data)["rules[3].baseline_value"][0] == "baseline-missing"
    data["datasets"][0]["value"] = "0.42"
    assert validate(data) == []


def test_parse_raises_with_every_error_not_only_the_first():
    data = doc("c3-work-programme.yaml")
    data["funders"][0]["share_pct"] = "90"
    data["rules"][0]["prices"][0]["amount"] = "-1"
    data["rules"][0]["tapers"][0]["outcome"] = "nope"
    with pytest.raises(DefinitionError) as caught:
        parse(data)
    paths = {e.path for e in caught.value.errors}
    assert paths == {"funders", "rules[0].prices[0].amount", "rules[0].tapers[0].outcome"}
    assert "3 error(s)" in str(caught.value)


def test_structural_errors_name_the_field():
    data = doc()
    data["rules"][0]["amount_per_yaer"] = "1"
    data["calendar"]["kind"] = "fortnightly"
    del data["title"]
    data["rules"][2]["indicators"][1]["target"] = "ninety"
    found = errors_of(data)
    assert found["rules[0]"][1] == "unknown field(s) amount_per_yaer"
    assert found["calendar.kind"][0] == "schema-enum"
    assert found[""][1] == "'title' is required"
    assert found["rules[2].indicators[1].target"] == (
        "schema-number", "'ninety' is not a number; write amounts as text such as \"1200.50\"")


def test_unknown_rule_type_is_refused():
    data = doc()
    data["rules"].append({"id": "x", "type": "lottery"})
    assert errors_of(data)["rules[3].type"][0] == "schema-enum"


def test_format_version_must_be_1():
    data = doc()
    data["format_version"] = 2
    assert errors_of(data)["format_version"][0] == "schema-const"
