import pytest

from contracts.services import import_contract
from pbr.models import Role
from tests.contract_terms.test_import_export import _c2

pytestmark = pytest.mark.django_db


@pytest.fixture
def c2(world_a):
    return import_contract(_c2(), commissioner=world_a.commissioning_body,
                           links={"EFS": world_a.provider}, publish=True)


def test_simulator_shows_c2_years_maximum_liability_and_cliff_edge(client, world_a, c2):
    client.force_login(world_a.users[Role.PROVIDER_USER])  # providers can check before signing
    query = {"simulate": "1",
             "ind__individuals_supported__2011-12": "122", "ind__tenancy_sustainment__2011-12": "99.5",
             "ind__individuals_supported__2012-13": "89", "ind__tenancy_sustainment__2012-13": "96.25"}
    page = client.get(f"/contracts/{c2.pk}/simulate/", query).content.decode()
    assert "£18,960.00" in page and "£9,666.67" in page
    assert page.count("£20,000.00") >= 2  # maximum liability in each year
    assert "Cliff" in page and "£8,000.00" in page  # 109 pays nothing, 110 pays £8,000
    assert "every other measure is set to its best case" in page


def test_simulator_rejects_bad_numbers_by_field(client, world_a, c2):
    client.force_login(world_a.users[Role.COMMISSIONER])
    page = client.get(f"/contracts/{c2.pk}/simulate/",
                      {"simulate": "1", "ind__individuals_supported__2011-12": "lots"}).content.decode()
    assert "There is a problem" in page
    assert "Individuals supported, 2011-12: Enter a number" in page
