"""The verification API: every transition, with 403 (role, organisation), 409 (state) and 400
(input) refusals that carry the reason; samples, checks and the policy."""

import pytest
from rest_framework.test import APIClient

from outcomes.models import Claim, ClaimStatus
from outcomes.verification import services
from outcomes.verification.models import Sample, VerificationPolicy
from pbr.models import Role
from pbr.services import issue_api_token

from .conftest import evidence_file, make_claims, set_policy, submitted_return

S = ClaimStatus
BASE = "/api/v1/verification"


def _as(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def claim(c3, world_a):
    set_policy(c3)
    [claim] = make_claims(submitted_return(c3, world_a.provider), 1, status=S.PASSED)
    return claim


@pytest.mark.django_db
def test_every_transition_through_the_api(c3, world_a, people, claim):
    auditor, commissioner = _as(people["auditor"]), _as(people["commissioner2"])
    # The provider's case system, with an organisation token.
    _token, key = issue_api_token(actor=people["provider_manager"], organisation=world_a.provider,
                                  name="Case system")
    provider = APIClient()
    provider.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    url = f"{BASE}/claims/{claim.pk}"

    assert auditor.post(f"{url}/select/", {"note": "Spot check"}, format="json").json()[
        "status"] == S.SAMPLED
    assert auditor.post(f"{url}/start-review/").json()["status"] == S.UNDER_REVIEW
    response = auditor.post(f"{url}/query/", {"text": "Send the payslip."}, format="json")
    assert response.status_code == 200 and response.json()["queries"][0]["text"] == \
        "Send the payslip."
    proof = evidence_file(world_a.provider, "payslip.pdf")
    response = provider.post(f"{url}/respond/", {"text": "Attached.", "evidence": [f"E{proof.pk}"]},
                             format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["queries"][0]["evidence"] == [f"E{proof.pk}"]
    response = auditor.post(f"{url}/reject/", {"reason_code": "evidence_mismatch",
                                               "note": "Another name."}, format="json")
    body = response.json()
    assert body["status"] == S.REJECTED and body["review"]["reason_code"] == "evidence_mismatch"
    assert "You can appeal until" in body["explanation"]
    assert provider.post(f"{url}/appeal/", {"grounds": "Same person, maiden name."},
                         format="json").json()["status"] == S.APPEALED
    response = commissioner.post(f"{url}/decide-appeal/", {"upheld": True,
                                                           "note": "Marriage certificate."},
                                 format="json")
    assert response.json()["status"] == S.VERIFIED
    assert response.json()["appeals"][0]["upheld"] is True
    response = auditor.post(f"{url}/finding/", {"reason_code": "not_achieved",
                                                "note": "Job ended in week 2."}, format="json")
    assert response.json()["status"] == S.REJECTED
    assert response.json()["review"]["after_payment"] is True
    history = [h["action"] for h in auditor.get(f"{url}/").json()["history"]]
    assert history == ["claim.selected", "claim.review_started", "claim.query_raised",
                       "claim.query_answered", "claim.rejected", "claim.appealed",
                       "claim.appeal_upheld", "claim.finding_recorded"]


@pytest.mark.django_db
def test_refusals_are_403_409_or_400_with_the_reason(c3, world_b, people, claim):
    url = f"{BASE}/claims/{claim.pk}"
    response = _as(people["provider_manager"]).post(f"{url}/verify/")
    assert response.status_code == 403
    assert response.json()["detail"] == ("Only the contract's auditor or its commissioner "
                                          "verify claims.")
    response = _as(people["auditor"]).post(f"{url}/verify/")
    assert response.status_code == 409
    assert response.json()["detail"].startswith("This claim is checks passed: only a claim that "
                                                "is selected for verification")
    response = _as(people["auditor"]).post(f"{url}/reject/", {"reason_code": "nonsense"},
                                           format="json")
    assert response.status_code == 400 and "reason_code" in response.json()
    services.select_claim(claim, actor=people["auditor"])
    response = _as(people["auditor"]).post(f"{url}/reject/", {"reason_code": "other"},
                                           format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == "Explain the reason in the note when you choose ‘Other’."
    # Another organisation's claim is not found at all.
    assert _as(world_b.users[Role.AUDITOR]).post(f"{url}/verify/").status_code == 404
    assert Claim.objects.get(pk=claim.pk).status == S.SAMPLED


@pytest.mark.django_db
def test_queue_and_bulk_through_the_api(c3, world_a, people):
    set_policy(c3, mode="verify_all")
    claims = make_claims(submitted_return(c3, world_a.provider), 4)
    services.draw_sample(c3, actor=people["auditor"], seed=2)
    auditor = _as(people["auditor"])
    listed = auditor.get(f"{BASE}/claims/", {"status": "sampled"}).json()
    assert listed["count"] == 4 and listed["results"][0]["explanation"].startswith("Selected")
    response = auditor.post(f"{BASE}/claims/bulk/", {
        "claims": [c.pk for c in claims[:3]], "decision": "verify"}, format="json")
    assert [r["done"] for r in response.json()["results"]] == [True, True, True]
    assert auditor.get(f"{BASE}/claims/", {"status": "verified"}).json()["count"] == 3
    assert auditor.post(f"{BASE}/claims/bulk/", {"claims": [999999], "decision": "verify"},
                        format="json").status_code == 404
    provider = _as(people["provider_user"]).get(f"{BASE}/claims/").json()
    assert provider["count"] == 4  # a provider lists its own claims in verification


@pytest.mark.django_db
def test_bulk_refuses_claim_ids_no_claim_can_have(c3, world_a, people):
    """Found by the API fuzz (tests/api): an id beyond the database's integer range was a
    server error; it is a 400 naming the field and the position."""
    auditor = _as(people["auditor"])
    for bad in (2**63, 10**30, 0, -5):
        response = auditor.post(f"{BASE}/claims/bulk/", {"claims": [1, bad], "decision": "verify"},
                                format="json")
        assert response.status_code == 400, response.content
        assert set(response.json()) == {"claims"} and "1" in response.json()["claims"]


@pytest.mark.django_db
@pytest.mark.parametrize(("params", "field"), [
    ({"allocated": "\u00b2"}, "allocated"),  # a digit to str.isdigit(), not to int()
    ({"contract": "C3"}, "contract"), ({"provider": "-1"}, "provider"),
    ({"due_before": "soon"}, "due_before"), ({"outcome": "a\x00"}, "outcome"),
])
def test_queue_filters_refuse_what_cannot_be_compared(c3, people, params, field):
    """Found by the API fuzz (tests/api): the queue's filters reached the database unchecked."""
    response = _as(people["auditor"]).get(f"{BASE}/claims/", params)
    assert response.status_code == 400
    assert list(response.json()) == [field]


@pytest.mark.django_db
def test_policy_values_have_the_documented_types(c3, people):
    """Found by the API fuzz (tests/api): the policy came back as the sample snapshot's strings
    ("True", "20") where the schema documents booleans and whole numbers."""
    auditor, commissioner = _as(people["auditor"]), _as(people["commissioner"])
    defaults = auditor.get(f"{BASE}/policies/{c3.pk}/").json()
    assert defaults["is_set"] is False and defaults["check_duplicates"] is True
    assert isinstance(defaults["review_days"], int) and defaults["sample_pct"] == "10.00"
    saved = commissioner.patch(f"{BASE}/policies/{c3.pk}/", {"review_days": 15,
                                                              "check_outliers": False},
                               format="json").json()
    assert saved["is_set"] is True and saved["review_days"] == 15
    assert saved["check_outliers"] is False and saved["value_threshold"] is None


@pytest.mark.django_db
def test_schema_describes_what_the_verification_api_returns(client, people):
    """Found by the API fuzz (tests/api): undecided appeals, unanswered queries and open reviews
    hold nulls the schema did not allow, and bulk answered a shape the schema did not name."""
    client.force_login(people["auditor"])
    schemas = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()[
        "components"]["schemas"]
    for component, fields in {
        "Appeal": ["decided_by", "decided_at"],
        "Query": ["responded_by", "responded_at"],
        "Review": ["sample", "allocated_to", "due_date", "decided_by", "decided_at",
                   "rejected_by", "rejected_at"],
    }.items():
        for name in fields:
            assert schemas[component]["properties"][name].get("nullable") is True, (component,
                                                                                   name)
    assert set(schemas["BulkResults"]["properties"]) == {"results"}
    assert set(schemas["BulkResult"]["properties"]) == {"claim", "done", "refused"}
    assert schemas["Policy"]["properties"]["is_set"]["type"] == "boolean"


@pytest.mark.django_db
def test_samples_checks_and_policy_through_the_api(c3, world_a, people):
    commissioner, auditor = _as(people["commissioner"]), _as(people["auditor"])
    assert auditor.get(f"{BASE}/policies/{c3.pk}/").json()["is_set"] is False
    response = auditor.put(f"{BASE}/policies/{c3.pk}/", {"mode": "sample"}, format="json")
    assert response.status_code == 403
    response = commissioner.patch(f"{BASE}/policies/{c3.pk}/", {
        "mode": "sample", "sample_pct": "20", "check_new_providers": False}, format="json")
    assert response.status_code == 200 and response.json()["sample_pct"] == "20.00"
    assert VerificationPolicy.objects.get(contract=c3).sample_pct == 20
    make_claims(submitted_return(c3, world_a.provider), 10)
    response = auditor.post(f"{BASE}/samples/", {"contract": c3.reference, "kind": "selection",
                                                 "seed": 123}, format="json")
    assert response.status_code == 201, response.json()
    sample = response.json()
    assert sample["seed"] == 123 and sample["sample_size"] == 2 and len(sample["items"]) == 2
    again = auditor.get(f"{BASE}/samples/{sample['id']}/reproduce/").json()
    assert again["matches"] is True
    assert sorted(again["claims"]) == sorted(i["claim"] for i in sample["items"])
    response = auditor.post(f"{BASE}/samples/", {"contract": c3.reference, "kind": "check",
                                                 "period_from": "Jun 2012"}, format="json")
    assert response.status_code == 409 and "No paid claims" in response.json()["detail"]
    assert _as(people["provider_manager"]).post(
        f"{BASE}/samples/", {"contract": c3.reference, "kind": "selection"},
        format="json").status_code == 403
    assert Sample.objects.count() == 1
