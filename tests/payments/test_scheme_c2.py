"""C2 Southend through the real stack (payment-cases.md C2)."""

from decimal import Decimal

import pytest

from tests.engine.test_case_c2 import facts
from tests.payments.scheme import DbRunner

pytestmark = pytest.mark.django_db


def test_year_one_18960_and_year_two_9666_67_with_band_and_formula():
    run = DbRunner("c2-southend.yaml", facts()).run_all()
    y1 = run.statement("Q4 2011-12")
    assert y1["total"] == "18960.00"
    by_indicator = {line["inputs"]["indicator"]: line for line in y1["lines"]}
    assert by_indicator["individuals_supported"]["amount"] == "8960.00"
    assert by_indicator["individuals_supported"]["inputs"]["achieved"] == "122"
    assert by_indicator["individuals_supported"]["inputs"]["band"] == "between minimum and stretch"
    assert "89.6%" in by_indicator["individuals_supported"]["explanation"]
    assert by_indicator["tenancy_sustainment"]["amount"] == "10000.00"
    y2 = run.statement("Q4 2012-13")
    assert y2["total"] == "9666.67"
    assert {line["inputs"]["indicator"]: line["amount"] for line in y2["lines"]} == {
        "individuals_supported": "0.00", "tenancy_sustainment": "9666.67"}
    assert run.paid_in_year("2011-12") == Decimal("18960.00")
