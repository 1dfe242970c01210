"""Malformed events files, in the style of corpus.py: each is refused whole with row-level
problems, and nothing is saved."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from outcomes.models import ParticipantEvent
from outcomes.services import add_rows, import_file, start_return
from outcomes.validation import ReturnRejected

from .conftest import make_contract
from .corpus import xlsx_bytes
from .test_events import person, sib_document

HEADER = "participant_ref,event,occurred"
GOOD = "CASE-1,adverse,2013-03-10"


def csv_bytes(*lines, header=HEADER, encoding="utf-8"):
    return ("\n".join([header, *lines]) + "\n").encode(encoding)


def good_row(**changes):
    names = HEADER.split(",")
    values = dict(zip(names, GOOD.split(","), strict=True))
    values.update(changes)
    return ",".join(values[n] for n in names)


def malformed_events():
    return [
        ("unknown participant", csv_bytes(good_row(participant_ref="NOBODY")),
         "unknown-participant"),
        ("blank participant", csv_bytes(good_row(participant_ref="")), "required"),
        ("unknown event type", csv_bytes(good_row(event="fell_over")), "unknown-event"),
        ("an outcome code is not an event", csv_bytes(good_row(event="accommodation_12m")),
         "unknown-event"),
        ("event code in the wrong case", csv_bytes(good_row(event="ADVERSE")), "unknown-event"),
        ("blank event", csv_bytes(good_row(event="")), "required"),
        ("impossible date", csv_bytes(good_row(occurred="2013-02-30")), "impossible-date"),
        ("impossible month", csv_bytes(good_row(occurred="31/13/2013")), "impossible-date"),
        ("words for a date", csv_bytes(good_row(occurred="last week")), "date-format"),
        ("blank date", csv_bytes(good_row(occurred="")), "required"),
        ("future date", csv_bytes(good_row(occurred="2099-01-01")), "future-date"),
        ("after the period", csv_bytes(good_row(occurred="2013-07-01")), "after-period"),
        ("before the contract", csv_bytes(good_row(occurred="2012-12-31")), "before-contract"),
        ("before the person joined", csv_bytes(good_row(occurred="2013-01-31")),
         "before-start"),
        ("duplicate rows", csv_bytes(good_row(), good_row()), "duplicate-row"),
        ("formula in the event", csv_bytes(good_row(event="=cmd|' /C calc'!A0")), "formula"),
        ("formula in the reference", csv_bytes(good_row(participant_ref="@SUM(1+1)")),
         "formula"),
        ("control characters", csv_bytes(good_row(event="adv\x07erse")), "control-characters"),
        ("cell too long", csv_bytes(good_row(event="a" * 201)), "too-long"),
        ("more cells than columns", csv_bytes(good_row() + ",surplus"), "extra-cell"),
        ("missing occurred column", csv_bytes("CASE-1,adverse", header="participant_ref,event"),
         "missing-column"),
        ("unknown column", csv_bytes(good_row() + ",x", header=HEADER + ",notes"),
         "unknown-column"),
        ("xlsx with an impossible date",
         xlsx_bytes([HEADER.split(","), ["CASE-1", "adverse", "2013-02-30"]]),
         "impossible-date"),
    ]


CORPUS = malformed_events()


@pytest.fixture
def events_draft(world_a, provider_user):
    contract = make_contract(world_a, sib_document())
    ret = start_return(contract, "Jun 2013", actor=provider_user)
    add_rows(ret, [(2, person("CASE-1", "AB123456C", "2013-02-01"))], actor=provider_user)
    return ret


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "content", "code"), CORPUS, ids=[c[0] for c in CORPUS])
def test_malformed_events_file_is_refused_whole(events_draft, provider_user, name, content,
                                                code):
    filename = "events.xlsx" if content.startswith(b"PK") else "events.csv"
    with pytest.raises(ReturnRejected) as refused:
        import_file(events_draft, SimpleUploadedFile(filename, content), filename,
                    actor=provider_user)
    problems = refused.value.problems
    assert problems and all(p.message for p in problems)
    assert code in {p.code for p in problems}, [p.as_dict() for p in problems]
    assert all(p.row is not None for p in problems), problems
    assert ParticipantEvent.objects.count() == 0


@pytest.mark.django_db
def test_one_bad_row_refuses_the_good_ones_too_and_every_problem_is_listed(events_draft,
                                                                          provider_user):
    content = csv_bytes(good_row(), good_row(participant_ref="NOBODY", occurred="2013-02-30"),
                        good_row(event="fell_over", occurred="2013-04-01"))
    with pytest.raises(ReturnRejected) as refused:
        import_file(events_draft, SimpleUploadedFile("e.csv", content), "e.csv",
                    actor=provider_user)
    where = {(p.row, p.column, p.code) for p in refused.value.problems}
    assert where == {(3, "participant_ref", "unknown-participant"),
                     (3, "occurred", "impossible-date"), (4, "event", "unknown-event")}
    message = next(p.message for p in refused.value.problems if p.code == "unknown-event")
    assert message == ("fell_over is not an event of this contract's terms. Events are: "
                       "adverse, re_presentation.")
    assert ParticipantEvent.objects.count() == 0


@pytest.mark.django_db
def test_an_event_already_in_the_return_is_refused(events_draft, provider_user):
    import_file(events_draft, SimpleUploadedFile("e.csv", csv_bytes(good_row())), "e.csv",
                actor=provider_user)
    with pytest.raises(ReturnRejected) as refused:
        import_file(events_draft, SimpleUploadedFile("e.csv", csv_bytes(good_row())), "e.csv",
                    actor=provider_user)
    assert [p.code for p in refused.value.problems] == ["duplicate-row"]
    assert "this return already" in refused.value.problems[0].message
    assert ParticipantEvent.objects.count() == 1


@pytest.mark.django_db
def test_another_provider_cannot_add_events_to_the_return(events_draft, world_b):
    from pbr.models import Role

    with pytest.raises(ReturnRejected) as refused:
        add_rows(events_draft, [(2, {"participant_ref": "CASE-1", "event": "adverse",
                                     "occurred": "2013-03-10"})],
                 actor=world_b.users[Role.PROVIDER_MANAGER], kind="events")
    assert refused.value.problems[0].code == "permission"
    assert ParticipantEvent.objects.count() == 0



@pytest.mark.django_db
def test_a_submitted_return_takes_no_more_events_even_from_its_own_provider(events_draft,
                                                                            provider_user):
    from outcomes.services import submit_return

    submit_return(events_draft, actor=provider_user)
    with pytest.raises(ReturnRejected) as refused:
        add_rows(events_draft, [(2, {"participant_ref": "CASE-1", "event": "adverse",
                                     "occurred": "2013-03-10"})], actor=provider_user,
                 kind="events")
    assert refused.value.problems[0].code == "permission"
    assert "Amend it" in refused.value.problems[0].message
    assert ParticipantEvent.objects.count() == 0
