"""Participant events: in by web form, file and API alike; onto the engine's adverse_events and
events by facts_for; and through a payment run to the statement (London Homelessness SIB
windows, 002:817-851: at most two incidents in the first 12 months, one in months 12-18)."""

from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from contracts.definition import parse
from outcomes.models import ADVERSE_EVENT, Claim, ClaimStatus, ParticipantEvent
from outcomes.services import (
    add_rows,
    amend_return,
    claim_events,
    facts_for,
    import_file,
    start_return,
    submit_return,
)
from outcomes.validation import EVENT_COLUMNS, ReturnRejected
from payments.services import run_period

from .conftest import make_contract
from .corpus import xlsx_bytes

pytestmark = pytest.mark.django_db


def sib_document(reference="SIB-EVENTS"):
    return {
        "format_version": 1, "reference": reference,
        "title": "Rough sleeping - sustained accommodation and reconnection",
        "funders": [{"name": "Investors", "share_pct": "100"}],
        "prime_provider": {"name": "Navigators", "code": "PRIME"},
        "start": "2013-01-01", "end": "2015-12-31", "annual_value": "100000",
        "calendar": {"kind": "monthly", "start": "2013-01-01"},
        "outcomes": [
            {"code": "entry", "name": "Entered accommodation", "kind": "milestone"},
            {"code": "accommodation_12m", "name": "Accommodation sustained 12 months",
             "sustainment": [{"label": "the first 12 months", "weeks": 52,
                              "max_adverse_events": 2}]},
            {"code": "accommodation_18m", "name": "Accommodation sustained 18 months",
             "prerequisites": ["accommodation_12m"],
             "sustainment": [{"label": "the first 12 months", "weeks": 52,
                              "max_adverse_events": 2},
                             {"label": "months 12 to 18", "weeks": 78,
                              "max_adverse_events": 1}]},
            {"code": "reconnection", "name": "Reconnection", "voided_by": ["re_presentation"]},
        ],
        "rules": [{"id": "tariff", "type": "tariff", "prices": [
            {"outcome": "accommodation_12m", "amount": "6000"},
            {"outcome": "accommodation_18m", "amount": "6000"},
            {"outcome": "reconnection", "amount": "5000"}]}],
    }


def person(ref, ni, joined, **extra):
    return {"participant_ref": ref, "ni_number": ni, "date_of_birth": "1980-01-01",
            "start_date": joined, "outcome": "entry", "achieved": joined, **extra}


def claim(ref, outcome, achieved, started=None):
    row = {"participant_ref": ref, "outcome": outcome, "achieved": achieved}
    if started:
        row["started"] = started
    return row


def event(ref, occurred, code=ADVERSE_EVENT):
    return {"participant_ref": ref, "event": code, "occurred": occurred}


@pytest.fixture
def sib(world_a):
    return make_contract(world_a, sib_document())


def month_of(day):
    return day.strftime("%b %Y")


def send(contract, user, period, *, claims=(), events=()):
    ret = start_return(contract, period, actor=user)
    if claims:
        add_rows(ret, list(enumerate(claims, start=2)), actor=user)
    if events:
        add_rows(ret, list(enumerate(events, start=2)), actor=user, kind="events")
    return submit_return(ret, actor=user)


# --- three ways in ----------------------------------------------------------------------------

EVENTS = [event("CASE-1", "2013-03-10"), event("CASE-1", "2013-05-02"),
          event("CASE-2", "2013-06-01", "re_presentation")]


def _events_csv(rows):
    names = [c.name for c in EVENT_COLUMNS]
    return ("\n".join([",".join(names)] + [",".join(r[n] for n in names) for r in rows])
            + "\n").encode()


def _saved(ret):
    return sorted((e.participant.provider_reference, e.event, e.occurred, e.row_number)
                  for e in ret.events.select_related("participant"))


def test_web_form_csv_xlsx_and_api_save_identical_events(client, world_a, provider_user):
    client.force_login(provider_user)
    people = [person("CASE-1", "AB123456C", "2013-02-01"),
              person("CASE-2", "AB123457C", "2013-02-01")]
    results = {}
    for way in ("form", "csv", "xlsx", "api"):
        contract = make_contract(world_a, sib_document(f"SIB-{way.upper()}"))
        ret = start_return(contract, "Jun 2013", actor=provider_user)
        add_rows(ret, list(enumerate(people, start=2)), actor=provider_user)
        if way == "form":
            for number, row in enumerate(EVENTS, start=2):
                response = client.post(f"/returns/{ret.pk}/events/add/", row)
                assert response.status_code == 302, response.content.decode()[:3000]
                # The form's single row is row 1; renumber to compare with the files.
                ParticipantEvent.objects.filter(return_record=ret, row_number=1).update(
                    row_number=number)
        elif way == "csv":
            response = client.post(f"/returns/{ret.pk}/upload/",
                                   {"file": SimpleUploadedFile("e.csv", _events_csv(EVENTS))})
            assert response.status_code == 302, response.content.decode()[:3000]
        elif way == "xlsx":
            names = [c.name for c in EVENT_COLUMNS]
            content = xlsx_bytes([names] + [[r[n] for n in names] for r in EVENTS])
            response = client.post(f"/returns/{ret.pk}/upload/",
                                   {"file": SimpleUploadedFile("e.xlsx", content)})
            assert response.status_code == 302
        else:
            response = client.post(f"/api/v1/returns/{ret.pk}/events/", {"rows": EVENTS},
                                   content_type="application/json")
            assert response.status_code == 201, response.json()
            assert response.json() == {"saved": 3}
        results[way] = _saved(ret)
    assert len(results["form"]) == 3
    assert results["form"] == results["csv"] == results["xlsx"] == results["api"]
    assert results["api"][0][:3] == ("CASE-1", "adverse", date(2013, 3, 10))


def test_the_three_ways_refuse_the_same_bad_event_alike(client, sib, provider_user):
    ret = start_return(sib, "Jun 2013", actor=provider_user)
    add_rows(ret, [(2, person("CASE-1", "AB123456C", "2013-02-01"))], actor=provider_user)
    bad = event("CASE-1", "2013-02-30")
    client.force_login(provider_user)
    form = client.post(f"/returns/{ret.pk}/events/add/", bad).content.decode()
    upload = client.post(f"/returns/{ret.pk}/upload/",
                         {"file": SimpleUploadedFile("e.csv", _events_csv([bad]))})
    api = client.post(f"/api/v1/returns/{ret.pk}/events/", {"rows": [bad]},
                      content_type="application/json")
    message = "The event date must be a real date; 2013-02-30 does not exist."
    assert message in form and message in upload.content.decode()
    assert api.status_code == 400 and api.json()["problems"][0]["message"] == message
    assert api.json()["problems"][0]["column"] == "occurred"
    assert ParticipantEvent.objects.count() == 0


def test_event_form_lists_the_event_codes_of_the_terms(client, sib, provider_user):
    ret = start_return(sib, "Jun 2013", actor=provider_user)
    client.force_login(provider_user)
    page = client.get(f"/returns/{ret.pk}/events/add/").content.decode()
    assert "This contract records: adverse, re_presentation." in page


def test_template_download_has_the_event_columns(client, provider_user):
    client.force_login(provider_user)
    response = client.get("/returns/template.csv?kind=events")
    assert response.status_code == 200
    assert response.content.decode().strip() == "participant_ref,event,occurred"
    assert "return-events-template.csv" in response["Content-Disposition"]


def test_return_page_lists_events_and_the_api_reads_them_back(client, sib, provider_user,
                                                             world_b):
    ret = send(sib, provider_user, "Jun 2013",
               claims=[person("CASE-1", "AB123456C", "2013-02-01")],
               events=[event("CASE-1", "2013-03-10")])
    client.force_login(provider_user)
    page = client.get(f"/returns/{ret.pk}/").content.decode()
    assert "Participant events" in page and "10 Mar 2013" in page
    listed = client.get(f"/api/v1/events/?return={ret.pk}").json()
    assert [(e["participant_ref"], e["event"], e["occurred"]) for e in listed["results"]] == [
        ("CASE-1", "adverse", "2013-03-10")]
    from pbr.models import Role

    client.force_login(world_b.users[Role.PROVIDER_MANAGER])
    assert client.get("/api/v1/events/").json()["results"] == []


def test_an_amendment_carries_the_events_and_the_submitted_version_keeps_them(sib,
                                                                             provider_user):
    ret = send(sib, provider_user, "Jun 2013",
               claims=[person("CASE-1", "AB123456C", "2013-02-01")],
               events=[event("CASE-1", "2013-03-10")])
    new = amend_return(ret, actor=provider_user, reason="One more incident")
    add_rows(new, [(2, event("CASE-1", "2013-04-11"))], actor=provider_user, kind="events")
    assert [e.occurred for e in new.events.order_by("occurred")] == [date(2013, 3, 10),
                                                                     date(2013, 4, 11)]
    assert [e.occurred for e in ret.events.all()] == [date(2013, 3, 10)]
    with pytest.raises(ReturnRejected, match="given twice"):
        add_rows(new, [(2, event("CASE-1", "2013-04-11"))], actor=provider_user, kind="events")


# --- onto the engine ---------------------------------------------------------------------------


def test_windows_count_adverse_events_at_their_day_boundaries():
    defn = parse(sib_document())
    outcome = defn.outcome("accommodation_18m")
    start = date(2013, 1, 7)
    year = start + timedelta(weeks=52)
    eighteen = start + timedelta(weeks=78)
    recorded = [(start - timedelta(days=1), ADVERSE_EVENT),  # before the spell: not counted
                (start, ADVERSE_EVENT),  # first day of window 1
                (year - timedelta(days=1), ADVERSE_EVENT),  # last day of window 1
                (year, ADVERSE_EVENT),  # first day of window 2
                (eighteen - timedelta(days=1), ADVERSE_EVENT),  # last day of window 2
                (eighteen, ADVERSE_EVENT),  # after both windows
                (year, "re_presentation")]  # not adverse, and not voiding for this outcome
    assert claim_events(outcome, start, recorded) == ((2, 2), ())
    voiding = defn.outcome("reconnection")
    assert claim_events(voiding, start, recorded) == ((), ("re_presentation",))
    # A voiding event before the spell being paid for began does not void it.
    assert claim_events(voiding, year + timedelta(days=1), recorded) == ((), ())
    assert claim_events(None, start, recorded) == ((), ())


def test_facts_for_gives_each_claim_its_window_counts_and_voiding_events(sib, provider_user):
    send(sib, provider_user, "Jan 2013",
         claims=[person("R1", "AB123456C", "2013-01-07"),
                 person("R3", "AB123458C", "2013-01-07")])
    send(sib, provider_user, "Sep 2013",
         claims=[claim("R3", "reconnection", "2013-06-03")],
         events=[event("R1", "2013-03-10"), event("R1", "2013-09-01"),
                 event("R3", "2013-08-15", "re_presentation")])
    send(sib, provider_user, "Jan 2014",
         claims=[claim("R1", "accommodation_12m", "2014-01-06", started="2013-01-07")],
         events=[event("R1", "2014-01-06")])  # the first day of months 12 to 18
    facts = facts_for(sib, date(2014, 1, 31))
    by_outcome = {c.outcome: c for c in facts.claims if c.outcome != "entry"}
    assert by_outcome["accommodation_12m"].adverse_events == (2,)
    assert by_outcome["reconnection"].events == ("re_presentation",)
    # Known only once the return holding it has been submitted for a period that has ended.
    earlier = facts_for(sib, date(2013, 8, 31))
    assert [c.events for c in earlier.claims if c.outcome == "reconnection"] == []


def test_statement_pays_sustained_refuses_breached_and_reverses_a_voided_outcome(
        sib, provider_user):
    user = provider_user
    send(sib, user, "Jan 2013", claims=[person("R1", "AB123456C", "2013-01-07"),
                                        person("R2", "AB123457C", "2013-01-07"),
                                        person("R3", "AB123458C", "2013-01-07")])
    # R1: two incidents in the first year (tolerated); R2: three (not sustained).
    send(sib, user, "Mar 2013", events=[event("R1", "2013-03-10"), event("R2", "2013-03-11")])
    send(sib, user, "Jun 2013", claims=[claim("R3", "reconnection", "2013-06-03")],
         events=[event("R2", "2013-05-01"), event("R2", "2013-06-20")])
    # R3 re-presents after the reconnection was paid: a late fact.
    send(sib, user, "Aug 2013", events=[event("R3", "2013-08-15", "re_presentation")])
    send(sib, user, "Sep 2013", events=[event("R1", "2013-09-01")])
    send(sib, user, "Jan 2014",
         claims=[claim("R1", "accommodation_12m", "2014-01-06", started="2013-01-07"),
                 claim("R2", "accommodation_12m", "2014-01-06", started="2013-01-07")])
    # R1 then has two incidents in months 12 to 18, where one is tolerated.
    send(sib, user, "Apr 2014", events=[event("R1", "2014-02-01"), event("R1", "2014-04-01")])
    send(sib, user, "Jul 2014",
         claims=[claim("R1", "accommodation_18m", "2014-07-07", started="2013-01-07")])
    assert not Claim.objects.filter(status=ClaimStatus.FAILED).exists()

    posted = {}
    refusals = {}
    day = date(2013, 1, 1)
    while day <= date(2014, 7, 31):
        run, lines = run_period(sib, month_of(day))
        posted[run.period_id] = lines
        refusals[run.period_id] = run.refusals
        day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)

    [paid] = [ln for ln in posted["Jun 2013"] if ln.rule_id == "tariff"]
    assert paid.amount == 5000 and paid.key.startswith("tariff:reconnection")
    [reversal] = posted["Aug 2013"]
    assert reversal.amount == -5000 and reversal.corrects_id == paid.pk
    jan = {ln.key: ln for ln in posted["Jan 2014"]}
    r1 = Claim.objects.get(participant__provider_reference="R1", outcome="accommodation_12m")
    assert [ln.amount for ln in jan.values()] == [6000]
    assert f"C{r1.pk}" in next(iter(jan.values())).references
    r2 = Claim.objects.get(participant__provider_reference="R2", outcome="accommodation_12m")
    [breach] = [r for r in refusals["Jan 2014"] if r["claim"] == f"C{r2.pk}"]
    assert breach["code"] == "not_sustained"
    assert breach["reason"] == ("not sustained over the first 12 months: 3 adverse events "
                                "recorded, at most 2 allowed.")
    r1_18 = Claim.objects.get(outcome="accommodation_18m")
    [second] = [r for r in refusals["Jul 2014"] if r["claim"] == f"C{r1_18.pk}"]
    assert second["reason"] == ("not sustained over months 12 to 18: 2 adverse events "
                                "recorded, at most 1 allowed.")
    assert not [ln for ln in posted["Jul 2014"] if ln.amount]


def test_an_event_on_a_contract_that_records_none_is_refused(world_a, provider_user):
    from .conftest import c3_document

    c3 = make_contract(world_a, c3_document())
    ret = start_return(c3, "Jun 2013", actor=provider_user)
    add_rows(ret, [(2, {"participant_ref": "CASE-1", "ni_number": "AB123456C",
                        "date_of_birth": "1990-05-01", "segment": "JSA_18_24",
                        "start_date": "2011-06-15", "outcome": "attachment",
                        "achieved": "2011-06-15"})], actor=provider_user)
    upload = SimpleUploadedFile("e.csv", _events_csv([event("CASE-1", "2012-01-01")]))
    with pytest.raises(ReturnRejected) as refused:
        import_file(ret, upload, "e.csv", actor=provider_user)
    [problem] = refused.value.problems
    assert problem.code == "unknown-event"
    assert "none: these terms record no events" in problem.message
    assert ParticipantEvent.objects.count() == 0


@pytest.mark.parametrize("rows", [5, 50])
def test_return_page_and_events_api_do_not_ask_per_event(client, sib, provider_user,
                                                          django_assert_max_num_queries, rows):
    people = [person(f"CASE-{n}", f"AB{n:06d}C", "2013-02-01") for n in range(rows)]
    ret = send(sib, provider_user, "Jun 2013", claims=people,
               events=[event(f"CASE-{n}", "2013-03-10") for n in range(rows)])
    client.force_login(provider_user)
    with django_assert_max_num_queries(20):
        page = client.get(f"/returns/{ret.pk}/")
    assert page.content.decode().count("<code>adverse</code>") == rows
    with django_assert_max_num_queries(10):
        assert len(client.get("/api/v1/events/?page_size=100").json()["results"]) == rows
