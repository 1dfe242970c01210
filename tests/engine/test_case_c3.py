"""C3 - attachment, job outcome and sustainment by payment group (002:1999-2007), supply-chain
flow-down (002:1238) and sample-and-extrapolate recovery (002:2027-2033)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from payments.engine import Facts, SampleCheck, calculate, entitlement, flow_down

from .conftest import Runner, example
from .helpers import D, claim

DEFN = "c3-work-programme.yaml"
END = "May 2016"  # last period: every fact is in reach


def attachment(cid, who, day, segment):
    return claim(cid, who, "attachment", day, segment=segment, attachment_date=day)


def participant_a(extra_sustainments: int = 0):
    """A (JSA_18_24), attached 4 Jul 2011, in work from 5 Sep 2011, served by T1-NORTH,
    with 21 sustainment claims every 28 days after the job outcome."""
    common = {"segment": "JSA_18_24", "attachment_date": date(2011, 7, 4),
                  "subcontractor": "T1-NORTH"}
    claims = [
        claim("A-att", "A", "attachment", date(2011, 7, 4), **common),
        claim("A-entry", "A", "job_entry", date(2011, 9, 5), **common),
        claim("A-job", "A", "job_outcome", date(2012, 3, 5), started=date(2011, 9, 5),
              evidence=("off_benefit_check",), **common),
    ]
    for n in range(1, 22 + extra_sustainments):  # 21 claimed: the last must be refused
        claims.append(claim(f"A-sus-{n:02d}", "A", "sustainment",
                            date(2012, 3, 5) + timedelta(days=28 * n), **common))
    return claims


def lines_by_claim(assessment):
    return {ref: ln for ln in assessment.lines for ref in ln.references}


def test_attachment_fee_tapers_by_contract_year():
    facts = Facts(claims=(
        attachment("c1", "P1", date(2011, 7, 4), "JSA_18_24"),
        attachment("c2", "P2", date(2012, 8, 1), "ESA_EXIB"),
        attachment("c3", "P3", date(2013, 7, 1), "JSA_18_24"),
        attachment("c4", "P4", date(2014, 6, 2), "JSA_18_24"),
    ))
    got = lines_by_claim(calculate(example(DEFN), facts, END))
    assert [got[c].amount for c in ("c1", "c2", "c3", "c4")] == [
        D("400.00"), D("450.00"), D("200.00"), D("0.00")]
    assert "contract year 2, taper 75%: 75% × £600 = £450" in got["c2"].explanation


def test_job_outcome_due_after_26_weeks_pays_1200():
    result = calculate(example(DEFN), Facts(claims=tuple(participant_a())), END)
    got = lines_by_claim(result)
    job = got["A-job"]
    assert job.amount == D("1200.00")
    assert job.key == "tariff:job_outcome:A"
    assert "26 weeks after starting on 5 Sep 2011" in job.explanation


def test_job_outcome_claimed_too_early_is_refused():
    early = claim("A-early", "A", "job_outcome", date(2012, 3, 4), segment="JSA_18_24",
                  started=date(2011, 9, 5), attachment_date=date(2011, 7, 4),
                  evidence=("off_benefit_check",))
    result = calculate(example(DEFN), Facts(claims=(early,)), END)
    [refusal] = result.refusals
    assert refusal.code == "not_due"
    assert "5 Mar 2012" in refusal.reason


def test_job_entry_alone_pays_nothing():
    entry = claim("E", "B", "job_entry", date(2011, 9, 5), segment="JSA_18_24")
    [line] = entitlement(example(DEFN), Facts(claims=(entry,)), END)
    assert line.amount == D("0.00")
    assert "pays nothing on its own" in line.explanation


def test_twenty_sustainments_of_170_then_the_21st_refused_with_reason():
    result = calculate(example(DEFN), Facts(claims=tuple(participant_a())), END)
    sustainments = [ln for ln in result.lines if ln.inputs.get("outcome") == "sustainment"]
    assert len(sustainments) == 20
    assert {ln.amount for ln in sustainments} == {D("170.00")}
    assert "due 2 Apr 2012" in sustainments[0].explanation
    assert "due 30 Apr 2012" in sustainments[1].explanation
    [refusal] = result.refusals
    assert refusal.claim_id == "A-sus-21"
    assert refusal.code == "max_count"
    assert refusal.reason == ("at most 20 Sustainment payments for payment group JSA_18_24; "
                              "this would be number 21.")


def test_sustainment_claimed_before_it_is_due_is_refused():
    claims = participant_a()[:3] + [claim("A-sus-x", "A", "sustainment", date(2012, 4, 1),
                                          segment="JSA_18_24")]
    [refusal] = calculate(example(DEFN), Facts(claims=tuple(claims)), END).refusals
    assert refusal.code == "not_due"
    assert "due on 2 Apr 2012" in refusal.reason


def test_second_job_outcome_within_104_weeks_is_refused_as_duplicate():
    dup = claim("A-job-2", "A", "job_outcome", date(2012, 12, 3), segment="JSA_18_24",
                started=date(2012, 6, 1), attachment_date=date(2011, 7, 4),
                evidence=("off_benefit_check",))
    result = calculate(example(DEFN), Facts(claims=(*participant_a()[:3], dup)), END)
    [refusal] = result.refusals
    assert refusal.claim_id == "A-job-2"
    assert refusal.code == "duplicate"
    assert "104 weeks of attachment" in refusal.reason


def test_job_outcome_without_evidence_is_refused():
    bare = claim("A-job", "A", "job_outcome", date(2012, 3, 5), segment="JSA_18_24",
                 started=date(2011, 9, 5), attachment_date=date(2011, 7, 4))
    [refusal] = calculate(example(DEFN), Facts(claims=(bare,)), END).refusals
    assert refusal.code == "evidence_missing"


def test_subcontractor_statement_shows_1020_for_a_job_outcome():
    defn = example(DEFN)
    lines = entitlement(defn, Facts(claims=tuple(participant_a())), END)
    sub = {ln.key: ln for ln in flow_down(lines, defn)}
    job = sub["flow:T1-NORTH:tariff:job_outcome:A"]
    assert job.amount == D("1020.00")
    assert job.subcontractor == "T1-NORTH"
    assert "less the prime's 15% management fee (£180) = £1,020" in job.explanation


SAMPLE = SampleCheck(id="PPC-2012Q3", period="Nov 2012", population_total=D("2400000"),
                     population_count=2000, sample_size=200, errors=10,
                     claim_ids=tuple(f"X{i}" for i in range(10)),
                     errors_by_subcontractor={"T1-NORTH": 10})


def test_sample_recovery_of_120000_on_the_primes_next_statement():
    run = Runner(example(DEFN), Facts(samples=(SAMPLE,))).run_all(until="Nov 2012")
    [line] = [ln for ln in run.statements["Nov 2012"].lines if ln.kind == "recovery"]
    assert line.amount == D("-120000.00")
    assert line.references[0] == "PPC-2012Q3"
    assert "X3" in line.references
    assert "10 of a sample of 200 from 2,000 paid claims could not be verified (5%)" in \
        line.explanation
    assert all(not st.lines for p, st in run.statements.items() if p != "Nov 2012")


def test_recovery_passed_down_only_to_the_subcontractor_at_fault():
    defn = example(DEFN)
    facts = Facts(samples=(SAMPLE,))
    lines = entitlement(defn, facts, END)
    passed = {ln.subcontractor: ln.amount for ln in flow_down(lines, defn, facts)}
    assert passed == {"T1-NORTH": D("-120000.00")}


def test_rejection_after_payment_reverses_in_the_next_open_period():
    defn = example(DEFN)
    claims = participant_a()[:3]
    run = Runner(defn, Facts(claims=tuple(claims))).run_all(until="Mar 2012")
    assert run.paid_in("Mar 2012") == D("1200.00")
    job_line_id = run.ledger.lines[-1].id
    rejected = [c if c.id != "A-job" else replace(c, status="rejected")
                for c in claims]
    run.facts = Facts(claims=tuple(rejected))
    st = run.run("Apr 2012")
    [rev] = st.lines
    assert rev.amount == D("-1200.00")
    assert rev.kind == "reversal"
    assert rev.corrects == job_line_id
    assert rev.period == "Apr 2012"
    assert run.run("May 2012").lines == ()


def test_total_of_participant_a():
    lines = entitlement(example(DEFN), Facts(claims=tuple(participant_a())), END)
    assert sum((ln.amount for ln in lines), Decimal(0)) == D(400 + 1200 + 20 * 170)
