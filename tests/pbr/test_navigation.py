"""Each role's navigation offers the sections it can use, and every link works for that role."""

import pytest

from pbr.context_processors import navigation_for
from pbr.models import Role

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("role", "present", "absent"), [
    (Role.COMMISSIONER, {"Contracts", "Verification", "Forecasts"}, {"API tokens", "Admin"}),
    (Role.PROVIDER_MANAGER, {"Returns", "Claims in verification", "Forecasts", "API tokens"},
     {"Verification", "Admin"}),
    (Role.PROVIDER_USER, {"Returns", "Forecasts"}, {"API tokens", "Admin"}),
    (Role.AUDITOR, {"Verification"}, {"Forecasts", "API tokens", "Admin"}),
])
def test_navigation_by_role_and_every_link_answers(client, world_a, role, present, absent):
    user = world_a.users[role]
    items = dict(navigation_for(user))
    assert present <= set(items) and not absent & set(items)
    client.force_login(user)
    for label, url in items.items():
        assert client.get(url, follow=True).status_code == 200, (label, url)
