"""The three ways in give identical results; automatic checks at their day boundaries."""

import datetime
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from outcomes import evidence
from outcomes.models import Claim, ClaimStatus, Participant, identity_hash
from outcomes.services import add_rows, amend_return, facts_for, start_return, submit_return
from outcomes.validation import CLAIM_COLUMNS
from pbr.models import Role

from .conftest import c3_document, make_contract, row
from .corpus import xlsx_bytes

ROWS = [
    row(),
    row(outcome="job_entry", achieved="2012-01-10"),
    row(participant_ref="CASE-2", ni_number="AB 12 34 57 C", date_of_birth="02/03/1985",
        segment="ESA_EXIB", start_date="2011-07-01", outcome="attachment",
        achieved="2011-07-01", subcontractor="T1-NORTH"),
    row(participant_ref="CASE-2", ni_number=None, date_of_birth=None, segment=None,
        start_date=None, outcome="job_outcome", achieved="2012-01-02", started="2011-09-01",
        value="1.50"),
]


def _saved(ret):
    return sorted(
        (c.participant.provider_reference, c.participant.identity_hash, c.participant.segment,
         c.participant.start_date, c.outcome, c.achieved, c.started, c.step_from, c.step_to,
         c.grade, c.value, c.subcontractor, c.status)
        for c in ret.claims.select_related("participant"))


def _csv(rows):
    names = [c.name for c in CLAIM_COLUMNS]
    lines = [",".join(names)] + [",".join(r.get(n, "") for n in names) for r in rows]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.django_db
def test_web_form_upload_and_api_save_identical_results(client, world_a, provider_user):
    client.force_login(provider_user)
    returns = {}
    for way in ("form", "csv", "xlsx", "api"):
        contract = make_contract(world_a, c3_document(), reference=f"C3-{way.upper()}")
        ret = start_return(contract, "Jun 2013", actor=provider_user)
        returns[way] = ret
        if way == "form":
            for r in ROWS:
                response = client.post(f"/returns/{ret.pk}/claims/add/", r)
                assert response.status_code == 302, response.content.decode()[:2000]
        elif way == "csv":
            response = client.post(f"/returns/{ret.pk}/upload/",
                                   {"file": SimpleUploadedFile("r.csv", _csv(ROWS))})
            assert response.status_code == 302
        elif way == "xlsx":
            names = [c.name for c in CLAIM_COLUMNS]
            content = xlsx_bytes([names] + [[r.get(n) for n in names] for r in ROWS])
            response = client.post(f"/returns/{ret.pk}/upload/",
                                   {"file": SimpleUploadedFile("r.xlsx", content)})
            assert response.status_code == 302
        else:
            response = client.post(f"/api/v1/returns/{ret.pk}/claims/", {"rows": ROWS},
                                   content_type="application/json")
            assert response.status_code == 201, response.json()
    results = {way: _saved(ret) for way, ret in returns.items()}
    assert len(results["form"]) == len(ROWS)
    assert results["form"] == results["csv"] == results["xlsx"] == results["api"]
    # The identifiers themselves are nowhere in the database, only the keyed hash.
    participant = Participant.objects.filter(provider_reference="CASE-2").first()
    assert participant.identity_hash == identity_hash("AB123457C", datetime.date(1985, 3, 2))


@pytest.mark.django_db
def test_the_three_ways_refuse_the_same_bad_row_alike(client, draft, provider_user):
    bad = row(achieved="2011-02-30")
    client.force_login(provider_user)
    form = client.post(f"/returns/{draft.pk}/claims/add/", bad).content.decode()
    upload = client.post(f"/returns/{draft.pk}/upload/",
                         {"file": SimpleUploadedFile("r.csv", _csv([bad]))}).content.decode()
    api = client.post(f"/api/v1/returns/{draft.pk}/claims/", {"rows": [bad]},
                      content_type="application/json")
    message = "The achieved date must be a real date; 2011-02-30 does not exist."
    assert message in form and message in upload
    assert api.status_code == 400
    assert api.json()["problems"][0]["message"] == message
    assert Claim.objects.count() == 0


def _submit(ret, user, rows):
    add_rows(ret, list(enumerate(rows, start=2)), actor=user)
    return submit_return(ret, actor=user)


def _claim(ret, outcome, achieved=None):
    qs = Claim.objects.filter(return_record=ret, outcome=outcome)
    if achieved:
        qs = qs.filter(achieved=achieved)
    return qs.get()


@pytest.mark.django_db
def test_same_person_claimed_by_another_provider_is_held(world_a, world_b):
    mine = make_contract(world_a, c3_document(), reference="C3-A")
    theirs = make_contract(world_b, c3_document(), reference="C3-B")
    user_a = world_a.users[Role.PROVIDER_MANAGER]
    user_b = world_b.users[Role.PROVIDER_MANAGER]
    first = _submit(start_return(mine, "Jun 2013", actor=user_a), user_a, [row()])
    assert _claim(first, "attachment").status == ClaimStatus.PASSED
    second = _submit(start_return(theirs, "Jun 2013", actor=user_b), user_b,
                     [row(participant_ref="THEIR-REF", ni_number="ab 12 34 56 c")])
    held = _claim(second, "attachment")
    assert held.status == ClaimStatus.HELD
    reason = next(c["reason"] for c in held.checks if c["code"] == "duplicate_elsewhere")
    assert "Possible duplicate" in reason and "C3-A" in reason
    # A different person is not flagged.
    other = _submit(start_return(theirs, "May 2013", actor=user_b), user_b,
                    [row(participant_ref="OTHER", ni_number="AB123999C")])
    assert _claim(other, "attachment").status == ClaimStatus.PASSED


@pytest.mark.django_db
def test_once_only_outcome_fails_on_a_second_claim(draft, provider_user):
    ret = _submit(draft, provider_user, [row(), row(achieved="2011-06-16")])
    first, second = Claim.objects.filter(return_record=ret).order_by("achieved")
    assert first.status == ClaimStatus.PASSED
    assert second.status == ClaimStatus.FAILED
    assert any(c["code"] == "once_only" and not c["passed"] for c in second.checks)


@pytest.mark.django_db
@pytest.mark.parametrize(("days_after_window", "passes"), [(-1, False), (0, True)])
def test_once_within_104_weeks_at_the_day_boundary(world_a, provider_user, days_after_window,
                                                   passes):
    contract = make_contract(world_a, c3_document())
    proof = evidence.store(SimpleUploadedFile("p.txt", b"off benefit"), "p.txt",
                           organisation=world_a.provider, evidence_type="off_benefit_check")
    joined = datetime.date(2011, 6, 15)
    window_end = joined + timedelta(weeks=104)
    second_day = window_end + timedelta(days=days_after_window)
    rows = [row(), row(outcome="job_outcome", achieved="2012-01-10", started="2011-07-01",
                       evidence=f"E{proof.pk}"),
            row(outcome="job_outcome", achieved=second_day.isoformat(),
                started=(second_day - timedelta(weeks=30)).isoformat(), evidence=f"E{proof.pk}")]
    ret = _submit(start_return(contract, "Jun 2013", actor=provider_user), provider_user, rows)
    second = _claim(ret, "job_outcome", second_day)
    check = next(c for c in second.checks if c["code"] == "once_within_weeks")
    assert check["passed"] is passes, check
    assert (second.status == ClaimStatus.PASSED) is passes, second.checks


@pytest.mark.django_db
@pytest.mark.parametrize(("days_after_due", "passes"), [(-1, False), (0, True)])
def test_qualifying_weeks_at_the_day_boundary(world_a, provider_user, days_after_due, passes):
    contract = make_contract(world_a, c3_document())
    proof = evidence.store(SimpleUploadedFile("p.txt", b"off benefit"), "p.txt",
                           organisation=world_a.provider, evidence_type="off_benefit_check")
    started = datetime.date(2012, 1, 2)
    achieved = started + timedelta(weeks=26) + timedelta(days=days_after_due)  # JSA: 26 weeks
    ret = _submit(start_return(contract, "Jun 2013", actor=provider_user), provider_user, [
        row(), row(outcome="job_outcome", achieved=achieved.isoformat(),
                   started=started.isoformat(), evidence=f"E{proof.pk}")])
    claim = _claim(ret, "job_outcome")
    check = next(c for c in claim.checks if c["code"] == "sustainment")
    assert check["passed"] is passes, check


@pytest.mark.django_db
@pytest.mark.parametrize(("days_after_due", "passes"), [(-1, False), (0, True)])
def test_sustainment_window_at_the_day_boundary(world_a, provider_user, days_after_due, passes):
    document = c3_document()
    document["outcomes"] = [*document["outcomes"], {
        "code": "housed", "name": "Housed", "kind": "one_off",
        "sustainment": [{"label": "12 months", "weeks": 52}]}]
    contract = make_contract(world_a, document)
    started = datetime.date(2011, 7, 1)
    achieved = started + timedelta(weeks=52) + timedelta(days=days_after_due)
    ret = _submit(start_return(contract, "Jun 2013", actor=provider_user), provider_user, [
        row(), row(outcome="housed", achieved=achieved.isoformat(), started=started.isoformat())])
    claim = _claim(ret, "housed")
    assert (claim.status == ClaimStatus.PASSED) is passes, claim.checks


@pytest.mark.django_db
def test_missing_evidence_eligibility_and_recurring_limits(world_a, provider_user):
    contract = make_contract(world_a, c3_document())
    rows = [row(), row(outcome="job_outcome", achieved="2012-01-10", started="2011-07-01"),
            row(outcome="sustainment", achieved="2012-02-10")]
    ret = _submit(start_return(contract, "Jun 2013", actor=provider_user), provider_user, rows)
    job = _claim(ret, "job_outcome")
    assert job.status == ClaimStatus.FAILED
    assert "off_benefit_check" in next(c["reason"] for c in job.checks if c["code"] == "evidence")
    sustainment = _claim(ret, "sustainment")
    assert next(c for c in sustainment.checks if c["code"] == "trigger")["passed"] is False


@pytest.mark.django_db
def test_amendment_is_a_new_version_and_facts_use_the_latest(c3, draft, provider_user):
    first = _submit(draft, provider_user, [row()])
    amended = amend_return(first, actor=provider_user, reason="Add a job entry")
    assert amended.version == 2 and amended.supersedes_id == first.pk
    assert Claim.objects.filter(return_record=first).count() == 1  # untouched
    _submit(amended, provider_user, [row(outcome="job_entry", achieved="2012-01-10")])
    facts = facts_for(c3, datetime.date(2013, 6, 30))
    assert sorted(c.outcome for c in facts.claims) == ["attachment", "job_entry"]
    assert {c.status for c in facts.claims} == {"verified"}
    assert all(c.participant.startswith("P") for c in facts.claims)
    # Before the period ends, the return is not yet a fact.
    assert facts_for(c3, datetime.date(2013, 6, 29)).claims == ()


@pytest.mark.django_db
def test_indicator_returns_become_engine_facts(world_a, provider_user):
    from contracts.definition import load_document

    from .conftest import EXAMPLES

    contract = make_contract(world_a, load_document(EXAMPLES / "c2-southend.yaml"))
    ret = start_return(contract, "Q4 2011-12", actor=provider_user)
    add_rows(ret, [(2, {"indicator": "individuals_supported", "measure_period": "2011-12",
                        "value": "122"}),
                   (3, {"indicator": "tenancy_sustainment", "measure_period": "2011-12",
                        "numerator": "199", "denominator": "200"})],
             actor=provider_user, kind="indicators")
    submit_return(ret, actor=provider_user)
    facts = facts_for(contract, datetime.date(2012, 3, 31))
    values = {v.indicator: v.resolved() for v in facts.indicator_values}
    assert values["individuals_supported"] == 122
    assert values["tenancy_sustainment"] == 99.5
