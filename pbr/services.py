"""State changes for the core. Each writes an audit event in the same transaction."""

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from . import audit
from .models import ApiToken, Organisation, hash_token_key


@transaction.atomic
def issue_api_token(*, actor, organisation, name):
    """Create a token and return (token, key). The key is shown once and never stored."""
    key = ApiToken.generate_key()
    token = ApiToken.objects.create(
        organisation=organisation, name=name, prefix=key[:8], key_hash=hash_token_key(key),
        created_by=actor,
    )
    audit.record("api_token.issued", actor=actor, obj=token, organisation=organisation,
                 after={"name": name, "prefix": token.prefix})
    return token, key


@transaction.atomic
def revoke_api_token(*, actor, token, reason=""):
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is not None:
        return token
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit.record("api_token.revoked", actor=actor, obj=token, organisation=token.organisation,
                 before={"active": True}, after={"active": False}, reason=reason)
    return token


def organisation_counts():
    rows = Organisation.objects.values("kind").annotate(n=Count("id"))
    return {row["kind"]: row["n"] for row in rows}
