"""The environment of a process that loads pbr/settings/production.py, for the tests that check
what a deployment gets (cookies, headers, `check --deploy`, the refusals of development keys)."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def production_env(**extra):
    """This process's environment with production settings and real-looking keys. Keys are
    URL-safe: django-environ reads a value starting with "$" as a reference to another variable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECURE_"))}
    env.update(DJANGO_SETTINGS_MODULE="pbr.settings.production",
               SECRET_KEY=secrets.token_urlsafe(60),
               PSEUDONYM_KEY=secrets.token_urlsafe(48),
               ALLOWED_HOSTS="pbr.example.org",
               DATABASE_URL="sqlite:///" + str(ROOT / "var" / "deploy-check.sqlite3"))
    env.update(extra)
    return env


def python(*args, env=None, timeout=300):
    """Run this venv's Python in the project folder; returns the CompletedProcess."""
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env or production_env(),
                          capture_output=True, text=True, timeout=timeout)
