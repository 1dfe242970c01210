"""Objects of one world's provider for the route walker (tests/pbr/test_route_permissions.py)."""

import datetime

from pbr.models import Role


def _return(world):
    from outcomes.services import start_return
    from tests.pbr.test_route_permissions import _contract

    contract, _role = _contract(world)
    return start_return(contract, "Q1 2011-12", actor=None, provider=world.provider)


def route_return(world):
    return _return(world).pk, Role.PROVIDER_MANAGER


def route_claim(world):
    from outcomes.models import Claim, Participant

    ret = _return(world)
    participant = Participant.objects.create(
        contract=ret.contract, provider=world.provider, provider_reference="B-1",
        identity_hash="0" * 64, start_date=datetime.date(2011, 4, 1))
    claim = Claim.objects.create(return_record=ret, participant=participant, outcome="x",
                                 achieved=datetime.date(2011, 5, 1))
    return claim.pk, Role.PROVIDER_MANAGER


def route_evidence(world):
    from outcomes.models import EvidenceFile

    evidence = EvidenceFile.objects.create(
        organisation=world.provider, original_name="b.txt", stored_name=f"{world.provider.pk}/b.txt",
        content_type="text/plain", size=1, sha256="0" * 64)
    return evidence.pk, Role.PROVIDER_MANAGER


def route_participant(world):
    from outcomes.models import Participant

    ret = _return(world)
    participant = Participant.objects.create(
        contract=ret.contract, provider=world.provider, provider_reference="B-P",
        identity_hash="1" * 64, start_date=datetime.date(2011, 4, 1))
    return participant.pk, Role.PROVIDER_MANAGER


def route_return_upload(world):
    from outcomes.models import ReturnUpload, UploadStatus

    upload = ReturnUpload.objects.create(return_record=_return(world), original_name="b.csv",
                                         size=1, status=UploadStatus.SAVED)
    return upload.pk, Role.PROVIDER_MANAGER


def bulk_claims(ret, count, *, prefix="CASE", segment="JSA_18_24", status="passed",
                evidence=None, outcome="attachment"):
    """`count` participants with one claim each in `ret`, made directly (fast) for list pages:
    each claim with a failed and a passed check, and `evidence` (an EvidenceFile) if given."""
    from outcomes.models import Claim, EvidenceFile, Participant

    participants = Participant.objects.bulk_create([Participant(
        contract=ret.contract, provider=ret.provider, provider_reference=f"{prefix}-{i:04d}",
        identity_hash=f"{prefix}{i:060d}"[-64:], segment=segment,
        start_date=datetime.date(2011, 6, 15)) for i in range(count)])
    claims = Claim.objects.bulk_create([Claim(
        return_record=ret, participant=p, row_number=i + 2, outcome=outcome,
        achieved=datetime.date(2011, 6, 15), status=status,
        checks=[{"code": "outcome_active", "passed": True, "reason": "In the terms."},
                {"code": "evidence", "passed": status != "failed",
                 "reason": "Attach evidence of type off_benefit_check."}])
        for i, p in enumerate(participants)])
    if evidence is not None:
        EvidenceFile.claims.through.objects.bulk_create([
            EvidenceFile.claims.through(claim_id=c.pk, evidencefile_id=evidence.pk)
            for c in claims])
    return participants, claims
