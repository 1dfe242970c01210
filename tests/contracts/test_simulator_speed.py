"""The simulator places achievements on participants without looking at the whole caseload for
each one, and works the maximum liability out once per set of terms; neither changes a result.

A capped outcome basket's maximum (NAT-10 in bench/national.py: a £250,000 yearly cap on £50
outcomes over seven years) enrols 35,007 participants. Looking through every earlier
participant for each new achievement made that about 600 million eligibility checks: over a
minute. These tests compare the claims made, the maximum liability and whole simulations with
the original participant-by-participant search (kept here as the reference), on every example
contract, and count the checks instead of timing them.
"""

from __future__ import annotations

import glob
import os
from dataclasses import replace

import pytest

from contracts import simulator
from contracts.definition import parse, periods
from contracts.simulator import Assumptions

from .conftest import EXAMPLES, all_rules_contract, example


class OriginalClaimMaker(simulator._ClaimMaker):
    """The search as it was: every participant checked for every achievement."""

    def add(self, o, period, segment):
        when = period.end
        reuse_only = bool(o.prerequisites or o.trigger)
        fills = bool(self._baskets(o)) or (o.once_per_participant and o.kind in (
            "one_off", "graded", "milestone"))
        candidates = [p for p in self.people if self._eligible(p, o, segment, when)]
        candidates.sort(key=lambda p: len(p.got.get(o.code, [])))
        if candidates and (reuse_only or fills):
            person = candidates[0]
        else:
            seg = segment if segment is not None else self._default_segment(o)
            start = when - simulator.timedelta(weeks=self._wait_weeks(o, seg))
            person = self._new_person(seg, start)
        started = when - simulator.timedelta(weeks=self._wait_weeks(o, person.segment))
        kw = {}
        if o.kind == "progression":
            gained = self.a.steps_gained.get(o.code, 1)
            kw.update(step_from=person.step, step_to=person.step + gained)
            person.step += gained
        if o.kind == "graded":
            kw["grade"] = self.a.grades.get(o.code) or simulator._best_grade(self.defn, o.code)
        self.claims.append(simulator.Claim(
            id=f"sim-{len(self.claims) + 1}", participant=person.id, outcome=o.code,
            achieved=when, segment=person.segment, period=period.id,
            attachment_date=min(person.attached, started), started=started,
            evidence=tuple(o.evidence), **kw))
        person.got.setdefault(o.code, []).append(when)


def capped_basket(cap="250000"):
    """NAT-10's shape (bench/national.py `document`), with the yearly cap given."""
    from bench.national import document

    doc = document(9, "basket", 1)
    doc["rules"][2]["maximum"] = cap
    return parse(doc)


EXAMPLE_NAMES = sorted(os.path.basename(p) for p in glob.glob(str(EXAMPLES / "*.yaml")))


def busy_caseload(defn):
    """Assumptions exercising every way of placing an achievement: each outcome of the terms in
    every financial year, some by segment, more than a participant can hold, and progression
    outcomes gaining two steps."""
    years = list(dict.fromkeys(p.financial_year for p in periods(defn)))
    segments = [s.code for s in defn.segments]
    outcomes = {}
    for i, o in enumerate(defn.outcomes):
        by_year = {}
        for j, fy in enumerate(years):
            n = 3 + (i + j) % 5
            by_year[fy] = {segments[(i + j) % len(segments)]: n} if segments and i % 2 else n
        outcomes[o.code] = by_year
    return Assumptions(outcomes=outcomes,
                       steps_gained={o.code: 2 for o in defn.outcomes if o.kind == "progression"})


def _with(maker, monkeypatch, work):
    simulator._maximum_liability.cache_clear()
    with monkeypatch.context() as patch:
        patch.setattr(simulator, "_ClaimMaker", maker)
        return work()


def _definitions():
    return [(name, example(name)) for name in EXAMPLE_NAMES] + [
        ("every rule type", all_rules_contract()), ("NAT-10 shape, small cap", capped_basket("2500"))]


@pytest.mark.parametrize(("name", "defn"), _definitions(), ids=lambda v: v if isinstance(v, str)
                         else "")
def test_the_same_claims_maximum_and_simulation_as_the_original_search(name, defn, monkeypatch):
    ps = periods(defn)
    best, _notes = simulator.best_case_assumptions(defn)
    volumes, _unbounded, _ = simulator._volume_for_caps(defn, ps)
    for assumptions in (replace(best, outcomes=volumes), busy_caseload(defn)):
        def claims(assumptions=assumptions):
            return simulator.claim_facts(defn, assumptions, ps)
        assert _with(simulator._ClaimMaker, monkeypatch, claims) == \
            _with(OriginalClaimMaker, monkeypatch, claims), name
    assert _with(simulator._ClaimMaker, monkeypatch,
                 lambda: simulator.maximum_liability(defn)) == \
        _with(OriginalClaimMaker, monkeypatch, lambda: simulator.maximum_liability(defn))

    def whole(assumptions=busy_caseload(defn)):
        sim = simulator.simulate(defn, assumptions, with_cliff_edges=False)
        return ([(p.period, p.payable, p.shadow, p.by_rule, p.lines) for p in sim.periods],
                sim.years, sim.refusals, sim.notes)
    assert _with(simulator._ClaimMaker, monkeypatch, whole) == \
        _with(OriginalClaimMaker, monkeypatch, whole)


def test_placing_an_achievement_does_not_look_through_the_whole_caseload(monkeypatch):
    defn = capped_basket("25000")  # 501 outcomes a year for seven years
    checks = {"n": 0}
    eligible = simulator._ClaimMaker._eligible

    def counted(self, *args):
        checks["n"] += 1
        return eligible(self, *args)

    monkeypatch.setattr(simulator._ClaimMaker, "_eligible", counted)
    ps = periods(defn)
    volumes, _unbounded, _ = simulator._volume_for_caps(defn, ps)
    claims = simulator.claim_facts(defn, Assumptions(outcomes=volumes), ps)
    assert len(claims) == 7 * 501
    # The original search made len(claims)**2 / 2 checks (6 million here).
    assert checks["n"] <= 2 * len(claims)


def test_the_maximum_is_worked_out_once_per_set_of_terms(monkeypatch):
    simulator._maximum_liability.cache_clear()
    runs = {"n": 0}
    calculate = simulator.calculate

    def counted(*args, **kwargs):
        runs["n"] += 1
        return calculate(*args, **kwargs)

    monkeypatch.setattr(simulator, "calculate", counted)
    first = simulator.maximum_liability(example("c5-birmingham.yaml"))
    first.by_year.clear()  # a caller changing its copy changes nothing kept
    again = simulator.maximum_liability(example("c5-birmingham.yaml"))  # parsed afresh: equal
    assert runs["n"] == 1
    assert again.by_year and again == simulator._maximum_liability(example("c5-birmingham.yaml"))
    other = simulator.maximum_liability(example("c2-southend.yaml"))
    assert runs["n"] == 2 and other != again


def test_the_national_capped_basket_reaches_its_cap_every_year():
    """The figures NAT-10's maximum gives (core £1,750,000 plus the £250,000 outcome cap, held
    to the £2,000,000 maximum value)."""
    simulator._maximum_liability.cache_clear()
    liability = simulator.maximum_liability(capped_basket())
    assert set(liability.by_year.values()) == {simulator.money("2000000")}
    assert len(liability.by_year) == 7
