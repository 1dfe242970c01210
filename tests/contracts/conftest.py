"""Summary and simulator tests are pure Python: no Django settings, no database."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from contracts.definition import load_file, parse

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "contracts"


def example(name: str):
    return load_file(EXAMPLES / name)


def D(value) -> Decimal:  # noqa: N802 - reads like the literal it stands for
    return Decimal(str(value))


def every_rule_type() -> dict:
    """One contract holding a rule of every type, each in the shape a real scheme used."""
    return {
        "format_version": 1, "reference": "ALL", "title": "Every mechanism",
        "funders": [{"name": "Council A", "share_pct": "60"}, {"name": "NHS B", "share_pct": "40"}],
        "prime_provider": {"name": "Provider", "code": "P"},
        "start": "2013-04-01", "end": "2015-03-31", "annual_value": "1200000",
        "maximum_value": "2600000",
        "calendar": {"kind": "monthly", "start": "2013-04-01"},
        "segments": [{"code": "G1", "name": "Group one"}],
        "outcomes": [
            {"code": "entry", "name": "Job entry"},
            {"code": "qaf", "name": "QAF assessment", "kind": "graded",
             "once_per_participant": False},
            {"code": "ladder", "kind": "progression", "steps": 4, "once_per_participant": False},
        ],
        "indicators": [
            {"code": "returned_home", "name": "Returned home", "kind": "rate"},
            {"code": "supported", "name": "Individuals supported"},
            {"code": "entering", "name": "Entering"},
            {"code": "move_on", "name": "Move-on", "kind": "rate"},
            {"code": "volume", "name": "Weighted volume"},
            {"code": "reoffending", "name": "Reoffending rate", "kind": "rate",
             "direction": "lower_is_better"},
        ],
        "rules": [
            {"id": "ffs", "type": "core_instalments", "amount_per_year": "1000000"},
            {"id": "uplift", "type": "core_instalments", "amount_per_year": "60000",
             "on_account": True},
            {"id": "tariff", "type": "tariff",
             "prices": [{"outcome": "entry", "amount": "500"},
                        {"outcome": "ladder", "amount": "300"}]},
            {"id": "bands", "type": "target_band", "bands": [
                {"indicator": "supported", "pot": "10000", "minimum": "100", "target": "120",
                 "stretch": "140", "shape": "stepped", "at_target_pct": "90"}]},
            {"id": "qaf_grades", "type": "grade", "outcome": "qaf", "grades": [
                {"grade": "A", "min_share_pct": "90", "price": "12.24"},
                {"grade": "B", "min_share_pct": "66", "price": "8.16"}]},
            {"id": "bonus", "type": "periodic_bonus", "amount": "2000",
             "condition": {"indicator": "returned_home", "op": ">=", "threshold": "10"}},
            {"id": "penalty", "type": "threshold_penalty", "penalty": "45000",
             "thresholds": [{"indicator": "entering", "minimum": "50"}]},
            {"id": "doncaster", "type": "cohort_baseline", "indicator": "reoffending",
             "baseline_value": "58", "improvement": "points", "value": "100000",
             "cohorts": ["2013-14"], "shape": "stepped", "below_pct": "-10",
             "curve": [{"improvement": "0", "pct": "0"}, {"improvement": "5", "pct": "100"}]},
            {"id": "recon", "type": "on_account_reconciliation", "on_account_rule": "uplift",
             "indicators": [{"indicator": "move_on", "target": "70"}]},
            {"id": "wav", "type": "volume_reconciliation", "fee_rule": "ffs",
             "indicator": "volume", "predicted": "1000", "tolerance_pct": "5",
             "adjust": "whole"},
            {"id": "perf", "type": "performance_payment", "amount": "15000",
             "conditions": [{"indicator": "move_on", "op": ">=", "threshold": "65"}]},
            {"id": "ceiling", "type": "cap", "scope": "year", "applies_to": ["tariff"],
             "maximum": "35000"},
            {"id": "checks", "type": "sample_recovery"},
        ],
    }


def all_rules_contract():
    return parse(every_rule_type())
