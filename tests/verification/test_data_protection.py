"""Erasure on request and retention (outcomes/data_protection.py, ADR 0017).

One C3 participant has everything personal the system can hold about a person: a reference,
an identity hash, a leave reason, an evidence file named after them, a query and answer and a
review note about their claim, a claim deleted from a draft, a refused upload's report naming
them, and all of it copied into the audit log. After erasure none of that is left anywhere in
the database or the evidence store, while the ledger, the statement and a re-run are unchanged.
"""

import datetime
import json
import os

import pytest
import time_machine
from django.core.files.storage import storages
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.utils import DatabaseError

from outcomes import data_protection as dp
from outcomes import services as returns
from outcomes.models import Claim, EvidenceFile, Participant, ReturnUpload
from outcomes.verification import services as verification
from outcomes.verification.models import ClaimQuery, ClaimReview
from payments.models import LedgerLine
from payments.services import build_statement, run_period
from pbr import data_protection as core
from pbr.models import AuditEvent, AuditImmutableError
from tests.verification.conftest import (
    evidence_file,
    make_claims,
    pdf_bytes,
    set_policy,
    submitted_return,
)

LEAVE_REASON = "Sentenced to six months at HMP Leeds"
NOTE = "Payslip for Jane Doe matches the claim"
ANSWER = "Jane Doe's corrected payslip is attached"


def _stored(evidence):
    return storages["evidence"].exists(evidence.stored_name)


def _everything_in_the_database():
    """Every row a person's data could be in, as one string."""
    rows = []
    for model in (AuditEvent, Participant, Claim, EvidenceFile, ClaimQuery, ClaimReview,
                  ReturnUpload, LedgerLine):
        rows += list(model.objects.values())
    return json.dumps(rows, default=str)


@pytest.fixture
def world(c3, world_a, people):
    """Two paid participants; the first has every kind of personal data the system holds."""
    set_policy(c3, mode="verify_all")
    ret = submitted_return(c3, world_a.provider, "Mar 2012")
    mine, theirs = make_claims(ret, 2, achieved=datetime.date(2012, 3, 5),
                               started=datetime.date(2011, 9, 5))
    person, other = mine.participant, theirs.participant
    proof = evidence_file(world_a.provider, name="jane-doe-payslip.pdf")
    answer = evidence_file(world_a.provider, name="jane-doe-payslip-2.pdf",
                           content=pdf_bytes("Payslip: corrected"))
    other_proof = evidence_file(world_a.provider, name="other-payslip.pdf",
                                content=pdf_bytes("Payslip: someone else"))
    mine.evidence_files.add(proof)
    theirs.evidence_files.add(other_proof)

    verification.draw_sample(c3, actor=people["auditor"], seed=1)
    verification.start_review(mine, actor=people["auditor"])
    verification.raise_query(mine, actor=people["auditor"],
                             text=f"The payslip for {person.provider_reference} is unreadable")
    verification.respond_to_query(mine, actor=people["provider_manager"], text=ANSWER, evidence=[answer])
    verification.verify_claim(mine, actor=people["auditor"], note=NOTE)
    verification.start_review(theirs, actor=people["auditor"])
    verification.verify_claim(theirs, actor=people["auditor"], note="Matches")
    returns.record_leave(person, actor=people["provider_manager"], leave_date=datetime.date(2012, 6, 1),
                         reason=LEAVE_REASON, today=datetime.date(2013, 1, 1))

    # A claim for them added to a draft and deleted again, and a refused file that named them.
    draft = returns.start_return(c3, "Jun 2012", actor=people["provider_manager"])
    stray = Claim.objects.create(return_record=draft, participant=person, outcome="job_outcome",
                                 achieved=datetime.date(2012, 6, 5))
    returns.delete_claim(stray, actor=people["provider_manager"])
    ReturnUpload.objects.create(
        return_record=draft, original_name="june.csv", size=10, status="refused",
        problems=[{"row": 2, "column": "participant_ref", "code": "identity-mismatch",
                   "message": f"The identifiers do not match those already held for "
                              f"{person.provider_reference}."},
                  {"row": 3, "column": "participant_ref", "code": "x",
                   "message": f"{other.provider_reference} is fine"}])

    run, posted = run_period(c3, "Mar 2012")
    assert sum(line.amount for line in posted) > 0
    return {"contract": c3, "person": person, "other": other, "mine": mine, "theirs": theirs,
            "files": [proof, answer], "other_file": other_proof, "run": run}


def _ledger(contract):
    return list(LedgerLine.objects.filter(contract=contract).order_by("pk").values_list(
        "key", "amount", "participant", "explanation", "references"))


def _statement(run):
    data = build_statement(run)
    return (data["total"], data["by_funder"], data["subcontractor_totals"],
            [(ln.key, ln.amount, ln.participant) for ln in data["lines"]])


@pytest.mark.django_db
def test_erasure_removes_personal_data_and_files_and_keeps_the_money(
        world, people, django_capture_on_commit_callbacks):
    person, contract = world["person"], world["contract"]
    reference, identity = person.provider_reference, person.identity_hash
    ledger, statement = _ledger(contract), _statement(world["run"])
    before = _everything_in_the_database()
    for secret in (reference, identity, LEAVE_REASON, NOTE, ANSWER, "jane-doe-payslip"):
        assert secret in before  # so the absence below means something
    assert all(_stored(f) for f in world["files"])

    with django_capture_on_commit_callbacks(execute=True):
        result = dp.erase_participant(person, reason="Request ER-2026-007",
                                      actor=people["commissioner"])

    after = _everything_in_the_database()
    for secret in (reference, identity, LEAVE_REASON, NOTE, ANSWER, "jane-doe-payslip"):
        assert secret not in after, secret
    person.refresh_from_db()
    assert person.provider_reference == f"[erased P{person.pk}]"
    assert (person.leave_reason, person.leave_date) == ("", datetime.date(2012, 6, 1))
    assert person.segment == "JSA_18_24" and person.start_date  # payment facts stay
    for evidence in world["files"]:
        evidence.refresh_from_db()
        assert not _stored(evidence)
        assert (evidence.original_name, evidence.sha256) == ("[erased]", "")
        assert evidence.evidence_type == "off_benefit_check"  # still supports the claim
    assert set(world["mine"].evidence_files.all()) == set(world["files"])
    assert result.outcome.claims == 1 and len(result.outcome.files_deleted) == 2

    # The other participant and their file are untouched.
    other = Participant.objects.get(pk=world["other"].pk)
    assert other.provider_reference == world["other"].provider_reference
    assert _stored(world["other_file"])
    problems = ReturnUpload.objects.get().problems
    assert problems[0]["message"].endswith(f"[erased P{person.pk}].")
    assert problems[1]["message"] == f"{other.provider_reference} is fine"

    # The money: the same ledger, the same statement, and a re-run posts nothing.
    assert _ledger(contract) == ledger
    assert _statement(world["run"]) == statement
    assert run_period(contract, "Mar 2012")[1] == []
    assert _ledger(contract) == ledger

    # The erasure is audited, for the provider and the commissioner, without the erased data.
    events = AuditEvent.objects.filter(action="participant.erased")
    assert {e.organisation for e in events} == {contract.commissioner, person.provider}
    event = events.first()
    assert event.actor == people["commissioner"] and event.reason == "Request ER-2026-007"
    assert event.after["pseudonym"] == f"P{person.pk}"
    assert event.after["evidence_files_deleted"] == 2
    assert event.object_repr == f"[erased P{person.pk}]"
    # The rest of the trail is still there: who did what, when; only the words are gone.
    left = AuditEvent.objects.get(action="participant.left")
    assert left.reason == "[erased]" and left.after["leave_reason"] == "[erased]"
    assert left.after["leave_date"] == "2012-06-01" and left.actor == people["provider_manager"]
    deleted = AuditEvent.objects.get(action="claim.deleted")
    assert deleted.before["participant"] == f"[erased P{person.pk}]"
    assert AuditEvent.objects.get(action="claim.verified", object_id=str(world["mine"].pk)
                                  ).reason == "[erased]"
    assert AuditEvent.objects.get(action="claim.verified", object_id=str(world["theirs"].pk)
                                  ).reason == "Matches"


@pytest.mark.django_db
def test_a_second_request_is_answered_already_erased_and_changes_nothing(world, capsys):
    person, contract = world["person"], world["contract"]
    reference = person.provider_reference
    call_command("erase_participant", contract.reference, reference, "--reason", "ER-1")
    out = capsys.readouterr().out
    assert f"Erased {reference} on {contract.reference}: now P{person.pk}." in out
    count = AuditEvent.objects.count()

    call_command("erase_participant", contract.reference, reference, "--reason", "ER-1")
    assert "Already erased on" in capsys.readouterr().out
    person.refresh_from_db()
    result = dp.erase_participant(person, reason="ER-1")  # by the pseudonymised row itself
    assert result.outcome is None and result.already_erased_on is not None
    assert AuditEvent.objects.count() == count


@pytest.mark.django_db
def test_unknown_participant_and_contract_are_clear_errors(world):
    contract = world["contract"]
    with pytest.raises(CommandError, match=f"No participant has the reference NOBODY on "
                                           f"{contract.reference}"):
        call_command("erase_participant", contract.reference, "NOBODY", "--reason", "ER-2")
    with pytest.raises(CommandError, match="There is no contract with reference NOPE"):
        call_command("erase_participant", "NOPE", "X", "--reason", "ER-2")
    with pytest.raises(CommandError, match="--by: there is no active user ghost"):
        call_command("erase_participant", contract.reference, "X", "--reason", "ER-2",
                     "--by", "ghost")


@pytest.mark.django_db
def test_the_reason_must_not_name_the_person_and_nothing_changes(world):
    person = world["person"]
    with pytest.raises(dp.ErasureError, match="must not contain the participant's reference"):
        dp.erase_participant(person, reason=f"Request from {person.provider_reference}")
    with pytest.raises(dp.ErasureError, match="Give the reason"):
        dp.erase_participant(person, reason="  ")
    person.refresh_from_db()
    assert not dp.is_erased(person)
    assert not AuditEvent.objects.filter(action="participant.erased").exists()


@pytest.mark.django_db
def test_evidence_shared_with_someone_else_is_refused_until_confirmed(
        world, django_capture_on_commit_callbacks):
    person, shared = world["person"], world["other_file"]
    world["mine"].evidence_files.add(shared)
    with pytest.raises(CommandError, match=rf"E{shared.pk} \(also supports claim "
                                           rf"{world['theirs'].pk}\)"):
        call_command("erase_participant", world["contract"].reference,
                     person.provider_reference, "--reason", "ER-3")
    person.refresh_from_db()
    assert not dp.is_erased(person) and all(_stored(f) for f in world["files"])

    with django_capture_on_commit_callbacks(execute=True):
        call_command("erase_participant", world["contract"].reference,
                     person.provider_reference, "--reason", "ER-3", "--delete-shared-evidence")
    assert not _stored(shared)


@pytest.mark.django_db
def test_files_are_deleted_only_if_the_transaction_commits(world, monkeypatch):
    person = world["person"]

    def fail(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(dp.audit, "record", fail)
    with pytest.raises(RuntimeError):
        dp.erase_participant(person, reason="ER-4")
    person.refresh_from_db()
    assert not dp.is_erased(person)
    assert all(_stored(f) for f in world["files"])
    assert EvidenceFile.objects.get(pk=world["files"][0].pk).original_name == \
        "jane-doe-payslip.pdf"


@pytest.mark.django_db
def test_the_audit_log_is_still_append_only_outside_a_redaction(world_a):
    from tests.factories import audit_event

    event = audit_event(world_a.provider)
    with pytest.raises(AuditImmutableError):
        AuditEvent.objects.filter(pk=event.pk).update(reason="x")
    with pytest.raises(ValueError, match="may not change action"), transaction.atomic():
        core.redact_audit_events(AuditEvent.objects.filter(pk=event.pk),
                                 lambda e: {"action": "something.else"})


@pytest.mark.django_db
def test_postgresql_lets_a_redaction_change_only_the_words(world_a):
    if connection.vendor != "postgresql":
        if os.environ.get("PBR_REQUIRE_POSTGRES"):
            pytest.fail("PBR_REQUIRE_POSTGRES is set but the tests are not running on PostgreSQL.")
        pytest.skip("The redaction rule is part of a PostgreSQL trigger; CI runs it there.")
    from tests.factories import audit_event

    event = audit_event(world_a.provider)
    table = AuditEvent._meta.db_table
    with transaction.atomic():
        assert core.redact_audit_events(AuditEvent.objects.filter(pk=event.pk),
                                        lambda e: {"reason": "[erased]"}) == 1
    assert AuditEvent.objects.get(pk=event.pk).reason == "[erased]"
    # Within a redaction the trigger still refuses a change of who, what or when, and DELETE;
    # and once the redaction's transaction is over, every UPDATE is refused again.
    for sql in (f"UPDATE {table} SET action = 'x' WHERE id = %s",
                f"UPDATE {table} SET actor_label = 'x' WHERE id = %s",
                f"DELETE FROM {table} WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), \
                connection.cursor() as cursor:
            cursor.execute("SELECT set_config('pbr.audit_redaction', 'on', true)")
            cursor.execute(sql, [event.pk])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), \
            connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET reason = 'y' WHERE id = %s", [event.pk])  # noqa: S608
    assert AuditEvent.objects.get(pk=event.pk).reason == "[erased]"


# --- retention ---------------------------------------------------------------------------------


def _retention_day(contract, extra_days):
    return contract.end + datetime.timedelta(days=core.retention_days() + extra_days)


@pytest.mark.django_db
def test_retention_waits_for_the_period_then_erases_the_contract(
        world, world_a, capsys, django_capture_on_commit_callbacks):
    contract = world["contract"]
    assert core.retention_days() == 2192  # six years, leap days included (settings)
    ledger = _ledger(contract)
    # Uploaded on the contract's last day, never attached: it goes with the contract.
    with time_machine.travel(datetime.datetime(2016, 5, 31, 12), tick=False):
        unattached = evidence_file(world_a.provider, name="never-used.pdf",
                                   content=pdf_bytes("Unused"))
    recent = evidence_file(world_a.provider, name="recent.pdf", content=pdf_bytes("Recent"))

    # On the last day of the retention period nothing happens.
    with time_machine.travel(_retention_day(contract, 0), tick=False):
        call_command("apply_retention")
    out = capsys.readouterr().out
    assert "No contract is past its retention period." in out
    assert "uploaded before the cut-off: 0 file(s) were deleted." in out
    assert not dp.is_erased(Participant.objects.get(pk=world["person"].pk))

    # The day after, a dry run says what would go and changes nothing.
    with time_machine.travel(_retention_day(contract, 1), tick=False):
        call_command("apply_retention", "--dry-run")
    out = capsys.readouterr().out
    assert (f"{contract.reference}: 2 participant(s) would be pseudonymised and 3 evidence "
            "file(s) deleted.") in out
    assert "1 file(s) would be deleted." in out
    assert not dp.is_erased(Participant.objects.get(pk=world["person"].pk))
    assert _stored(unattached)

    with time_machine.travel(_retention_day(contract, 1), tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        call_command("apply_retention")
    out = capsys.readouterr().out
    assert f"{contract.reference}: 2 participant(s) were pseudonymised and 3 evidence" in out
    assert all(dp.is_erased(p) for p in Participant.objects.filter(contract=contract))
    for evidence in [*world["files"], world["other_file"], unattached]:
        assert not _stored(evidence)
    assert _stored(recent)  # uploaded within the period, attached to nothing: kept for now
    assert ReturnUpload.objects.get().problems == []
    assert LEAVE_REASON not in _everything_in_the_database()
    assert _ledger(contract) == ledger
    event = AuditEvent.objects.get(action="retention.applied")
    assert event.organisation == contract.commissioner and event.after["participants"] == 2

    # Running again the next night finds nothing left to do.
    count = AuditEvent.objects.count()
    with time_machine.travel(_retention_day(contract, 2), tick=False):
        call_command("apply_retention")
    assert f"{contract.reference}: 0 participant(s) were pseudonymised" in capsys.readouterr().out
    assert AuditEvent.objects.count() == count


@pytest.mark.django_db
def test_retention_keeps_a_file_still_needed_by_a_live_contract(
        world, world_a, django_capture_on_commit_callbacks):
    from tests.outcomes.conftest import c3_document, make_contract

    live = make_contract(world_a, c3_document(end="2030-05-31"),
                         reference="C3-LIVE")
    ret = submitted_return(live, world_a.provider, "Mar 2012")
    [claim] = make_claims(ret, 1, start=50, achieved=datetime.date(2012, 3, 5))
    claim.evidence_files.add(world["other_file"])
    with time_machine.travel(_retention_day(world["contract"], 1), tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        report = dp.apply_retention()
    outcome = report.contracts[world["contract"].reference]
    assert outcome.files_kept == {world["other_file"].pk: {claim.pk}}
    assert _stored(world["other_file"])
    assert not dp.is_erased(claim.participant)
    assert "C3-LIVE" not in report.contracts


def test_the_nightly_schedule_runs_retention():
    from pbr.celery import app

    entry = app.conf.beat_schedule["apply-retention"]
    assert entry["task"] == "outcomes.tasks.apply_retention"


@pytest.mark.django_db
def test_the_retention_task_records_a_job(world, django_capture_on_commit_callbacks):
    from outcomes.tasks import apply_retention
    from pbr.models import Job

    day = _retention_day(world["contract"], 1)
    with django_capture_on_commit_callbacks(execute=True):
        result = apply_retention.delay(day.isoformat()).get()
    assert result == {"participants": 2, "files_deleted": 3, "file_errors": 0}
    job = Job.objects.get(name="Retention")
    assert "2 participant(s) pseudonymised, 3 evidence file(s) deleted." in job.message


@pytest.mark.django_db
def test_an_erased_participant_s_pages_still_open_and_their_files_are_gone(
        world, people, client, django_capture_on_commit_callbacks):
    from django.urls import reverse

    person, proof = world["person"], world["files"][0]
    with django_capture_on_commit_callbacks(execute=True):
        dp.erase_participant(person, reason="ER-5")
    client.force_login(people["provider_manager"])
    page = client.get(reverse("participant_detail", kwargs={"participant_pk": person.pk}))
    assert page.status_code == 200
    assert f"[erased P{person.pk}]" in page.content.decode()
    claim = client.get(reverse("claim_detail", kwargs={"claim_pk": world["mine"].pk}))
    assert claim.status_code == 200 and "jane-doe" not in claim.content.decode()
    assert client.get(reverse("evidence_download", kwargs={"evidence_file_pk": proof.pk})
                      ).status_code == 404
