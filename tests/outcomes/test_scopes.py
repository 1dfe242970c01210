"""for_user(): provider sees its own rows, the managing commissioner and the contract's auditor
see the contract's rows, nobody else sees anything."""

import pytest

from outcomes.models import Claim, EvidenceFile, IndicatorReturn, Participant, Return
from outcomes.services import add_rows, submit_return
from pbr.models import Role

from .conftest import row

MODELS = (Return, Claim, Participant)


@pytest.mark.django_db
def test_scopes_by_role(client, world_a, world_b, draft, provider_user, site_admin):
    add_rows(draft, [(2, row())], actor=provider_user)
    submit_return(draft, actor=provider_user)
    for role in (Role.PROVIDER_USER, Role.PROVIDER_MANAGER, Role.COMMISSIONER, Role.AUDITOR):
        for model in MODELS:
            assert model.objects.for_user(world_a.users[role]).count() == 1, (role, model)
            assert model.objects.for_user(world_b.users[role]).count() == 0, (role, model)
    assert Return.objects.for_user(site_admin).count() == 1
    assert IndicatorReturn.objects.for_user(world_b.users[Role.AUDITOR]).count() == 0
    assert EvidenceFile.objects.for_user(world_b.users[Role.PROVIDER_USER]).count() == 0
    client.force_login(world_a.users[Role.AUDITOR])
    assert "Jun 2013" in client.get("/returns/").content.decode()
    client.force_login(world_b.users[Role.PROVIDER_USER])
    assert "Jun 2013" not in client.get("/returns/").content.decode()
    assert client.get("/api/v1/claims/").json()["results"] == []
