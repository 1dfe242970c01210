"""Test runs: fast hashing, in-memory email; database and broker still come from the environment."""

from .base import *  # noqa: F403
from .base import VAR_DIR

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Each test run writes evidence under its own folder, removed by the test fixtures.
EVIDENCE_ROOT = VAR_DIR / "test-evidence"
STORAGES["evidence"]["OPTIONS"]["location"] = str(EVIDENCE_ROOT)  # noqa: F405
# Unit tests run tasks in-process for determinism; tests marked `broker` switch this off and
# go through the real broker to a real worker (tests/conftest.py: celery_worker).
CELERY_TASK_ALWAYS_EAGER = True
