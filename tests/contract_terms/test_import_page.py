"""The web import form names the audit body that verifies the contract's claims, as the command's
--auditor and the API's ?auditor= do."""

from pathlib import Path

import pytest
from django.urls import reverse

from contracts.models import Contract, PartyRole
from pbr.models import Role

C2 = Path(__file__).resolve().parents[2] / "examples" / "contracts" / "c2-southend.yaml"


@pytest.fixture
def signed_in(client, world_a):
    client.force_login(world_a.users[Role.COMMISSIONER])
    return client


@pytest.mark.django_db
def test_the_chosen_audit_body_is_the_contracts_auditor(signed_in, world_a):
    page = signed_in.get(reverse("contract_import")).content.decode()
    assert 'name="auditor"' in page and world_a.audit_body.name in page
    response = signed_in.post(reverse("contract_import"), {
        "text": C2.read_text(), "auditor": world_a.audit_body.pk})
    contract = Contract.objects.get(reference="C2-SOUTHEND")
    assert response.status_code == 302
    assert contract.parties.get(role=PartyRole.AUDITOR).organisation == world_a.audit_body


@pytest.mark.django_db
def test_no_audit_body_is_allowed(signed_in):
    signed_in.post(reverse("contract_import"), {"text": C2.read_text(), "auditor": ""})
    contract = Contract.objects.get(reference="C2-SOUTHEND")
    assert not contract.parties.filter(role=PartyRole.AUDITOR).exists()


@pytest.mark.django_db
def test_an_organisation_that_is_not_an_audit_body_is_refused(signed_in, world_a):
    response = signed_in.post(reverse("contract_import"), {
        "text": C2.read_text(), "auditor": world_a.provider.pk})
    assert response.status_code == 200
    assert "Choose an audit body from the list." in response.content.decode()
    assert not Contract.objects.exists()
