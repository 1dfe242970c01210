"""Celery tasks for returns. Tasks take ids (or an ISO date), are idempotent, and record their
progress in pbr.Job so the pages can show it."""

import datetime

from celery import shared_task
from django.core.files.storage import storages
from django.db import transaction
from django.utils import timezone

from pbr.models import Job, JobStatus

from . import data_protection, reminders, services
from .models import ReturnUpload, UploadStatus
from .validation import ReturnRejected

# Stages a background upload reports: received and stored, then checked and saved (or refused).
UPLOAD_STAGES = 2


@shared_task
def return_deadlines(today=None):
    """Beat-scheduled each morning: mark late drafts, send reminders once, lock closed periods."""
    day = datetime.date.fromisoformat(today) if today else timezone.localdate()
    started = timezone.now()
    result = reminders.run_deadlines(day)
    Job.objects.create(
        name="Return deadlines", status=JobStatus.SUCCEEDED, progress=1, total=1,
        started_at=started, finished_at=timezone.now(),
        message=(f"{day.isoformat()}: {result['marked_late']} return(s) marked late, "
                 f"{result['reminders']} reminder(s) sent, {result['returns_locked']} "
                 "return(s) locked."))
    return result


def _job_update(upload, **fields):
    if upload.job_id:
        Job.objects.filter(pk=upload.job_id).update(**fields)


@shared_task(bind=True, acks_late=True)
def import_return_upload(self, upload_id):
    """Check and save one stored return file, all or nothing.

    The rows and the upload's 'saved' status commit in one transaction, so a retry after a lost
    worker either finds the upload finished (and does nothing) or finds nothing saved.
    """
    upload = ReturnUpload.objects.select_related("return_record", "uploaded_by").get(
        pk=upload_id)
    if upload.is_finished:
        return upload.status
    ReturnUpload.objects.filter(pk=upload.pk).update(status=UploadStatus.RUNNING)
    _job_update(upload, status=JobStatus.RUNNING, started_at=timezone.now(), progress=1,
                total=UPLOAD_STAGES,
                message=f"Checking every row of {upload.original_name}. Nothing is saved "
                        "unless every row is correct.")
    storage = storages["evidence"]
    outcome, message = UploadStatus.FAILED, ""
    try:
        with transaction.atomic():
            locked = ReturnUpload.objects.select_for_update().get(pk=upload.pk)
            if locked.is_finished:
                return locked.status
            with storage.open(upload.stored_name, "rb") as handle:
                kind, saved = services.import_file(upload.return_record, handle,
                                                   upload.original_name,
                                                   actor=upload.uploaded_by)
            locked.status, locked.kind, locked.rows_saved = UploadStatus.SAVED, kind, saved
            locked.save(update_fields=["status", "kind", "rows_saved"])
        outcome = UploadStatus.SAVED
        noun = "indicator row" if kind == "indicators" else f"{kind[:-1]} row"
        message = f"{saved} {noun}{'s' if saved != 1 else ''} saved from {upload.original_name}."
    except ReturnRejected as exc:
        outcome = UploadStatus.REFUSED
        ReturnUpload.objects.filter(pk=upload.pk).update(
            status=outcome, problems=[p.as_dict() for p in exc.problems])
        message = (f"{len(exc.problems)} problem{'s' if len(exc.problems) != 1 else ''} found "
                   f"in {upload.original_name}. Nothing has been saved.")
    except services.ReturnError as exc:
        outcome = UploadStatus.REFUSED
        ReturnUpload.objects.filter(pk=upload.pk).update(
            status=outcome, problems=[{"row": None, "column": "", "message": str(exc),
                                       "code": "return"}])
        message = f"{exc} Nothing has been saved."
    except Exception:
        ReturnUpload.objects.filter(pk=upload.pk).update(status=UploadStatus.FAILED)
        _job_update(upload, status=JobStatus.FAILED, finished_at=timezone.now(),
                    message="The file could not be checked because of a fault on our side. "
                            "Nothing has been saved; upload it again.")
        _discard(storage, upload)
        raise
    _discard(storage, upload)
    _job_update(upload, status=JobStatus.SUCCEEDED, finished_at=timezone.now(),
                progress=UPLOAD_STAGES, message=message)
    return outcome


def _discard(storage, upload):
    """The uploaded file is not kept once checked: saved rows live in the database, and a
    refused file must leave nothing behind."""
    if upload.stored_name:
        storage.delete(upload.stored_name)
        ReturnUpload.objects.filter(pk=upload.pk).update(stored_name="")


@shared_task
def apply_retention(today=None):
    """Beat-scheduled each night: erase the participants and evidence of contracts past the
    retention period (outcomes/data_protection.py; docs/security.md, "Retention")."""
    day = datetime.date.fromisoformat(today) if today else timezone.localdate()
    started = timezone.now()
    report = data_protection.apply_retention(today=day)
    total = report.total
    Job.objects.create(
        name="Retention", started_at=started, finished_at=timezone.now(), progress=1, total=1,
        status=JobStatus.FAILED if total.file_errors else JobStatus.SUCCEEDED,
        message=(f"{day.isoformat()}: contracts ended before {report.cutoff.isoformat()}: "
                 f"{total.participants} participant(s) pseudonymised, "
                 f"{len(total.files_deleted)} evidence file(s) deleted"
                 + (f"; {len(total.file_errors)} stored file(s) could not be deleted: "
                    + ", ".join(total.file_errors) if total.file_errors else "") + "."))
    return {"participants": total.participants, "files_deleted": len(total.files_deleted),
            "file_errors": len(total.file_errors)}
