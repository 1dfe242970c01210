import importlib
import os
from unittest import mock

from django.core.files.storage import storages


def test_evidence_storage_defaults_to_a_private_folder_without_urls():
    import pytest

    storage = storages["evidence"]
    with pytest.raises(NotImplementedError, match="no public URL"):
        storage.url("anything.pdf")
    assert storage.file_permissions_mode == 0o600


def test_evidence_storage_uses_s3_when_a_bucket_is_configured():
    import pbr.settings.base as base

    with mock.patch.dict(os.environ, {"EVIDENCE_S3_BUCKET": "pbr-evidence",
                                      "EVIDENCE_S3_ENDPOINT_URL": "https://s3.example.org"}):
        reloaded = importlib.reload(base)
        config = reloaded.STORAGES["evidence"]
    importlib.reload(base)
    assert config["BACKEND"] == "storages.backends.s3.S3Storage"
    assert config["OPTIONS"]["bucket_name"] == "pbr-evidence"
    assert config["OPTIONS"]["default_acl"] == "private"
    import storages.backends.s3  # noqa: F401  (boto3 is installed, so the backend imports)


def test_no_broker_means_tasks_run_in_process():
    import pbr.settings.base as base

    with mock.patch.dict(os.environ, {"CELERY_BROKER_URL": ""}):
        reloaded = importlib.reload(base)
        eager, broker = reloaded.CELERY_TASK_ALWAYS_EAGER, reloaded.CELERY_BROKER_URL
    importlib.reload(base)
    assert eager is True and broker == "memory://"
