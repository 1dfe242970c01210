"""A C3 contract audited by world A's audit body, and claims built quickly for verification."""

import copy
import datetime

import pytest

from pbr.models import Role
from tests.outcomes.conftest import c3_document, make_contract

JOINED = datetime.date(2011, 7, 4)


@pytest.fixture(autouse=True)
def private_evidence_root(settings, tmp_path):
    storages = copy.deepcopy(settings.STORAGES)
    storages["evidence"]["OPTIONS"]["location"] = str(tmp_path / "evidence")
    settings.STORAGES = storages
    settings.EVIDENCE_ROOT = tmp_path / "evidence"
    return tmp_path / "evidence"


@pytest.fixture
def c3(world_a):
    return make_contract(world_a, c3_document())


@pytest.fixture
def people(world_a):
    """The world's users by short name, plus a second commissioner and a second auditor."""
    from tests.factories import UserFactory

    users = dict(world_a.users)
    return {
        "auditor": users[Role.AUDITOR],
        "auditor2": UserFactory(username="alpha-auditor-2", role=Role.AUDITOR,
                                organisation=world_a.audit_body),
        "commissioner": users[Role.COMMISSIONER],
        "commissioner2": UserFactory(username="alpha-commissioner-2", role=Role.COMMISSIONER,
                                     organisation=world_a.commissioning_body),
        "provider_user": users[Role.PROVIDER_USER],
        "provider_manager": users[Role.PROVIDER_MANAGER],
    }


def set_policy(contract, **values):
    from outcomes.verification.models import VerificationPolicy

    policy, _ = VerificationPolicy.objects.update_or_create(contract=contract, defaults=values)
    return policy


def submitted_return(contract, provider, period_id="Jun 2012", version=1):
    from outcomes.models import Return, ReturnStatus
    from outcomes.services import contract_periods_now

    period = next(p for p in contract_periods_now(contract) if p.id == period_id)
    return Return.objects.create(
        contract=contract, provider=provider, period_id=period.id, period_start=period.start,
        period_end=period.end, due_date=period.end + datetime.timedelta(days=10),
        status=ReturnStatus.SUBMITTED, version=version)


def make_claims(ret, count, *, outcome="job_outcome", status="passed", segment="JSA_18_24",
                start=1, evidence=None, achieved=datetime.date(2012, 6, 15),
                started=datetime.date(2011, 12, 1), **fields):
    """`count` claims in a submitted return, one participant each, as the automatic checks
    would have left them. For setting up volumes; the services under test do the rest."""
    from outcomes.models import Claim, EvidenceFile, Participant

    participants = Participant.objects.bulk_create([Participant(
        contract=ret.contract, provider=ret.provider, provider_reference=f"R{ret.pk}-{n}",
        identity_hash=f"{ret.pk:08d}{n:056d}", segment=segment, start_date=JOINED)
        for n in range(start, start + count)])
    claims = Claim.objects.bulk_create([Claim(
        return_record=ret, participant=p, row_number=i + 2, outcome=outcome, achieved=achieved,
        started=started, status=status, **fields) for i, p in enumerate(participants)])
    if evidence is not None:
        EvidenceFile.claims.through.objects.bulk_create([
            EvidenceFile.claims.through(claim_id=c.pk, evidencefile_id=evidence.pk)
            for c in claims])
    return claims


def pdf_bytes(text="Payslip: week 26 in work"):
    """A small, valid one-page PDF showing `text`."""
    stream = f"BT /F1 18 Tf 40 120 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 400 200] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"\
        .encode()
    return out


def png_bytes(width=40, height=20):
    """A small, valid PNG: a blue rectangle."""
    import struct
    import zlib

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\x1d\x70\xb8" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def evidence_file(organisation, name="proof.pdf", content=None, evidence_type="off_benefit_check"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from outcomes import evidence

    if content is None:
        content = png_bytes() if name.endswith(".png") else pdf_bytes()
    return evidence.store(SimpleUploadedFile(name, content), name, organisation=organisation,
                          evidence_type=evidence_type)
