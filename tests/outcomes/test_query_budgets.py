"""Query budgets for the returns screens: at most 20 queries a page, and the same number with 5
rows as with 50 (no query per row)."""

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from outcomes.models import EvidenceFile, Participant, ParticipantEvent, Return
from outcomes.services import return_due_date
from pbr.models import Role
from tests.outcomes.factories import bulk_claims

pytestmark = pytest.mark.django_db
BUDGET = 20
SIZES = (5, 50)


def evidence(provider, n=1):
    return [EvidenceFile.objects.create(
        organisation=provider, original_name=f"e{i}.pdf", stored_name=f"{provider.pk}/e{i}.pdf",
        content_type="application/pdf", size=10, sha256=f"{i:064d}", evidence_type="off_benefit_check")
        for i in range(n)]


def build_returns(c3, provider, n):
    """n returns for n monthly periods from July 2013 (the draft is June)."""
    returns = []
    for i in range(n):
        start = datetime.date(2013 + (6 + i) // 12, (6 + i) % 12 + 1, 1)
        end = (datetime.date(start.year + start.month // 12, start.month % 12 + 1, 1)
               - datetime.timedelta(days=1))
        returns.append(Return.objects.create(
            contract=c3, provider=provider, period_id=f"{start:%b %Y}", period_start=start,
            period_end=end, due_date=return_due_date(end),
            status="draft" if i % 2 else "submitted"))
    return returns


def build(kind, c3, draft, n):
    """Realistic data for one page; returns its URL."""
    provider = draft.provider
    if kind == "return_list":
        for ret in build_returns(c3, provider, n):
            bulk_claims(ret, 2, prefix=f"R{ret.pk}")
        return "/returns/"
    if kind == "claim_list":
        bulk_claims(draft, n, evidence=evidence(provider)[0])
        return "/returns/claims/"
    if kind == "claim_detail":
        _participants, claims = bulk_claims(draft, 1)
        claim = claims[0]
        files = evidence(provider, n)
        claim.evidence_files.add(*files)
        claim.checks = [{"code": f"c{i}", "passed": bool(i % 2), "reason": f"Check {i}."}
                        for i in range(n)]
        claim.save()
        return f"/returns/claims/{claim.pk}/"
    if kind == "participant_list":
        participants, _claims = bulk_claims(draft, n)
        for p in participants[: n // 2]:
            p.leave_date, p.leave_reason = datetime.date(2012, 1, 1), "Moved"
            p.save()
        return "/returns/participants/"
    if kind == "participant_detail":
        participant = Participant.objects.create(
            contract=c3, provider=provider, provider_reference="MANY", identity_hash="9" * 64,
            segment="JSA_18_24", start_date=datetime.date(2011, 6, 1))
        returns = build_returns(c3, provider, n)
        from outcomes.models import Claim

        Claim.objects.bulk_create([Claim(
            return_record=ret, participant=participant, outcome="sustainment",
            achieved=datetime.date(2012, 1, 1) + datetime.timedelta(weeks=4 * i),
            status="passed") for i, ret in enumerate(returns)])
        ParticipantEvent.objects.bulk_create([ParticipantEvent(
            return_record=ret, participant=participant, event="adverse",
            occurred=datetime.date(2012, 1, 2)) for ret in returns])
        return f"/returns/participants/{participant.pk}/"
    raise AssertionError(kind)


PAGES = ["return_list", "claim_list", "claim_detail", "participant_list", "participant_detail"]


def count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries), response


@pytest.mark.parametrize("role", [Role.PROVIDER_USER, Role.COMMISSIONER])
@pytest.mark.parametrize("kind", PAGES)
def test_page_stays_within_budget_and_does_not_grow_with_rows(
        client, world_a, c3, draft, role, kind, django_assert_max_num_queries):
    client.force_login(world_a.users[role])
    counts = {}
    # Mid-July 2013: the provider has returns due and overdue, so the deadline table is built.
    with time_machine.travel(datetime.datetime(2013, 7, 5, 12, tzinfo=ZoneInfo("Europe/London")),
                             tick=False):
        for size in SIZES:
            Return.objects.exclude(pk=draft.pk).delete()
            draft.claims.all().delete()
            Participant.objects.all().delete()
            EvidenceFile.objects.all().delete()
            url = build(kind, c3, draft, size)
            with django_assert_max_num_queries(BUDGET):
                counts[size], response = count_queries(client, url)
            rendered = response.content.decode()
            assert rendered.count("govuk-table__row") >= min(size, 2) or kind == "claim_detail"
    assert counts[5] == counts[50], f"{kind}: {counts} queries for 5 and 50 rows"
