"""Background refresh of the dashboard figures (pbr/dashboards/refresh.py).

Triggers: a payment run's approval (its contract, with the forecast and maximum liability), a
return submitted or a sample drawn (that contract's claims figures, if it has figures already),
the beat schedule every half hour (claims, ledger, verification and committed figures of every
live contract whose inputs changed: ADR 0020) and each night (one task per contract with
forecasts), and a commissioner's "Work the figures out now" (the half-hourly refresh, with
progress).
"""

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from contracts.models import Contract, ContractStatus
from pbr.models import Job, JobStatus

from .refresh import refresh_contract, refresh_contracts

log = logging.getLogger(__name__)


def _live_contract_ids():
    return list(Contract.objects.filter(status__in=(ContractStatus.PUBLISHED, ContractStatus.LIVE))
                .values_list("pk", flat=True))


@shared_task(acks_late=True, soft_time_limit=600, time_limit=720)
def refresh_dashboard_contract(contract_id, with_forecast=True):
    """One contract with its income forecast and maximum liability. Those run the engine and
    the simulator, which can take minutes on a large contract; past the soft limit the contract
    still gets its claims, ledger and verification figures, keeping the last forecast."""
    contract = Contract.objects.filter(pk=contract_id).first()
    if contract is None:
        return None
    try:
        refresh_contract(contract, with_forecast=with_forecast)
    except SoftTimeLimitExceeded:
        log.warning("Forecast for %s took too long; refreshing without it", contract.reference)
        refresh_contract(contract, with_forecast=False)
        return {"refreshed": contract.reference, "forecast": False}
    return {"refreshed": contract.reference, "forecast": with_forecast}


@shared_task
def refresh_dashboards_with_forecasts():
    """Nightly: every live contract with forecasts, one task each, so a slow one holds up none
    of the others."""
    ids = _live_contract_ids()
    for contract_id in ids:
        refresh_dashboard_contract.delay(contract_id, True)
    return len(ids)


@shared_task(acks_late=True)
def refresh_dashboards(contract_ids=None, with_forecast=False, job_id=None):
    """Refresh the given contracts (None: every published or live contract) in turn, recording
    progress in the Job. Idempotent: each refresh replaces the contract's snapshot whole."""
    if contract_ids is None:
        contract_ids = _live_contract_ids()
    jobs = Job.objects.filter(pk=job_id) if job_id else Job.objects.none()
    jobs.update(status=JobStatus.RUNNING, started_at=timezone.now(), total=len(contract_ids))

    def progress(done, reference):
        jobs.update(progress=done, message=f"Worked out {reference}")

    done, failed = refresh_contracts(contract_ids, with_forecast=with_forecast, progress=progress)
    message = f"Worked out the figures for {len(done)} contract{'s' if len(done) != 1 else ''}."
    if failed:
        message += " Could not work out: " + "; ".join(failed)
    jobs.update(status=JobStatus.FAILED if failed and not done else JobStatus.SUCCEEDED,
                finished_at=timezone.now(), message=message)
    return {"refreshed": done, "failed": failed}


def _refresh_when_committed(contract_id):
    """Refresh a contract's claims figures once the write commits, if it has figures at all (a
    contract nobody has looked at yet waits for the half-hourly refresh). Robust: a refresh that
    fails is logged, and never undoes or fails the write that prompted it."""
    from .models import DashboardSnapshot

    if DashboardSnapshot.objects.filter(contract_id=contract_id).exists():
        transaction.on_commit(lambda: refresh_dashboard_contract.delay(contract_id, False),
                              robust=True)


@receiver(post_save, sender="outcomes.Return", dispatch_uid="dashboards-return-submitted")
def return_submitted(sender, instance, update_fields=None, **kwargs):
    """A submitted return adds claims waiting to be sampled: the verification queue's panel
    reads them from the figures (outcomes/verification/queue.py), so work them out now rather
    than at the next half hour (in the meantime the panel counts that contract itself)."""
    if instance.status == "draft":
        return
    if update_fields is not None and "status" not in update_fields:
        return
    _refresh_when_committed(instance.contract_id)


@receiver(post_save, sender="outcomes.Sample", dispatch_uid="dashboards-sample-drawn")
def sample_drawn(sender, instance, created=False, **kwargs):
    """A sample takes claims out of "waiting to be sampled" (and a post-payment check's
    findings change error rates): as for a submitted return."""
    if created:
        _refresh_when_committed(instance.contract_id)


@receiver(post_save, sender="payments.PaymentRun", dispatch_uid="dashboards-run-approved")
def run_approved(sender, instance, update_fields=None, **kwargs):
    """An approved run changes paid-to-date, committed liability and the forecast: refresh its
    contract once the approval has committed."""
    if instance.status != "approved":
        return
    if update_fields is not None and "status" not in update_fields:
        return
    refresh_dashboard_contract.delay_on_commit(instance.contract_id, True)
