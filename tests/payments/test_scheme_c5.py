"""C5 Birmingham (payment-cases.md C5) through the whole stack: the provider uploads each month's
claims as a CSV on the returns page; the contract's policy accepts claims that pass their checks
without review (a 0% sample drawn by the auditor); every month is run."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from outcomes.models import ClaimStatus
from tests.payments.scheme import Scheme

pytestmark = pytest.mark.django_db

BASKET = ("accommodation", "primary_health", "staying_safe", "money_management", "training")


def person(ref, n, segment, joined):
    return {"participant_ref": ref, "ni_number": f"AB{n:06d}C", "date_of_birth": "1975-02-01",
            "segment": segment, "start_date": joined.isoformat()}


def claim(who, outcome, achieved, **extra):
    return {**who, "outcome": outcome, "achieved": achieved.isoformat(), **extra}


def send_by_month(scheme, rows):
    months = {}
    for row in rows:
        months.setdefault(scheme.period_of(date.fromisoformat(row["achieved"])), []).append(row)
    for period_id in sorted(months, key=scheme.periods.index):
        scheme.send(period_id, via="upload", claims=months[period_id])


def test_core_15000_a_month_price_50_and_payments_stop_at_the_20000_cap(world_a):
    scheme = Scheme(world_a, "c5-birmingham.yaml", verification="accept")
    # 81 people with five paid outcomes each: 405 × £50 = £20,250, £250 over the pot.
    rows = []
    for p in range(81):
        achieved = date(2013, 6, 1) + timedelta(days=p)
        who = person(f"U{p}", p + 1, "socially_excluded", date(2013, 4, 15))
        rows += [claim(who, code, achieved) for code in BASKET]
    send_by_month(scheme, rows)
    assert scheme.claims(status=ClaimStatus.ACCEPTED).count() == 405
    scheme.run_all()
    for period in scheme.periods:
        assert [ln["amount"] for ln in scheme.statement(period)["lines"]
                if ln["rule"] == "core"] == ["15000.00"], period
    outcome_lines = [ln for ln in scheme.lines() if ln["rule"] == "outcomes"]
    assert {ln["amount"] for ln in outcome_lines} == {"50.00"}
    assert "£20,000 pot ÷ (80 planned participants × 5 outcomes) = £50" in \
        outcome_lines[0]["explanation"]
    capped = [ln for ln in scheme.lines() if ln["rule"] in ("outcomes", "outcome_pot_cap")]
    assert sum(Decimal(ln["amount"]) for ln in capped) == Decimal("20000.00")
    caps = [ln for ln in scheme.lines() if ln["kind"] == "cap_adjustment"]
    assert any("the cap was reached" in ln["explanation"] for ln in caps)
    assert scheme.paid_in_year("2013-14") == Decimal("200000.00")
    august = scheme.statement("Aug 2013")
    assert august["by_funder"][0]["amount"] == august["total"]


def test_distance_travelled_25_and_50_personal_0_and_a_sixth_paid_outcome_refused(world_a):
    scheme = Scheme(world_a, "c5-birmingham.yaml", verification="accept")
    u1 = person("U1", 1, "older_people", date(2013, 4, 15))
    u2 = person("U2", 2, "older_people", date(2013, 4, 15))
    u3 = person("U3", 3, "socially_excluded", date(2013, 4, 15))
    rows = [claim(u1, "independence_steps", date(2013, 6, 3), step_from="2", step_to="4"),
            claim(u2, "independence_steps", date(2013, 6, 3), step_from="1", step_to="5"),
            claim(u3, "personal", date(2013, 6, 3))]
    rows += [claim(u3, code, date(2013, 5, 1) + timedelta(days=i))
             for i, code in enumerate(BASKET)]
    rows.append(claim(u3, "social_contact", date(2013, 7, 1)))  # a sixth paid outcome
    send_by_month(scheme, rows)
    scheme.run_all()

    def line_for(who, outcome):
        c = scheme.claims(participant__provider_reference=who, outcome=outcome).get()
        found = [ln for ln in scheme.lines() if f"C{c.pk}" in ln["references"]]
        return c, found

    _c, [d1] = line_for("U1", "independence_steps")
    assert d1["amount"] == "25.00"
    _c, [d2] = line_for("U2", "independence_steps")
    assert d2["amount"] == "50.00"
    _c, [personal] = line_for("U3", "personal")
    assert personal["amount"] == "0.00"
    assert "personal outcomes are recorded but never paid" in personal["explanation"]
    sixth, lines = line_for("U3", "social_contact")
    assert lines == []
    refusals = [r for period in scheme.periods for r in scheme.statement(period)["refusals"]
                if r["claim"] == f"C{sixth.pk}"]
    assert refusals and refusals[0]["code"] == "basket_full"
    assert "already has 5 paid outcomes" in refusals[0]["reason"]
    paid = [ln for ln in scheme.lines() if ln["rule"] == "outcomes"
            and ln["participant"] == sixth.participant.pseudonym]
    assert [ln["amount"] for ln in paid] == ["50.00"] * 5
