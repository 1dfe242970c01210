"""The auditor's home page counts their work and links to it in the queue."""

import pytest

from outcomes.verification import services
from tests.verification.conftest import make_claims, set_policy, submitted_return

pytestmark = pytest.mark.django_db


def test_auditor_home_counts_allocated_unallocated_and_queried(client, world_a, c3, people):
    set_policy(c3, mode="verify_all")
    ret = submitted_return(c3, world_a.provider)
    first, second, third = make_claims(ret, 3)
    auditor = people["auditor"]
    for claim in (first, second, third):
        services.select_claim(claim, actor=auditor)
    services.start_review(first, actor=auditor)  # allocates it to the auditor
    services.start_review(second, actor=people["auditor2"])
    services.raise_query(second, actor=people["auditor2"], text="Which employer?")

    client.force_login(auditor)
    page = client.get("/auditor/").content.decode()
    assert "Claims allocated to you: 1" in page
    assert "Claims nobody has been allocated yet: 1" in page
    assert "Queries waiting on providers: 1" in page
    assert "?allocated=me" in page and "?status=queried" in page
    queue = client.get("/verification/?allocated=me").content.decode()
    assert f"/verification/claims/{first.pk}/" in queue
    assert f"/verification/claims/{second.pk}/" not in queue
