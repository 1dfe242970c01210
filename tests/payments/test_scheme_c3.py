"""C3 Work Programme (payment-cases.md C3) through the whole stack: the prime's case system
sends claims and evidence through the REST API; the contract's auditor verifies each claim that
passed its automatic checks (outcomes.verification); each month is run with the facts the
outcomes app holds; the post-payment check is drawn, found and closed through the verification
service."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from outcomes.models import ClaimStatus
from outcomes.services import facts_for
from outcomes.verification import services as checks
from tests.payments.scheme import (
    Scheme,
    private_evidence_root,  # noqa: F401 - autouse fixture
    )

pytestmark = pytest.mark.django_db

JOB_START = date(2011, 9, 5)
JOB_OUTCOME = date(2012, 3, 5)


def sustainment_dates(count=21):
    return [JOB_OUTCOME + timedelta(days=28 * n) for n in range(1, count + 1)]


def enrol(who, ni, segment, attached, **extra):
    return {"participant_ref": who, "ni_number": ni, "date_of_birth": "1990-05-01",
            "segment": segment, "start_date": attached.isoformat(), "outcome": "attachment",
            "achieved": attached.isoformat(), **extra}


def claim(who, outcome, achieved, **extra):
    return {"participant_ref": who, "outcome": outcome, "achieved": achieved.isoformat(),
            **extra}


class WorkProgramme(Scheme):
    """Each return is sent through the API in the month its outcomes were achieved; the auditor
    then verifies every claim that passed its checks."""

    def __init__(self, world):
        super().__init__(world, "c3-work-programme.yaml", verification="verify_all")

    def send_on(self, rows, day):
        return self.send(self.period_of(day), via="api", claims=rows)


@pytest.fixture
def programme(world_a):
    """Participant A (JSA_18_24): attached 4 Jul 2011, job entry 5 Sep 2011, job outcome 5 Mar
    2012 with the off-benefit check, 21 sustainments every 28 days; served by T1-NORTH."""
    scheme = WorkProgramme(world_a)
    served = {"subcontractor": "T1-NORTH"}
    scheme.send_on([enrol("A", "AB123456C", "JSA_18_24", date(2011, 7, 4), **served)],
                date(2011, 7, 4))
    scheme.send_on([claim("A", "job_entry", JOB_START, **served)], JOB_START)
    evidence = scheme.upload_evidence("off-benefit.txt", b"DWP off-benefit check: confirmed.\n",
                                      "off_benefit_check")
    scheme.send_on([claim("A", "job_outcome", JOB_OUTCOME, started=JOB_START.isoformat(),
                       evidence=evidence, **served)], JOB_OUTCOME)
    by_month = {}
    for day in sustainment_dates():
        by_month.setdefault(scheme.period_of(day), []).append(
            claim("A", "sustainment", day, **served))
    for rows in by_month.values():
        scheme.send_on(rows, date.fromisoformat(rows[0]["achieved"]))
    return scheme


def test_participant_a_job_outcome_sustainments_duplicate_and_the_subcontractors_1020(
        programme):
    """One participant's whole journey: one build of the returns for several figures."""
    # A second job outcome for A within 104 weeks of attachment, sent by amending December's
    # return, is refused as a duplicate when the return is submitted.
    again = date(2012, 12, 3)
    ret = programme.send_on([claim("A", "job_outcome", again, started="2012-06-01",
                                   evidence=programme.upload_evidence(
                                       "check-2.txt", b"Second check\n", "off_benefit_check"))],
                            again)
    assert ret.version == 2
    duplicate = ret.claims.get(outcome="job_outcome")
    assert duplicate.status == ClaimStatus.FAILED
    [check] = [c for c in duplicate.checks if c["code"] == "once_within_weeks"]
    assert "only one is paid within 104 weeks of joining on 4 July 2011" in check["reason"]
    programme.run_all(until="Dec 2013")

    # Attachment £400, paid in July 2011.
    assert programme.paid_in("Jul 2011") == Decimal("400.00")
    # Job entry on its own pays nothing.
    entry = programme.claims(outcome="job_entry").get()
    [line] = [ln for ln in programme.lines() if f"C{entry.pk}" in ln["references"]]
    assert line["amount"] == "0.00" and "pays nothing on its own" in line["explanation"]

    # Job outcome due 5 Mar 2012: £1,200; the subcontractor's statement shows £1,020.
    mar = programme.statement("Mar 2012")
    job = programme.claims(outcome="job_outcome", return_record__version=1).get()
    [line] = [ln for ln in mar["lines"] if f"C{job.pk}" in ln["references"]]
    assert line["amount"] == "1200.00"
    assert line["key"] == f"tariff:job_outcome:P{job.participant_id}"
    assert "26 weeks after starting on 5 Sep 2011" in line["explanation"]
    assert line["subcontractor"] == "T1-NORTH"
    assert mar["total"] == "1200.00"
    assert mar["by_subcontractor"] == [{"subcontractor": "T1-NORTH", "amount": "1020.00"}]
    [north] = [s for s in mar["subcontractor_totals"] if s["subcontractor"] == "T1-NORTH"]
    assert (north["management_fee_pct"], north["amount"]) == ("15", "1020.00")
    assert mar["by_funder"][0]["amount"] == "1200.00"
    assert [ln["amount"] for ln in programme.lines()
            if ln["key"].startswith("tariff:job_outcome:")] == ["1200.00"]
    assert not [ln for ln in programme.lines() if f"C{duplicate.pk}" in ln["references"]]

    # Sustainments due 2 Apr 2012, 30 Apr 2012, ... every 28 days: £170 each, 20 at most.
    paid = [ln for ln in programme.lines() if ln["key"].startswith("tariff:sustainment:")]
    assert [ln["amount"] for ln in paid] == ["170.00"] * 20
    assert "due 2 Apr 2012" in paid[0]["explanation"]
    assert "due 30 Apr 2012" in paid[1]["explanation"]
    assert programme.paid_in("Apr 2012") == Decimal("340.00")
    # The 21st is refused when the return is submitted, with the reason on the claim.
    last = programme.claims(outcome="sustainment", achieved=sustainment_dates()[-1]).get()
    assert last.status == ClaimStatus.FAILED
    [check] = [c for c in last.checks if c["code"] == "max_count"]
    assert check["reason"] == "This would be payment 21; at most 20 are paid."
    assert not [ln for ln in programme.lines() if f"C{last.pk}" in ln["references"]]
    # Over the programme A earned £400 + £1,200 + 20 × £170, and nothing else was paid.
    earned = Decimal("400") + 1200 + 20 * 170
    assert programme.paid_in_year("2011-12") + programme.paid_in_year("2012-13") + \
        programme.paid_in_year("2013-14") == earned


def test_attachment_fee_tapers_400_450_200_0(world_a):
    scheme = WorkProgramme(world_a)
    people = [("B", "AB123457C", "JSA_18_24", date(2011, 7, 4)),
              ("C", "AB123458C", "ESA_EXIB", date(2012, 8, 1)),
              ("D", "AB123459C", "JSA_18_24", date(2013, 7, 1)),
              ("E", "AB123460C", "JSA_18_24", date(2014, 6, 2))]
    for who, ni, segment, attached in people:
        scheme.send_on([enrol(who, ni, segment, attached)], attached)
    scheme.run_all(until="Jun 2014")
    fees = {}
    for ln in scheme.lines():
        if ln["key"].startswith("tariff:attachment:"):
            fees[ln["participant"]] = ln
    by_person = {p.participant.provider_reference: fees[p.participant.pseudonym]
                 for p in scheme.claims(outcome="attachment").select_related("participant")}
    assert {who: ln["amount"] for who, ln in by_person.items()} == {
        "B": "400.00", "C": "450.00", "D": "200.00", "E": "0.00"}
    assert "contract year 2, taper 75%: 75% × £600 = £450" in by_person["C"]["explanation"]
    assert scheme.paid_in("Aug 2012") == Decimal("450.00")


def test_rejection_after_payment_is_reversed_in_the_next_period_pointing_at_the_line(
        programme):
    programme.run_all(until="Mar 2012")
    job = programme.claims(outcome="job_outcome").get()
    [paid] = [ln for ln in programme.statement("Mar 2012")["lines"]
              if f"C{job.pk}" in ln["references"]]
    assert job.status == ClaimStatus.VERIFIED
    programme.finding_after_payment(job, "DWP records show benefit resumed in week 4.")
    # Only the reversal: the sustainments due in April are not paid once their trigger is gone.
    [reversal] = programme.run("Apr 2012")
    assert reversal.amount == Decimal("-1200.00")
    assert reversal.corrects_id == paid["id"]
    assert reversal.period_id == "Apr 2012"
    apr = programme.statement("Apr 2012")
    assert apr["total"] == "-1200.00"
    assert [ln["subcontractor"] for ln in apr["lines"]] == ["T1-NORTH"]
    assert apr["by_subcontractor"] == [{"subcontractor": "T1-NORTH", "amount": "-1020.00"}]
    assert programme.run("May 2012") == []


def test_sample_recovery_of_120000_is_one_line_linked_to_the_sample(world_a):
    """2,000 job outcomes paid in a quarter (£2,400,000); a post-payment check of 200 finds 10
    that cannot be verified (5%), so 5% of the whole population is recovered."""
    scheme = Scheme(world_a, "c3-work-programme.yaml", verification="accept")
    evidence = scheme.upload_evidence("off-benefit.txt", b"DWP off-benefit checks\n",
                                      "off_benefit_check")
    number = 0
    for period_id, achieved, count in (("Jun 2012", date(2012, 6, 11), 667),
                                       ("Jul 2012", date(2012, 7, 9), 667),
                                       ("Aug 2012", date(2012, 8, 13), 666)):
        rows = []
        for _ in range(count):
            number += 1
            rows.append(enrol(f"W{number:04d}", f"AB{number:06d}C", "JSA_18_24",
                              date(2011, 11, 7), outcome="job_outcome",
                              achieved=achieved.isoformat(),
                              started=(achieved - timedelta(weeks=26)).isoformat(),
                              evidence=evidence))
        ret = scheme.send(period_id, via="upload", claims=rows)
        assert ret.claims.filter(status=ClaimStatus.ACCEPTED).count() == count
    scheme.run_all(until="Aug 2012")
    assert sum(scheme.paid_in(p) for p in ("Jun 2012", "Jul 2012", "Aug 2012")) == \
        Decimal("2400000.00")

    check = checks.draw_check(scheme.contract, actor=scheme.auditor, period_from="Jun 2012",
                              period_to="Aug 2012", outcome="job_outcome", size=200, seed=2012)
    assert (check.population_count, check.population_total, check.sample_size) == (
        2000, Decimal("2400000.00"), 200)
    items = list(check.items.order_by("claim_id"))
    wrong = items[::20]
    for item in items:
        checks.record_sample_finding(
            item, actor=scheme.auditor, error=item in wrong,
            reason_code="not_achieved" if item in wrong else "",
            note="Employer has no record of the job." if item in wrong else "")
    checks.close_sample(check, actor=scheme.auditor, recovery_period="Sep 2012")

    assert [s.id for s in facts_for(scheme.contract, date(2012, 9, 30)).samples] == \
        [check.reference]
    scheme.run("Sep 2012")
    sep = scheme.statement("Sep 2012")
    [line] = sep["lines"]
    assert line["kind"] == "recovery"
    assert line["amount"] == "-120000.00"
    assert line["references"][0] == check.reference
    assert set(line["references"][1:]) == {f"C{i.claim_id}" for i in wrong}
    assert "10 of a sample of 200 from 2,000 paid claims could not be verified (5%)" in \
        line["explanation"]
    assert sep["total"] == "-120000.00"
    assert sep["by_funder"][0]["amount"] == "-120000.00"
