"""Two auditors deciding the same claim at the same moment: exactly one decision lands.

The claim row is locked (SELECT ... FOR UPDATE) before its state is read, so the second decision
waits for the first to commit and is then refused because the claim is no longer reviewable.
This needs real concurrent connections: PostgreSQL (SQLite has no row locks).
"""

import os
import threading
import time

import pytest
from django.db import connection, connections

from outcomes.models import Claim, ClaimStatus
from outcomes.verification import permissions, services
from pbr.models import AuditEvent

from .conftest import make_claims, set_policy, submitted_return

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _require_postgres():
    if connection.vendor != "postgresql":
        if os.environ.get("PBR_REQUIRE_POSTGRES"):
            pytest.fail("PBR_REQUIRE_POSTGRES is set but the tests are not running on PostgreSQL.")
        pytest.skip("Row locks need PostgreSQL; SQLite serialises writers instead. Set "
                    "DATABASE_URL to a PostgreSQL database (CI does) to run this.")


@pytest.mark.parametrize("second", ["verify", "reject"])
def test_two_auditors_deciding_at_once_exactly_one_lands(c3, world_a, people, monkeypatch,
                                                         second):
    _require_postgres()
    set_policy(c3)
    [claim] = make_claims(submitted_return(c3, world_a.provider), 1, status=ClaimStatus.SAMPLED)

    # Widen the window between reading the claim's state and writing the decision, so without
    # the row lock both decisions would read "selected" and both would be written.
    real = permissions.can_transition

    def slow(*args, **kwargs):
        decision = real(*args, **kwargs)
        time.sleep(0.5)
        return decision

    monkeypatch.setattr(permissions, "can_transition", slow)
    barrier = threading.Barrier(2)
    outcomes = {}

    def decide(name, user, action):
        try:
            barrier.wait(timeout=10)
            if action == "verify":
                services.verify_claim(claim.pk, actor=user, note=f"{name} checked the payslip.")
            else:
                services.reject_claim(claim.pk, actor=user, reason_code="evidence_mismatch",
                                      note=f"{name} found another name on the payslip.")
            outcomes[name] = None
        except services.VerificationError as exc:
            outcomes[name] = str(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=decide, args=("first", people["auditor"], "verify")),
               threading.Thread(target=decide, args=("second", people["auditor2"], second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)

    landed = [name for name, refusal in outcomes.items() if refusal is None]
    refused = [refusal for refusal in outcomes.values() if refusal is not None]
    assert len(landed) == 1, outcomes
    assert len(refused) == 1 and refused[0].startswith("This claim is "), outcomes
    claim = Claim.objects.get(pk=claim.pk)
    winner_action = "verify" if landed == ["first"] else second
    assert claim.status == (ClaimStatus.VERIFIED if winner_action == "verify"
                            else ClaimStatus.REJECTED)
    decisions = AuditEvent.objects.filter(object_type="outcomes.Claim", object_id=str(claim.pk),
                                          action__in=("claim.verified", "claim.rejected"))
    assert decisions.count() == 1
    assert claim.review.decided_by == (people["auditor"] if landed == ["first"]
                                       else people["auditor2"])
