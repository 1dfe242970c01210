"""`manage.py run_period` and `manage.py statement` (issue 6, item 7): the C3 job outcome of
payment-cases.md through the commands, as text and as JSON."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.payments.scheme import (
    Scheme,
    private_evidence_root,  # noqa: F401 - autouse fixture
)

pytestmark = pytest.mark.django_db

SERVED = {"subcontractor": "T1-NORTH"}


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def c3(world_a):
    scheme = Scheme(world_a, "c3-work-programme.yaml", verification="verify_all")
    scheme.send("Jul 2011", claims=[{
        "participant_ref": "A", "ni_number": "AB123456C", "date_of_birth": "1990-05-01",
        "segment": "JSA_18_24", "start_date": "2011-07-04", "outcome": "attachment",
        "achieved": "2011-07-04", **SERVED}])
    scheme.send("Sep 2011", claims=[{"participant_ref": "A", "outcome": "job_entry",
                                     "achieved": "2011-09-05", **SERVED}])
    evidence = scheme.upload_evidence("check.txt", b"Off benefit: confirmed.\n",
                                      "off_benefit_check")
    scheme.send("Mar 2012", claims=[{"participant_ref": "A", "outcome": "job_outcome",
                                     "achieved": "2012-03-05", "started": "2011-09-05",
                                     "evidence": evidence, **SERVED}])
    return scheme


def test_run_period_then_statement_as_text_and_json(c3):
    ref = c3.contract.reference
    for period in c3.periods[:c3.periods.index("Mar 2012") + 1]:
        assert f"{ref} {period}: computation 1 posted" in run("run_period", ref, period)
    again = run("run_period", ref, "Mar 2012")
    assert "computation 2 posted 0 line(s), £0.00 payable" in again

    text = run("statement", ref, "Mar 2012")
    assert "1,200.00" in text and "26 weeks after starting on 5 Sep 2011" in text
    assert "TOTAL PAYABLE" in text and "By subcontractor:" in text
    assert "1,020.00" in text and "management fee 180.00" in text
    assert "By funder:" in text

    data = json.loads(run("statement", ref, "Mar 2012", "--json"))
    assert data["total"] == "1200.00"
    assert data["by_subcontractor"] == [{"subcontractor": "T1-NORTH", "amount": "1020.00"}]
    for line in data["lines"]:
        assert set(line) >= {"amount", "kind", "rule", "explanation", "references"}
        assert isinstance(line["amount"], str)
    assert any(line["amount"] == "1200.00" and line["references"] for line in data["lines"])


def test_commands_name_what_is_missing(c3):
    with pytest.raises(CommandError, match="No contract has reference NOPE"):
        run("run_period", "NOPE", "Jul 2011")
    with pytest.raises(CommandError, match="has no run for Jan 2012"):
        run("statement", c3.contract.reference, "Jan 2012")
