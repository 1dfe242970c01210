"""C2 - target and stretch per indicator, annual performance payment (000:799-836)."""

from __future__ import annotations

from payments.engine import Facts, entitlement

from .conftest import Runner, example
from .helpers import D, iv

YEARS = {"2011-12": ("122", "99.5"), "2012-13": ("89", "96.25")}


def facts() -> Facts:
    return Facts(indicator_values=tuple(
        v for fy, (supported, sustained) in YEARS.items()
        for v in (iv("individuals_supported", fy, supported), iv("tenancy_sustainment", fy,
                                                                  sustained))))


def year_lines(fy: str):
    lines = entitlement(example("c2-southend.yaml"), facts(), f"Q4 {fy}")
    return {ln.inputs["indicator"]: ln for ln in lines if fy in ln.key}


def test_year_one_pays_8960_and_10000_total_18960():
    lines = year_lines("2011-12")
    assert lines["individuals_supported"].amount == D("8960.00")
    assert lines["tenancy_sustainment"].amount == D("10000.00")
    assert sum(ln.amount for ln in lines.values()) == D("18960.00")


def test_year_two_pays_0_and_9666_67():
    lines = year_lines("2012-13")
    assert lines["individuals_supported"].amount == D("0.00")
    assert lines["tenancy_sustainment"].amount == D("9666.67")
    assert sum(ln.amount for ln in lines.values()) == D("9666.67")


def test_statement_shows_achieved_band_and_formula():
    y1 = year_lines("2011-12")["individuals_supported"]
    assert y1.inputs["achieved"] == "122"
    assert y1.inputs["band"] == "between minimum and stretch"
    assert y1.explanation == (
        "Individuals supported 122 in 2011-12 is between the minimum 110 and the stretch 135, so "
        "80% + 20% × (122 − 110) ÷ (135 − 110) = 89.6% of the £10,000 pot = £8,960.00.")
    y2 = year_lines("2012-13")
    assert y2["individuals_supported"].inputs["band"] == "below minimum"
    assert "below the minimum 110, so nothing" in y2["individuals_supported"].explanation
    assert "96.6667%" in y2["tenancy_sustainment"].explanation
    assert year_lines("2011-12")["tenancy_sustainment"].inputs["band"] == "at or above stretch"


def test_paid_only_after_the_financial_year_ends():
    assert entitlement(example("c2-southend.yaml"), facts(), "Q3 2011-12") == []
    run = Runner(example("c2-southend.yaml"), facts()).run_all()
    assert run.paid_in("Q4 2011-12") == D("18960.00")
    assert run.paid_in("Q4 2012-13") == D("9666.67")
    assert sum(run.paid_in(q) for q in run.statements) == D("28626.67")


def test_exactly_at_minimum_pays_80_percent_and_just_below_pays_nothing():
    # The cliff edge the PRIMER asks to make visible (004:248).
    at = Facts(indicator_values=(iv("individuals_supported", "2011-12", "110"),
                                 iv("tenancy_sustainment", "2011-12", "94.99")))
    lines = {ln.inputs["indicator"]: ln.amount
             for ln in entitlement(example("c2-southend.yaml"), at, "Q4 2011-12")}
    assert lines == {"individuals_supported": D("8000.00"), "tenancy_sustainment": D("0.00")}
