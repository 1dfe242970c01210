"""C4 Lewisham through the real stack (payment-cases.md C4)."""

from decimal import Decimal

import pytest

from tests.engine.test_case_c4 import facts
from tests.payments.scheme import DbRunner

pytestmark = pytest.mark.django_db


def test_instalments_penalty_and_year_totals():
    run = DbRunner("c4-lewisham.yaml", facts()).run_all()
    core = [line["amount"] for period in run.periods[:12] for line in run.statement(period)["lines"]
            if line["rule"] == "core"]
    assert core == ["26666.67"] * 11 + ["26666.63"]
    variable = [line["amount"] for period in run.periods[:12] for line in run.statement(period)["lines"]
                if line["kind"] == "uplift_on_account" or line["rule"] == "variable"]
    assert variable == ["45000.00"] * 4
    assert run.paid_in_year("2012-13") == Decimal("455000.00")
    assert run.paid_in_year("2013-14") == Decimal("500000.00")
    penalties = [line for period in run.periods for line in run.statement(period)["lines"]
                 if line["kind"] == "penalty" and line["amount"] != "0.00"]
    assert [p["amount"] for p in penalties] == ["-45000.00", "-45000.00"]  # 2012-13 and 2014-15
