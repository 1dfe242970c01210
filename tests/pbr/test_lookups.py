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
