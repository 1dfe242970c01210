"""Risk-based sampling: which claims a person checks, reproducible from a stored seed.

A selection is: every claim a risk rule forces (worth at least the value threshold, a possible
duplicate, a new provider, an outlier), plus a seeded random share of each provider's claims.
The random share is the policy's percentage times the provider's rating factor (green lowers it,
red raises it), from the provider's past error rate on the contract. `select` is a pure function
of (population, forced, rates, seed), so a stored sample can be drawn again and compared.
"""

import random
import statistics
from decimal import ROUND_HALF_UP, Decimal

from contracts.definition.model import Tariff

from ..models import Claim, ClaimStatus

HUNDRED = Decimal(100)
CENT = Decimal("0.01")

REASON_TEXT = {
    "verify_all": "the contract's policy is to verify every claim",
    "random": "drawn at random",
    "value": "worth at least the value threshold",
    "duplicate": "held as a possible duplicate",
    "new_provider": "the provider's first claims on this contract to be sampled",
    "outlier": "units far above the usual for this outcome",
    "manual": "selected by the auditor",
}


def reason(code, detail=""):
    text = REASON_TEXT[code]
    return {"code": code, "text": f"{text} ({detail})" if detail else text}


def random_size(pct, count):
    """How many of `count` claims a percentage draws: half-up, and at least one when the
    percentage is above zero, so a small return is never skipped entirely."""
    pct = Decimal(pct)
    if count <= 0 or pct <= 0:
        return 0
    size = int((pct * count / HUNDRED).quantize(Decimal(1), ROUND_HALF_UP))
    return min(count, max(1, size))


def rating_for(error_rate, policy):
    """(rating, factor) from a past error rate in percent (None: no history = amber)."""
    if policy.get("adjust_by_error_rate") != "True" or error_rate is None:
        return "amber", Decimal(1)
    if error_rate < Decimal(policy["green_below_pct"]):
        return "green", Decimal(policy["green_factor"])
    if error_rate >= Decimal(policy["red_from_pct"]):
        return "red", Decimal(policy["red_factor"])
    return "amber", Decimal(1)


def random_pct(policy, factor):
    return min(HUNDRED, (Decimal(policy["sample_pct"]) * factor).quantize(CENT, ROUND_HALF_UP))


def select(population, forced, rates, seed, *, verify_all=False):
    """Claim id -> reasons, for the claims to check.

    population: [(claim id, provider id)]; forced: {claim id: [reason]}; rates: {provider id
    (as a string): {"pct": "10.00", ...}}. Providers are drawn in id order and claims in id
    order from one generator seeded with `seed`, so the same inputs always give the same draw.
    """
    if verify_all:
        return {cid: forced.get(cid, []) + [reason("verify_all")] for cid, _p in population}
    chosen = {cid: list(reasons) for cid, reasons in forced.items() if reasons}
    rng = random.Random(seed)
    by_provider = {}
    for cid, provider in sorted(population):
        by_provider.setdefault(provider, []).append(cid)
    for provider in sorted(by_provider):
        claims = by_provider[provider]
        rate = rates[str(provider)]
        size = random_size(rate["pct"], len(claims))
        pool = [cid for cid in claims if cid not in chosen]
        for cid in sorted(rng.sample(pool, min(size, len(pool)))):
            chosen[cid] = [reason("random", f"{rate['pct']}% of this provider's "
                                            f"{len(claims)} claims, rated {rate['rating']}")]
    return chosen


def select_check(population, size, seed):
    """Claim ids drawn for a post-payment check: `size` of the population, seeded."""
    ids = sorted(cid for cid, _provider in population)
    return sorted(random.Random(seed).sample(ids, min(size, len(ids))))


# --- risk flags (read the database) ----------------------------------------------------------


def claim_value(defn, claim):
    """What the claim would pay before any taper: the tariff price for its outcome and payment
    group, times its units. None when the contract does not price it per claim."""
    if defn is None:
        return None
    segment = claim.participant.segment or None
    units = claim.value if claim.value is not None else Decimal(1)
    for rule in defn.rules:
        if not isinstance(rule, Tariff):
            continue
        prices = [p for p in rule.prices if p.outcome == claim.outcome]
        price = next((p for p in prices if p.segment is not None and p.segment == segment),
                     next((p for p in prices if p.segment is None), None))
        if price is None:
            continue
        if price.amount is not None:
            return (Decimal(price.amount) * units).quantize(CENT, ROUND_HALF_UP)
        if price.pct_of_unit_value is not None and rule.unit_value is not None:
            return (Decimal(rule.unit_value) * price.pct_of_unit_value / HUNDRED
                    * units).quantize(CENT, ROUND_HALF_UP)
    return None


# Statuses of claims a person has decided (an error or not), for a provider's past error rate.
DECIDED_OK = (ClaimStatus.VERIFIED,)
DECIDED_ERROR = (ClaimStatus.REJECTED, ClaimStatus.APPEALED)


def provider_error_rate(contract, provider_id):
    """Past error rate in percent of the provider's claims checked by a person on this contract
    (review decisions and post-payment findings), or None when none have been checked."""
    from .models import Finding, SampleItem

    reviewed = Claim.objects.filter(return_record__contract=contract,
                                    return_record__provider_id=provider_id,
                                    review__decided_at__isnull=False)
    ok = reviewed.filter(status__in=DECIDED_OK).count()
    errors = reviewed.filter(status__in=DECIDED_ERROR).count()
    findings = SampleItem.objects.filter(sample__contract=contract,
                                         claim__return_record__provider_id=provider_id)
    ok += findings.filter(finding=Finding.CONFIRMED).count()
    errors += findings.filter(finding=Finding.ERROR).count()
    if ok + errors == 0:
        return None
    return (Decimal(errors) * HUNDRED / (ok + errors)).quantize(CENT, ROUND_HALF_UP)


def has_history(contract, provider_id):
    """Whether any of the provider's claims on the contract has been through a sample."""
    return Claim.objects.filter(
        return_record__contract=contract, return_record__provider_id=provider_id,
        status__in=(ClaimStatus.SAMPLED, ClaimStatus.ACCEPTED, ClaimStatus.UNDER_REVIEW,
                    ClaimStatus.QUERIED, ClaimStatus.RESPONDED, ClaimStatus.VERIFIED,
                    ClaimStatus.REJECTED, ClaimStatus.APPEALED)).exists()


def risk_flags(contract, claims, policy, terms_on):
    """{claim id: [reason]} for claims a risk rule forces into the sample."""
    flags = {}
    threshold = Decimal(policy["value_threshold"]) if policy["value_threshold"] else None
    new_providers = set()
    if policy["check_new_providers"] == "True":
        new_providers = {pid for pid in {c.return_record.provider_id for c in claims}
                         if not has_history(contract, pid)}
    medians = {}
    if policy["check_outliers"] == "True":
        units_by_outcome = {}
        for c in claims:
            units_by_outcome.setdefault(c.outcome, []).append(
                c.value if c.value is not None else Decimal(1))
        medians = {o: statistics.median(u) for o, u in units_by_outcome.items() if len(u) >= 5}
    factor = Decimal(policy["outlier_factor"])
    for c in claims:
        found = []
        if threshold is not None:
            value = claim_value(terms_on(c.achieved), c)
            if value is not None and value >= threshold:
                found.append(reason("value", f"£{value:,.2f}, threshold £{threshold:,.2f}"))
        if policy["check_duplicates"] == "True" and c.status == ClaimStatus.HELD:
            found.append(reason("duplicate"))
        if c.return_record.provider_id in new_providers:
            found.append(reason("new_provider"))
        median = medians.get(c.outcome)
        units = c.value if c.value is not None else Decimal(1)
        if median and units > median * factor:
            found.append(reason("outlier", f"{units:f} units, median {median:f}"))
        if found:
            flags[c.pk] = found
    return flags
