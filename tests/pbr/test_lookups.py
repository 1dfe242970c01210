"""field__anyof (pbr/lookups.py): membership in a list passed as one array on PostgreSQL, an
IN list elsewhere; the same rows either way, for integer, text and foreign-key columns."""

import pytest
from django.db import connection

from pbr.models import Organisation


@pytest.mark.django_db
def test_anyof_finds_the_same_rows_as_in():
    orgs = [Organisation.objects.create(name=f"Org {n}", slug=f"org-{n}") for n in range(5)]
    ids = [orgs[1].pk, orgs[3].pk, 10**9]
    assert set(Organisation.objects.filter(pk__anyof=ids)) == {orgs[1], orgs[3]}
    assert set(Organisation.objects.filter(slug__anyof=["org-0", "org-4", "nobody"])) == {
        orgs[0], orgs[4]}
    assert not Organisation.objects.filter(pk__anyof=[]).exists()
    assert Organisation.objects.exclude(pk__anyof=ids).count() == 3


@pytest.mark.django_db
def test_anyof_is_one_parameter_on_postgresql():
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as seen:
        list(Organisation.objects.filter(pk__anyof=list(range(1, 3001))))
    sql = seen.captured_queries[0]["sql"]
    if connection.vendor == "postgresql":
        assert "= ANY(" in sql and "IN (" not in sql
    else:
        assert "IN (" in sql


@pytest.mark.django_db
def test_many_finds_the_same_rows_and_is_not_walked_by_django(monkeypatch):
    """Many (what chunks() yields) reaches the lookup as it is: Django walks a list or tuple
    value item by item first, looking for expressions."""
    from django.db.models.sql import query

    from pbr.lookups import Many, chunks

    orgs = [Organisation.objects.create(name=f"Org {n}", slug=f"org-{n}") for n in range(5)]
    ids = [orgs[1].pk, orgs[3].pk, 10**9]
    resolved = []
    resolve = query.Query.resolve_lookup_value

    def counting(self, value, *args, **kwargs):
        resolved.append(value)
        return resolve(self, value, *args, **kwargs)

    monkeypatch.setattr(query.Query, "resolve_lookup_value", counting)
    assert set(Organisation.objects.filter(pk__anyof=Many(ids))) == {orgs[1], orgs[3]}
    assert len(resolved) == 1  # the Many itself, not each id
    assert not Organisation.objects.filter(pk__anyof=Many([])).exists()
    parts = list(chunks(range(5), size=2))
    assert all(isinstance(p, Many) for p in parts) and [list(p) for p in parts] == [
        [0, 1], [2, 3], [4]]
