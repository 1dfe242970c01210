"""C3 Work Programme through the real stack (payment-cases.md C3)."""

from dataclasses import replace
from decimal import Decimal

import pytest

from payments.engine import Facts
from tests.engine.test_case_c3 import SAMPLE, participant_a
from tests.payments.scheme import DbRunner

pytestmark = pytest.mark.django_db


def test_participant_a_job_outcome_sustainments_and_subcontractor_1020():
    run = DbRunner("c3-work-programme.yaml", Facts(claims=tuple(participant_a()))).run_all(
        until="Mar 2013")
    mar = run.statement("Mar 2012")
    [job] = [line for line in mar["lines"] if line["key"] == "tariff:job_outcome:A"]
    assert job["amount"] == "1200.00"
    assert {"subcontractor": "T1-NORTH", "amount": "1020.00"} in mar["by_subcontractor"]
    amounts = [line["amount"] for period in run.periods[:22] for line in run.statement(period)["lines"]
               if line["key"].startswith("tariff:sustainment:A")]
    # Due every 28 days from 2 Apr 2012: 13 fall due by 4 Mar 2013, £170 each.
    assert amounts == ["170.00"] * 13
    assert run.paid_in("Jul 2011") == Decimal("400.00")


def test_21st_sustainment_refused_with_a_reason():
    run = DbRunner("c3-work-programme.yaml", Facts(claims=tuple(participant_a()))).run_all()
    paid = [line for period in run.periods for line in run.statement(period)["lines"]
            if line["key"].startswith("tariff:sustainment:A")]
    assert len(paid) == 20 and all(line["amount"] == "170.00" for line in paid)
    refusals = [r for period in run.periods for r in run.statement(period)["refusals"]
                if r["claim"] == "A-sus-21"]
    assert refusals and refusals[0]["reason"]


def test_sample_recovery_of_120000_is_one_line_linked_to_the_sample():
    run = DbRunner("c3-work-programme.yaml", Facts(samples=(SAMPLE,))).run_all(until="Nov 2012")
    nov = run.statement("Nov 2012")
    [line] = [line for line in nov["lines"] if line["kind"] == "recovery"]
    assert line["amount"] == "-120000.00"
    assert line["references"][0] == "PPC-2012Q3"


def test_rejection_after_payment_is_reversed_in_the_next_period_pointing_at_the_line():
    claims = participant_a()[:3]
    run = DbRunner("c3-work-programme.yaml", Facts(claims=tuple(claims))).run_all(until="Mar 2012")
    [job] = [line for line in run.statement("Mar 2012")["lines"] if line["key"] == "tariff:job_outcome:A"]
    run.facts = Facts(claims=tuple(replace(c, status="rejected") if c.id == "A-job" else c
                                   for c in claims))
    [reversal] = run.run("Apr 2012")
    assert reversal.amount == Decimal("-1200.00")
    assert reversal.corrects_id == job["id"]
    assert reversal.period_id == "Apr 2012"
    assert run.run("May 2012") == []
