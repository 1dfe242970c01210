"""Hostile evidence is refused with a clear message and nothing is stored; good files are
stored privately and served only as attachments to those allowed to see them."""

import os
import re

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from outcomes import evidence
from outcomes.models import EvidenceFile
from pbr.models import Role

from .corpus import good_evidence, hostile_evidence

HOSTILE = hostile_evidence()


def _stored_files():
    root = settings.EVIDENCE_ROOT
    return sorted(os.path.join(d, f) for d, _, files in os.walk(root) for f in files)


def test_the_corpus_is_big_enough():
    assert len(HOSTILE) >= 20


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "content", "filename", "fragment"), HOSTILE,
                         ids=[h[0] for h in HOSTILE])
def test_hostile_file_is_refused_and_nothing_stored(world_a, name, content, filename, fragment):
    before = _stored_files()
    with pytest.raises(evidence.EvidenceRefused) as refused:
        evidence.store(SimpleUploadedFile("upload.bin", content), filename,
                       organisation=world_a.provider)
    assert fragment.lower() in str(refused.value).lower(), str(refused.value)
    assert EvidenceFile.objects.count() == 0
    assert _stored_files() == before


@pytest.mark.django_db
def test_oversized_file_is_refused_while_streaming(world_a, settings):
    settings.EVIDENCE_MAX_BYTES = 1024
    with pytest.raises(evidence.EvidenceRefused, match="smaller than"):
        evidence.store(SimpleUploadedFile("a.txt", b"x" * 2048), "a.txt",
                       organisation=world_a.provider)
    assert EvidenceFile.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(("filename", "content", "content_type"), good_evidence(),
                         ids=[g[0] for g in good_evidence()])
def test_allowed_types_are_stored_with_hash(world_a, filename, content, content_type):
    import hashlib

    stored = evidence.store(SimpleUploadedFile(filename, content), filename,
                            organisation=world_a.provider)
    assert stored.content_type == content_type
    assert stored.sha256 == hashlib.sha256(content).hexdigest()
    assert stored.size == len(content)
    # A random name, not the uploader's.
    assert re.fullmatch(r"\d+/[0-9a-f]{32}\.[a-z]+", stored.stored_name), stored.stored_name


@pytest.mark.django_db
def test_download_is_an_attachment_for_those_allowed_only(client, world_a, world_b):
    stored = evidence.store(SimpleUploadedFile("a.txt", b"hello"), "a.txt",
                            organisation=world_a.provider)
    client.force_login(world_a.users[Role.PROVIDER_USER])
    response = client.get(f"/returns/evidence/{stored.pk}/download/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == b"hello"
    for role in (Role.PROVIDER_USER, Role.COMMISSIONER, Role.AUDITOR):
        client.force_login(world_b.users[role])
        assert client.get(f"/returns/evidence/{stored.pk}/download/").status_code == 404
    # A commissioner sees no evidence until it supports a claim on their contract.
    client.force_login(world_a.users[Role.COMMISSIONER])
    assert client.get(f"/returns/evidence/{stored.pk}/download/").status_code == 404


def test_storage_has_no_url():
    from django.core.files.storage import storages

    with pytest.raises(NotImplementedError):
        storages["evidence"].url("x")
