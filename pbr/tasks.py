"""Core background tasks."""

import os
import socket

from celery import shared_task
from django.utils import timezone

from .models import Job, JobStatus


@shared_task
def heartbeat():
    """Beat-scheduled: proves the scheduler and a worker are alive; shown to site admins."""
    now = timezone.now()
    job = Job.objects.create(name="heartbeat", status=JobStatus.SUCCEEDED, progress=1, total=1,
                             started_at=now, finished_at=now,
                             message=f"Worker {socket.gethostname()} pid {os.getpid()}")
    return job.pk


@shared_task
def worker_identity(token):
    """Echo a token with the worker's identity; used to prove a task crossed a real broker."""
    return {"token": token, "pid": os.getpid(), "hostname": socket.gethostname()}
