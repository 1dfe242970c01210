"""Crafted programmes for the dashboards: a C3 (Work Programme) contract whose participants,
claims and referrals are written directly, so each figure is known by construction."""

import datetime

import pytest

from pbr.models import Role
from tests.outcomes.conftest import c3_document, make_contract

START = datetime.date(2011, 7, 1)


def submitted_return(contract, provider, period_id="Jan 2012"):
    from outcomes.models import Return, ReturnStatus
    from outcomes.services import start_return

    ret = start_return(contract, period_id, actor=None, provider=provider)
    Return.objects.filter(pk=ret.pk).update(status=ReturnStatus.SUBMITTED)
    ret.refresh_from_db()
    return ret


def caseload(ret, segment, participants, active, with_outcome, referrals=None, *, prefix=None,
             status="passed"):
    """`participants` people in `segment`, each with an attachment claimed on the day they
    started (not activity); the first `active` of them with a job entry (activity, not a
    result), of whom the first `with_outcome` also have a job outcome (a result).
    referrals: {subcontractor code: how many of them, in order} named on their claims."""
    from outcomes.models import Claim, Participant

    assert with_outcome <= active <= participants
    prefix = prefix or segment
    people = Participant.objects.bulk_create([Participant(
        contract=ret.contract, provider=ret.provider, provider_reference=f"{prefix}-{i:04d}",
        identity_hash=f"{prefix}-{i:058d}"[-64:], segment=segment, start_date=START)
        for i in range(participants)])
    sub_of = []
    for code, n in (referrals or {}).items():
        sub_of += [code] * n
    claims = []
    for i, person in enumerate(people):
        sub = sub_of[i] if i < len(sub_of) else ""
        claims.append(Claim(return_record=ret, participant=person, outcome="attachment",
                            achieved=START, status=status, subcontractor=sub))
        if i < active:
            claims.append(Claim(return_record=ret, participant=person, outcome="job_entry",
                                achieved=datetime.date(2011, 9, 1), status=status,
                                subcontractor=sub))
        if i < with_outcome:
            claims.append(Claim(return_record=ret, participant=person, outcome="job_outcome",
                                achieved=datetime.date(2012, 1, 10),
                                started=datetime.date(2011, 7, 4), status=status,
                                subcontractor=sub))
    Claim.objects.bulk_create(claims)
    return people


@pytest.fixture
def contract(world_a):
    return make_contract(world_a, c3_document())


@pytest.fixture
def commissioner(world_a):
    return world_a.users[Role.COMMISSIONER]


@pytest.fixture
def provider_user(world_a):
    return world_a.users[Role.PROVIDER_USER]
