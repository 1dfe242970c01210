"""Data protection primitives of the core: redacting personal data in the audit log, and the
retention period.

The audit log is append-only (ADR 0003). Erasure on request and retention must still remove a
person's data from it, so there is exactly one way to change an event, used only by
outcomes.data_protection: `redact_audit_events`, which may rewrite the text describing the
object, the before/after snapshots and the reason, and nothing else. Who acted, when, which
action on which object, and the request id stay as written. On PostgreSQL the database trigger
enforces the same rule (migration 0004). See docs/adr/0017-erasure-and-retention.md.
"""

import datetime
import re

from django.conf import settings
from django.db import connection, models

from .models import AuditEvent

REDACTED = "[erased]"
REDACTION_SETTING = "pbr.audit_redaction"
REDACTABLE_FIELDS = frozenset({"object_repr", "before", "after", "reason"})


def retention_days():
    return int(settings.PBR_EVIDENCE_RETENTION_DAYS)


def retention_cutoff(today):
    """Contracts that ended before this day are past the retention period."""
    return today - datetime.timedelta(days=retention_days())


def _set_redaction(on):
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # is_local=true: the setting ends with the transaction, whatever happens.
            cursor.execute("SELECT set_config(%s, %s, true)", [REDACTION_SETTING,
                                                                 "on" if on else "off"])


def redact_audit_events(events, rewrite):
    """Rewrite each event of the `events` queryset with `rewrite(event)`, which returns the
    changed fields (a subset of object_repr, before, after, reason) or an empty dict.

    Returns how many events changed. Must run inside the caller's transaction, so the
    redaction commits or rolls back with the erasure it belongs to.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("redact_audit_events must run inside a transaction.")
    changed = 0
    _set_redaction(True)
    try:
        for event in events.order_by("pk").iterator(chunk_size=2000):
            fields = rewrite(event)
            if not fields:
                continue
            unknown = set(fields) - REDACTABLE_FIELDS
            if unknown:
                raise ValueError(f"Audit redaction may not change {', '.join(sorted(unknown))}.")
            # The guarded AuditEventQuerySet.update refuses every change; this is the one
            # sanctioned exception, so it calls the plain QuerySet method on purpose.
            models.QuerySet.update(AuditEvent.objects.filter(pk=event.pk), **fields)
            changed += 1
    finally:
        _set_redaction(False)
    return changed


def _token_pattern(token):
    # A reference is replaced only where it stands alone: "AB1" is not redacted inside "AB12".
    return re.compile(r"(?<![A-Za-z0-9])" + re.escape(token) + r"(?![A-Za-z0-9])")


class Scrubber:
    """Replaces personal references in text and JSON: each `replacements` key (a provider's
    reference) becomes its value (the pseudonym), and every value under a free-text key
    becomes REDACTED."""

    def __init__(self, replacements, free_text_keys=()):
        self.patterns = [(_token_pattern(old), new) for old, new in replacements.items() if old]
        self.free_text_keys = frozenset(free_text_keys)

    def text(self, value):
        for pattern, new in self.patterns:
            value = pattern.sub(new, value)
        return value

    def json(self, value):
        if isinstance(value, dict):
            return {k: (REDACTED if k in self.free_text_keys and v not in (None, "")
                        else self.json(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def event(self, event, *, redact_reason=False, object_repr=None):
        """The changed fields of one audit event (empty when nothing personal is in it)."""
        fields = {}
        repr_ = self.text(event.object_repr) if object_repr is None else object_repr
        if repr_ != event.object_repr:
            fields["object_repr"] = repr_
        for name in ("before", "after"):
            value = getattr(event, name)
            if value is not None:
                new = self.json(value)
                if new != value:
                    fields[name] = new
        reason = (REDACTED if event.reason and event.reason != REDACTED else event.reason) \
            if redact_reason else self.text(event.reason)
        if reason != event.reason:
            fields["reason"] = reason
        return fields

