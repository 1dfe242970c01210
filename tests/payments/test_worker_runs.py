"""Payment runs through a real broker and real workers, including a worker killed mid-run."""

import os
import signal
import time

import pytest
from django.db import connection

from payments.models import LedgerLine, PaymentRun
from payments.services import run_period
from payments.tasks import run_contract_periods
from pbr.celery import app
from tests.conftest import require_broker, start_worker
from tests.payments.scheme import DbRunner

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]

PERIODS = [f"P{n} 2013-14" for n in range(1, 14)]


@pytest.fixture
def not_eager():
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield
    app.conf.task_always_eager = previous


def _ledger(contract):
    return sorted(LedgerLine.objects.filter(contract=contract)
                  .values_list("period_id", "key", "amount", "shadow"))


def _require_postgres():
    require_broker()
    if connection.vendor != "postgresql":
        if os.environ.get("PBR_REQUIRE_POSTGRES"):
            pytest.fail("PBR_REQUIRE_POSTGRES is set but the tests are not running on PostgreSQL.")
        pytest.skip("A separate worker process cannot see SQLite's in-memory test database; "
                    "this runs in CI against PostgreSQL.")


def test_a_run_goes_through_the_broker_to_a_worker(celery_worker, not_eager):
    _require_postgres()
    runner = DbRunner("c1-derbyshire.yaml", None)
    result = run_contract_periods.apply_async(args=[runner.contract.pk, PERIODS[:4]],
                                              queue=celery_worker["queue"])
    assert result.get(timeout=120)["periods"] == PERIODS[:4]
    assert PaymentRun.objects.filter(contract=runner.contract).count() == 4
    assert runner.paid_in("P1 2013-14") == 20000


def test_worker_killed_mid_run_then_rerun_leaves_the_uninterrupted_ledger(not_eager):
    _require_postgres()
    # The reference ledger: the same contract run uninterrupted, in this process.
    reference = DbRunner("c1-derbyshire.yaml", None)
    for period in PERIODS:
        run_period(reference.contract, period)
    expected = _ledger(reference.contract)
    reference_ref = reference.contract.reference
    reference.contract.reference = "C1-REFERENCE"
    reference.contract.save(update_fields=["reference"])
    assert reference_ref == "C1-DERBYSHIRE"

    victim = DbRunner("c1-derbyshire.yaml", None)
    queue = f"pbr-kill-{os.getpid()}"
    proc, log = start_worker(queue, f"kill-{os.getpid()}", {"PBR_TEST_RUN_PAUSE": "0.4"})
    try:
        run_contract_periods.apply_async(args=[victim.contract.pk, PERIODS], queue=queue)
        deadline = time.monotonic() + 60
        while PaymentRun.objects.filter(contract=victim.contract).count() < 4:
            assert time.monotonic() < deadline, "the worker made no progress"
            time.sleep(0.05)
        # Mid-way through a later period's transaction: SIGKILL, no chance to clean up.
        time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    partial = PaymentRun.objects.filter(contract=victim.contract).count()
    assert 4 <= partial < len(PERIODS), "the kill must land part-way"
    # No half-written computation: every run's lines are whole (core + uplift per period).
    assert all(len({k for p, k, *_ in _ledger(victim.contract) if p == run.period_id}) >= 2
               for run in PaymentRun.objects.filter(contract=victim.contract, computations__gt=0))

    # Re-run the whole job on a fresh worker.
    proc, log = start_worker(queue, f"rerun-{os.getpid()}")
    try:
        result = run_contract_periods.apply_async(args=[victim.contract.pk, PERIODS], queue=queue)
        result.get(timeout=180)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
    assert _ledger(victim.contract) == expected
