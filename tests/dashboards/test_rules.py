"""The equity flag rules at their boundaries (pure: pbr/dashboards/rules.py)."""

from decimal import Decimal

from pbr.dashboards import rules
from pbr.dashboards.rules import SegmentRates, parking_flags, referral_flags


def test_a_segment_at_under_half_the_others_rate_is_possible_parking():
    flags = parking_flags([SegmentRates("HARD", 100, 20, 5), SegmentRates("EASY", 100, 80, 50)])
    assert flags["HARD"].level == "red" and flags["HARD"].label == "Possible parking"
    assert flags["HARD"].reasons == (
        "Activity rate 20.0% against 80.0% in the other segments (25% of it)",
        "Outcome rate 5.0% against 50.0% in the other segments (10% of it)")
    assert flags["EASY"].level == ""


def test_exactly_half_is_watch_and_three_quarters_is_no_flag():
    half = parking_flags([SegmentRates("A", 100, 40, 0), SegmentRates("B", 100, 80, 0)])
    assert half["A"].level == "amber"  # 40% is exactly half of 80%: not below it
    quarter = parking_flags([SegmentRates("A", 100, 60, 0), SegmentRates("B", 100, 80, 0)])
    assert quarter["A"].level == ""  # exactly 75%: not below it
    just_under = parking_flags([SegmentRates("A", 1000, 599, 0), SegmentRates("B", 1000, 800, 0)])
    assert just_under["A"].level == "amber"


def test_too_few_participants_are_never_flagged():
    small = parking_flags([SegmentRates("A", rules.MIN_PARTICIPANTS - 1, 0, 0),
                           SegmentRates("B", 100, 90, 90)])
    assert small["A"].level == ""
    alone = parking_flags([SegmentRates("A", 100, 0, 0),
                           SegmentRates("B", rules.MIN_PARTICIPANTS - 1, 19, 19)])
    assert alone["A"].level == ""  # compared with too few to tell
    only = parking_flags([SegmentRates("A", 100, 0, 0)])
    assert only["A"].level == ""


def test_referral_flow_flags_a_subcontractor_sent_a_different_mix():
    # T1 takes half of everyone, but only 10% of the hard segment: creaming by the prime.
    counts = {("T1", "EASY"): 90, ("", "EASY"): 10, ("T1", "HARD"): 10, ("", "HARD"): 90}
    flags = {(f.subcontractor, f.segment): f for f in referral_flags(counts)}
    assert flags[("T1", "HARD")].unequal and flags[("T1", "HARD")].share == Decimal("10.0")
    assert flags[("T1", "HARD")].expected == Decimal("50.0")
    assert not flags[("T1", "EASY")].unequal  # 90% is 1.8 times 50%: under double
    even = {("T1", "EASY"): 50, ("", "EASY"): 50, ("T1", "HARD"): 50, ("", "HARD"): 50}
    assert not any(f.unequal for f in referral_flags(even))


def test_referral_flow_against_a_contracted_delivery_share():
    counts = {("T1", "A"): 10, ("", "A"): 90}
    flags = [f for f in referral_flags(counts, {"T1": "40"}) if f.segment == ""]
    assert len(flags) == 1 and flags[0].unequal  # 10% against 40% contracted
    ok = [f for f in referral_flags({("T1", "A"): 30, ("", "A"): 70}, {"T1": "40"})
          if f.segment == ""]
    assert not ok[0].unequal


def test_the_rule_words_state_the_thresholds_in_use():
    assert "less than 50%" in rules.PARKING_RULE and "less than 75%" in rules.PARKING_RULE
    assert f"fewer than {rules.MIN_PARTICIPANTS} participants" in rules.PARKING_RULE
    assert "less than 50% or more than 200%" in rules.CREAMING_RULE
