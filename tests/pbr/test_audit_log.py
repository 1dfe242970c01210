import os

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from pbr import audit
from pbr.models import AuditEvent, AuditImmutableError
from tests.factories import audit_event


@pytest.mark.django_db
def test_record_writes_who_what_why_and_request_id(world_a, client):
    user = world_a.users["provider_manager"]
    event = audit.record("thing.changed", actor=user, obj=world_a.provider,
                         before={"a": 1}, after={"a": 2}, reason="because")
    assert event.organisation == world_a.provider
    assert event.actor_label == user.username
    assert event.object_type == "pbr.Organisation"
    assert event.object_id == str(world_a.provider.pk)
    assert (event.before, event.after, event.reason) == ({"a": 1}, {"a": 2}, "because")


@pytest.mark.django_db
def test_request_id_is_recorded_from_the_request(world_a, client):
    from pbr.services import issue_api_token  # noqa: F401  (service used through the view)

    user = world_a.users["provider_manager"]
    client.force_login(user)
    response = client.post("/account/api-tokens/", {"name": "Case system"},
                           HTTP_X_REQUEST_ID="req-123")
    assert response.status_code == 200
    assert response["X-Request-ID"] == "req-123"
    event = AuditEvent.objects.get(action="api_token.issued")
    assert event.request_id == "req-123"


@pytest.mark.django_db
def test_orm_cannot_update_or_delete_an_audit_event(world_a):
    event = audit_event(world_a.provider)
    event.reason = "rewritten"
    with pytest.raises(AuditImmutableError):
        event.save()
    with pytest.raises(AuditImmutableError):
        event.delete()
    with pytest.raises(AuditImmutableError):
        AuditEvent.objects.filter(pk=event.pk).update(reason="rewritten")
    with pytest.raises(AuditImmutableError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(AuditImmutableError):
        AuditEvent.objects.bulk_update([event], ["reason"])
    event.refresh_from_db()
    assert event.reason == ""


@pytest.mark.django_db
def test_raw_sql_cannot_update_or_delete_an_audit_event(world_a):
    if connection.vendor != "postgresql":
        if os.environ.get("PBR_REQUIRE_POSTGRES"):
            pytest.fail("PBR_REQUIRE_POSTGRES is set but the tests are not running on PostgreSQL.")
        pytest.skip("Database-level protection is a PostgreSQL trigger; SQLite has no equivalent "
                    "here, so this runs in CI against PostgreSQL.")
    event = audit_event(world_a.provider)
    table = AuditEvent._meta.db_table
    for sql in (f"UPDATE {table} SET reason = 'x' WHERE id = %s", f"DELETE FROM {table} WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), \
                connection.cursor() as cursor:
            cursor.execute(sql, [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk, reason="").exists()
