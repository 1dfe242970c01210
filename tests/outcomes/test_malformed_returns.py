"""Every malformed return is refused whole, with row-level messages, and nothing is saved."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from outcomes.models import Claim, IndicatorReturn, Participant
from outcomes.services import import_file
from outcomes.validation import ReturnRejected

from .corpus import csv_bytes, good_row, malformed_returns

CORPUS = malformed_returns()


def test_the_corpus_is_big_enough():
    assert len(CORPUS) >= 30


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "content", "filename", "code"), CORPUS,
                         ids=[c[0] for c in CORPUS])
def test_malformed_return_is_refused_whole(draft, provider_user, name, content, filename, code):
    upload = SimpleUploadedFile(filename, content)
    with pytest.raises(ReturnRejected) as refused:
        import_file(draft, upload, filename, actor=provider_user)
    problems = refused.value.problems
    assert problems and all(p.message for p in problems)
    assert code in {p.code for p in problems}, [p.as_dict() for p in problems]
    # Row-level: every problem names its row, except those about the file as a whole.
    whole_file = {"empty", "not-a-table", "bad-xlsx", "too-large", "too-many"}
    assert all(p.row is not None or p.code in whole_file for p in problems), problems
    assert Claim.objects.count() == 0
    assert Participant.objects.count() == 0
    assert IndicatorReturn.objects.count() == 0


@pytest.mark.django_db
def test_every_bad_row_and_column_is_listed(draft, provider_user):
    content = csv_bytes(good_row(), good_row(participant_ref="CASE-2", ni_number="AB123457C",
                                             achieved="2011-02-30", value="-1"),
                        good_row(participant_ref="CASE-3", ni_number="AB123458C",
                                 outcome="nope"))
    with pytest.raises(ReturnRejected) as refused:
        import_file(draft, SimpleUploadedFile("r.csv", content), "r.csv", actor=provider_user)
    where = {(p.row, p.column) for p in refused.value.problems}
    assert where == {(3, "achieved"), (3, "value"), (4, "outcome")}
    assert Claim.objects.count() == 0


@pytest.mark.django_db
def test_web_upload_shows_the_row_report_and_saves_nothing(client, draft, provider_user):
    client.force_login(provider_user)
    content = csv_bytes(good_row(achieved="2012-02-30"))
    response = client.post(f"/returns/{draft.pk}/upload/",
                           {"file": SimpleUploadedFile("r.csv", content)})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Nothing has been saved" in page and "real date" in page
    assert Claim.objects.count() == 0
