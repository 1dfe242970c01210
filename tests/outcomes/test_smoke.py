import pytest

from outcomes.models import Claim, Participant
from outcomes.services import add_rows, facts_for, submit_return
from outcomes.validation import ReturnRejected

from .conftest import row


@pytest.mark.django_db
def test_add_submit_and_facts(draft, provider_user, c3):
    add_rows(draft, [(2, row()), (3, row(outcome="job_entry", achieved="2012-01-10"))],
             actor=provider_user)
    assert Claim.objects.count() == 2 and Participant.objects.count() == 1
    submit_return(draft, actor=provider_user)
    statuses = sorted(Claim.objects.values_list("status", flat=True))
    assert statuses == ["passed", "passed"], list(Claim.objects.values_list("checks", flat=True))
    import datetime
    facts = facts_for(c3, datetime.date(2013, 6, 30))
    assert len(facts.claims) == 2


@pytest.mark.django_db
def test_bad_rows(draft, provider_user):
    with pytest.raises(ReturnRejected) as exc:
        add_rows(draft, [(2, row(outcome="nope")), (3, row(achieved="2011-02-30"))],
                 actor=provider_user)
    print(exc.value.problems)
    assert {p.row for p in exc.value.problems} == {2, 3}
    assert Claim.objects.count() == 0
