"""Big returns are written in batches while later rows are still being checked (ADR 0014): the
claims saved are exactly those of writing everything at the end, and a refused row or a fault
part-way through leaves nothing saved.

On PostgreSQL (CI) the batches go through the second thread; on SQLite they are written at the
end, so there these tests prove the single-thread path gives the same answers.
"""

import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from outcomes import evidence, services, validation
from outcomes.models import Claim, EvidenceFile, Participant
from outcomes.services import import_file, start_return
from outcomes.validation import CLAIM_COLUMNS, ReturnRejected

from .conftest import c3_document, make_contract, row
from .corpus import pdf_bytes


def _rows(evidence_id, people=6):
    """New people first (attachment), then a job entry for each of them: the second half names
    people a previous batch introduced."""
    rows = [row(participant_ref=f"CASE-{i}", ni_number=f"AB{100000 + i:06d}C",
                segment="JSA_18_24" if i % 2 else "ESA_EXIB", start_date="2011-07-01",
                achieved="2011-07-01", subcontractor="T1-NORTH" if i % 3 == 0 else None)
            for i in range(people)]
    rows += [row(participant_ref=f"CASE-{i}", ni_number=None, date_of_birth=None, segment=None,
                 start_date=None, outcome="job_entry", achieved=f"2012-01-{10 + i:02d}",
                 evidence=f"E{evidence_id}" if i % 2 else None, value="1.50" if i == 1 else None)
             for i in range(people)]
    return rows


def _csv(rows):
    names = [c.name for c in CLAIM_COLUMNS]
    lines = [",".join(names)] + [",".join(r.get(n, "") for n in names) for r in rows]
    return ("\n".join(lines) + "\n").encode()


def _saved(ret):
    return sorted(
        (c.row_number, c.participant.provider_reference, c.participant.identity_hash,
         c.participant.segment, c.participant.start_date, c.outcome, c.achieved, c.value,
         c.subcontractor, c.status, c.checks, tuple(e.pk for e in c.evidence_files.all()))
        for c in ret.claims.select_related("participant").prefetch_related("evidence_files"))


@pytest.fixture
def proof(world_a):
    return evidence.store(SimpleUploadedFile("a.pdf", pdf_bytes()), "a.pdf",
                          organisation=world_a.provider, evidence_type="off_benefit_check")


@pytest.fixture
def writer_threads(monkeypatch):
    """The names of the threads each batch was written from."""
    seen = []
    write = services.ClaimWriter._write

    def spy(self, rows, cursor):
        seen.append(threading.current_thread().name)
        return write(self, rows, cursor)

    monkeypatch.setattr(services.ClaimWriter, "_write", spy)
    return seen


@pytest.mark.django_db
def test_batches_written_while_checking_save_what_one_write_at_the_end_saves(
        world_a, provider_user, proof, monkeypatch, writer_threads):
    content = _csv(_rows(proof.pk))
    results = {}
    for batch in (3, 10_000):
        monkeypatch.setattr(services.ClaimWriter, "BATCH", batch)
        contract = make_contract(world_a, c3_document(), reference=f"C3-BATCH-{batch}")
        ret = start_return(contract, "Jun 2013", actor=provider_user)
        assert import_file(ret, SimpleUploadedFile("r.csv", content), "r.csv",
                           actor=provider_user) == ("claims", 12)
        results[batch] = _saved(ret)
    assert len(results[3]) == 12
    assert results[3] == results[10_000]
    assert sum(1 for r in results[3] if r[-1] == (proof.pk,)) == 3
    if connection.vendor == "postgresql":
        # Four batches of three went through the writer thread; nothing was left for the end.
        assert writer_threads[:4] == ["claim-writer"] * 4
        assert writer_threads[4:] == ["MainThread"]  # the second import: all at the end


@pytest.mark.django_db
def test_a_bad_last_row_after_batches_were_written_saves_nothing(
        draft, provider_user, proof, monkeypatch, writer_threads):
    monkeypatch.setattr(services.ClaimWriter, "BATCH", 3)
    rows = _rows(proof.pk) + [row(participant_ref="CASE-99", ni_number="AB199999C",
                                  achieved="2012-02-30")]
    with pytest.raises(ReturnRejected) as refused:
        import_file(draft, SimpleUploadedFile("r.csv", _csv(rows)), "r.csv",
                    actor=provider_user)
    assert [(p.row, p.column, p.code) for p in refused.value.problems] == [
        (14, "achieved", "impossible-date")]
    assert Claim.objects.count() == 0
    assert Participant.objects.count() == 0
    assert EvidenceFile.claims.through.objects.count() == 0
    if connection.vendor == "postgresql":
        assert writer_threads == ["claim-writer"] * 4  # written, then taken back


@pytest.mark.django_db
def test_a_fault_while_writing_a_batch_is_raised_and_saves_nothing(
        draft, provider_user, proof, monkeypatch):
    monkeypatch.setattr(services.ClaimWriter, "BATCH", 3)
    insert = services.insert_rows
    calls = []

    # PostgreSQL: the second batch's claims, in the writer thread; SQLite: the only write.
    fail_at = 2 if connection.vendor == "postgresql" else 1

    def failing(model, columns, rows, **kwargs):
        calls.append(model)
        if calls.count(Claim) == fail_at and model is Claim:
            raise RuntimeError("disk full")
        return insert(model, columns, rows, **kwargs)

    monkeypatch.setattr(services, "insert_rows", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        import_file(draft, SimpleUploadedFile("r.csv", _csv(_rows(proof.pk))), "r.csv",
                    actor=provider_user)
    assert Claim.objects.count() == 0
    assert Participant.objects.count() == 0


@pytest.mark.django_db
def test_a_file_longer_than_the_limit_is_refused_as_it_is_read(
        draft, provider_user, proof, monkeypatch):
    monkeypatch.setattr(services.ClaimWriter, "BATCH", 3)
    monkeypatch.setattr(validation, "MAX_ROWS", 8)
    with pytest.raises(ReturnRejected) as refused:
        import_file(draft, SimpleUploadedFile("r.csv", _csv(_rows(proof.pk))), "r.csv",
                    actor=provider_user)
    assert [(p.row, p.code) for p in refused.value.problems] == [(10, "too-many-rows")]
    assert Claim.objects.count() == 0
    assert Participant.objects.count() == 0


@pytest.mark.django_db
def test_a_read_fault_is_reported_even_after_a_thousand_problems(draft, provider_user,
                                                                 monkeypatch):
    """Checking stops at MAX_PROBLEMS, but the rest of the file is still read, so a fault
    in it (here: too many rows) is what the report says, as when the file was read whole."""
    monkeypatch.setattr(validation, "MAX_PROBLEMS", 3)
    monkeypatch.setattr(validation, "MAX_ROWS", 8)
    rows = [row(participant_ref=f"CASE-{i}", outcome="nope") for i in range(10)]
    with pytest.raises(ReturnRejected) as refused:
        import_file(draft, SimpleUploadedFile("r.csv", _csv(rows)), "r.csv",
                    actor=provider_user)
    assert [p.code for p in refused.value.problems] == ["too-many-rows"]
