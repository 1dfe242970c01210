"""The verification pages: queue (filters, pagination, CSV, allocation, bulk), the claim review page
(evidence inline, history, actions by role), the provider's view, samples and the policy form."""

import datetime

import pytest

from outcomes.models import Claim, ClaimStatus
from outcomes.verification import services
from outcomes.verification.models import Sample, VerificationPolicy
from pbr.models import AuditEvent, Role
from tests.outcomes.conftest import c3_document, make_contract

from .conftest import evidence_file, make_claims, set_policy, submitted_return

S = ClaimStatus


@pytest.fixture
def sampled(c3, world_a, people):
    """Twelve claims selected for verification on C3, one with a PDF and an image."""
    set_policy(c3, mode="verify_all")
    ret = submitted_return(c3, world_a.provider)
    claims = make_claims(ret, 12)
    pdf = evidence_file(world_a.provider, "payslip.pdf")
    png = evidence_file(world_a.provider, "letter.png", evidence_type="employer_letter")
    claims[0].evidence_files.add(pdf, png)
    services.draw_sample(c3, actor=people["auditor"], seed=4)
    return claims


def _text(response):
    return response.content.decode()


@pytest.mark.django_db
def test_auditor_queue_lists_only_audited_contracts_and_filters(client, c3, world_a, world_b,
                                                                people, sampled):
    other = make_contract(world_b, c3_document(), reference="C3-BETA")
    set_policy(other, mode="verify_all")
    make_claims(submitted_return(other, world_b.provider), 3)
    services.draw_sample(other, actor=world_b.users[Role.AUDITOR], seed=1)

    client.force_login(people["auditor"])
    page = _text(client.get("/verification/"))
    assert f"Claim {sampled[0].pk}" in page and "C3-BETA" not in page
    assert "Showing 1 to 12 of 12." in page
    services.start_review(sampled[1], actor=people["auditor"])
    services.raise_query(sampled[2], actor=people["auditor"], text="Which employer?")
    mine = _text(client.get("/verification/", {"allocated": "me"}))
    assert f"Claim {sampled[1].pk}<" in mine and f"Claim {sampled[0].pk}<" not in mine
    queried = _text(client.get("/verification/", {"status": "queried"}))
    assert f"Claim {sampled[2].pk}<" in queried and f"Claim {sampled[1].pk}<" not in queried
    assert "No claims match these filters" in _text(
        client.get("/verification/", {"outcome": "attachment"}))
    assert "No claims match these filters" in _text(
        client.get("/verification/", {"due_before": "2000-01-01"}))
    due = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
    assert "of 12." in _text(client.get("/verification/", {"due_before": due,
                                                            "contract": str(c3.pk),
                                                            "provider": str(world_a.provider.pk)}))
    # CSV export with the same filters, formula-safe.
    response = client.get("/verification/export.csv", {"status": "queried"})
    body = b"".join(response.streaming_content).decode()
    lines = body.strip().splitlines()
    assert lines[0].startswith("claim,contract,provider")
    assert len(lines) == 2 and lines[1].startswith(f"{sampled[2].pk},C3-WORK-PROGRAMME")
    # The other world's auditor sees only theirs.
    client.force_login(world_b.users[Role.AUDITOR])
    page = _text(client.get("/verification/"))
    assert "C3-BETA" in page and f"Claim {sampled[0].pk}<" not in page


@pytest.mark.django_db
def test_queue_paginates_within_a_query_budget(client, c3, world_a, people,
                                               django_assert_max_num_queries):
    set_policy(c3, mode="verify_all")
    make_claims(submitted_return(c3, world_a.provider), 60)
    services.draw_sample(c3, actor=people["auditor"], seed=1)
    client.force_login(people["auditor"])
    with django_assert_max_num_queries(25):
        first = _text(client.get("/verification/"))
    assert "Showing 1 to 25 of 60." in first and "1 of 3" in first
    assert "Showing 51 to 60 of 60." in _text(client.get("/verification/", {"page": 3}))


@pytest.mark.django_db
def test_review_page_shows_claim_checks_evidence_inline_and_history(client, people, sampled):
    claim = sampled[0]
    client.force_login(people["auditor"])
    page = _text(client.get(f"/verification/claims/{claim.pk}/"))
    pdf, png = sorted(claim.evidence_files.all(), key=lambda e: e.original_name, reverse=True)
    assert f'<iframe class="pbr-evidence__pdf" src="/verification/evidence/{pdf.pk}/view/"' in page
    assert f'<img class="pbr-evidence__image" src="/verification/evidence/{png.pk}/view/"' in page
    assert "Selected for verification" in page and "Where this claim is" in page
    assert "claim.selected" in page  # history
    assert "Start the review" in page and "Raise the query" in page
    # The inline view streams the file, framable by this site only, and is logged.
    response = client.get(f"/verification/evidence/{pdf.pk}/view/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline")
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert response["Content-Security-Policy"].startswith("default-src 'none'")
    assert "frame-ancestors 'self'" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content).startswith(b"%PDF-")
    assert AuditEvent.objects.filter(action="evidence.viewed", object_id=str(pdf.pk)).exists()


@pytest.mark.django_db
def test_review_actions_by_role_through_the_pages(client, people, sampled):
    claim = sampled[0]
    client.force_login(people["auditor"])
    assert client.post(f"/verification/claims/{claim.pk}/start-review/").status_code == 302
    response = client.post(f"/verification/claims/{claim.pk}/query/", {"text": ""})
    assert response.status_code == 400
    assert "Enter the question for the provider." in _text(response)
    client.post(f"/verification/claims/{claim.pk}/query/", {"text": "Send the payslip."})
    # The provider answers with a new file; the auditor may not answer for them.
    assert client.post(f"/verification/claims/{claim.pk}/respond/",
                       {"text": "x"}).status_code == 403
    client.force_login(people["provider_user"])
    page = _text(client.get(f"/verification/claims/{claim.pk}/"))
    assert "The auditor asked a question" in page and "Send the answer" in page
    from django.core.files.uploadedfile import SimpleUploadedFile

    from .conftest import pdf_bytes

    response = client.post(f"/verification/claims/{claim.pk}/respond/", {
        "text": "Payslip attached.", "evidence_type": "payslip",
        "file": SimpleUploadedFile("week26.pdf", pdf_bytes("Week 26"))})
    assert response.status_code == 302
    claim.refresh_from_db()
    assert claim.status == S.RESPONDED
    assert claim.evidence_files.filter(original_name="week26.pdf").exists()
    # A provider cannot verify.
    assert client.post(f"/verification/claims/{claim.pk}/verify/").status_code == 403
    client.force_login(people["auditor"])
    response = client.post(f"/verification/claims/{claim.pk}/reject/", {"reason_code": ""})
    assert response.status_code == 400 and "Choose the reason." in _text(response)
    client.post(f"/verification/claims/{claim.pk}/verify/", {"note": "Matches the payslip."})
    claim.refresh_from_db()
    assert claim.status == S.VERIFIED


@pytest.mark.django_db
def test_allocate_and_bulk_decisions_from_the_queue(client, people, sampled):
    client.force_login(people["auditor"])
    response = client.post(f"/verification/claims/{sampled[0].pk}/allocate/",
                           {"assignee": str(people["auditor2"].pk)})
    assert response.status_code == 302
    assert Claim.objects.get(pk=sampled[0].pk).review.allocated_to == people["auditor2"]
    services.raise_query(sampled[3], actor=people["auditor"], text="Which employer?")
    response = client.post("/verification/bulk/", {
        "claims": [str(c.pk) for c in sampled[1:4]], "decision": "reject",
        "reason_code": "evidence_missing", "note": "No payslips.", "query": "status=sampled"},
        follow=True)
    page = _text(response)
    assert "2 claims rejected." in page
    assert f"Claim {sampled[3].pk} was not rejected: The provider has until" in page
    assert response.redirect_chain[-1][0] == "/verification/?status=sampled"
    response = client.post("/verification/bulk/", {"claims": [str(sampled[4].pk)],
                                                   "decision": "reject"}, follow=True)
    assert "Choose the reason for rejecting the claims." in _text(response)


@pytest.mark.django_db
def test_provider_sees_in_plain_words_why_each_claim_is_where_it_is(client, c3, people,
                                                                     sampled):
    services.reject_claim(sampled[0], actor=people["auditor"], reason_code="not_eligible",
                          note="Joined after the cut-off.")
    services.raise_query(sampled[1], actor=people["auditor"], text="Which employer?")
    services.verify_claim(sampled[2], actor=people["auditor"])
    client.force_login(people["provider_manager"])
    page = _text(client.get("/verification/my-claims/"))
    deadline = datetime.date.today() + datetime.timedelta(days=28)
    assert (f"Rejected on {datetime.date.today().day} {datetime.date.today():%B %Y}: "
            "Participant not eligible. Joined after the cut-off. It will not be paid. You can "
            f"appeal until {deadline.day} {deadline:%B %Y}.") in page
    assert "The auditor asked a question on" in page
    assert "Verified on" in page and "it is paid in the next payment run" in page
    assert ("Selected for verification (the provider&#x27;s first claims on this contract to be "
            "sampled; the contract&#x27;s policy is to verify every claim)") in page
    attention = _text(client.get("/verification/my-claims/", {"attention": "on"}))
    assert f"Claim {sampled[0].pk}:" in attention and f"Claim {sampled[1].pk}:" in attention
    assert f"Claim {sampled[2].pk}:" not in attention
    # The appeal from the claim page.
    response = client.post(f"/verification/claims/{sampled[0].pk}/appeal/",
                           {"grounds": "The referral form shows the earlier date."})
    assert response.status_code == 302
    assert Claim.objects.get(pk=sampled[0].pk).status == S.APPEALED
    # The commissioner decides it.
    client.force_login(people["commissioner"])
    response = client.post(f"/verification/claims/{sampled[0].pk}/decide-appeal/",
                           {"upheld": "yes", "note": "The referral form is clear."})
    assert response.status_code == 302
    assert Claim.objects.get(pk=sampled[0].pk).status == S.VERIFIED


@pytest.mark.django_db
def test_policy_is_edited_by_the_commissioner_only(client, c3, people):
    client.force_login(people["provider_manager"])
    assert client.get(f"/verification/contracts/{c3.pk}/policy/").status_code == 403
    client.force_login(people["auditor"])
    page = _text(client.get(f"/verification/contracts/{c3.pk}/policy/"))
    assert "No policy is set" in page and "Only the commissioner" in page
    assert client.post(f"/verification/contracts/{c3.pk}/policy/",
                       {"mode": "sample"}).status_code == 403
    client.force_login(people["commissioner"])
    values = {name: str(value) for name, value in
              VerificationPolicy(contract=c3).snapshot().items() if value is not None}
    values.update({"mode": "sample", "sample_pct": "15", "green_below_pct": "20",
                   "red_from_pct": "10"})
    for flag in ("check_duplicates", "check_new_providers", "check_outliers",
                 "adjust_by_error_rate"):
        values[flag] = "on"
    response = client.post(f"/verification/contracts/{c3.pk}/policy/", values)
    assert response.status_code == 200
    assert "The red threshold must be at least the green one." in _text(response)
    values["green_below_pct"] = "2"
    response = client.post(f"/verification/contracts/{c3.pk}/policy/", values)
    assert response.status_code == 302
    policy = VerificationPolicy.objects.get(contract=c3)
    assert str(policy.sample_pct) == "15.00" and policy.updated_by == people["commissioner"]
    event = AuditEvent.objects.get(action="verification_policy.saved")
    assert event.before is None and event.after["sample_pct"] == "15.00"


@pytest.mark.django_db
def test_draw_a_sample_and_a_check_from_the_pages(client, c3, world_a, people):
    set_policy(c3, sample_pct="50", check_new_providers=False)
    make_claims(submitted_return(c3, world_a.provider), 10)
    client.force_login(people["auditor"])
    queue = _text(client.get("/verification/"))
    assert "Claims waiting to be sampled" in queue and "10 claims passed" in queue
    response = client.post(f"/verification/contracts/{c3.pk}/sample/", {"seed": "77"})
    sample = Sample.objects.get()
    assert response.status_code == 302 and response["Location"] == \
        f"/verification/samples/{sample.pk}/"
    page = _text(client.get(response["Location"]))
    assert "Matches" in page and "77" in page and "drawn at random" in page
    assert sample.sample_size == 5
    csv = b"".join(client.get(f"/verification/samples/{sample.pk}/export.csv")
                   .streaming_content).decode()
    assert len(csv.strip().splitlines()) == 6
    response = client.post(f"/verification/contracts/{c3.pk}/check/",
                           {"period_from": "Jun 2012", "period_to": "Jun 2012"})
    assert response.status_code == 200
    assert "No paid claims to check in Jun 2012 to Jun 2012" in _text(response)
    # Providers do not draw samples, and see only their own claims in one.
    client.force_login(people["provider_manager"])
    assert client.get(f"/verification/contracts/{c3.pk}/sample/").status_code == 403
    assert client.get(f"/verification/samples/{sample.pk}/").status_code == 200


@pytest.mark.django_db
def test_provider_list_stays_within_a_query_budget(client, c3, world_a, people,
                                                   django_assert_max_num_queries):
    set_policy(c3, mode="verify_all")
    claims = make_claims(submitted_return(c3, world_a.provider), 25)
    services.draw_sample(c3, actor=people["auditor"], seed=1)
    for claim in claims[:5]:
        services.raise_query(claim, actor=people["auditor"], text="Which employer?")
    client.force_login(people["provider_user"])
    with django_assert_max_num_queries(25):
        page = _text(client.get("/verification/my-claims/"))
    assert page.count("The auditor asked a question on") == 5
