"""Totals by funder (pooled budgets, exact to the penny) and by subcontractor (flow-down) on the
statement: HTML, CSV and statement_json read the same figures."""

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.definition import parse
from payments.engine import Facts, Line
from payments.engine.flowdown import allocate, flow_down
from payments.models import PaymentRun
from payments.services import build_statement, run_period, statement_json
from pbr.models import Role
from tests.engine.test_case_c2 import facts as c2_facts
from tests.engine.test_case_c3 import SAMPLE, participant_a
from tests.engine.test_mechanisms import contract as contract_doc
from tests.payments.statement_helpers import import_variant, runner_for

# --- allocate: the one way money is shared to the penny ----------------------------------------


def test_allocate_gives_leftover_pennies_to_the_largest_fractions():
    # £9,666.67 by 40/35/25: exact 3866.668, 3383.3345, 2416.6675; rounded down they leave 2p,
    # which go to the largest fractions cut off (0.8p and 0.75p), not to the last funder.
    split = allocate(D("9666.67"), [D("0.40"), D("0.35"), D("0.25")])
    assert split.amounts == (D("3866.67"), D("3383.33"), D("2416.67"))
    assert split.residue_to == (0, 2)
    assert split.exact == (D("3866.668"), D("3383.3345"), D("2416.6675"))


def test_allocate_breaks_ties_by_position_and_treats_clawbacks_like_payments():
    assert allocate(D("100.00"), [D(1) / 3] * 3).amounts == (D("33.34"), D("33.33"), D("33.33"))
    assert allocate(D("-100.00"), [D(1) / 3] * 3).amounts == (
        D("-33.34"), D("-33.33"), D("-33.33"))


@given(st.decimals(min_value=D("-1000000"), max_value=D("1000000"), places=2),
       st.lists(st.integers(min_value=1, max_value=10000), min_size=1, max_size=6))
def test_allocate_always_adds_up_and_stays_within_a_penny(amount, weights):
    total = sum(weights)
    fractions = [D(w) / D(total) for w in weights]
    split = allocate(amount, fractions)
    assert sum(split.amounts) == amount == split.total
    for exact, got in zip(split.exact, split.amounts, strict=True):
        assert abs(got - exact) < D("0.01")
    assert split == allocate(amount, fractions)  # deterministic


# --- clawback pass-down shares, exact ----------------------------------------------------------


def test_clawback_shared_evenly_three_ways_adds_up_to_the_penny():
    defn = parse(contract_doc(rules=[], subcontractors=[
        {"code": c, "management_fee_pct": "10", "clawback_passdown": "evenly"}
        for c in ("S1", "S2", "S3")]))
    recovery = Line(key="rec:X", kind="recovery", rule_id="rec", period="Apr 2013",
                    amount=D("-100.00"), explanation="Recovery.", references=("X",))
    got = {ln.subcontractor: ln for ln in flow_down([recovery], defn)}
    assert [got[c].amount for c in ("S1", "S2", "S3")] == [D("-33.34"), D("-33.33"), D("-33.33")]
    assert "including the 1p left over" in got["S1"].explanation
    assert "1p" not in got["S2"].explanation


# --- through the statement -----------------------------------------------------------------------

pytestmark = pytest.mark.django_db


def _three_funders(document):
    document["funders"] = [{"name": "Alpha Council", "share_pct": "40"},
                           {"name": "Beta NHS Trust", "share_pct": "35"},
                           {"name": "Gamma Police", "share_pct": "25"}]


def test_pooled_budget_split_exactly_with_the_residue_explained(client, world_a):
    contract = import_variant(world_a, "c2-southend.yaml", _three_funders, reference="C2-POOLED")
    for period in ("Q1 2011-12", "Q2 2011-12", "Q3 2011-12", "Q4 2011-12", "Q1 2012-13",
                   "Q2 2012-13", "Q3 2012-13", "Q4 2012-13"):
        run_period(contract, period, facts=c2_facts())
    run = PaymentRun.objects.get(contract=contract, period_id="Q4 2012-13")
    data = statement_json(run)
    assert data["total"] == "9666.67"
    assert data["by_funder"] == [
        {"funder": "Alpha Council", "share_pct": "40", "exact": "3866.668", "amount": "3866.67",
         "rounding": "0.01"},
        {"funder": "Beta NHS Trust", "share_pct": "35", "exact": "3383.3345", "amount": "3383.33",
         "rounding": "0.00"},
        {"funder": "Gamma Police", "share_pct": "25", "exact": "2416.6675", "amount": "2416.67",
         "rounding": "0.01"}]
    assert "The 2p left over go to Alpha Council and Gamma Police" in data["funder_explanation"]
    year_one = statement_json(PaymentRun.objects.get(contract=contract, period_id="Q4 2011-12"))
    assert [f["amount"] for f in year_one["by_funder"]] == ["7584.00", "6636.00", "4740.00"]
    assert "every share comes to a whole number of pennies" in year_one["funder_explanation"]

    client.force_login(world_a.users[Role.COMMISSIONER])
    page = client.get(f"/payments/runs/{run.pk}/").content.decode()
    assert "Gamma Police" in page and "£2,416.67" in page and "2p left over" in page
    csv = b"".join(client.get(f"/payments/runs/{run.pk}/statement.csv").streaming_content).decode()
    assert ",funder_total,,Alpha Council,3866.67," in csv
    assert ",total,,payable,9666.67," in csv


def test_c3_subcontractor_1020_with_fee_and_what_the_prime_keeps(client, world_a):
    runner = runner_for(world_a, "c3-work-programme.yaml", Facts(claims=tuple(participant_a())))
    runner.run_all(until="Mar 2012")
    run = PaymentRun.objects.get(contract=runner.contract, period_id="Mar 2012")
    data = statement_json(run)
    assert {"subcontractor": "T1-NORTH", "amount": "1020.00"} in data["by_subcontractor"]
    north, south = data["subcontractor_totals"]
    assert (north["subcontractor"], north["outcome_payments"], north["passed_down"],
            north["management_fee"], north["deductions"], north["amount"]) == (
        "T1-NORTH", "1200.00", "1200.00", "180.00", "0.00", "1020.00")
    assert (south["subcontractor"], south["amount"], south["lines"]) == ("T1-SOUTH", "0.00", [])
    assert D(data["prime_retained"]) == D(data["total"]) - D("1020.00")
    assert "flows down to subcontractors" in data["flow_down_explanation"]

    client.force_login(world_a.users[Role.PROVIDER_MANAGER])
    page = client.get(f"/payments/runs/{run.pk}/").content.decode()
    assert "Northern Employment Trust" in page and "£1,020.00" in page and "£180.00" in page
    csv = b"".join(client.get(f"/payments/runs/{run.pk}/statement.csv").streaming_content).decode()
    assert ",subcontractor_total,,T1-NORTH,1020.00," in csv
    assert f",prime_retained,,prime,{data['prime_retained']}," in csv


def test_recovery_reaches_only_the_subcontractor_at_fault_on_the_statement(world_a):
    runner = runner_for(world_a, "c3-work-programme.yaml", Facts(samples=(SAMPLE,)))
    runner.run_all(until="Nov 2012")
    data = build_statement(PaymentRun.objects.get(contract=runner.contract, period_id="Nov 2012"))
    totals = {s["subcontractor"]: s for s in data["subcontractor_totals"]}
    assert totals["T1-NORTH"]["deductions"] == D("-120000.00")
    assert totals["T1-NORTH"]["amount"] == D("-120000.00")
    assert totals["T1-SOUTH"]["amount"] == D("0.00")
    [line] = totals["T1-NORTH"]["lines"]
    assert "at fault for 10 of 10 errors" in line["explanation"]
    assert data["prime_retained"] == D("0.00")
