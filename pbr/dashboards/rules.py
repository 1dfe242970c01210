"""Equity flags: possible parking of a segment and unequal referral flow to subcontractors.

Pure functions of counts, so the rules can be read, tested and explained on the page exactly as
they run. The words shown to people are built from the same constants (docs/dashboards.md).
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

# A segment (or a subcontractor's share of one) is judged only with at least this many
# participants: below it one or two people swing a rate too far to tell anything.
MIN_PARTICIPANTS = 20
# Parking: a segment's rate as a share of the rate of the contract's other segments together.
PARKING_RED = Decimal("0.50")
PARKING_AMBER = Decimal("0.75")
# Creaming: a subcontractor's share of a segment's referrals as a multiple of its share of all
# referrals (or of its contracted delivery share, where the terms set one).
FLOW_LOW = Decimal("0.50")
FLOW_HIGH = Decimal("2.00")

HUNDRED = Decimal(100)

PARKING_RULE = (
    f"A segment is flagged “possible parking” when its activity rate or its outcome rate is "
    f"less than {int(PARKING_RED * 100)}% of the rate of the contract's other segments put "
    f"together (for example 20% against 50% elsewhere), and “watch” when it is less than "
    f"{int(PARKING_AMBER * 100)}%. Segments with fewer than {MIN_PARTICIPANTS} participants, or "
    f"compared with fewer than {MIN_PARTICIPANTS} in the other segments, are not flagged: too "
    f"few to tell."
)
RATES_RULE = (
    "Activity rate: the share of the segment's participants with anything claimed for them after "
    "the day they started (a milestone, a progression step or an outcome; the attachment on the "
    "start day does not count). Outcome rate: the share with at least one result outcome claimed "
    "after the day they started (milestones and unpaid personal outcomes do not count). Claims "
    "that failed their checks or were rejected are not counted."
)
CREAMING_RULE = (
    f"A participant is referred to the subcontractor named on their claims (none named: kept by "
    f"the prime provider). Referral flow is flagged “unequal” when a subcontractor's share of a "
    f"segment's referrals is less than {int(FLOW_LOW * 100)}% or more than "
    f"{int(FLOW_HIGH * 100)}% of its share of all referrals: it is being sent a very different "
    f"mix of people from everyone else. Where the terms give a subcontractor a delivery share, "
    f"its share of all referrals below {int(FLOW_LOW * 100)}% of that share is flagged too. "
    f"Segments with fewer than {MIN_PARTICIPANTS} participants are not judged."
)


def rate(part, whole):
    """A percentage to one place, or None when there is nobody to divide by."""
    if not whole:
        return None
    return (Decimal(part) * HUNDRED / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)


@dataclass(frozen=True)
class SegmentRates:
    segment: str
    participants: int
    active: int
    with_outcome: int

    @property
    def activity_rate(self):
        return rate(self.active, self.participants)

    @property
    def outcome_rate(self):
        return rate(self.with_outcome, self.participants)


@dataclass(frozen=True)
class ParkingFlag:
    segment: str
    level: str  # "red" (possible parking), "amber" (watch) or "" (no flag)
    reasons: tuple[str, ...]

    @property
    def label(self):
        return {"red": "Possible parking", "amber": "Watch", "": "No flag"}[self.level]


def _compare(name, mine, mine_n, others, others_n):
    """(level, reason) for one rate against the other segments' pooled rate."""
    if mine_n < MIN_PARTICIPANTS or others_n < MIN_PARTICIPANTS or not others:
        return "", ""
    ratio = Decimal(mine) / Decimal(others)
    level = "red" if ratio < PARKING_RED else "amber" if ratio < PARKING_AMBER else ""
    if not level:
        return "", ""
    return level, (f"{name} rate {mine * HUNDRED:.1f}% against {others * HUNDRED:.1f}% in the "
                   f"other segments ({ratio * HUNDRED:.0f}% of it)")


def parking_flags(rows):
    """{segment: ParkingFlag} for SegmentRates rows of one contract (or one provider on it)."""
    flags = {}
    total_n = sum(r.participants for r in rows)
    total_active = sum(r.active for r in rows)
    total_outcome = sum(r.with_outcome for r in rows)
    for r in rows:
        others_n = total_n - r.participants
        level, reasons = "", []
        if r.participants and others_n:
            for name, mine, others in (
                    ("Activity", Decimal(r.active) / r.participants,
                     Decimal(total_active - r.active) / others_n),
                    ("Outcome", Decimal(r.with_outcome) / r.participants,
                     Decimal(total_outcome - r.with_outcome) / others_n)):
                lv, why = _compare(name, mine, r.participants, others, others_n)
                if lv:
                    reasons.append(why)
                    level = "red" if "red" in (level, lv) else "amber"
        flags[r.segment] = ParkingFlag(r.segment, level, tuple(reasons))
    return flags


@dataclass(frozen=True)
class FlowFlag:
    subcontractor: str
    segment: str  # "" for the subcontractor's overall share against its delivery share
    share: Decimal | None  # percent of the segment's referrals (or of all referrals)
    expected: Decimal | None  # percent it is compared with
    unequal: bool

    @property
    def label(self):
        return "Unequal referral flow" if self.unequal else "No flag"


def referral_flags(counts, delivery_shares=None):
    """Judge referral flow on one contract.

    counts: {(subcontractor code, "" = kept by the prime; segment): participants referred};
    delivery_shares: {subcontractor code: contracted delivery share in percent} where set.
    Returns FlowFlag rows: one per (subcontractor, segment), and one per subcontractor with a
    delivery share (segment "").
    """
    delivery_shares = delivery_shares or {}
    subs = sorted({s for s, _seg in counts})
    segments = sorted({seg for _s, seg in counts})
    total = sum(counts.values())
    out = []
    if not total:
        return out
    for sub in subs:
        sub_total = sum(n for (s, _seg), n in counts.items() if s == sub)
        overall = Decimal(sub_total) / total
        for seg in segments:
            seg_total = sum(n for (_s, g), n in counts.items() if g == seg)
            n = counts.get((sub, seg), 0)
            share = Decimal(n) / seg_total if seg_total else None
            unequal = (seg_total >= MIN_PARTICIPANTS and share is not None and overall > 0
                       and (share < overall * FLOW_LOW or share > overall * FLOW_HIGH))
            out.append(FlowFlag(sub, seg, rate(n, seg_total), rate(sub_total, total), unequal))
        if sub in delivery_shares and delivery_shares[sub] is not None:
            contracted = Decimal(delivery_shares[sub])
            actual = overall * HUNDRED
            unequal = total >= MIN_PARTICIPANTS and actual < contracted * FLOW_LOW
            out.append(FlowFlag(sub, "", rate(sub_total, total),
                                contracted.quantize(Decimal("0.1"), ROUND_HALF_UP), unequal))
    return out
