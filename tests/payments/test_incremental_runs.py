"""An incremental run (only participants whose facts changed, ADR 0012) posts exactly the lines a
full recomputation posts: same keys, amounts, explanations, inputs, references and corrections.

Every run below is computed twice: in full inside a savepoint that is rolled back, then the
normal way, and the two sets of posted lines are compared line for line, and so are the
tallies of accepted claims each leaves for the next run (ADR 0022). The facts change
between runs through every write path the fact-change triggers watch: new returns, late returns,
status changes after payment, payment-group changes, amendments, events, evidence, drafts
submitted later, and months with no new facts at all.
"""

import datetime
import json
import random
from decimal import Decimal

import pytest
from django.db import transaction

from contracts.definition import load_document
from contracts.services import import_contract
from outcomes.models import (
    Claim,
    EvidenceFile,
    IndicatorReturn,
    Participant,
    ParticipantEvent,
    Return,
)
from payments.fact_changes import triggers_installed
from payments.models import FactChange, LedgerLine, ParticipantTally, PaymentRun
from payments.services import _consume_fact_changes, run_period
from tests.outcomes.conftest import EXAMPLES

SHAPE = ("period_id", "key", "kind", "rule_id", "amount", "shadow", "subcontractor",
         "participant", "explanation", "inputs", "references", "corrects_id")


def _shape(line):
    return tuple(getattr(line, f) for f in SHAPE)


def _canonical(refusals):
    """Refusals as comparable text: PostgreSQL's jsonb gives a stored dict's keys back in its
    own order, so compare them with sorted keys."""
    return sorted(json.dumps(r, sort_keys=True) for r in refusals)


def tallies_of(contract):
    return {t.participant: (t.terms_version_id, t.accepted, t.through_achieved, t.through_claim)
            for t in ParticipantTally.objects.filter(contract=contract)}


def run_both(contract, period):
    """Full recomputation (rolled back), then the normal run; both must post the same, and
    leave the same tallies: a full recomputation writes everyone's, so every tally left after
    the normal run must be the full one's (a participant without a tally has their history
    read next time)."""
    with transaction.atomic():
        sid = transaction.savepoint()
        full_run, full_lines = run_period(contract, period, full=True)
        expected = [_shape(ln) for ln in full_lines]
        expected_refusals = _canonical(full_run.refusals)
        expected_notes = list(full_run.notes)
        expected_tallies = tallies_of(contract)
        transaction.savepoint_rollback(sid)
    run, lines = run_period(contract, period)
    assert [_shape(ln) for ln in lines] == expected
    assert _canonical(run.refusals) == expected_refusals
    assert list(run.notes) == expected_notes
    tallies = tallies_of(contract)
    assert {who: expected_tallies.get(who) for who in tallies} == tallies
    return run, lines


def contract_from(world, name, reference=None):
    doc = load_document(EXAMPLES / name)
    if reference:
        doc["reference"] = reference
    return import_contract(doc, commissioner=world.commissioning_body,
                           links={"PRIME": world.provider, "EFS": world.provider,
                                  "EHS": world.provider, "EYH": world.provider,
                                  "ESS": world.provider, "ERT": world.provider},
                           publish=True)


def periods_of(contract):
    from contracts.definition import periods

    return periods(contract.current_version().definition())


def new_return(contract, period, status="submitted", version=1, supersedes=None):
    return Return.objects.create(
        contract=contract, provider=contract.parties.get(role="prime").organisation,
        period_id=period.id, period_start=period.start, period_end=period.end,
        due_date=period.end + datetime.timedelta(days=10), status=status, version=version,
        supersedes=supersedes)


class Programme:
    """A C3 contract whose facts change at random between monthly runs."""

    SEGMENTS = ("JSA_18_24", "ESA_EXIB")

    def __init__(self, contract, seed):
        self.contract = contract
        self.rng = random.Random(seed)
        self.periods = list(periods_of(contract))[:14]
        self.people = []
        self.skipped = []
        self.pending = None
        self.proof = EvidenceFile.objects.create(
            organisation=contract.parties.get(role="prime").organisation,
            evidence_type="off_benefit_check", original_name="proof.pdf",
            stored_name=f"bench-proof-{seed}-{contract.pk}", content_type="application/pdf",
            size=1, sha256="0" * 64)

    def person(self, period):
        n = len(self.people) + 1
        p = Participant.objects.create(
            contract=self.contract, provider=self.contract.parties.get(role="prime").organisation,
            provider_reference=f"CASE-{n}", identity_hash=f"{n:064d}",
            segment=self.rng.choice(self.SEGMENTS), start_date=period.start)
        self.people.append(p)
        return p

    def claims(self, ret, period):
        rng = self.rng
        made = []
        for _ in range(rng.randrange(2, 5)):
            made.append(Claim(return_record=ret, participant=self.person(period),
                              outcome="attachment", achieved=period.start, status="passed"))
        for p in rng.sample(self.people, min(len(self.people), rng.randrange(1, 6))):
            if p.start_date > period.end:
                continue
            outcome = rng.choice(["job_outcome", "sustainment", "job_entry", "attachment"])
            started = period.end - datetime.timedelta(weeks=rng.choice([10, 14, 27]))
            made.append(Claim(return_record=ret, participant=p, outcome=outcome,
                              achieved=period.end, started=started,
                              status=rng.choice(["passed", "passed", "verified", "held",
                                                 "rejected"])))
        saved = Claim.objects.bulk_create(made)
        for c in saved:
            if c.outcome == "job_outcome" and rng.random() < 0.8:
                self.proof.claims.add(c)
        return saved

    def change_something(self, period, index):
        """One of the ways facts change after they were first paid."""
        rng = self.rng
        earlier = list(Claim.objects.filter(return_record__contract=self.contract))
        action = rng.choice(["reject", "segment", "amend", "event", "late", "draft_then_submit",
                             "evidence", "nothing"])
        if action == "reject" and earlier:
            Claim.objects.filter(pk=rng.choice(earlier).pk).update(status="rejected")
        elif action == "segment" and self.people:
            p = rng.choice(self.people)
            Participant.objects.filter(pk=p.pk).update(
                segment="ESA_EXIB" if p.segment == "JSA_18_24" else "JSA_18_24")
        elif action == "amend":
            old = (Return.objects.filter(contract=self.contract, period_end__lt=period.start)
                   .exclude(status="draft").order_by("-version", "pk").first())
            if old is not None:
                newest = max(Return.objects.filter(contract=self.contract,
                                                   period_id=old.period_id)
                             .values_list("version", flat=True))
                new = new_return(self.contract, self.periods[
                    next(i for i, p in enumerate(self.periods) if p.id == old.period_id)],
                    status="draft", version=newest + 1, supersedes=old)
                kept = list(old.claims.all())[1:]  # the amendment drops the first claim
                Claim.objects.bulk_create([Claim(
                    return_record=new, participant_id=c.participant_id, outcome=c.outcome,
                    achieved=c.achieved, started=c.started, status=c.status) for c in kept])
                Return.objects.filter(pk=new.pk).update(status="submitted")
        elif action == "event" and self.people:
            ret = Return.objects.filter(contract=self.contract, period_id=period.id).first()
            if ret is not None:
                ParticipantEvent.objects.create(return_record=ret,
                                                participant=rng.choice(self.people),
                                                event="adverse", occurred=period.start)
        elif action == "late" and self.skipped:
            late = self.skipped.pop(0)  # a month whose return comes in after its run
            self.claims(new_return(self.contract, late), late)
        elif action == "draft_then_submit" and period not in self.skipped:
            self.pending = new_return(self.contract, period, status="draft", version=2)
            self.claims(self.pending, period)
        elif action == "evidence" and earlier:
            claim = rng.choice(earlier)
            if claim.outcome == "job_outcome":
                self.proof.claims.remove(claim)
        return action


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_months_of_c3_post_exactly_what_a_full_recomputation_posts(world_a, seed):
    contract = contract_from(world_a, "c3-work-programme.yaml", reference=f"C3-INC-{seed}")
    prog = Programme(contract, seed)
    modes, actions, from_tally = [], [], 0
    for index, period in enumerate(prog.periods):
        if prog.pending is not None:
            Return.objects.filter(pk=prog.pending.pk).update(status="submitted")
            prog.pending = None
        if index and prog.rng.random() < 0.2:
            prog.skipped.append(period)
        else:
            prog.claims(new_return(contract, period), period)
        actions.append(prog.change_something(period, index))
        run, _lines = run_both(contract, period.id)
        modes.append(run.mode)
        from_tally += run.participants_from_tally
        # The same period again with nothing new: nothing posted, nobody recomputed.
        again, lines = run_both(contract, period.id)
        assert lines == [] and again.mode == "unchanged" and again.participants_recomputed == 0
    assert modes[0] == "full" and set(modes[1:]) == {"incremental"}
    # New claims uploaded through the triggers (named one by one): assessed from tallies.
    assert from_tally, "no participant was assessed from a tally: the test does not exercise it"
    assert LedgerLine.objects.filter(contract=contract).exclude(amount=0).exists()


@pytest.mark.django_db
def test_a_payment_rejected_later_is_reversed_by_the_incremental_run(world_a):
    contract = contract_from(world_a, "c3-work-programme.yaml")
    jun, jul, aug = periods_of(contract)[:3]
    prog = Programme(contract, 0)
    prog.SEGMENTS = ("JSA_18_24",)
    ret = new_return(contract, jun)
    person = prog.person(jun)
    paid = Claim.objects.create(return_record=ret, participant=person, outcome="attachment",
                                achieved=jun.start, status="passed")
    _run, [line] = run_both(contract, jun.id)
    assert line.amount == Decimal("400.00") and line.participant == f"P{person.pk}"
    Claim.objects.filter(pk=paid.pk).update(status="rejected")  # e.g. a finding by an auditor
    run, [reversal] = run_both(contract, jul.id)
    assert run.mode == "incremental" and run.participants_recomputed == 1
    assert reversal.amount == Decimal("-400.00") and reversal.corrects_id == line.pk
    assert reversal.participant == line.participant  # so the next run finds it among theirs
    _run, posted = run_both(contract, aug.id)
    assert posted == []


@pytest.mark.django_db
def test_writes_by_any_route_mark_the_participant_changed(world_a):
    assert triggers_installed()
    contract = contract_from(world_a, "c3-work-programme.yaml")
    jun = periods_of(contract)[0]
    prog = Programme(contract, 0)
    ret = new_return(contract, jun, status="draft")
    a, b, c = prog.person(jun), prog.person(jun), prog.person(jun)
    claim = Claim.objects.create(return_record=ret, participant=a, outcome="attachment",
                                 achieved=jun.start)
    Claim.objects.create(return_record=ret, participant=b, outcome="attachment",
                         achieved=jun.start)
    # People and claims written: the new people are replayed whole (no claim-only changes).
    assert _consume_fact_changes(contract) == ({a.pk, b.pk, c.pk}, {})
    assert not FactChange.objects.exists()
    Return.objects.filter(pk=ret.pk).update(status="submitted")  # all of the return's people
    assert _consume_fact_changes(contract) == ({a.pk, b.pk}, {})
    prog.proof.claims.add(claim)  # evidence for one claim: from that claim on
    assert _consume_fact_changes(contract) == ({a.pk}, {a.pk: {f"C{claim.pk}"}})
    later = Claim.objects.create(return_record=ret, participant=a, outcome="job_outcome",
                                 achieved=jun.end)  # a new claim: from that claim on
    assert _consume_fact_changes(contract) == ({a.pk}, {a.pk: {f"C{later.pk}"}})
    other = Claim.objects.create(return_record=ret, participant=b, outcome="job_outcome",
                                 achieved=jun.end)
    Claim.objects.filter(pk=later.pk).update(status="rejected")  # a change: a replayed whole
    assert _consume_fact_changes(contract) == ({a.pk, b.pk}, {b.pk: {f"C{other.pk}"}})
    EvidenceFile.objects.filter(pk=prog.proof.pk).update(evidence_type="payslip")
    assert _consume_fact_changes(contract) == ({a.pk}, {})
    ParticipantEvent.objects.create(return_record=ret, participant=c, event="adverse",
                                    occurred=jun.start)
    assert _consume_fact_changes(contract) == ({c.pk}, {})
    Claim.objects.filter(pk=claim.pk).delete()
    assert _consume_fact_changes(contract) == ({a.pk}, {})


@pytest.mark.django_db
@pytest.mark.parametrize("name, measures", [
    ("c1-derbyshire.yaml", [("planned_move_on", "Q1 2013-14", "P3 2013-14", "63"),
                            ("utilisation", "Q1 2013-14", "P3 2013-14", "81"),
                            ("planned_move_on", "Q2 2013-14", "P6 2013-14", "71"),
                            ("utilisation", "Q2 2013-14", "P6 2013-14", "92")]),
    ("c1-derbyshire-shadow.yaml", [("planned_move_on", "Q1 2013-14", "P3 2013-14", "50"),
                                   ("utilisation", "Q1 2013-14", "P3 2013-14", "80")]),
    ("c2-southend.yaml", [("individuals_supported", "2011-12", "Q4 2011-12", "122"),
                          ("tenancy_sustainment", "2011-12", "Q4 2011-12", "99.5")]),
    ("c4-lewisham.yaml", [("entering", "2012-13", "Mar 2013", "45"),
                          ("moving_on", "2012-13", "Mar 2013", "40")]),
    ("c6-sheffield.yaml", [("planned_move_on", "2012-13", "Mar 2013", "68.1")]),
])
def test_contract_level_schemes_post_the_same_in_both_modes(world_a, name, measures):
    contract = contract_from(world_a, name)
    calendar = periods_of(contract)
    by_id = {p.id: p for p in calendar}
    cap = any(r.get("type") == "cap" for r in contract.current_version().document["rules"])
    for period in calendar[:13]:
        ret = new_return(contract, period)
        for indicator, measure, reported, value in measures:
            if reported == period.id:
                IndicatorReturn.objects.create(return_record=ret, indicator=indicator,
                                               measure_period=measure, value=Decimal(value))
        run, _lines = run_both(contract, period.id)
        assert run.mode == ("full" if cap or period == calendar[0] else "incremental")
        assert by_id[period.id] == period


@pytest.mark.django_db
def test_a_cap_over_everyone_means_a_full_recomputation_each_time(world_a):
    contract = contract_from(world_a, "c5-birmingham.yaml")
    apr, may = periods_of(contract)[:2]
    prog = Programme(contract, 5)
    prog.SEGMENTS = ("socially_excluded", "older_people")
    for period in (apr, may):
        ret = new_return(contract, period)
        for outcome in ("accommodation", "primary_health", "staying_safe", "personal"):
            Claim.objects.create(return_record=ret, participant=prog.person(period),
                                 outcome=outcome, achieved=period.start, status="passed")
        run, lines = run_both(contract, period.id)
        assert run.mode == "full" and lines


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [11, 12, 13, 14])
def test_months_loaded_in_bulk_post_exactly_what_a_full_recomputation_posts(world_a, seed):
    """Each month's return arrives as a bulk load that leaves no fact-change rows (as
    bench/national.py loads, with the triggers off): its participants are found by date, and
    assessed from their tally of accepted claims (ADR 0022) or, where the tallies have been
    lost (every fourth month here, as after the upgrade that brought them), their earlier
    claims are settled (replayed without their checks, their refusals kept from the last
    run). Changes after payment still go through the triggers."""
    from payments.engine import claims as engine_claims

    contract = contract_from(world_a, "c3-work-programme.yaml", reference=f"C3-BULK-{seed}")
    prog = Programme(contract, seed)
    replayed, real_replay = [], engine_claims._replay

    def counting_replay(*args):
        replayed.append(args[1].id)
        return real_replay(*args)

    engine_claims._replay = counting_replay
    from_tally = 0
    try:
        for index, period in enumerate(prog.periods):
            prog.claims(new_return(contract, period), period)
            FactChange.objects.all().delete()  # the load left no markers
            if index % 3 == 2:
                prog.change_something(period, index)
            if index % 4 == 3:  # as after the upgrade that brought tallies
                ParticipantTally.objects.filter(contract=contract).delete()
                PaymentRun.objects.filter(contract=contract).update(tallies_complete=False)
            run, _lines = run_both(contract, period.id)
            assert run.mode == ("full" if index == 0 else "incremental")
            from_tally += run.participants_from_tally
    finally:
        engine_claims._replay = real_replay
    assert from_tally, "no participant was assessed from a tally: the test does not exercise it"
    assert replayed, "no settled claim was replayed: the test does not exercise it"
    assert run.refusals, "no refusal to keep: the test does not exercise it"


@pytest.mark.django_db
def test_new_claims_after_a_tally_are_assessed_without_reading_the_history(world_a, monkeypatch):
    """ADR 0022: a participant whose new claims all come after their tally is assessed from it:
    their earlier claims are not read, yet a duplicate is still refused; a late claim (one that
    sorts before a claim the tally covers) has their history read and replayed instead."""
    import payments.services as services

    contract = contract_from(world_a, "c3-work-programme.yaml")
    jun, jul, aug = periods_of(contract)[:3]
    prog = Programme(contract, 5)
    ret = new_return(contract, jun)
    a, b = prog.person(jun), prog.person(jun)
    for person in (a, b):
        Claim.objects.create(return_record=ret, participant=person, outcome="attachment",
                             achieved=jun.start, status="passed")
    run, lines = run_both(contract, jun.id)
    assert run.mode == "full" and len(lines) == 2
    assert set(tallies_of(contract)) == {f"P{a.pk}", f"P{b.pk}"}

    reads = []
    real = services.default_facts

    def spy(contract, period, participants=None, **new_only):
        facts = real(contract, period, participants, **new_only)
        reads.append((participants if participants is None else set(participants),
                      "new" if new_only else "history", {c.id for c in facts.claims}))
        return facts
    monkeypatch.setattr(services, "default_facts", spy)

    ret = new_return(contract, jul)
    again = Claim.objects.create(return_record=ret, participant=a, outcome="attachment",
                                 achieved=jul.start, status="passed")
    entry = Claim.objects.create(return_record=ret, participant=b, outcome="job_entry",
                                 achieved=jul.end, status="passed")
    reads.clear()
    run, _lines = run_period(contract, jul.id)  # not run_both: its full run reads everything
    assert run.mode == "incremental" and run.participants_from_tally == 2
    # Only the two new claims were read (the month's, whoever they belong to); nobody's
    # history, and the contract-level facts once, with them.
    assert reads == [(None, "new", {f"C{again.pk}", f"C{entry.pk}"})]
    [refusal] = [r for r in run.refusals if r["claim"] == f"C{again.pk}"]
    assert refusal["code"] == "duplicate"  # known from a's tally alone

    ret = new_return(contract, aug)
    late = Claim.objects.create(return_record=ret, participant=b, outcome="job_entry",
                                achieved=jul.start, status="passed")  # before b's July entry
    reads.clear()
    monkeypatch.setattr(services, "default_facts", real)
    run, _lines = run_both(contract, aug.id)
    assert run.participants_recomputed == 1 and run.participants_from_tally == 0
    monkeypatch.setattr(services, "default_facts", spy)
    Claim.objects.filter(pk=late.pk).update(status="rejected")
    run, _lines = run_both(contract, aug.id)
    history = [claims for who, how, claims in reads if how == "history" and b.pk in (who or ())]
    assert history and f"C{entry.pk}" in history[0]  # b's history was read again
