"""The returns API's list filters are documented in the schema and checked: a value the database
cannot compare is a 400 naming the parameter, never a server error (found by the API fuzz,
tests/api)."""

import pytest
from rest_framework.test import APIClient

from outcomes.services import add_rows, start_return, submit_return

from .conftest import row

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(provider_user):
    client = APIClient()
    client.force_authenticate(provider_user)
    return client


@pytest.mark.parametrize(("url", "params", "field", "message"), [
    ("/api/v1/claims/", {"return": "abc"}, "return", "A valid integer is required."),
    ("/api/v1/claims/", {"return": str(10**20)}, "return",
     "Ensure this value is less than or equal to 9223372036854775807."),
    ("/api/v1/events/", {"return": "1.5"}, "return", "A valid integer is required."),
    ("/api/v1/returns/", {"contract": "C3\x00"}, "contract", "Null characters are not allowed."),
    ("/api/v1/claims/", {"outcome": "\x00"}, "outcome", "Null characters are not allowed."),
    ("/api/v1/events/", {"participant_ref": "A\x00"}, "participant_ref",
     "Null characters are not allowed."),
    ("/api/v1/datasets/", {"current": "perhaps"}, "current", "Must be a valid boolean."),
])
def test_a_filter_value_that_cannot_match_is_a_400_naming_it(api, url, params, field, message):
    response = api.get(url, params)
    assert response.status_code == 400
    assert response.json() == {field: [message]}


def test_filters_still_select(api, c3, draft, provider_user):
    add_rows(draft, [(2, row())], actor=provider_user)
    submit_return(draft, actor=provider_user)
    other = start_return(c3, "Jul 2013", actor=provider_user)
    add_rows(other, [(2, row(participant_ref="CASE-2", ni_number="AB123457C"))],
             actor=provider_user)
    claims = api.get("/api/v1/claims/", {"return": draft.pk}).json()["results"]
    assert [c["return_record"] for c in claims] == [draft.pk]
    assert api.get("/api/v1/claims/", {"return": ""}).json()["count"] == 2
    returns = api.get("/api/v1/returns/", {"contract": c3.reference, "status": "draft"}).json()
    assert [r["id"] for r in returns["results"]] == [other.pk]
    assert api.get("/api/v1/datasets/", {"current": "true"}).status_code == 200


def test_the_schema_documents_the_filters(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    def names(path):
        return {p["name"] for p in schema["paths"][path]["get"]["parameters"]}

    assert {"return", "status", "outcome"} <= names("/api/v1/claims/")
    assert {"contract", "period", "status"} <= names("/api/v1/returns/")
    assert {"return", "event", "participant_ref"} <= names("/api/v1/events/")
    assert {"contract", "dataset", "current"} <= names("/api/v1/datasets/")


def test_the_schema_names_each_type_an_evidence_download_can_be(api):
    """Found by the API fuzz (tests/api): a PNG was served as image/png while the schema said
    application/octet-stream."""
    from outcomes.evidence import KINDS

    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    download = schema["paths"]["/api/v1/evidence/{evidence_file_pk}/download/"]["get"]
    assert set(download["responses"]["200"]["content"]) == {kind[0] for kind in KINDS.values()}
