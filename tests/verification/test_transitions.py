"""The transition matrix: every allowed transition by the right role works and is logged; every
other (wrong state, wrong role, wrong organisation) is refused with a reason and changes nothing.
Then segregation of duties and the appeal window, at its day boundary."""

import datetime

import pytest
import time_machine

from outcomes.models import Claim, ClaimStatus
from outcomes.verification import services
from outcomes.verification.permissions import TRANSITIONS
from outcomes.verification.services import VerificationError
from pbr.models import AuditEvent, Role

from .conftest import make_claims, set_policy, submitted_return

S = ClaimStatus

# How to reach each state from "passed" through the services (states from the automatic checks
# are set directly: they belong to submission, tested in tests/outcomes).
PATHS = {
    S.DRAFT: [], S.PASSED: [], S.FAILED: [], S.HELD: [], S.ACCEPTED: [],
    S.SAMPLED: ["select"],
    S.UNDER_REVIEW: ["select", "start_review"],
    S.QUERIED: ["select", "raise_query"],
    S.RESPONDED: ["select", "raise_query", "respond"],
    S.VERIFIED: ["select", "verify"],
    S.REJECTED: ["select", "reject"],
    S.APPEALED: ["select", "reject", "appeal"],
}
SET_DIRECTLY = {S.DRAFT, S.FAILED, S.HELD, S.ACCEPTED}

# Who is entitled to each kind of transition (permissions.TRANSITIONS[...].who).
ENTITLED = {
    "verifier": {"auditor", "commissioner"},
    "provider": {"provider_user", "provider_manager"},
    "provider_manager": {"provider_manager"},
    "commissioner": {"commissioner"},
}
ACTIONS = [a for a in TRANSITIONS if a != "accept"]  # accept happens only in a draw: see below
EVENTS = {"select": "claim.selected", "start_review": "claim.review_started",
          "raise_query": "claim.query_raised", "respond": "claim.query_answered",
          "verify": "claim.verified", "reject": "claim.rejected",
          "record_finding": "claim.finding_recorded", "appeal": "claim.appealed",
          "uphold_appeal": "claim.appeal_upheld", "dismiss_appeal": "claim.appeal_dismissed"}


@pytest.fixture
def actors(world_a, world_b, people, site_admin):
    found = {name: people[name] for name in ("auditor", "commissioner", "provider_user",
                                             "provider_manager")}
    # Another organisation of every kind: right role, wrong organisation.
    found.update({f"other_{role.value}": world_b.users[role] for role in (
        Role.AUDITOR, Role.COMMISSIONER, Role.PROVIDER_MANAGER)})
    found["site_admin"] = site_admin
    return found


def do(action, claim, user, *, today=None):
    """Call the one service function for `action`."""
    if action == "select":
        return services.select_claim(claim, actor=user)
    if action == "start_review":
        return services.start_review(claim, actor=user)
    if action == "raise_query":
        return services.raise_query(claim, actor=user, text="Send the payslip for week 26.",
                                    today=today)
    if action == "respond":
        return services.respond_to_query(claim, actor=user, text="Payslip attached.")
    if action == "verify":
        return services.verify_claim(claim, actor=user)
    if action == "reject":
        return services.reject_claim(claim, actor=user, reason_code="evidence_mismatch",
                                     note="The payslip is for another person.")
    if action == "record_finding":
        return services.record_finding(claim, actor=user, reason_code="not_achieved",
                                       note="Employer confirms the job ended in week 3.")
    if action == "appeal":
        return services.appeal_claim(claim, actor=user, grounds="The employer was mistaken.",
                                     today=today)
    if action in ("uphold_appeal", "dismiss_appeal"):
        return services.decide_appeal(claim, actor=user, upheld=action == "uphold_appeal",
                                      note="Decided on the employer's letter.")
    raise AssertionError(action)


class Builder:
    def __init__(self, contract, provider, people):
        self.ret = submitted_return(contract, provider)
        self.people = people
        self.n = 0

    def claim_in(self, state):
        """A fresh claim driven to `state`."""
        self.n += 1
        [claim] = make_claims(self.ret, 1, start=self.n)
        if state in SET_DIRECTLY:
            Claim.objects.filter(pk=claim.pk).update(status=state)
        acting = {"respond": "provider_user", "appeal": "provider_manager"}
        # Queries raised a month ago are overdue, so an unanswered one may be rejected.
        month_ago = datetime.date.today() - datetime.timedelta(days=30)
        for step in PATHS[state]:
            do(step, claim, self.people[acting.get(step, "auditor")], today=month_ago)
        claim.refresh_from_db()
        assert claim.status == state
        return claim


def _events(claim):
    return list(AuditEvent.objects.filter(object_type="outcomes.Claim", object_id=str(claim.pk))
                .order_by("id"))


@pytest.mark.django_db
@pytest.mark.parametrize("action", ACTIONS)
def test_transition_matrix(action, c3, world_a, people, actors):
    set_policy(c3)
    build = Builder(c3, world_a.provider, people)
    transition = TRANSITIONS[action]
    entitled = ENTITLED[transition.who]
    allowed_seen = 0
    for state in S.values:
        shared = build.claim_in(state)  # refusals change nothing, so one claim serves them all
        for name, user in actors.items():
            allowed = state in transition.sources and name in entitled
            claim = build.claim_in(state) if allowed else shared
            before_events = len(_events(claim))
            if allowed:
                do(action, claim, user)
                claim.refresh_from_db()
                assert claim.status == transition.target, (action, state, name)
                event = _events(claim)[-1]
                assert event.action == EVENTS[action]
                assert event.actor == user
                assert event.before == {"status": state}
                assert event.after["status"] == transition.target
                allowed_seen += 1
            else:
                with pytest.raises(VerificationError) as refused:
                    do(action, claim, user)
                assert str(refused.value).strip(), (action, state, name)
                claim.refresh_from_db()
                assert claim.status == state, (action, state, name)
                assert len(_events(claim)) == before_events, (action, state, name)
    assert allowed_seen == len(transition.sources) * len(entitled)


@pytest.mark.django_db
def test_refusals_say_what_is_wrong(c3, world_a, world_b, people):
    set_policy(c3)
    build = Builder(c3, world_a.provider, people)
    verified = build.claim_in(S.VERIFIED)
    sampled = build.claim_in(S.SAMPLED)
    cases = [
        (sampled, world_b.users[Role.AUDITOR], "verify",
         "Your organisation is not the auditor for C3-WORK-PROGRAMME."),
        (sampled, people["provider_manager"], "verify",
         "Only the contract's auditor or its commissioner verify claims."),
        (verified, people["auditor"], "verify",
         "This claim is verified: only a claim that is selected for verification, under review "
         "or provider responded can be verified."),
        (sampled, people["auditor"], "respond", "Only the provider that made the claim can do "
                                                "this."),
        (sampled, world_b.users[Role.PROVIDER_MANAGER], "respond",
         "This claim was made by another organisation."),
    ]
    for claim, user, action, message in cases:
        with pytest.raises(VerificationError, match="^" + message.replace(".", r"\.") + "$"):
            do(action, claim, user)


@pytest.mark.django_db
def test_draw_selects_or_accepts_each_claim_and_logs_it(c3, world_a, people):
    set_policy(c3, sample_pct="50", check_new_providers=False)
    ret = submitted_return(c3, world_a.provider)
    claims = make_claims(ret, 4)
    [held] = make_claims(ret, 1, start=10, status=S.HELD)
    sample = services.draw_sample(c3, actor=people["auditor"], seed=7)
    statuses = dict(Claim.objects.filter(return_record=ret).values_list("pk", "status"))
    # Half of the five claims at random, rounded half-up (3), drawn from the four not forced.
    assert sorted(statuses[c.pk] for c in claims) == [S.ACCEPTED, S.SAMPLED, S.SAMPLED,
                                                        S.SAMPLED]
    assert statuses[held.pk] == S.SAMPLED  # a possible duplicate is always checked
    for claim in [*claims, held]:
        [event] = _events(claim)
        expected = "claim.selected" if statuses[claim.pk] == S.SAMPLED else "claim.accepted"
        assert event.action == expected
        assert event.after["sample"] == sample.reference
    # Drawing again finds nothing waiting, and a provider cannot draw.
    with pytest.raises(VerificationError, match="No claims are waiting to be sampled"):
        services.draw_sample(c3, actor=people["auditor"])
    with pytest.raises(VerificationError, match="verify claims"):
        services.draw_sample(c3, actor=people["provider_manager"])


@pytest.mark.django_db
def test_nobody_verifies_a_claim_from_their_own_organisation(c3, world_a, people):
    """An audit body that also made a claim (say, as a subcontracted assessor) cannot verify it."""
    set_policy(c3)
    own = submitted_return(c3, world_a.audit_body)
    [claim] = make_claims(own, 1, status=S.SAMPLED)
    with pytest.raises(VerificationError, match="your own organisation"):
        services.verify_claim(claim, actor=people["auditor"])
    Claim.objects.filter(pk=claim.pk).update(status=S.PASSED)
    with pytest.raises(VerificationError, match="your own organisation"):
        services.draw_sample(c3, actor=people["auditor"])
    # The commissioner, from another organisation, can.
    Claim.objects.filter(pk=claim.pk).update(status=S.SAMPLED)
    services.verify_claim(claim, actor=people["commissioner"])


@pytest.mark.django_db
def test_whoever_rejected_cannot_decide_the_appeal(c3, world_a, people):
    set_policy(c3)
    build = Builder(c3, world_a.provider, people)
    claim = build.claim_in(S.SAMPLED)
    services.reject_claim(claim, actor=people["commissioner"], reason_code="not_eligible")
    services.appeal_claim(claim, actor=people["provider_manager"], grounds="Eligible on day 1.")
    with pytest.raises(VerificationError, match="You rejected this claim, so someone else must "
                                                "decide the appeal."):
        services.decide_appeal(claim, actor=people["commissioner"], upheld=True, note="Fine.")
    appeal = services.decide_appeal(claim, actor=people["commissioner2"], upheld=True,
                                    note="The referral letter shows eligibility.")
    claim.refresh_from_db()
    assert claim.status == S.VERIFIED and appeal.upheld is True
    assert appeal.decided_by == people["commissioner2"]


@pytest.mark.django_db
@pytest.mark.parametrize(("days_after", "allowed"), [(28, True), (29, False)])
def test_appeal_within_the_policy_window_at_the_day_boundary(c3, world_a, people, days_after,
                                                             allowed):
    set_policy(c3, appeal_window_days=28)
    build = Builder(c3, world_a.provider, people)
    claim = build.claim_in(S.SAMPLED)
    with time_machine.travel(datetime.datetime(2026, 3, 2, 16, 0), tick=False):
        services.reject_claim(claim, actor=people["auditor"], reason_code="wrong_dates")
    day = datetime.date(2026, 3, 2) + datetime.timedelta(days=days_after)
    with time_machine.travel(datetime.datetime.combine(day, datetime.time(9)), tick=False):
        if allowed:
            services.appeal_claim(claim, actor=people["provider_manager"], grounds="Dates fixed.")
            claim.refresh_from_db()
            assert claim.status == S.APPEALED
        else:
            with pytest.raises(VerificationError, match="The appeal window closed on 30 March "
                                                        "2026."):
                services.appeal_claim(claim, actor=people["provider_manager"], grounds="Late.")


@pytest.mark.django_db
def test_a_dismissed_appeal_cannot_be_appealed_again(c3, world_a, people):
    set_policy(c3)
    build = Builder(c3, world_a.provider, people)
    claim = build.claim_in(S.APPEALED)
    services.decide_appeal(claim, actor=people["commissioner"], upheld=False,
                           note="No new evidence.")
    claim.refresh_from_db()
    assert claim.status == S.REJECTED
    with pytest.raises(VerificationError, match="appeal has been decided"):
        services.appeal_claim(claim, actor=people["provider_manager"], grounds="Again.")


@pytest.mark.django_db
def test_a_claim_failed_by_the_automatic_checks_is_not_appealed(c3, world_a, people):
    set_policy(c3)
    build = Builder(c3, world_a.provider, people)
    claim = build.claim_in(S.FAILED)
    Claim.objects.filter(pk=claim.pk).update(status=S.REJECTED)
    with pytest.raises(VerificationError, match="amending the return"):
        services.appeal_claim(claim, actor=people["provider_manager"], grounds="Please.")


@pytest.mark.django_db
def test_queries_repeat_and_answers_bring_new_evidence(c3, world_a, people):
    from .conftest import evidence_file

    set_policy(c3)
    build = Builder(c3, world_a.provider, people)
    claim = build.claim_in(S.UNDER_REVIEW)
    proof = evidence_file(world_a.provider, "payslip.pdf")
    services.raise_query(claim, actor=people["auditor"], text="Which employer?")
    services.respond_to_query(claim, actor=people["provider_user"], text="Acme Ltd.",
                              evidence=[proof])
    services.raise_query(claim, actor=people["auditor2"], text="And the start date?")
    query = services.respond_to_query(claim, actor=people["provider_user"], text="5 Sep 2011.")
    claim.refresh_from_db()
    assert claim.status == S.RESPONDED
    assert [q.response for q in claim.queries.all()] == ["Acme Ltd.", "5 Sep 2011."]
    assert proof in claim.evidence_files.all() and query.responded_by == people["provider_user"]
    services.raise_query(claim, actor=people["auditor"], text="Anything else?")
    with pytest.raises(VerificationError, match="Enter your answer"):
        services.respond_to_query(claim, actor=people["provider_user"], text="  ")
    other = evidence_file(world_a.audit_body, "x.pdf")
    with pytest.raises(VerificationError, match="belongs to another organisation"):
        services.respond_to_query(claim, actor=people["provider_user"], text="See file.",
                                  evidence=[other])


@pytest.mark.django_db
def test_rejection_needs_a_reason_code(c3, world_a, people):
    set_policy(c3)
    claim = Builder(c3, world_a.provider, people).claim_in(S.SAMPLED)
    with pytest.raises(VerificationError, match="Choose the reason"):
        services.reject_claim(claim, actor=people["auditor"], reason_code="")
    with pytest.raises(VerificationError, match="Explain the reason in the note"):
        services.reject_claim(claim, actor=people["auditor"], reason_code="other", note=" ")
    claim.refresh_from_db()
    assert claim.status == S.SAMPLED


@pytest.mark.django_db
def test_bulk_decisions_report_each_claim(c3, world_a, people):
    set_policy(c3)
    build = Builder(c3, world_a.provider, people)
    ready = [build.claim_in(S.SAMPLED), build.claim_in(S.RESPONDED)]
    waiting = build.claim_in(S.UNDER_REVIEW)
    services.raise_query(waiting, actor=people["auditor"], text="Which employer?")  # due later
    results = services.bulk_decide([*ready, waiting], actor=people["auditor"],
                                   decision="reject", reason_code="evidence_missing")
    assert [r[1] is None for r in results] == [True, True, False]
    assert "The provider has until" in results[2][1]
    assert set(Claim.objects.filter(pk__in=[c.pk for c in ready])
               .values_list("status", flat=True)) == {S.REJECTED}


@pytest.mark.django_db
def test_allocation_only_to_someone_who_can_verify(c3, world_a, world_b, people):
    set_policy(c3)
    claim = Builder(c3, world_a.provider, people).claim_in(S.SAMPLED)
    services.allocate(claim, actor=people["auditor"], assignee=people["auditor2"])
    claim = Claim.objects.get(pk=claim.pk)
    assert claim.review.allocated_to == people["auditor2"]
    assert _events(claim)[-1].action == "claim.allocated"
    with pytest.raises(VerificationError, match="cannot verify claims on C3-WORK-PROGRAMME"):
        services.allocate(claim, actor=people["auditor"], assignee=world_b.users[Role.AUDITOR])
    with pytest.raises(VerificationError, match="cannot verify claims on"):
        services.allocate(claim, actor=people["auditor"], assignee=people["provider_manager"])


@pytest.mark.django_db
def test_an_unanswered_query_blocks_rejection_until_it_is_overdue(c3, world_a, people):
    set_policy(c3, query_response_days=10)
    claim = Builder(c3, world_a.provider, people).claim_in(S.UNDER_REVIEW)
    with time_machine.travel(datetime.datetime(2026, 3, 2, 10, 0), tick=False):
        services.raise_query(claim, actor=people["auditor"], text="Which employer?")
    with time_machine.travel(datetime.datetime(2026, 3, 12, 17, 0), tick=False), \
            pytest.raises(VerificationError, match="The provider has until 12 March 2026 to "
                                                   "answer the query"):
        services.reject_claim(claim, actor=people["auditor"], reason_code="no_response")
    with time_machine.travel(datetime.datetime(2026, 3, 13, 9, 0), tick=False):
        services.reject_claim(claim, actor=people["auditor"], reason_code="no_response")
    claim.refresh_from_db()
    assert claim.status == S.REJECTED and claim.review.reason_code == "no_response"
