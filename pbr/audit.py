"""Writing the audit log. Service functions call record(); nothing else writes AuditEvent."""

from django.db import models

from .middleware import current_request_id
from .models import AuditEvent


def _describe(obj):
    if obj is None:
        return "", "", ""
    if isinstance(obj, models.Model):
        return obj._meta.label, str(obj.pk), str(obj)[:300]
    return type(obj).__name__, "", str(obj)[:300]


def record(action, *, actor=None, obj=None, organisation=None, before=None, after=None,
           reason="", actor_label=""):
    """Append one event. `organisation` defaults to the actor's, so each org sees its own trail."""
    object_type, object_id, object_repr = _describe(obj)
    if organisation is None and actor is not None and getattr(actor, "organisation_id", None):
        organisation = actor.organisation
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return AuditEvent.objects.create(
        action=action,
        actor=actor,
        actor_label=actor_label or (actor.get_username() if actor else "system"),
        organisation=organisation,
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr,
        before=before,
        after=after,
        reason=reason,
        request_id=current_request_id() or "",
    )
