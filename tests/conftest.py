import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property tests judge correctness, not speed: on a loaded CI machine Hypothesis's timing checks
# (per-example deadlines, "input generation is slow") fail for reasons that are not defects.
settings.register_profile("pbr", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("pbr")

# Django-dependent imports are inside the fixtures so that the pure-engine tests
# (tests/engine) can run with `-p no:django`.

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class World:
    """One organisation of each kind with a user of each role: used to prove isolation."""

    commissioning_body: object
    provider: object
    audit_body: object
    users: dict


def make_world(label):
    from pbr.models import OrganisationKind, Role
    from tests.factories import OrganisationFactory, UserFactory

    commissioning_body = OrganisationFactory(name=f"{label} Council",
                                             kind=OrganisationKind.COMMISSIONING_BODY)
    provider = OrganisationFactory(name=f"{label} Provider", kind=OrganisationKind.PROVIDER)
    audit_body = OrganisationFactory(name=f"{label} Audit", kind=OrganisationKind.AUDIT_BODY)
    org_for = {
        Role.COMMISSIONER: commissioning_body,
        Role.PROVIDER_USER: provider,
        Role.PROVIDER_MANAGER: provider,
        Role.AUDITOR: audit_body,
    }
    users = {role: UserFactory(username=f"{label.lower()}-{role}", role=role, organisation=org)
             for role, org in org_for.items()}
    return World(commissioning_body, provider, audit_body, users)


@pytest.fixture
def world_a(db):
    return make_world("Alpha")


@pytest.fixture
def world_b(db):
    return make_world("Beta")


@pytest.fixture
def site_admin(db):
    from pbr.models import Role
    from tests.factories import UserFactory

    return UserFactory(username="site-admin", role=Role.SITE_ADMIN, organisation=None,
                       is_staff=True, is_superuser=True)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "real_mfa: client.force_login() leaves the two-factor step undone (the test "
                   "exercises it), instead of standing in for a complete sign-in.")


TEST_DEVICE_NAME = "Test device (tests/conftest.py)"


def pass_second_factor(client, user):
    """Mark `client`'s session as having entered a code from an authenticator app, as a real
    sign-in through /account/two-factor/code/ would (a confirmed TOTP device is created for the
    user if they have none). Only for tests that are not about signing in."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TEST_DEVICE_NAME, confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


@pytest.fixture(autouse=True)
def _force_login_is_a_complete_sign_in(request, monkeypatch):
    """`client.force_login(user)` stands in for a complete sign-in: for a role that needs
    two-factor authentication (commissioner, auditor, site admin: pbr/mfa.py) the session is
    also marked as having entered a code, so the ~175 tests that are about something else need
    not go through the code page. Tests about signing in use the real forms, or mark themselves
    `@pytest.mark.real_mfa` to get a session that still owes its code (tests/pbr/test_mfa*.py).
    CONTRIBUTING.md, "Tests and signing in"."""
    if request.node.get_closest_marker("real_mfa"):
        return
    try:
        from django.test import Client
    except ImportError:  # the pure-engine tests run without Django
        return
    original = Client.force_login

    def force_login(self, user, backend=None):
        original(self, user, backend)
        from pbr.mfa import role_requires_mfa

        if role_requires_mfa(user):
            pass_second_factor(self, user)

    monkeypatch.setattr(Client, "force_login", force_login)


@pytest.fixture(autouse=True, scope="session")
def _clean_evidence_root():
    yield
    try:
        from django.conf import settings

        if not settings.configured:
            return
    except ImportError:
        return
    shutil.rmtree(settings.EVIDENCE_ROOT, ignore_errors=True)


def _database_url(settings_dict):
    engine = settings_dict["ENGINE"]
    if "postgresql" in engine:
        host = settings_dict.get("HOST") or "127.0.0.1"
        port = settings_dict.get("PORT") or "5432"
        user = settings_dict.get("USER") or "postgres"
        password = settings_dict.get("PASSWORD") or ""
        auth = f"{user}:{password}@" if password else f"{user}@"
        return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"
    return f"sqlite:///{settings_dict['NAME']}"


def start_worker(queue, name, extra_env=None):
    """Start a real Celery worker on `queue` pointed at the test database; wait until it answers."""
    from django.db import connection

    env = dict(os.environ, DJANGO_SETTINGS_MODULE="pbr.settings.test",
               DATABASE_URL=_database_url(connection.settings_dict), PBR_TEST_WORKER="1")
    env.update(extra_env or {})
    log = open(ROOT / "var" / f"celery-{name}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "pbr", "worker", "--pool=solo", "--concurrency=1",
         "-Q", queue, "--without-gossip", "--without-mingle", "--loglevel=INFO", "-n", f"{name}@%h"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    from pbr.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"Celery worker exited early; see {log.name}")
        if app.control.ping(timeout=1, destination=[f"{name}@{os.uname().nodename}"]):
            return proc, log
    proc.terminate()
    pytest.fail(f"Celery worker did not answer within 60 s; see {log.name}")


def require_broker():
    if not os.environ.get("CELERY_BROKER_URL", ""):
        if os.environ.get("PBR_REQUIRE_BROKER"):
            pytest.fail("PBR_REQUIRE_BROKER is set but CELERY_BROKER_URL is not.")
        pytest.skip("No CELERY_BROKER_URL: set it (CI does) to test through a real broker and worker.")


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker):
    """A real Celery worker process on the real broker, pointed at the test database.

    Skipped without CELERY_BROKER_URL unless PBR_REQUIRE_BROKER is set (CI sets it, so there a
    missing broker fails instead of skipping).
    """
    require_broker()
    queue = f"pbr-test-{os.getpid()}"
    proc, log = start_worker(queue, f"test-{os.getpid()}")
    yield {"queue": queue, "pid": proc.pid, "process": proc}
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
