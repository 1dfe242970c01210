"""The outcomes models in the Django admin: every one registered, viewable by site admins, and
changeable by nobody (changes go through the audited services)."""

import datetime

import pytest
from django.apps import apps
from django.contrib import admin

from outcomes.models import (
    DatasetUpload,
    DatasetValue,
    EvidenceFile,
    IndicatorReturn,
    Participant,
    ParticipantEvent,
    ReturnReminder,
    ReturnUpload,
)
from outcomes.services import add_rows, submit_return
from tests.outcomes.factories import bulk_claims

from .conftest import row

pytestmark = pytest.mark.django_db


def test_every_outcomes_model_in_this_release_is_registered():
    expected = {"participant", "return", "claim", "indicatorreturn", "evidencefile",
                "participantevent", "returnreminder", "returnupload", "datasetupload",
                "datasetvalue"}
    registered = {m._meta.model_name for m in admin.site._registry
                  if m._meta.app_label == "outcomes"}
    assert expected <= registered
    assert expected <= {m._meta.model_name for m in apps.get_app_config("outcomes").get_models()}


@pytest.fixture
def one_of_each(c3, draft, provider_user):
    add_rows(draft, [(2, row())], actor=provider_user)
    submit_return(draft, actor=provider_user)
    participant = Participant.objects.get()
    IndicatorReturn.objects.create(return_record=draft, indicator="ind", measure_period="Jun 2013",
                                   value=1)
    evidence = EvidenceFile.objects.create(
        organisation=draft.provider, original_name="a.txt", stored_name="x/a.txt",
        content_type="text/plain", size=1, sha256="0" * 64)
    bulk_claims(draft, 1, prefix="B", evidence=evidence)
    ParticipantEvent.objects.create(return_record=draft, participant=participant,
                                    event="adverse", occurred=datetime.date(2012, 1, 1))
    ReturnReminder.objects.create(contract=c3, provider=draft.provider, period_id="Jun 2013",
                                  kind="due_soon", due_date=datetime.date(2013, 7, 10),
                                  sent_on=datetime.date(2013, 7, 5))
    ReturnUpload.objects.create(return_record=draft, original_name="r.csv", size=5,
                                status="saved", rows_saved=1)
    upload = DatasetUpload.objects.create(contract=c3, original_name="d.csv", sha256="1" * 64)
    DatasetValue.objects.create(upload=upload, contract=c3, dataset="baseline", period="2013-14",
                                value=5)


def test_site_admins_can_view_each_record_and_change_none(client, site_admin, one_of_each):
    client.force_login(site_admin)
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label != "outcomes":
            continue
        name = model._meta.model_name
        base = f"/admin/outcomes/{name}/"
        listing = client.get(base)
        assert listing.status_code == 200, name
        obj = model.objects.first()
        assert obj is not None, f"make one {name} in the fixture"
        detail = client.get(f"{base}{obj.pk}/change/")
        assert detail.status_code == 200, name
        assert 'name="_save"' not in detail.content.decode(), name
        assert client.post(f"{base}{obj.pk}/change/", {}).status_code == 403, name
        assert client.get(f"{base}add/").status_code == 403, name
        assert client.post(f"{base}{obj.pk}/delete/", {"post": "yes"}).status_code == 403, name
        assert model.objects.filter(pk=obj.pk).exists()
        assert not model_admin.has_add_permission(listing.wsgi_request)


def test_people_who_are_not_site_admins_are_sent_to_the_admin_sign_in(client, provider_user):
    client.force_login(provider_user)
    response = client.get("/admin/outcomes/claim/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
