"""Production settings send the session and CSRF cookies only over HTTPS, out of JavaScript's
reach, and not with cross-site requests (ADR 0015). Checked on real cookies made by Django's
middleware in a process started with production settings."""

import json
from pathlib import Path

from tests.production_env import production_env, python

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json
import django
from django.conf import settings
django.setup()
from django.core.management import call_command
from django.http import HttpResponse
from django.middleware.csrf import CsrfViewMiddleware, get_token
from django.contrib.sessions.middleware import SessionMiddleware
from django.test import RequestFactory

call_command("migrate", "sessions", verbosity=0)

def view(request):
    request.session["signed_in"] = True
    get_token(request)
    return HttpResponse("ok")

request = RequestFactory().get("/", secure=True, HTTP_HOST="pbr.example.org")
handler = SessionMiddleware(CsrfViewMiddleware(view))
response = handler(request)
cookies = {}
for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME):
    morsel = response.cookies[name]
    cookies[name] = {key: morsel[key] for key in ("secure", "httponly", "samesite", "expires",
                                                   "max-age")}
print(json.dumps({"cookies": cookies, "settings": {
    "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
    "CSRF_COOKIE_SECURE": settings.CSRF_COOKIE_SECURE,
    "SESSION_EXPIRE_AT_BROWSER_CLOSE": settings.SESSION_EXPIRE_AT_BROWSER_CLOSE,
}}))
"""


def test_production_cookies_are_secure_httponly_and_same_site():
    result = python("-c", SCRIPT, env=production_env(DATABASE_URL="sqlite://:memory:"))
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["settings"] == {"SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True,
                                 "SESSION_EXPIRE_AT_BROWSER_CLOSE": True}
    session, csrf = found["cookies"]["sessionid"], found["cookies"]["csrftoken"]
    assert session["secure"] is True and session["httponly"] is True
    assert session["samesite"] == "Lax"
    assert session["expires"] == "" and session["max-age"] == ""  # ends with the browser
    assert csrf["secure"] is True and csrf["httponly"] is True and csrf["samesite"] == "Lax"
