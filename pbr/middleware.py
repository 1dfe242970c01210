"""Request ids: taken from X-Request-ID when a proxy sets one, else generated; put on every
audit event and log line of the request, and echoed in the response. And the Permissions-Policy
header, which Django has no setting for (ADR 0016)."""

import contextvars
import logging
import re
import uuid

from django.conf import settings

_request_id = contextvars.ContextVar("request_id", default="")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def current_request_id():
    return _request_id.get()


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response["X-Request-ID"] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    def filter(self, record):
        record.request_id = _request_id.get() or "-"
        return True


class PermissionsPolicyMiddleware:
    """Sends Permissions-Policy (Django has no setting for it) from settings.PERMISSIONS_POLICY:
    feature -> allowed origins, an empty list meaning "nobody, not even this site". A response
    that already has the header (set by its view) keeps it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        header = permissions_policy(getattr(settings, "PERMISSIONS_POLICY", {}))
        if header:
            response.headers.setdefault("Permissions-Policy", header)
        return response


def permissions_policy(features):
    """{"camera": [], "fullscreen": ["self"]} -> 'camera=(), fullscreen=(self)'."""
    parts = []
    for feature, origins in features.items():
        allowed = " ".join("self" if o == "self" else f'"{o}"' for o in origins)
        parts.append(f"{feature}=({allowed})")
    return ", ".join(parts)
