"""Participant pages: list with filters, pagination and CSV; the participant page; recording a
leave date and changing payment group, each audited."""

import csv
import datetime
import io

import pytest

from outcomes.models import Participant
from outcomes.services import add_rows, start_return, submit_return
from pbr.models import AuditEvent, Role
from tests.outcomes.factories import bulk_claims

from .conftest import c3_document, make_contract, row

pytestmark = pytest.mark.django_db


def export_rows(response):
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def enrolled(draft, provider_user):
    add_rows(draft, [(2, row()), (3, row(outcome="job_entry", achieved="2012-01-10")),
                     (4, row(participant_ref="CASE-2", ni_number="AB123457C",
                             segment="ESA_EXIB", start_date="2012-02-01", outcome="attachment",
                             achieved="2012-02-01"))],
             actor=provider_user)
    return {p.provider_reference: p for p in Participant.objects.all()}


def test_list_shows_reference_pseudonym_segment_and_claim_count(client, provider_user, enrolled):
    client.force_login(provider_user)
    page = client.get("/returns/participants/").content.decode()
    case1 = enrolled["CASE-1"]
    assert f'href="/returns/participants/{case1.pk}/">CASE-1</a>' in page
    assert case1.pseudonym in page and "ESA_EXIB" in page
    response = client.get("/returns/participants/")
    counts = {p.provider_reference: p.claim_count for p in response.context["page"].object_list}
    assert counts == {"CASE-1": 2, "CASE-2": 1}


@pytest.mark.parametrize(("query", "expected"), [
    ("segment=esa_exib", ["CASE-2"]),
    ("status=left", ["CASE-1"]),
    ("status=active", ["CASE-2", "OTHER-1"]),
    ("reference=se-1", ["CASE-1"]),
    ("contract=C3-WORK-PROGRAMME", ["CASE-1", "CASE-2"]),
    ("contract=OTHER", ["OTHER-1"]),
])
def test_list_filters(client, world_a, provider_user, enrolled, query, expected):
    Participant.objects.filter(provider_reference="CASE-1").update(
        leave_date=datetime.date(2012, 3, 1), leave_reason="Moved away")
    other = make_contract(world_a, c3_document(), reference="OTHER")
    other_return = start_return(other, "Jun 2013", actor=provider_user)
    bulk_claims(other_return, 1, prefix="OTHER")
    Participant.objects.filter(provider_reference="OTHER-0000").update(
        provider_reference="OTHER-1")
    client.force_login(provider_user)
    response = client.get(f"/returns/participants/?{query}")
    assert [p.provider_reference for p in response.context["page"].object_list] == expected
    exported = export_rows(client.get(f"/returns/participants/export.csv?{query}"))
    assert [r["participant_ref"] for r in exported] == expected


def test_list_paginates_fifty_a_page(client, draft, provider_user):
    bulk_claims(draft, 51)
    client.force_login(provider_user)
    first = client.get("/returns/participants/")
    assert len(first.context["page"].object_list) == 50
    assert "Showing 1 to 50 of 51" in first.content.decode()
    second = client.get("/returns/participants/?page=2")
    assert [p.provider_reference for p in second.context["page"].object_list] == ["CASE-0050"]


def test_csv_export_is_safe_against_formula_injection(client, provider_user, enrolled):
    Participant.objects.filter(provider_reference="CASE-1").update(
        leave_date=datetime.date(2012, 3, 1), leave_reason='=HYPERLINK("http://x","y")')
    client.force_login(provider_user)
    response = client.get("/returns/participants/export.csv?status=left")
    assert response["Content-Type"].startswith("text/csv")
    [exported] = export_rows(response)
    assert exported["leave_reason"] == '\'=HYPERLINK("http://x","y")'
    assert exported["pseudonym"] == enrolled["CASE-1"].pseudonym
    assert exported["leave_date"] == "2012-03-01" and exported["claims"] == "2"


def test_other_organisations_participants_are_not_listed(client, world_a, world_b, c3,
                                                         enrolled):
    client.force_login(world_b.users[Role.PROVIDER_USER])
    assert list(client.get("/returns/participants/").context["page"].object_list) == []
    assert export_rows(client.get("/returns/participants/export.csv")) == []
    client.force_login(world_a.users[Role.COMMISSIONER])
    page = client.get("/returns/participants/").content.decode()
    assert "CASE-1" in page and world_a.provider.name in page  # the commissioner's view
    client.force_login(world_b.users[Role.COMMISSIONER])
    assert list(client.get("/returns/participants/").context["page"].object_list) == []


def test_empty_list_says_what_to_do(client, provider_user, c3):
    client.force_login(provider_user)
    page = client.get("/returns/participants/").content.decode()
    assert "A participant is enrolled the first time a claim for them is added" in page
    assert "No participants match these filters" in client.get(
        "/returns/participants/?reference=zzz").content.decode()


def test_participant_page_shows_details_and_every_claim_with_status(client, draft, provider_user,
                                                                    enrolled):
    submit_return(draft, actor=provider_user)
    case1 = enrolled["CASE-1"]
    client.force_login(provider_user)
    page = client.get(f"/returns/participants/{case1.pk}/").content.decode()
    assert "Participant CASE-1" in page and case1.pseudonym in page
    assert "JSA_18_24" in page and "15 June 2011" in page and "Still on the programme" in page
    for claim in case1.claims.all():
        assert f'href="/returns/claims/{claim.pk}/">{claim.outcome}</a>' in page
    assert page.count("Checks passed") == 2
    assert "Jun 2013 v1" in page
    assert "Record that they left" in page and "Change payment group" in page


def test_commissioner_sees_the_page_without_the_forms(client, world_a, enrolled):
    client.force_login(world_a.users[Role.COMMISSIONER])
    case1 = enrolled["CASE-1"]
    page = client.get(f"/returns/participants/{case1.pk}/").content.decode()
    assert "Participant CASE-1" in page and "Record that they left" not in page
    response = client.post(f"/returns/participants/{case1.pk}/leave/",
                           {"leave_date": "2012-03-01", "leave_reason": "x"})
    assert response.status_code == 403
    case1.refresh_from_db()
    assert case1.leave_date is None


def test_record_leave_date_and_reason_with_an_audit_event(client, provider_user, enrolled):
    case1 = enrolled["CASE-1"]
    client.force_login(provider_user)
    response = client.post(f"/returns/participants/{case1.pk}/leave/",
                           {"leave_date": "2012-03-01", "leave_reason": "Moved out of the area"})
    assert response.status_code == 302
    case1.refresh_from_db()
    assert case1.leave_date == datetime.date(2012, 3, 1)
    assert case1.leave_reason == "Moved out of the area"
    event = AuditEvent.objects.get(action="participant.left")
    assert event.before == {"leave_date": None, "leave_reason": ""}
    assert event.after == {"leave_date": "2012-03-01", "leave_reason": "Moved out of the area"}
    assert event.actor == provider_user and event.organisation == provider_user.organisation
    page = client.get(f"/returns/participants/{case1.pk}/").content.decode()
    assert "recorded as having left on 1 March 2012" in page
    assert "1 March 2012: Moved out of the area" in page and "Correct when they left" in page


@pytest.mark.parametrize(("data", "message"), [
    ({"leave_date": "2011-06-14", "leave_reason": "x"},
     "The leave date must be on or after the day they joined, 15 June 2011."),
    ({"leave_date": "2999-01-01", "leave_reason": "x"},
     "The leave date must be today or in the past."),
    ({"leave_date": "2012-02-30", "leave_reason": "x"},
     "Enter the date they left as a real date"),
    ({"leave_date": "", "leave_reason": "x"}, "Enter the date they left."),
    ({"leave_date": "2012-03-01", "leave_reason": " "}, "Enter why they left."),
    ({"leave_date": "2012-03-01", "leave_reason": "x" * 201},
     "Why they left must be 200 characters or fewer."),
])
def test_leave_problems_are_shown_and_nothing_is_saved(client, provider_user, enrolled, data,
                                                       message):
    case1 = enrolled["CASE-1"]
    client.force_login(provider_user)
    response = client.post(f"/returns/participants/{case1.pk}/leave/", data)
    page = response.content.decode()
    assert response.status_code == 200
    assert "There is a problem" in page and message in page
    case1.refresh_from_db()
    assert case1.leave_date is None and not AuditEvent.objects.filter(
        action="participant.left").exists()


def test_change_payment_group_with_reason_and_audit(client, provider_user, enrolled):
    case1 = enrolled["CASE-1"]
    client.force_login(provider_user)
    response = client.post(f"/returns/participants/{case1.pk}/payment-group/",
                           {"segment": "ESA_EXIB", "reason": "Reassessed: ESA ex-IB"})
    assert response.status_code == 302
    case1.refresh_from_db()
    assert case1.segment == "ESA_EXIB"
    event = AuditEvent.objects.get(action="participant.segment_changed")
    assert (event.before, event.after) == ({"segment": "JSA_18_24"}, {"segment": "ESA_EXIB"})
    assert event.reason == "Reassessed: ESA ex-IB"


@pytest.mark.parametrize(("data", "message"), [
    ({"segment": "NOPE", "reason": "x"}, "Choose one of the contract&#x27;s payment groups."),
    ({"segment": "JSA_18_24", "reason": "x"}, "CASE-1 is already in payment group JSA_18_24."),
    ({"segment": "ESA_EXIB", "reason": ""}, "Enter the reason for changing the payment group."),
    ({"segment": "", "reason": "x"}, "Choose a payment group."),
])
def test_payment_group_problems(client, provider_user, enrolled, data, message):
    case1 = enrolled["CASE-1"]
    client.force_login(provider_user)
    page = client.post(f"/returns/participants/{case1.pk}/payment-group/", data).content.decode()
    assert "There is a problem" in page and message in page
    case1.refresh_from_db()
    assert case1.segment == "JSA_18_24"


def test_the_services_refuse_another_organisations_participant(world_b, enrolled):
    from outcomes.services import ReturnError, change_segment, record_leave

    intruder = world_b.users[Role.PROVIDER_MANAGER]
    with pytest.raises(ReturnError, match="your own organisation"):
        record_leave(enrolled["CASE-1"], actor=intruder, leave_date=datetime.date(2012, 3, 1),
                     reason="x")
    with pytest.raises(ReturnError, match="your own organisation"):
        change_segment(enrolled["CASE-1"], "ESA_EXIB", actor=intruder, reason="x")


def test_claim_and_return_pages_link_to_the_participant(client, draft, provider_user, enrolled):
    client.force_login(provider_user)
    case1 = enrolled["CASE-1"]
    link = f'href="/returns/participants/{case1.pk}/"'
    assert link in client.get(f"/returns/{draft.pk}/").content.decode()
    claim = case1.claims.first()
    assert link in client.get(f"/returns/claims/{claim.pk}/").content.decode()
