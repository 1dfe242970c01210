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
