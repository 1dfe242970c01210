"""Sample-error extrapolation (Work Programme post-payment checks, 002:2027-2033).

A post-payment check draws claims already paid, a person records for each whether it can be
verified, and the error rate found is applied to everything paid for the population: 10 errors in
a sample of 200 from 2,000 job outcomes paid £2,400,000 recovers 5% of £2,400,000 = £120,000.
The recovery itself is worked out by the payment engine's sample_recovery rule from the
SampleCheck facts built here, so it appears as one statement line that quotes the sample's id
and the claims found in error. Sampled claims found in error are not also reversed one by one:
the recovery already covers them.
"""

from decimal import ROUND_HALF_UP, Decimal

from payments import engine

from .models import Finding, SampleKind, SampleStatus


def claim_ref(claim_id):
    """The id facts_for gives a claim, quoted in ledger line references."""
    return f"C{claim_id}"


def paid_for_claims(contract, claim_ids):
    """{claim id: net amount paid} from the ledger: every payable line that quotes the claim,
    corrections included."""
    from payments.models import LedgerLine

    wanted = {claim_ref(cid): cid for cid in claim_ids}
    paid = {}
    lines = (LedgerLine.objects.filter(contract=contract, shadow=False)
             .values_list("references", "amount"))
    for references, amount in lines.iterator(chunk_size=5000):
        for ref in references or ():
            cid = wanted.get(ref)
            if cid is not None:
                paid[cid] = paid.get(cid, Decimal("0.00")) + amount
                break
    return paid


def sample_checks(contract):
    """The contract's closed post-payment checks as the engine's SampleCheck facts."""
    from .models import Sample

    checks = []
    samples = (Sample.objects.filter(contract=contract, kind=SampleKind.CHECK,
                                     status=SampleStatus.CLOSED)
               .prefetch_related("items__claim").order_by("pk"))
    for sample in samples:
        wrong = [item.claim for item in sample.items.all() if item.finding == Finding.ERROR]
        by_subcontractor = {}
        for claim in wrong:
            if claim.subcontractor:
                by_subcontractor[claim.subcontractor] = \
                    by_subcontractor.get(claim.subcontractor, 0) + 1
        checks.append(engine.SampleCheck(
            id=sample.reference, period=sample.recovery_period,
            population_total=sample.population_total, population_count=sample.population_count,
            sample_size=sample.sample_size, errors=len(wrong),
            claim_ids=tuple(claim_ref(c.pk) for c in sorted(wrong, key=lambda c: c.pk)),
            errors_by_subcontractor=by_subcontractor))
    return tuple(checks)


def projected_recovery(sample):
    """What the engine will recover for a sample (before any shadow period), for display."""
    if not sample.sample_size:
        return Decimal("0.00")
    errors = sample.items.filter(finding=Finding.ERROR).count()
    return (Decimal(sample.population_total) * errors / sample.sample_size).quantize(
        Decimal("0.01"), ROUND_HALF_UP)
