"""C5 Birmingham through the real stack (payment-cases.md C5)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from payments.engine import Facts
from tests.engine.helpers import claim
from tests.engine.test_case_c5 import BASKET
from tests.payments.scheme import DbRunner

pytestmark = pytest.mark.django_db


def test_core_15000_price_50_and_cap_at_20000_stated():
    claims = tuple(
        claim(f"u{p}-{i}", f"U{p}", code, date(2013, 6, 1) + timedelta(days=p % 200),
              segment="socially_excluded")
        for p in range(81) for i, code in enumerate(BASKET))
    run = DbRunner("c5-birmingham.yaml", Facts(claims=claims)).run_all()
    first = run.statement(run.periods[0])
    assert [line["amount"] for line in first["lines"] if line["rule"] == "core"] == ["15000.00"]
    prices = {line["amount"] for period in run.periods for line in run.statement(period)["lines"]
              if line["rule"] == "outcomes"}
    assert prices == {"50.00"}
    caps = [line for period in run.periods for line in run.statement(period)["lines"]
            if line["kind"] == "cap_adjustment"]
    assert any("the cap was reached" in line["explanation"] for line in caps)
    assert run.paid_in_year("2013-14") == Decimal("200000.00")


def test_distance_travelled_25_and_50_personal_0_and_sixth_refused():
    claims = (
        claim("d1", "U1", "independence_steps", date(2013, 6, 3), segment="older_people",
              step_from=2, step_to=4),
        claim("d2", "U2", "independence_steps", date(2013, 6, 3), segment="older_people",
              step_from=1, step_to=5),
        claim("pers", "U3", "personal", date(2013, 6, 3), segment="socially_excluded"),
    )
    run = DbRunner("c5-birmingham.yaml", Facts(claims=claims)).run_all()
    lines = {ref: line for period in run.periods for line in run.statement(period)["lines"]
             for ref in line["references"]}
    assert lines["d1"]["amount"] == "25.00" and lines["d2"]["amount"] == "50.00"
    assert lines["pers"]["amount"] == "0.00"
