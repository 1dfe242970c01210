"""Per-participant tallies of accepted claims, kept between payment runs (ADR 0022).

A monthly run recomputes the participants with new claims. Most of them are part-way through a
series (a job outcome, then up to 26 sustainment payments), and placing the new claim needs
what was accepted for them before: how many payments, when the series started, whether the
once-only outcome was paid. Reading and replaying each one's history for that meant about a
million claims and a million ledger lines a national month, so the last computation's answer
is kept here, one row per participant.

A tally answers for a participant only when every claim of theirs that the run reads as new
comes after every claim the tally covers, in the engine's order (achieved, id); otherwise the
participant's history is read and replayed as before (ADR 0012), and the tally rewritten.
"""

import datetime as dt

import orjson
from django.db import connection
from django.db.models import TextField
from django.db.models.functions import Cast

from payments import engine
from pbr.lookups import chunks

from . import pgcopy
from .models import ParticipantTally


def load(contract, terms_version, participants):
    """{pseudonym: (accepted claims, (achieved, claim id) of the last claim covered, the
    accepted claims as stored)} for those of `participants` with a tally written under
    `terms_version`."""
    found = {}
    days = _Days()  # a national month's tallies hold a million dates, of a few thousand days
    # tuple.__new__ straight: a named tuple's own __new__ is Python, three times slower.
    new, cls = tuple.__new__, engine.AcceptedClaim

    # The JSON as text, parsed here by orjson: the JSONField's own json.loads was a third of
    # the time a national month spends reading tallies.
    rows = (ParticipantTally.objects.filter(contract=contract, terms_version=terms_version)
            .annotate(accepted_text=Cast("accepted", TextField())))
    loads = orjson.loads
    for chunk in chunks(sorted(participants)):
        for who, text, through_achieved, through_claim in rows.filter(
                participant__anyof=chunk).values_list("participant", "accepted_text",
                                                      "through_achieved", "through_claim"):
            accepted = loads(text)
            claims = tuple([new(cls, (claim, who, outcome, days[achieved], days[attached]))
                            for claim, outcome, achieved, attached in accepted])
            found[who] = (claims, (through_achieved, through_claim), accepted)
    return found


class _Days(dict):
    """Ordinal -> date, each made once (None -> None: no attachment date)."""

    def __missing__(self, ordinal):
        day = self[ordinal] = None if ordinal is None else dt.date.fromordinal(ordinal)
        return day


# The tally of a participant with no claim yet: nothing accepted, nothing covered.
NONE_YET = ((), (dt.date.min, ""), [])


def covers_none_of(through, claims):
    """Whether every one of `claims` comes after the tally's last claim in the engine's order,
    so that replaying the tally first is exactly what assessing the whole history would do."""
    return all((c.achieved, c.id) > through for c in claims)


def _stored(claim):
    return [claim.id, claim.outcome, claim.achieved.toordinal(),
            claim.attachment_date.toordinal() if claim.attachment_date else None]


def rows(accepted, claims, participants, tallied=None):
    """(participant, accepted, through achieved, through claim) of each of `participants` with
    claims: `accepted` is the engine's (Assessment.accepted), `claims` the claims the
    computation read (any status: a claim not accepted is covered too), `tallied` the tallies
    read in (load()) for those assessed from them: what they cover is kept as stored, and only
    the claims accepted after it are added."""
    tallied = tallied or {}
    last = {who: tally[1] for who, tally in tallied.items()
            if who in participants and tally is not NONE_YET}
    for claim in claims:
        who, point = claim.participant, (claim.achieved, claim.id)
        if who in participants and (who not in last or point > last[who]):
            last[who] = point
    found = []
    for who, point in last.items():
        mine = accepted.get(who, ())
        if who in tallied:
            before, _through, stored = tallied[who]
            kept = stored + [_stored(c) for c in mine[len(before):]]
        else:
            kept = [_stored(c) for c in mine]
        found.append((who, kept, point[0], point[1]))
    return found


def save(contract, terms_version, accepted, claims, participants, *, tallied=None,
         replace_all=False):
    """Write the tallies of `participants` after a computation (see rows()).
    `replace_all`: a full recomputation, so every other row of the contract is stale and goes.
    A participant recomputed and found with no claims at all (a return withdrawn, say) loses
    their tally."""
    found = rows(accepted, claims, participants, tallied)
    mine = ParticipantTally.objects.filter(contract=contract)
    if replace_all:
        mine.delete()
    else:
        for chunk in chunks(set(participants) - {row[0] for row in found}):
            mine.filter(participant__anyof=chunk).delete()
    if connection.vendor == "postgresql":
        _upsert_copy(contract, terms_version, found)
    else:
        ParticipantTally.objects.bulk_create(
            [ParticipantTally(contract=contract, terms_version=terms_version, participant=who,
                              accepted=acc, through_achieved=day, through_claim=claim)
             for who, acc, day, claim in found],
            batch_size=5000, update_conflicts=True, unique_fields=["contract", "participant"],
            update_fields=["terms_version", "accepted", "through_achieved", "through_claim"])
    return len(found)


def _upsert_copy(contract, terms_version, found):
    """Insert or replace the rows with COPY into a temporary table and one INSERT ... ON
    CONFLICT: a national month rewrites tens of thousands of tallies, and model instances and
    a parameter per value cost several times the write itself."""
    if not found:
        return
    e = pgcopy.text
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS payments_tally_in (participant text, "
            "accepted jsonb, through_achieved date, through_claim text) ON COMMIT DELETE ROWS")
        cursor.execute("TRUNCATE payments_tally_in")
        pgcopy.copy_in(cursor, "payments_tally_in",
                       ("participant", "accepted", "through_achieved", "through_claim"),
                       (f"{e(who)}\t{e(pgcopy.json_text(acc))}\t{day.isoformat()}\t{e(claim)}\n"
                        for who, acc, day, claim in found))
        cursor.execute(
            "INSERT INTO payments_participanttally (contract_id, terms_version_id, participant, "
            "accepted, through_achieved, through_claim) "
            "SELECT %s, %s, participant, accepted, through_achieved, through_claim "
            "FROM payments_tally_in ON CONFLICT (contract_id, participant) DO UPDATE SET "
            "terms_version_id = EXCLUDED.terms_version_id, accepted = EXCLUDED.accepted, "
            "through_achieved = EXCLUDED.through_achieved, "
            "through_claim = EXCLUDED.through_claim", [contract.pk, terms_version.pk])
