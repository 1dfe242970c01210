"""The Celery application. Settings live in Django settings under the CELERY_ namespace."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pbr.settings.dev")

# DjangoTask gives every task .delay_on_commit(), so work is only enqueued once the
# transaction that created its inputs has committed.
app = Celery("pbr", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The beat schedule lives in code so that it is reviewed and versioned like everything else.
app.conf.beat_schedule = {
    "run-due-payment-periods": {
        # Each night after close of business: compute every closed, unapproved period.
        "task": "payments.tasks.run_due_periods",
        "schedule": crontab(hour=2, minute=0),
    },
    "return-deadlines": {
        # Each morning: mark late drafts, email due/overdue reminders once, lock closed periods.
        "task": "outcomes.tasks.return_deadlines",
        "schedule": crontab(hour=6, minute=30),
    },
    "refresh-dashboards": {
        # Every half hour: claims, ledger and verification figures (docs/dashboards.md).
        "task": "pbr.dashboards.tasks.refresh_dashboards",
        "schedule": crontab(minute="*/30"),
        "kwargs": {"with_forecast": False},
    },
    "refresh-dashboards-with-forecasts": {
        # Each night after the payment runs: with income forecasts and maximum liability.
        "task": "pbr.dashboards.tasks.refresh_dashboards_with_forecasts",
        "schedule": crontab(hour=3, minute=30),
    },
    "apply-retention": {
        # Each night: participants and evidence of contracts past PBR_EVIDENCE_RETENTION_DAYS.
        "task": "outcomes.tasks.apply_retention",
        "schedule": crontab(hour=4, minute=15),
    },
    "record-heartbeat": {
        "task": "pbr.tasks.heartbeat",
        "schedule": crontab(minute="*/15"),
    },
}
