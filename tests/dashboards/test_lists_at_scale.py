"""The pages under the national-scale target read their lists differently from the obvious
query (docs/performance.md, "Dashboards"); these tests hold them to the obvious query's answers:
the auditor's queue reaches its claims through the contracts it verifies, the "waiting to be
sampled" panel reads the dashboard figures when they are current, and the claim list and the
queue page through claims without sorting all of them (outcomes/paging.py)."""

import datetime

import pytest
from django.utils import timezone

from contracts.models import Contract
from outcomes.models import OPEN_CLAIM_STATUSES, Claim, ClaimStatus, Participant, Return
from outcomes.paging import ClaimsByReturn, NarrowSort
from outcomes.verification import permissions
from outcomes.verification import queue as verification_queue
from outcomes.verification import services as verification_services
from pbr.dashboards.models import DashboardSnapshot
from pbr.dashboards.refresh import refresh_contract
from pbr.models import Role
from tests.outcomes.conftest import c3_document, make_contract

from .conftest import START, caseload, submitted_return

pytestmark = pytest.mark.django_db


def test_the_partial_index_covers_exactly_the_open_statuses():
    assert tuple(OPEN_CLAIM_STATUSES) == tuple(str(s) for s in permissions.OPEN_STATUSES)


@pytest.fixture
def two_worlds(world_a, world_b, site_admin):
    """A contract in each world, each with claims in every status."""
    contracts = []
    for world in (world_a, world_b):
        contract = make_contract(world, c3_document(), reference=f"LIST-{world.provider.pk}")
        ret = submitted_return(contract, world.provider)
        for status in (ClaimStatus.PASSED, ClaimStatus.SAMPLED, ClaimStatus.VERIFIED,
                       ClaimStatus.APPEALED):
            caseload(ret, "JSA_18_24", 2, 0, 0, prefix=f"{world.provider.pk}-{status}",
                     status=status)
        contracts.append(contract)
    return contracts


def _everyone(world_a, world_b, site_admin):
    return [*world_a.users.values(), *world_b.users.values(), site_admin]


def test_verifier_contracts_are_those_the_permission_allows(two_worlds, world_a, world_b,
                                                            site_admin):
    for user in _everyone(world_a, world_b, site_admin):
        allowed = {c.pk for c in Contract.objects.all()
                   if permissions.can_draw_sample(user, c)}
        assert set(verification_queue.verifier_contracts(user)
                   .values_list("pk", flat=True)) == allowed, user.username


def test_the_queue_sees_exactly_the_claims_for_user_sees(two_worlds, world_a, world_b,
                                                         site_admin):
    for user in _everyone(world_a, world_b, site_admin):
        expected = set(Claim.objects.for_user(user).values_list("pk", flat=True))
        assert set(verification_queue._scoped(user).values_list("pk", flat=True)) == expected
        open_ = set(Claim.objects.for_user(user).filter(status__in=OPEN_CLAIM_STATUSES)
                    .values_list("pk", flat=True))
        assert set(verification_queue.queue_for(user).values_list("pk", flat=True)) == open_


# --- the "waiting to be sampled" panel ---------------------------------------------------------


def _panel(user):
    return {row["contract"]["reference"]: row for row in
            verification_queue.waiting_by_contract(user)}


def test_waiting_counts_come_from_current_figures_and_are_counted_when_there_are_none(
        contract, world_a):
    auditor = world_a.users[Role.AUDITOR]
    ret = submitted_return(contract, world_a.provider)
    caseload(ret, "JSA_18_24", 5, 0, 0, prefix="P", status=ClaimStatus.PASSED)
    caseload(ret, "JSA_18_24", 2, 0, 0, prefix="H", status=ClaimStatus.HELD)
    caseload(ret, "JSA_18_24", 3, 0, 0, prefix="S", status=ClaimStatus.SAMPLED)
    live = verification_services.waiting_to_be_sampled(contract).count()
    assert live == 7

    # No figures yet: counted.
    row = _panel(auditor)[contract.reference]
    assert (row["count"], row["as_of"], row["has_policy"]) == (7, None, False)

    # Figures worked out: read from them (altered here, to show they are what is read).
    snapshot = refresh_contract(contract, with_forecast=False)
    assert _panel(auditor)[contract.reference]["as_of"] == snapshot.computed_at
    summary = snapshot.summary
    summary["claims"]["by_provider_status"][str(world_a.provider.pk)]["passed"] = 40
    DashboardSnapshot.objects.filter(pk=snapshot.pk).update(summary=summary)
    assert _panel(auditor)[contract.reference]["count"] == 42


def test_figures_older_than_a_submitted_return_or_a_sample_are_not_used(contract, world_a):
    from outcomes.verification.models import Sample, VerificationPolicy

    auditor = world_a.users[Role.AUDITOR]
    ret = submitted_return(contract, world_a.provider)
    caseload(ret, "JSA_18_24", 5, 0, 0, prefix="P")
    snapshot = refresh_contract(contract, with_forecast=False)
    DashboardSnapshot.objects.filter(pk=snapshot.pk).update(
        computed_at=snapshot.computed_at - datetime.timedelta(hours=1))

    # A return submitted since the figures: counted afresh, with its claims.
    later = submitted_return(contract, world_a.provider, period_id="Feb 2012")
    Return.objects.filter(pk=later.pk).update(submitted_at=timezone.now())
    caseload(later, "JSA_18_24", 4, 0, 0, prefix="L")
    row = _panel(auditor)[contract.reference]
    assert (row["count"], row["as_of"]) == (9, None)

    # Figures worked out again, then a sample drawn: counted afresh (the sample took them).
    refresh_contract(contract, with_forecast=False)
    assert _panel(auditor)[contract.reference]["as_of"] is not None
    VerificationPolicy.objects.create(contract=contract, sample_pct=100)
    verification_services.draw_sample(contract, actor=auditor, seed=1)
    assert Sample.objects.filter(contract=contract).exists()
    assert contract.reference not in _panel(auditor)


def test_the_panel_is_only_for_contracts_the_user_samples(contract, world_a, world_b):
    ret = submitted_return(contract, world_a.provider)
    caseload(ret, "JSA_18_24", 3, 0, 0)
    assert contract.reference in _panel(world_a.users[Role.AUDITOR])
    assert contract.reference in _panel(world_a.users[Role.COMMISSIONER])
    for user in (world_a.users[Role.PROVIDER_USER], world_b.users[Role.AUDITOR],
                 world_b.users[Role.COMMISSIONER]):
        assert _panel(user) == {}


# --- paging --------------------------------------------------------------------------------


def _claims_in_several_returns(contract, world):
    """Returns of four periods with 0, 1, 3 and 7 claims, rows numbered against id order, and a
    second contract's return in the same period (so contract reference orders the returns)."""
    other = make_contract(world, c3_document(), reference="A-FIRST")
    sizes = {"Oct 2011": 7, "Nov 2011": 3, "Dec 2011": 0, "Jan 2012": 1}
    for target, periods in ((contract, sizes), (other, {"Nov 2011": 2})):
        for period, n in periods.items():
            ret = submitted_return(target, world.provider, period_id=period)
            people = Participant.objects.bulk_create([Participant(
                contract=target, provider=world.provider,
                provider_reference=f"{target.reference}-{period}-{i}",
                identity_hash=f"{target.pk}{period}{i}".ljust(64, "0"), segment="JSA_18_24",
                start_date=START) for i in range(n)])
            Claim.objects.bulk_create([Claim(
                return_record=ret, participant=person, row_number=n - i, outcome="attachment",
                achieved=START, status=ClaimStatus.PASSED) for i, person in enumerate(people)])


def _as_the_claim_list_orders_them(claims):
    return claims.order_by("-return_record__period_start", "return_record__contract__reference",
                           "return_record_id", "row_number", "pk")


def test_the_claim_list_pages_are_the_slices_of_the_sorted_list(contract, world_a):
    _claims_in_several_returns(contract, world_a)
    claims = Claim.objects.for_user(world_a.users[Role.PROVIDER_USER])
    expected = list(_as_the_claim_list_orders_them(claims).values_list("pk", flat=True))
    pager = ClaimsByReturn(claims, Claim.objects.all())
    assert pager.count() == len(expected) == 13
    for start in range(len(expected) + 1):
        for stop in range(start, len(expected) + 2):
            assert [c.pk for c in pager[start:stop]] == expected[start:stop], (start, stop)


def test_the_claim_list_view_shows_each_page_in_order(client, contract, world_a):
    _claims_in_several_returns(contract, world_a)
    user = world_a.users[Role.PROVIDER_USER]
    client.force_login(user)
    expected = list(_as_the_claim_list_orders_them(Claim.objects.for_user(user)))
    response = client.get("/returns/claims/")
    page = response.context["page"]
    assert [c.pk for c in page.object_list] == [c.pk for c in expected]
    assert page.paginator.count == 13
    html = response.content.decode()
    shown = [html.index(f"{c.participant.provider_reference}<") for c in expected]
    assert shown == sorted(shown)


def test_the_queue_pages_are_the_slices_of_the_sorted_queue(two_worlds, world_a):
    from outcomes.verification.models import ClaimReview

    auditor = world_a.users[Role.AUDITOR]
    claims = verification_queue.queue_for(auditor)
    for i, claim in enumerate(claims.order_by("-pk")):
        if i % 3:  # some without a due date, or without a review at all
            ClaimReview.objects.create(claim=claim, due_date=datetime.date(2012, 3, i % 2 + 1))
    expected = list(verification_queue.queue_for(auditor).values_list("pk", flat=True))
    pager = NarrowSort(verification_queue.queue_for(auditor), Claim.objects.all())
    assert pager.count() == len(expected) == 4
    for start in range(len(expected) + 1):
        for stop in range(start, len(expected) + 2):
            assert [c.pk for c in pager[start:stop]] == expected[start:stop]


def test_the_queue_page_asked_for_is_read_with_its_count(two_worlds, world_a,
                                                         django_assert_num_queries):
    """The count comes with the asked page's ids; through Django's Paginator, as the page
    uses it, every page (and pages past the end or not numbers) shows what slicing would."""
    from django.core.paginator import Paginator

    auditor = world_a.users[Role.AUDITOR]
    expected = list(verification_queue.queue_for(auditor).values_list("pk", flat=True))
    for per_page in (1, 3, 25):
        for asked in ("1", "2", "3", "4", "9", "x", None):
            pager = NarrowSort(verification_queue.queue_for(auditor), Claim.objects.all(),
                               page=asked, per_page=per_page)
            page = Paginator(pager, per_page).get_page(asked)
            first = (page.number - 1) * per_page
            assert [c.pk for c in page.object_list] == expected[first:first + per_page]
    pager = NarrowSort(verification_queue.queue_for(auditor), Claim.objects.all(),
                       page="2", per_page=3)
    with django_assert_num_queries(2):  # ids with the count, then the rows
        assert len(Paginator(pager, 3).get_page("2").object_list) == 1


# --- keeping the panel's figures fresh --------------------------------------------------------


def test_a_submitted_return_or_a_drawn_sample_refreshes_existing_figures(
        contract, world_a, django_capture_on_commit_callbacks):
    from outcomes.models import ReturnStatus
    from outcomes.verification.models import VerificationPolicy

    auditor = world_a.users[Role.AUDITOR]
    ret = submitted_return(contract, world_a.provider)
    caseload(ret, "JSA_18_24", 5, 0, 0, prefix="P")
    refresh_contract(contract, with_forecast=False)

    later = submitted_return(contract, world_a.provider, period_id="Feb 2012")
    Return.objects.filter(pk=later.pk).update(status=ReturnStatus.DRAFT)
    caseload(later, "JSA_18_24", 4, 0, 0, prefix="L")
    later.refresh_from_db()
    later.status, later.submitted_at = ReturnStatus.SUBMITTED, timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        later.save(update_fields=["status", "submitted_at"])
    row = _panel(auditor)[contract.reference]
    assert row["count"] == 9 and row["as_of"] is not None  # from the refreshed figures

    VerificationPolicy.objects.create(contract=contract, sample_pct=100)
    with django_capture_on_commit_callbacks(execute=True):
        verification_services.draw_sample(contract, actor=auditor, seed=1)
    snap = DashboardSnapshot.objects.get(contract=contract)
    assert snap.summary["claims"]["by_provider_status"][str(world_a.provider.pk)] == {
        "sampled": 9}
    assert contract.reference not in _panel(auditor)


def test_a_contract_without_figures_gets_none_from_a_submission(
        contract, world_a, django_capture_on_commit_callbacks):
    from outcomes.models import ReturnStatus

    ret = submitted_return(contract, world_a.provider)
    Return.objects.filter(pk=ret.pk).update(status=ReturnStatus.DRAFT)
    ret.refresh_from_db()
    ret.status = ReturnStatus.SUBMITTED
    with django_capture_on_commit_callbacks(execute=True):
        ret.save(update_fields=["status"])
    assert not DashboardSnapshot.objects.filter(contract=contract).exists()
