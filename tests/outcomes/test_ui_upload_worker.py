"""A large return file through the real broker to a real worker, followed the way the page does
(htmx polling the status partial) until every row is saved."""

import os
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from outcomes.models import Claim, ReturnUpload, UploadStatus
from pbr.celery import app
from pbr.models import Job, JobStatus
from tests.conftest import require_broker

from .corpus import csv_bytes, good_row

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def through_the_broker(celery_worker, settings):
    require_broker()
    if connection.vendor != "postgresql":
        if os.environ.get("PBR_REQUIRE_POSTGRES"):
            pytest.fail("PBR_REQUIRE_POSTGRES is set but the tests are not running on PostgreSQL.")
        pytest.skip("A separate worker process cannot see SQLite's in-memory test database; "
                    "this runs in CI against PostgreSQL.")
    # The worker stores and reads evidence where the test settings say; so must this process.
    from pbr.settings.test import STORAGES

    settings.STORAGES = {**settings.STORAGES, "evidence": STORAGES["evidence"]}
    settings.PBR_UPLOAD_BACKGROUND_BYTES = 100
    eager, queue = app.conf.task_always_eager, app.conf.task_default_queue
    app.conf.task_always_eager = False
    app.conf.task_default_queue = celery_worker["queue"]
    yield
    app.conf.task_always_eager, app.conf.task_default_queue = eager, queue


def test_a_large_upload_is_checked_by_a_worker_while_the_page_polls(client, draft, provider_user,
                                                                   through_the_broker):
    content = csv_bytes(*[good_row(participant_ref=f"CASE-{i}", ni_number=f"AB{i:06d}C")
                          for i in range(1, 201)])
    client.force_login(provider_user)
    response = client.post(f"/returns/{draft.pk}/upload/",
                           {"file": SimpleUploadedFile("two-hundred.csv", content)})
    record = ReturnUpload.objects.get()
    assert response["Location"] == f"/returns/uploads/{record.pk}/"
    deadline = time.monotonic() + 90
    while True:
        partial = client.get(f"/returns/uploads/{record.pk}/", HTTP_HX_REQUEST="true")
        if "hx-trigger" not in partial.content.decode():
            break
        assert time.monotonic() < deadline, "the worker did not finish the check within 90 s"
        time.sleep(0.5)
    record.refresh_from_db()
    assert record.status == UploadStatus.SAVED and record.rows_saved == 200
    assert Claim.objects.filter(return_record=draft).count() == 200
    assert Job.objects.get(pk=record.job_id).status == JobStatus.SUCCEEDED
    assert "200 claim rows added" in partial.content.decode()
