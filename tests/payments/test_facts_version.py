"""The contract facts version (ADR 0021): every kind of write that can change a contract's
entitlement moves it, and a re-run of a period whose facts version has not moved is recorded
as a no-op in a handful of queries, without reading the run's refusals.

Each re-run below is checked against a full recomputation (run_both), so a write that moved the
version but whose participants the run did not recompute would show as a difference.
"""

import datetime
import os
from decimal import Decimal
from types import SimpleNamespace

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contracts.models import TermsVersion
from outcomes.models import (
    Claim,
    DatasetUpload,
    DatasetValue,
    IndicatorReturn,
    Participant,
    ParticipantEvent,
    Return,
    Sample,
    SampleItem,
    VerificationPolicy,
)
from payments.fact_changes import contract_facts_version, triggers_installed
from payments.models import ContractFactMark, FactChange, PaymentRun
from payments.services import run_period
from pbr.audit import AuditEvent
from tests.payments.test_incremental_runs import (
    Programme,
    contract_from,
    new_return,
    periods_of,
    run_both,
)


def _require_postgres(why):
    if connection.vendor != "postgresql":
        if os.environ.get("PBR_REQUIRE_POSTGRES"):
            pytest.fail("PBR_REQUIRE_POSTGRES is set but the tests are not running on PostgreSQL.")
        pytest.skip(why)


def _paid_c3(world, reference="C3-FV"):
    """A C3 contract with June paid: two attachments, one linked to evidence, an open sample."""
    contract = contract_from(world, "c3-work-programme.yaml", reference=reference)
    jun, jul = periods_of(contract)[:2]
    prog = Programme(contract, 7)
    prog.SEGMENTS = ("JSA_18_24",)
    ret = new_return(contract, jun)
    people = [prog.person(jun), prog.person(jun)]
    claims = [Claim.objects.create(return_record=ret, participant=p, outcome="attachment",
                                   achieved=jun.start, status="passed") for p in people]
    prog.proof.claims.add(claims[0])
    sample = Sample.objects.create(contract=contract, kind="check", seed=1, policy={},
                                   status="open", population_count=2, sample_size=1,
                                   population_total=Decimal("800.00"))
    item = SampleItem.objects.create(sample=sample, claim=claims[1])
    run, lines = run_both(contract, jun.id)
    assert run.mode == "full" and sum(ln.amount for ln in lines) == Decimal("800.00")
    return SimpleNamespace(contract=contract, jun=jun, jul=jul, prog=prog, ret=ret,
                           people=people, claims=claims, sample=sample, item=item)


def _amend(c):
    """An amendment written straight in as submitted (no draft first): it drops the first
    claim, so its participant is no longer paid."""
    new = new_return(c.contract, c.jun, version=2, supersedes=c.ret)
    Claim.objects.create(return_record=new, participant=c.people[1], outcome="attachment",
                         achieved=c.jun.start, status="passed")


def _delete_amendment(c):
    """An amendment deleted: the first version is the latest again."""
    new = new_return(c.contract, c.jun, status="draft", version=2, supersedes=c.ret)
    Return.objects.filter(pk=new.pk).update(status="submitted")
    run_both(c.contract, c.jun.id)
    Return.objects.filter(pk=new.pk).delete()


def _dataset(c):
    upload = DatasetUpload.objects.create(contract=c.contract, original_name="d.csv",
                                          sha256="1" * 64)
    DatasetValue.objects.create(upload=upload, contract=c.contract, dataset="baseline",
                                period=c.jun.id, value=Decimal("3"))


def _closed_check(c):
    Sample.objects.filter(pk=c.sample.pk).update(status="closed", recovery_period=c.jun.id)


def _terms(c):
    current = c.contract.current_version()
    TermsVersion.objects.create(contract=c.contract, number=current.number + 1,
                                effective_from=current.effective_from,
                                document=current.document, reason="A variation in draft")


CHANGES = {
    "claim status": lambda c: Claim.objects.filter(pk=c.claims[0].pk).update(status="rejected"),
    "new claim": lambda c: Claim.objects.create(
        return_record=c.ret, participant=c.prog.person(c.jun), outcome="attachment",
        achieved=c.jun.start, status="passed"),
    "claim deleted": lambda c: Claim.objects.filter(pk=c.claims[0].pk).delete(),
    "participant": lambda c: Participant.objects.filter(pk=c.people[0].pk).update(
        segment="ESA_EXIB"),
    "event": lambda c: ParticipantEvent.objects.create(
        return_record=c.ret, participant=c.people[0], event="adverse", occurred=c.jun.start),
    "evidence link": lambda c: c.prog.proof.claims.remove(c.claims[0]),
    "evidence type": lambda c: type(c.prog.proof).objects.filter(pk=c.prog.proof.pk).update(
        evidence_type="payslip"),
    "return status": lambda c: Return.objects.filter(pk=c.ret.pk).update(status="draft"),
    "return amended": _amend,
    "amendment deleted": _delete_amendment,
    "indicator return": lambda c: IndicatorReturn.objects.create(
        return_record=c.ret, indicator="referrals", measure_period=c.jun.id, value=Decimal(4)),
    "external dataset": _dataset,
    "sample finding": lambda c: SampleItem.objects.filter(pk=c.item.pk).update(finding="error"),
    "sample closed": _closed_check,
    "verification policy": lambda c: VerificationPolicy.objects.create(contract=c.contract),
    "terms version": _terms,
}


@pytest.mark.django_db
@pytest.mark.parametrize("change", list(CHANGES))
def test_every_kind_of_fact_change_moves_the_version_and_unskips_the_rerun(world_a, change):
    assert triggers_installed()
    c = _paid_c3(world_a)
    other = _paid_c3(world_a, reference="C3-OTHER")
    again, lines = run_both(c.contract, c.jun.id)
    assert (again.mode, lines) == ("unchanged", [])
    before, other_before = contract_facts_version(c.contract), contract_facts_version(other.contract)
    assert contract_facts_version(c.contract) == before  # reading it changes nothing

    CHANGES[change](c)

    assert contract_facts_version(c.contract) > before
    assert contract_facts_version(other.contract.pk) == other_before  # an id works too
    run, _lines = run_both(c.contract, c.jun.id)  # the same lines as a full recomputation
    assert run.mode in ("incremental", "full")
    assert run.facts_version == contract_facts_version(c.contract)
    again, lines = run_both(c.contract, c.jun.id)
    assert (again.mode, lines) == ("unchanged", [])


@pytest.mark.django_db
def test_changes_that_move_money_are_posted_by_the_rerun(world_a):
    c = _paid_c3(world_a)
    Claim.objects.filter(pk=c.claims[0].pk).update(status="rejected")
    run, [reversal] = run_both(c.contract, c.jun.id)
    assert run.mode == "incremental" and run.participants_recomputed == 1
    assert reversal.amount == Decimal("-400.00")
    _closed_check(c)
    SampleItem.objects.filter(pk=c.item.pk).update(finding="error")
    run, [recovery] = run_both(c.contract, c.jun.id)
    assert recovery.kind == "recovery" and recovery.amount < 0


@pytest.mark.django_db
def test_an_unchanged_rerun_is_a_recorded_no_op_in_a_handful_of_queries(world_a):
    c = _paid_c3(world_a)
    first = PaymentRun.objects.get(contract=c.contract, period_id=c.jun.id)
    refusals, computations = first.refusals, first.computations
    with CaptureQueriesContext(connection) as queries:
        run, lines = run_period(c.contract, c.jun.id)
    assert lines == [] and run.mode == "unchanged" and run.participants_recomputed == 0
    sql = [q["sql"] for q in queries.captured_queries]
    assert len(sql) <= 15, sql  # 13 today, savepoints included
    # Neither the refusals nor any fact is read; nothing is written to the ledger.
    assert not [s for s in sql if "refusals" in s or "outcomes_claim" in s
                or "payments_ledgerline\" (" in s], sql
    run.refresh_from_db()
    assert run.computations == computations + 1 and run.refusals == refusals
    assert AuditEvent.objects.filter(action="payment_run.computed",
                                     after__mode="unchanged").count() == 1


@pytest.mark.django_db
def test_time_passing_alone_leaves_a_period_unchanged(world_a):
    c = _paid_c3(world_a)
    # A later month's return arrives: a write, so the run looks, but June's facts are the same.
    later = new_return(c.contract, c.jul)
    Claim.objects.create(return_record=later, participant=c.prog.person(c.jul),
                         outcome="attachment", achieved=c.jul.start, status="passed")
    run, lines = run_both(c.contract, c.jun.id)
    assert run.mode == "incremental" and lines == []
    with time_machine.travel(datetime.datetime(2030, 1, 1, 9, 0), tick=False):
        again, lines = run_both(c.contract, c.jun.id)
    assert (again.mode, lines) == ("unchanged", [])


@pytest.mark.django_db
def test_a_new_period_is_computed_even_when_no_fact_changed(world_a):
    c = _paid_c3(world_a)
    run, _lines = run_both(c.contract, c.jul.id)
    assert run.mode == "incremental"


@pytest.mark.django_db
def test_the_first_run_and_supplied_facts_are_never_skipped(world_a):
    from payments import engine

    c = _paid_c3(world_a)
    run, _lines = run_period(c.contract, c.jun.id, facts=engine.Facts())
    assert run.mode == "full" and run.facts_version is None
    run, _lines = run_period(c.contract, c.jun.id)
    assert run.mode == "full"  # the last computation's facts were not the contract's own
    run, _lines = run_period(c.contract, c.jun.id, full=True)
    assert run.mode == "full"


@pytest.mark.django_db
def test_a_bulk_write_is_one_mark_per_statement_on_postgresql(world_a):
    _require_postgres("SQLite has only row-level triggers; CI runs this on PostgreSQL.")
    c = _paid_c3(world_a)
    contract_facts_version(c.contract)
    FactChange.objects.all().delete()
    people = [c.prog.person(c.jul) for _ in range(30)]
    ContractFactMark.objects.all().delete()
    FactChange.objects.all().delete()
    made = Claim.objects.bulk_create([Claim(return_record=c.ret, participant=p,
                                            outcome="attachment", achieved=c.jun.start)
                                      for p in people for _ in range(2)])
    assert list(ContractFactMark.objects.values_list("contract_id", flat=True)) == [c.contract.pk]
    # One row per new claim, naming it (the run re-checks each participant from there on).
    assert sorted(FactChange.objects.values_list("participant_id", "claim_id")) == \
        sorted((claim.participant_id, claim.pk) for claim in made)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), count(*) FILTER (WHERE tgtype & 1 = 1) FROM pg_trigger "
                       "WHERE tgname LIKE 'pbr\\_fact\\_change%%'")
        ours, row_level = cursor.fetchone()
    assert ours >= 30 and row_level == 0


@pytest.mark.django_db
def test_the_nightly_fan_out_starts_the_largest_contracts_first(world_a):
    from payments.tasks import run_due_periods
    from pbr.models import Job

    small = _paid_c3(world_a, reference="C3-A-SMALL")
    large = _paid_c3(world_a, reference="C3-B-LARGE")
    for _ in range(3):
        large.prog.person(large.jun)
    assert run_due_periods(today="2011-08-01") == 2
    names = list(Job.objects.order_by("pk").values_list("name", flat=True))
    assert names == [f"Payment run {large.contract.reference}",
                     f"Payment run {small.contract.reference}"]


@pytest.mark.django_db
def test_the_nightly_fan_out_starts_contracts_recomputed_in_full_first(world_a):
    """A capped contract recomputes everyone every month: with no more participants than
    another, it takes longest, so it is not left to the end of the night's queue."""
    from payments.tasks import run_due_periods
    from pbr.models import Job

    small = _paid_c3(world_a, reference="C3-A-SMALL")
    large = _paid_c3(world_a, reference="C3-B-LARGE")
    large.prog.person(large.jun)
    capped = contract_from(world_a, "c5-birmingham.yaml")  # a cap over everyone's lines
    assert run_due_periods(today="2013-05-02") == 3
    names = list(Job.objects.order_by("pk").values_list("name", flat=True))
    assert names == [f"Payment run {ref}" for ref in (
        capped.reference, large.contract.reference, small.contract.reference)]


@pytest.mark.django_db(transaction=True)
def test_concurrent_readers_fold_a_write_into_the_version_once(world_a):
    """Two readers at once (a payment run and a dashboard refresh, say): the second waits for
    the first's fold and sees its number; the write moves the version by one, not two."""
    import threading
    import time

    from django.db import connections, transaction

    _require_postgres("SQLite serialises writers; CI runs this on PostgreSQL.")
    contract = contract_from(world_a, "c3-work-programme.yaml", reference="C3-CONCURRENT")
    before = contract_facts_version(contract)
    TermsVersion.objects.filter(contract=contract).update(reason="A note")  # a write
    folded, results = threading.Event(), {}

    def first():
        try:
            with transaction.atomic():
                results["first"] = contract_facts_version(contract)
                folded.set()
                time.sleep(0.5)  # hold the lock while the second reader asks
        finally:
            connections.close_all()

    def second():
        try:
            folded.wait(10)
            results["second"] = contract_facts_version(contract)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == {"first": before + 1, "second": before + 1}
    assert not ContractFactMark.objects.filter(contract_id=contract.pk).exists()
    assert contract_facts_version(contract) == before + 1
