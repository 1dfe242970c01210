"""Risk-based sampling: the size the policy says, reproducible from the stored seed, explained."""

import datetime
from decimal import Decimal

import pytest

from outcomes.models import Claim, ClaimStatus
from outcomes.verification import services
from outcomes.verification.models import ClaimReview
from outcomes.verification.sampling import random_size, rating_for, select

from .conftest import make_claims, set_policy, submitted_return

S = ClaimStatus


def _selected(sample):
    return {item.claim_id: [r["code"] for r in item.reasons] for item in sample.items.all()}


@pytest.mark.parametrize(("pct", "count", "size"), [
    ("10", 200, 20), ("10", 5, 1), ("10", 15, 2), ("2.5", 20, 1), ("50", 5, 3), ("0", 50, 0),
    ("100", 7, 7), ("10", 0, 0)])
def test_random_size_is_the_percentage_rounded_half_up_and_at_least_one(pct, count, size):
    assert random_size(pct, count) == size


def test_select_is_a_pure_function_of_its_inputs():
    population = [(n, 1 + n % 2) for n in range(1, 101)]
    rates = {"1": {"pct": "10", "rating": "amber"}, "2": {"pct": "20", "rating": "red"}}
    forced = {3: [{"code": "value", "text": "worth at least"}]}
    first = select(population, forced, rates, 99)
    assert first == select(list(reversed(population)), forced, rates, 99)
    assert first != select(population, forced, rates, 100)
    by_provider = {1: 0, 2: 0}
    for cid, reasons in first.items():
        if reasons[0]["code"] == "random":
            by_provider[1 + cid % 2] += 1
    assert by_provider == {1: 5, 2: 10}  # 10% and 20% of each provider's 50
    assert first[3][0]["code"] == "value"


@pytest.mark.django_db
def test_sample_has_the_size_the_policy_says_and_reproduces_from_its_seed(c3, world_a, people):
    set_policy(c3, sample_pct="10", value_threshold="3000", check_new_providers=False)
    ret = submitted_return(c3, world_a.provider)
    cheap = make_claims(ret, 200)  # JSA_18_24 job outcomes at £1,200
    dear = make_claims(ret, 3, start=500, segment="ESA_EXIB")  # £3,500: over the threshold
    sample = services.draw_sample(c3, actor=people["auditor"], seed=20240601)
    chosen = _selected(sample)
    forced = {cid for cid, codes in chosen.items() if "value" in codes}
    random_part = {cid for cid, codes in chosen.items() if codes == ["random"]}
    assert forced == {c.pk for c in dear}
    # 10% of the provider's 203 claims at random (20.3 -> 20), from those not already forced.
    assert len(random_part) == 20 and not random_part & forced
    assert sample.sample_size == 23 and sample.population_count == 203
    assert sample.seed == 20240601
    assert sample.policy["sample_pct"] == "10.00" and sample.policy["value_threshold"] == "3000.00"
    # Every claim not selected was accepted without review.
    accepted = set(Claim.objects.filter(status=S.ACCEPTED).values_list("pk", flat=True))
    assert accepted == {c.pk for c in cheap} - random_part
    # Reproduced from what was stored, even after the policy has changed since.
    set_policy(c3, sample_pct="50", value_threshold=None)
    sample.refresh_from_db()
    again, same = services.reproduce_sample(sample)
    assert same and set(again) == set(chosen)
    # The explanation is stored per claim.
    review = ClaimReview.objects.get(claim=dear[0])
    assert review.sample == sample
    assert "worth at least the value threshold (£3,500.00, threshold £3,000.00)" in \
        review.reasons[0]["text"]
    assert review.due_date == datetime.date.today() + datetime.timedelta(days=20)


@pytest.mark.django_db
def test_a_tampered_sample_does_not_reproduce(c3, world_a, people):
    set_policy(c3, sample_pct="10", check_new_providers=False)
    make_claims(submitted_return(c3, world_a.provider), 50)
    sample = services.draw_sample(c3, actor=people["auditor"], seed=5)
    sample.seed = 6
    _again, same = services.reproduce_sample(sample)
    assert not same


@pytest.mark.django_db
def test_risk_flags_force_duplicates_new_providers_and_outliers(c3, world_a, world_b, people):
    set_policy(c3, sample_pct="0", outlier_factor="3")
    ret = submitted_return(c3, world_a.provider)
    normal = make_claims(ret, 6, value=Decimal(1))
    [big] = make_claims(ret, 1, start=50, value=Decimal(4))
    [held] = make_claims(ret, 1, start=60, status=S.HELD)
    sample = services.draw_sample(c3, actor=people["auditor"], seed=1)
    chosen = _selected(sample)
    # A provider's first sample on the contract is checked in full.
    assert set(chosen) == {c.pk for c in [*normal, big, held]}
    assert all("new_provider" in codes for codes in chosen.values())
    assert "outlier" in chosen[big.pk] and "duplicate" in chosen[held.pk]
    assert "outlier" not in chosen[normal[0].pk]
    # The next return: no longer new, nothing random at 0%, so only the risks are checked.
    later = submitted_return(c3, world_a.provider, "Jul 2012")
    plain = make_claims(later, 6, start=100)
    [dup] = make_claims(later, 1, start=200, status=S.HELD)
    second = services.draw_sample(c3, actor=people["auditor"], seed=1)
    assert set(_selected(second)) == {dup.pk}
    assert set(Claim.objects.filter(pk__in=[c.pk for c in plain])
               .values_list("status", flat=True)) == {S.ACCEPTED}


@pytest.mark.django_db
def test_past_error_rate_raises_or_lowers_the_random_share(c3, world_a, people):
    set_policy(c3, sample_pct="10", check_new_providers=False, green_below_pct="2",
               red_from_pct="10", green_factor="0.5", red_factor="2")
    history = submitted_return(c3, world_a.provider, "May 2012")
    decided = make_claims(history, 10, status=S.SAMPLED)
    for claim in decided[:2]:  # 2 of 10 rejected: 20%, red
        services.reject_claim(claim, actor=people["auditor"], reason_code="evidence_missing")
    for claim in decided[2:]:
        services.verify_claim(claim, actor=people["auditor"])
    make_claims(submitted_return(c3, world_a.provider), 100, start=100)
    sample = services.draw_sample(c3, actor=people["auditor"], seed=3)
    rate = sample.rates[str(world_a.provider.pk)]
    assert rate == {"rating": "red", "factor": "2.00", "pct": "20.00", "error_rate": "20.00"}
    assert sample.sample_size == 20
    policy = {"adjust_by_error_rate": "True", "green_below_pct": "2", "red_from_pct": "10",
              "green_factor": "0.5", "red_factor": "2"}
    assert rating_for(Decimal("1.99"), policy) == ("green", Decimal("0.5"))
    assert rating_for(Decimal("2"), policy) == ("amber", Decimal(1))
    assert rating_for(Decimal("10"), policy) == ("red", Decimal(2))
    assert rating_for(None, policy) == ("amber", Decimal(1))


@pytest.mark.django_db
def test_verify_all_selects_every_claim(c3, world_a, people):
    set_policy(c3, mode="verify_all")
    claims = make_claims(submitted_return(c3, world_a.provider), 12)
    sample = services.draw_sample(c3, actor=people["auditor"], seed=9)
    assert set(_selected(sample)) == {c.pk for c in claims}
    assert services.reproduce_sample(sample)[1]


@pytest.mark.django_db
def test_no_policy_means_no_sample(c3, world_a, people):
    make_claims(submitted_return(c3, world_a.provider), 2)
    with pytest.raises(services.VerificationError, match="has no verification policy"):
        services.draw_sample(c3, actor=people["auditor"])
