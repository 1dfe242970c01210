"""C1 Derbyshire through the real stack (payment-cases.md C1)."""

from decimal import Decimal

import pytest

from payments.services import RunError
from tests.engine.test_case_c1 import facts
from tests.payments.scheme import DbRunner

pytestmark = pytest.mark.django_db


def test_p4_and_p7_pay_19400_and_q4_claws_back_1600():
    run = DbRunner("c1-derbyshire.yaml", facts()).run_all()
    assert run.paid_in("P1 2013-14") == Decimal("20000.00")
    assert run.paid_in("P4 2013-14") == Decimal("19400.00")
    assert run.paid_in("P7 2013-14") == Decimal("19400.00")
    p13 = run.statement("P13 2013-14")
    [q4] = [line for line in p13["lines"] if line["kind"] == "clawback"]
    assert q4["amount"] == "-1600.00"
    assert q4["explanation"].startswith("Year-end reconciliation of Q4 2013-14")
    p4 = run.statement("P4 2013-14")
    [clawback] = [line for line in p4["lines"] if line["amount"] == "-600.00"]
    assert clawback["rule"] == "uplift_reconciliation"
    assert "£11,400 earned" in clawback["explanation"]


def test_shadow_variant_shows_600_but_p4_pays_20000():
    run = DbRunner("c1-derbyshire-shadow.yaml", facts()).run_all(until="P7 2013-14")
    p4 = run.statement("P4 2013-14")
    assert p4["total"] == "20000.00"
    assert p4["shadow_total"] == "-600.00"
    [shadow] = [line for line in p4["lines"] if line["shadow"]]
    assert shadow["amount"] == "-600.00"
    assert run.paid_in("P7 2013-14") == Decimal("19400.00")


def test_rerun_with_no_new_facts_posts_nothing():
    run = DbRunner("c1-derbyshire.yaml", facts()).run_all(until="P4 2013-14")
    assert run.run("P4 2013-14") == []
    assert run.paid_in("P4 2013-14") == Decimal("19400.00")


def test_an_earlier_period_cannot_be_recomputed_once_a_later_one_exists():
    run = DbRunner("c1-derbyshire.yaml", facts()).run_all(until="P4 2013-14")
    with pytest.raises(RunError, match="P4 2013-14 has been computed since"):
        run.run("P1 2013-14")
    assert run.paid_in("P1 2013-14") == Decimal("20000.00")
