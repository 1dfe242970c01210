"""Celery tasks for payment runs. Tasks take ids, record progress in a Job, and are idempotent:
a run posts only the difference, so a retried or duplicated task posts nothing new."""

import datetime

from celery import shared_task
from django.db.models import Count
from django.utils import timezone

from contracts.models import Contract
from outcomes.models import Participant
from pbr.models import Job, JobStatus

from .services import RunError, due_periods, live_contracts, recomputed_in_full, run_period


@shared_task(bind=True, acks_late=True)
def run_contract_periods(self, contract_id, period_ids, job_id=None):
    """Compute the given periods of one contract in order (one contract per task fans out)."""
    contract = Contract.objects.get(pk=contract_id)
    job = Job.objects.filter(pk=job_id).first() if job_id else None
    if job:
        Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, started_at=timezone.now(),
                                             total=len(period_ids))
    done = []
    try:
        for i, period_id in enumerate(period_ids, start=1):
            try:
                run_period(contract, period_id, job=job)
            except RunError as exc:
                done.append(f"{period_id}: {exc}")
            if job:
                Job.objects.filter(pk=job.pk).update(progress=i, message=f"Computed {period_id}")
    except Exception as exc:
        if job:
            Job.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, finished_at=timezone.now(),
                                                 message=f"Failed: {exc}")
        raise
    if job:
        Job.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED, finished_at=timezone.now(),
                                             message="; ".join(done) or "All periods computed.")
    return {"contract": contract.reference, "periods": period_ids, "skipped": done}


def enqueue_contract_run(contract, period_ids, *, actor=None):
    """Record a Job and enqueue the computation once the current transaction commits."""
    job = Job.objects.create(name=f"Payment run {contract.reference}", organisation=contract.commissioner,
                             requested_by=actor, total=len(period_ids))
    run_contract_periods.delay_on_commit(contract.pk, list(period_ids), job.pk)
    return job


@shared_task
def run_due_periods(today=None):
    """Beat-scheduled: for each live contract, compute every closed period not yet approved."""
    day = datetime.date.fromisoformat(today) if today else timezone.localdate()
    # Longest first, so that with several workers the last task to start is a short one, not
    # the contract that takes longest: contracts recomputed in full (a cap adds up everyone's
    # lines, so every claim is read and assessed) before those recomputed incrementally, each
    # group largest first (by participants). The first group is enqueued before the second is
    # counted: counting a national programme's participants takes a moment the workers need
    # not wait for.
    contracts = list(live_contracts())
    full = [c for c in contracts if recomputed_in_full(c)]
    queued = 0
    for group in (full, [c for c in contracts if c not in full]):
        sizes = _participants(group)
        for contract in sorted(group, key=lambda c: (-sizes.get(c.pk, 0), c.reference)):
            periods = [p.id for p in due_periods(contract, day)]
            if periods:
                enqueue_contract_run(contract, periods)
                queued += 1
    return queued


def _participants(contracts):
    """{contract id: participants} for the given contracts."""
    if not contracts:
        return {}
    return dict(Participant.objects.filter(contract__in=[c.pk for c in contracts]).order_by()
                .values("contract").annotate(n=Count("id")).values_list("contract", "n"))
