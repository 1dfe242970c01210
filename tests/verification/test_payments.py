"""Verification reaches payments: through outcomes.services.facts_for and payments.services.

- Case C3's post-payment check (shared/domain/payment-cases.md, C3): 10 of a sample of 200 from
  the 2,000 job outcomes paid in a quarter (£2,400,000) cannot be verified, so 5% of the whole
  population, £120,000, is recovered on one line of the next statement, linked to the sample.
- A finding after payment: the next period's run reverses the original ledger line.
- A contract with a policy pays nothing for claims still awaiting verification.
"""

import datetime
from decimal import Decimal

import pytest

from outcomes.models import Claim, ClaimStatus
from outcomes.services import engine_status, facts_for
from outcomes.verification import services
from outcomes.verification.models import SampleItem
from payments.engine import SampleCheck
from payments.models import LedgerLine
from payments.services import approve_run, run_period

from .conftest import evidence_file, make_claims, set_policy, submitted_return

S = ClaimStatus


def _approve(run, people):
    run = approve_run(run, actor=people["commissioner"])
    if run.status != "approved":  # above the second-approval threshold
        run = approve_run(run, actor=people["commissioner2"])
    assert run.status == "approved"
    return run


@pytest.mark.django_db
def test_c3_sample_of_200_from_2000_paid_recovers_120000_linked_to_the_sample(
        c3, world_a, people):
    set_policy(c3, sample_pct="0", check_new_providers=False, check_outliers=False)
    proof = evidence_file(world_a.provider)
    # 2,000 JSA_18_24 job outcomes (£1,200 each) returned over a quarter, Jun-Aug 2012.
    claims = []
    for n, period in enumerate(("Jun 2012", "Jul 2012", "Aug 2012")):
        ret = submitted_return(c3, world_a.provider, period)
        count = 667 if n < 2 else 666
        achieved = ret.period_start + datetime.timedelta(days=9)
        claims += make_claims(ret, count, start=1 + n * 1000, evidence=proof, achieved=achieved,
                              started=achieved - datetime.timedelta(weeks=27))
    assert len(claims) == 2000
    selection = services.draw_sample(c3, actor=people["auditor"], seed=11)
    assert selection.sample_size == 0  # nothing random at 0%: all accepted without review
    run, posted = run_period(c3, "Aug 2012")
    assert sum(line.amount for line in posted) == Decimal("2400000.00")
    _approve(run, people)

    check = services.draw_check(c3, actor=people["auditor"], period_from="Jun 2012",
                                period_to="Aug 2012", outcome="job_outcome", size=200, seed=2012)
    assert (check.population_count, check.population_total, check.sample_size) == (
        2000, Decimal("2400000.00"), 200)
    assert services.reproduce_sample(check)[1]
    items = list(check.items.order_by("claim_id"))
    wrong = items[::20]  # 10 of the 200
    for item in items:
        services.record_sample_finding(
            item, actor=people["auditor"], error=item in wrong,
            reason_code="not_achieved" if item in wrong else "",
            note="Employer has no record of the job." if item in wrong else "")
    closed = services.close_sample(check, actor=people["auditor2"])
    assert closed.recovery_period == "Sep 2012"  # the period after the approved run
    assert closed.errors == 10
    # Nothing about the claims themselves changes: the recovery covers the errors.
    assert set(Claim.objects.filter(pk__in=[i.claim_id for i in wrong])
               .values_list("status", flat=True)) == {S.ACCEPTED}

    facts = facts_for(c3, datetime.date(2012, 9, 30))
    assert facts.samples == (SampleCheck(
        id=check.reference, period="Sep 2012", population_total=Decimal("2400000.00"),
        population_count=2000, sample_size=200, errors=10,
        claim_ids=tuple(f"C{i.claim_id}" for i in wrong), errors_by_subcontractor={}),)

    _run, posted = run_period(c3, "Sep 2012")
    [line] = [ln for ln in posted if ln.kind == "recovery"]
    assert line.amount == Decimal("-120000.00")
    assert line.references[0] == check.reference
    assert set(line.references[1:]) == {f"C{i.claim_id}" for i in wrong}
    assert "10 of a sample of 200 from 2,000 paid claims could not be verified (5%)" in \
        line.explanation
    assert [ln.kind for ln in posted] == ["recovery"]
    # Re-running adds nothing.
    assert run_period(c3, "Sep 2012")[1] == []


@pytest.mark.django_db
def test_a_finding_after_payment_is_clawed_back_next_period_pointing_at_the_paid_line(
        c3, world_a, people):
    set_policy(c3, mode="verify_all")
    proof = evidence_file(world_a.provider)
    ret = submitted_return(c3, world_a.provider, "Mar 2012")
    [claim] = make_claims(ret, 1, evidence=proof, achieved=datetime.date(2012, 3, 5),
                          started=datetime.date(2011, 9, 5))
    services.draw_sample(c3, actor=people["auditor"], seed=1)
    services.start_review(claim, actor=people["auditor"])
    services.verify_claim(claim, actor=people["auditor"], note="Payslip matches.")
    run, posted = run_period(c3, "Mar 2012")
    [paid] = [ln for ln in posted if f"C{claim.pk}" in ln.references]
    assert paid.amount == Decimal("1200.00")
    _approve(run, people)

    services.record_finding(claim, actor=people["auditor2"], reason_code="not_achieved",
                            note="DWP records show benefit resumed in week 4.")
    _run, posted = run_period(c3, "Apr 2012")
    [clawback] = posted
    assert clawback.amount == Decimal("-1200.00")
    assert clawback.corrects_id == paid.pk
    assert clawback.period_id == "Apr 2012"
    assert LedgerLine.objects.filter(pk=paid.pk, amount=Decimal("1200.00")).exists()
    claim.refresh_from_db()
    assert claim.review.after_payment and claim.review.rejected_by == people["auditor2"]
    assert run_period(c3, "May 2012")[1] == []


@pytest.mark.django_db
def test_with_a_policy_nothing_is_paid_until_accepted_or_verified(c3, world_a, people):
    proof = evidence_file(world_a.provider)
    ret = submitted_return(c3, world_a.provider, "Mar 2012")
    [claim] = make_claims(ret, 1, evidence=proof, achieved=datetime.date(2012, 3, 5),
                          started=datetime.date(2011, 9, 5))
    # Without a policy a claim that passed its checks is paid (the behaviour before issue 5).
    assert facts_for(c3, datetime.date(2012, 3, 31)).claims[0].status == "verified"
    set_policy(c3, mode="verify_all")
    assert facts_for(c3, datetime.date(2012, 3, 31)).claims[0].status == "pending"
    services.draw_sample(c3, actor=people["auditor"], seed=1)
    _run, posted = run_period(c3, "Mar 2012")
    assert not [ln for ln in posted if f"C{claim.pk}" in ln.references]
    services.verify_claim(claim, actor=people["auditor"])
    _run, posted = run_period(c3, "Mar 2012")
    assert [ln.amount for ln in posted if f"C{claim.pk}" in ln.references] == [Decimal("1200")]


@pytest.mark.parametrize(("status", "requires", "expected"), [
    (S.DRAFT, True, "pending"), (S.PASSED, False, "verified"), (S.PASSED, True, "pending"),
    (S.FAILED, True, "rejected"), (S.HELD, False, "pending"), (S.SAMPLED, True, "pending"),
    (S.ACCEPTED, True, "verified"), (S.UNDER_REVIEW, True, "pending"),
    (S.QUERIED, True, "pending"), (S.RESPONDED, True, "pending"),
    (S.VERIFIED, True, "verified"), (S.REJECTED, True, "rejected"),
    (S.APPEALED, True, "pending")])
def test_engine_status_for_every_claim_status(status, requires, expected):
    assert engine_status(status, requires_verification=requires) == expected


@pytest.mark.django_db
def test_a_check_needs_paid_claims_and_every_finding_before_it_closes(c3, world_a, people):
    ret = submitted_return(c3, world_a.provider, "Mar 2012")
    make_claims(ret, 3, status=S.ACCEPTED)
    with pytest.raises(services.VerificationError, match="No paid claims to check"):
        services.draw_check(c3, actor=people["auditor"], period_from="Mar 2012",
                            period_to="Mar 2012")
    proof = evidence_file(world_a.provider)
    make_claims(ret, 4, start=10, status=S.ACCEPTED, evidence=proof,
                achieved=datetime.date(2012, 3, 5), started=datetime.date(2011, 9, 5))
    run_period(c3, "Mar 2012")
    check = services.draw_check(c3, actor=people["auditor"], period_from="Mar 2012",
                                period_to="Mar 2012")
    assert check.population_count == 4 and check.sample_size == 1  # 10% of 4, at least one
    with pytest.raises(services.VerificationError, match="1 claim in the sample has no finding"):
        services.close_sample(check, actor=people["auditor"])
    item = SampleItem.objects.get(sample=check)
    with pytest.raises(services.VerificationError, match="Choose the reason"):
        services.record_sample_finding(item, actor=people["auditor"], error=True)
    with pytest.raises(services.VerificationError, match="verify claims"):
        services.record_sample_finding(item, actor=people["provider_manager"], error=False)
    services.record_sample_finding(item, actor=people["auditor"], error=False)
    services.close_sample(check, actor=people["auditor"], recovery_period="Apr 2012")
    with pytest.raises(services.VerificationError, match="closed"):
        services.record_sample_finding(item, actor=people["auditor"], error=True,
                                       reason_code="other", note="Changed my mind.")
