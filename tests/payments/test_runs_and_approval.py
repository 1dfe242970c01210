"""Runs from the browser, statements, approval (with a second approver above a value), exports."""

import json

import pytest
from django.test import override_settings

from payments.models import LedgerImmutableError, LedgerLine, PaymentRun, RunStatus
from payments.services import RunError, approve_run, run_period
from pbr.models import Job, JobStatus, Role, User
from tests.engine.test_case_c2 import facts as c2_facts
from tests.payments.scheme import DbRunner

pytestmark = pytest.mark.django_db


@pytest.fixture
def c2(world_a):
    runner = DbRunner("c2-southend.yaml", c2_facts())
    contract = runner.contract
    contract.commissioner = world_a.commissioning_body
    contract.save()
    return runner


def test_commissioner_runs_the_next_period_and_sees_progress_and_statement(
        client, c2, world_a, django_capture_on_commit_callbacks):
    client.force_login(world_a.users[Role.COMMISSIONER])
    # The task is enqueued only when the request's transaction commits.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(f"/payments/contracts/{c2.contract.pk}/run-next/")
    assert len(callbacks) == 1
    job = Job.objects.get()
    assert response["Location"] == f"/jobs/{job.pk}/"
    assert job.status == JobStatus.SUCCEEDED and job.progress == 1
    run = PaymentRun.objects.get()
    assert run.period_id == "Q1 2011-12" and run.status == RunStatus.DRAFT
    page = client.get(f"/payments/contracts/{c2.contract.pk}/").content.decode()
    assert "Q1 2011-12" in page


def test_statement_page_and_csv_explain_every_line(client, c2, world_a):
    c2.run_all(until="Q4 2011-12")
    run = PaymentRun.objects.get(period_id="Q4 2011-12")
    client.force_login(world_a.users[Role.COMMISSIONER])
    page = client.get(f"/payments/runs/{run.pk}/").content.decode()
    assert "£18,960.00" in page
    assert "between the minimum 110 and the stretch 135" in page
    csv = b"".join(client.get(f"/payments/runs/{run.pk}/statement.csv").streaming_content).decode()
    assert "8960.00" in csv and "10000.00" in csv and "explanation" in csv.splitlines()[0]


def test_approval_locks_the_run_and_feeds_the_finance_export(client, c2, world_a):
    c2.run_all(until="Q4 2011-12")
    run = PaymentRun.objects.get(period_id="Q4 2011-12")
    commissioner = world_a.users[Role.COMMISSIONER]
    with pytest.raises(RunError, match="Only a commissioner"):
        approve_run(run, actor=world_a.users[Role.PROVIDER_MANAGER])
    approve_run(run, actor=commissioner)
    run.refresh_from_db()
    assert run.status == RunStatus.APPROVED
    with pytest.raises(RunError, match="approved .* locked"):
        run_period(c2.contract, "Q4 2011-12", facts=c2.facts)
    client.force_login(commissioner)
    csv = b"".join(client.get("/payments/approved.csv").streaming_content).decode()
    assert "Q4 2011-12" in csv and "8960.00" in csv
    # Draft runs are not in the finance export.
    assert "Q1 2011-12" not in csv


@override_settings(PBR_SECOND_APPROVAL_ABOVE="10000")
def test_runs_above_the_threshold_need_two_different_approvers(c2, world_a):
    c2.run_all(until="Q4 2011-12")
    run = PaymentRun.objects.get(period_id="Q4 2011-12")
    first = world_a.users[Role.COMMISSIONER]
    second = User.objects.create(username="second-commissioner", role=Role.COMMISSIONER,
                                 organisation=world_a.commissioning_body)
    run = approve_run(run, actor=first)
    assert run.status == RunStatus.DRAFT and run.approved_by == first
    with pytest.raises(RunError, match="second approver"):
        approve_run(run, actor=first)
    run = approve_run(run, actor=second)
    assert run.status == RunStatus.APPROVED and run.second_approved_by == second


def test_ledger_lines_cannot_be_changed_or_deleted(c2):
    c2.run_all(until="Q4 2011-12")
    line = LedgerLine.objects.exclude(amount=0).first()
    line.amount = 1
    with pytest.raises(LedgerImmutableError):
        line.save()
    with pytest.raises(LedgerImmutableError):
        line.delete()
    with pytest.raises(LedgerImmutableError):
        LedgerLine.objects.filter(pk=line.pk).update(amount=0)
    with pytest.raises(LedgerImmutableError):
        LedgerLine.objects.all().delete()


def test_statement_api_and_run_api(client, c2, world_a):
    c2.run_all(until="Q4 2011-12")
    run = PaymentRun.objects.get(period_id="Q4 2011-12")
    client.force_login(world_a.users[Role.COMMISSIONER])
    data = client.get(f"/api/v1/payment-runs/{run.pk}/statement/").json()
    assert data["total"] == "18960.00"
    assert all(isinstance(line["amount"], str) for line in data["lines"])
    response = client.post(f"/api/v1/contracts/{c2.contract.pk}/run-period/",
                           {"period": "Q1 2012-13"}, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["period"] == "Q1 2012-13"
    response = client.post(f"/api/v1/contracts/{c2.contract.pk}/run-period/",
                           {"period": "Q9 2012-13"}, content_type="application/json")
    assert response.status_code == 400 and "no period called" in response.json()["detail"]
    # Found by the API fuzz (tests/api): a body that is JSON but not an object was a server error.
    for body in (["Q1 2012-13"], "Q1 2012-13", 7):
        response = client.post(f"/api/v1/contracts/{c2.contract.pk}/run-period/",
                               json.dumps(body), content_type="application/json")
        assert response.status_code == 400
        assert response.json() == {"period": "Give the period label, e.g. 'P4 2013-14'."}


def test_a_run_computes_with_the_cyclic_collector_paused(c2, monkeypatch):
    """ADR 0024: collections during a national run were a sixth of its time, for no garbage."""
    import gc

    from payments import engine

    seen = []
    calculate = engine.calculate

    def watched(*args, **kwargs):
        seen.append(gc.isenabled())
        return calculate(*args, **kwargs)

    monkeypatch.setattr(engine, "calculate", watched)
    was = gc.isenabled()
    gc.enable()
    try:
        c2.run_all(until="Q2 2011-12")
        assert seen and not any(seen)
        assert gc.isenabled()
    finally:
        if not was:
            gc.disable()
