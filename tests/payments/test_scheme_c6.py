"""C6 Sheffield through the real stack (payment-cases.md C6)."""

from decimal import Decimal

import pytest

from payments.engine import Facts
from tests.engine.helpers import iv
from tests.payments.scheme import DbRunner

pytestmark = pytest.mark.django_db


def test_collar_and_cap_year_totals():
    facts = Facts(indicator_values=(iv("planned_move_on", "2012-13", "68.1"),
                                    iv("planned_move_on", "2013-14", "64")))
    run = DbRunner("c6-sheffield.yaml", facts).run_all()
    guaranteed = [line["amount"] for period in run.periods[:12]
                  for line in run.statement(period)["lines"] if line["rule"] == "guaranteed"]
    assert guaranteed == ["11065.60"] * 12
    perf = [line for period in run.periods for line in run.statement(period)["lines"]
            if line["kind"] == "performance"]
    assert perf[0]["amount"] == "13977.60"
    assert run.paid_in_year("2012-13") == Decimal("146764.80")
    assert run.paid_in_year("2013-14") == Decimal("132787.20")
