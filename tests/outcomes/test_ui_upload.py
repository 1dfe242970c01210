"""Uploads with progress: small files are checked at once; large ones are stored privately,
checked as a background Job whose progress htmx polls, and are still all-or-nothing."""

import re
from pathlib import Path
from unittest import mock

import pytest
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile

from outcomes import tasks
from outcomes.models import Claim, ReturnUpload, UploadStatus
from pbr.models import AuditEvent, Job, JobStatus, Role

from .corpus import csv_bytes, good_row

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
XHR = {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"}


def rows(n):
    return csv_bytes(*[good_row(participant_ref=f"CASE-{i}", ni_number=f"AB{i:06d}C")
                       for i in range(1, n + 1)])


@pytest.fixture
def big(settings):
    """Make every file 'large' so it goes through the background path."""
    settings.PBR_UPLOAD_BACKGROUND_BYTES = 10


def post(client, draft, content, name="r.csv", **extra):
    return client.post(f"/returns/{draft.pk}/upload/",
                       {"file": SimpleUploadedFile(name, content)}, **extra)


def test_a_small_file_is_checked_at_once(client, draft, provider_user):
    client.force_login(provider_user)
    response = post(client, draft, rows(3))
    assert response.status_code == 302 and response["Location"] == f"/returns/{draft.pk}/"
    assert Claim.objects.count() == 3 and not ReturnUpload.objects.exists()


def test_the_upload_script_gets_json_instead_of_a_redirect(client, draft, provider_user):
    client.force_login(provider_user)
    response = post(client, draft, rows(2), **XHR)
    assert response.json() == {"location": f"/returns/{draft.pk}/"}
    # A refused file answers with the page, whose <main> the script shows in place.
    refused = post(client, draft, csv_bytes(good_row(achieved="2012-02-30")), **XHR)
    assert refused["Content-Type"].startswith("text/html")
    assert "Nothing has been saved" in refused.content.decode()
    assert Claim.objects.count() == 2


def test_a_large_file_is_checked_in_the_background(client, draft, provider_user, big,
                                                  django_capture_on_commit_callbacks):
    client.force_login(provider_user)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post(client, draft, rows(40), name="big.csv")
    record = ReturnUpload.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/returns/uploads/{record.pk}/"
    assert len(callbacks) == 1  # enqueued only once the upload is committed
    storage = storages["evidence"]
    assert record.status == UploadStatus.QUEUED and storage.exists(record.stored_name)
    assert record.stored_name.startswith(f"return-uploads/{draft.provider_id}/")
    assert record.job.status == JobStatus.QUEUED and record.job.organisation == draft.provider
    assert Claim.objects.count() == 0
    # While waiting, the status partial polls itself.
    waiting = client.get(f"/returns/uploads/{record.pk}/", HTTP_HX_REQUEST="true")
    assert 'hx-trigger="every 1s"' in waiting.content.decode()
    assert "Waiting to be checked" in waiting.content.decode()
    assert "<html" not in waiting.content.decode()

    callbacks[0]()  # the worker runs the task

    record.refresh_from_db()
    assert record.status == UploadStatus.SAVED and record.rows_saved == 40
    assert record.kind == "claims" and record.stored_name == ""
    assert not storage.listdir(f"return-uploads/{draft.provider_id}")[1]
    assert Claim.objects.filter(return_record=draft).count() == 40
    job = Job.objects.get(pk=record.job_id)
    assert (job.status, job.progress, job.total, job.percent) == (JobStatus.SUCCEEDED, 2, 2, 100)
    assert job.message == "40 claim rows saved from big.csv."
    done = client.get(f"/returns/uploads/{record.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in done and "File saved" in done and "40 claim rows added" in done
    full = client.get(f"/returns/uploads/{record.pk}/").content.decode()
    assert "big.csv" in full and "File saved" in full
    assert AuditEvent.objects.filter(action="return.file_received").count() == 1
    assert AuditEvent.objects.filter(action="return.claims_added").count() == 1


def test_a_large_file_with_any_bad_row_is_refused_whole_with_the_row_report(
        client, draft, provider_user, big, django_capture_on_commit_callbacks):
    content = csv_bytes(*[good_row(participant_ref=f"CASE-{i}", ni_number=f"AB{i:06d}C")
                          for i in range(1, 30)],
                        good_row(participant_ref="CASE-X", achieved="2012-02-30"),
                        good_row(participant_ref="CASE-Y", outcome="nope"))
    client.force_login(provider_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, draft, content, **XHR)
    record = ReturnUpload.objects.get()
    assert response.json() == {"location": f"/returns/uploads/{record.pk}/"}
    assert record.status == UploadStatus.REFUSED and record.rows_saved == 0
    assert {(p["row"], p["column"]) for p in record.problems} == {(31, "achieved"),
                                                                    (32, "outcome")}
    assert Claim.objects.count() == 0 and record.stored_name == ""
    page = client.get(f"/returns/uploads/{record.pk}/").content.decode()
    assert "2 problems found. Nothing has been saved." in page
    assert re.search(r">31</td>.*<code>achieved</code>", page)
    assert "Upload the corrected file" in page and "hx-trigger" not in page
    assert Job.objects.get(pk=record.job_id).message == (
        "2 problems found in r.csv. Nothing has been saved.")


def test_rerunning_a_finished_upload_saves_nothing_twice(client, draft, provider_user, big,
                                                         django_capture_on_commit_callbacks):
    client.force_login(provider_user)
    with django_capture_on_commit_callbacks(execute=True):
        post(client, draft, rows(5))
    record = ReturnUpload.objects.get()
    assert tasks.import_return_upload(record.pk) == UploadStatus.SAVED
    assert Claim.objects.count() == 5


def test_a_fault_while_checking_fails_the_job_and_keeps_nothing(
        client, draft, provider_user, big, django_capture_on_commit_callbacks):
    client.force_login(provider_user)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        post(client, draft, rows(5))
    record = ReturnUpload.objects.get()
    with mock.patch("outcomes.services.import_file", side_effect=RuntimeError("disk full")), \
            pytest.raises(RuntimeError):
        callbacks[0]()
    record.refresh_from_db()
    assert record.status == UploadStatus.FAILED and record.stored_name == ""
    assert Job.objects.get(pk=record.job_id).status == JobStatus.FAILED
    page = client.get(f"/returns/uploads/{record.pk}/").content.decode()
    assert "The file could not be checked" in page and "Upload the file again" in page
    assert Claim.objects.count() == 0


def test_too_large_a_file_is_refused_before_it_is_stored(client, draft, provider_user, big,
                                                        settings):
    client.force_login(provider_user)
    with mock.patch("outcomes.views.MAX_FILE_BYTES", 100):
        page = post(client, draft, rows(5)).content.decode()
    assert "The file must be smaller than" in page
    assert not ReturnUpload.objects.exists()


def test_the_upload_page_lists_earlier_background_uploads(client, draft, provider_user, big,
                                                          django_capture_on_commit_callbacks):
    client.force_login(provider_user)
    with django_capture_on_commit_callbacks(execute=True):
        post(client, draft, rows(3), name="first.csv")
    record = ReturnUpload.objects.get()
    page = client.get(f"/returns/{draft.pk}/upload/").content.decode()
    assert f'href="/returns/uploads/{record.pk}/">first.csv</a>' in page and "Saved" in page


def test_another_organisation_cannot_see_an_upload(client, world_b, draft, provider_user, big,
                                                   django_capture_on_commit_callbacks):
    client.force_login(provider_user)
    with django_capture_on_commit_callbacks(execute=True):
        post(client, draft, rows(3))
    record = ReturnUpload.objects.get()
    client.force_login(world_b.users[Role.PROVIDER_MANAGER])
    assert client.get(f"/returns/uploads/{record.pk}/").status_code == 404


def test_pages_use_no_inline_script_or_event_handlers(client, draft, provider_user):
    """The CSP forbids inline scripts (bar base.html's one carrying the nonce, ADR 0016):
    behaviour lives in static/js files."""
    client.force_login(provider_user)
    for url in (f"/returns/{draft.pk}/upload/", "/returns/evidence/", "/returns/claims/",
                "/returns/participants/", "/returns/", "/provider/"):
        page = client.get(url).content.decode()
        assert not re.search(r"<script(?![^>]*\b(?:src|nonce)=)[^>]*>", page), url
        assert not re.search(r"\son[a-z]+\s*=", page), url
    upload_page = client.get(f"/returns/{draft.pk}/upload/").content.decode()
    assert 'src="/assets/js/upload-progress.js"' in upload_page
    assert "data-upload-progress" in upload_page and "<progress" in upload_page


def test_the_progress_script_reports_real_upload_bytes():
    script = (ROOT / "static" / "js" / "upload-progress.js").read_text()
    assert 'xhr.upload.addEventListener("progress"' in script
    assert "e.loaded" in script and "e.total" in script
    assert 'setRequestHeader("X-Requested-With", "XMLHttpRequest")' in script
