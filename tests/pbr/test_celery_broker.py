"""A task goes through the real broker to a real worker process and back."""

import os
import uuid

import pytest

from pbr.celery import app
from pbr.tasks import worker_identity

pytestmark = pytest.mark.broker


@pytest.fixture
def not_eager():
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield
    app.conf.task_always_eager = previous


def test_task_runs_in_a_real_worker_through_the_broker(celery_worker, not_eager):
    token = uuid.uuid4().hex
    result = worker_identity.apply_async(args=[token], queue=celery_worker["queue"])
    reply = result.get(timeout=60)
    assert reply["token"] == token
    # It ran in the worker process we started, not in this test process.
    assert reply["pid"] == celery_worker["pid"]
    assert reply["pid"] != os.getpid()
    assert app.conf.broker_url.startswith(("redis://", "rediss://", "amqp://"))


@pytest.mark.django_db(transaction=True)
def test_delay_on_commit_enqueues_only_after_commit(not_eager, monkeypatch):
    """Tasks are enqueued on commit: nothing is sent while the transaction is open."""
    from django.db import transaction

    sent = []
    monkeypatch.setattr(worker_identity, "apply_async", lambda *a, **k: sent.append((a, k)))
    with transaction.atomic():
        worker_identity.delay_on_commit("x")
        assert sent == []
    assert len(sent) == 1
