"""Background refresh of the dashboard figures (pbr/dashboards/refresh.py).

Triggers: a payment run's approval (its contract, with the forecast), the beat schedule every
half hour (claims, ledger and verification figures of every live contract) and each night (the
same with income forecasts), and a commissioner's "Work the figures out now".
"""

from celery import shared_task
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from contracts.models import Contract, ContractStatus
from pbr.models import Job, JobStatus

from .refresh import refresh_contracts


@shared_task(acks_late=True)
def refresh_dashboards(contract_ids=None, with_forecast=True, job_id=None):
    """Refresh the given contracts (None: every published or live contract). Idempotent: each
    refresh replaces the contract's snapshot whole."""
    if contract_ids is None:
        contract_ids = list(Contract.objects.filter(
            status__in=(ContractStatus.PUBLISHED, ContractStatus.LIVE))
            .values_list("pk", flat=True))
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


@receiver(post_save, sender="payments.PaymentRun", dispatch_uid="dashboards-run-approved")
def run_approved(sender, instance, update_fields=None, **kwargs):
    """An approved run changes paid-to-date, committed liability and the forecast: refresh its
    contract once the approval has committed."""
    if instance.status != "approved":
        return
    if update_fields is not None and "status" not in update_fields:
        return
    refresh_dashboards.delay_on_commit([instance.contract_id], True)
