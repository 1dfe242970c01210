"""Contracts and returns for the outcomes tests, built from the example definitions."""

import copy
from pathlib import Path

import pytest

from contracts.definition import load_document
from pbr.models import Role

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "contracts"


def c3_document(**changes):
    document = copy.deepcopy(load_document(EXAMPLES / "c3-work-programme.yaml"))
    document.update(changes)
    return document


def make_contract(world, document, reference=None):
    from contracts.services import import_contract

    if reference:
        document = dict(document, reference=reference)
    return import_contract(document, commissioner=world.commissioning_body,
                           links={"PRIME": world.provider, "EFS": world.provider},
                           auditor=world.audit_body, publish=True)


@pytest.fixture
def c3(world_a):
    return make_contract(world_a, c3_document())


@pytest.fixture
def provider_user(world_a):
    return world_a.users[Role.PROVIDER_MANAGER]


@pytest.fixture
def draft(c3, provider_user):
    from outcomes.services import start_return

    return start_return(c3, "Jun 2013", actor=provider_user)


def row(**values):
    base = {"participant_ref": "CASE-1", "ni_number": "AB123456C", "date_of_birth": "1990-05-01",
            "segment": "JSA_18_24", "start_date": "2011-06-15", "outcome": "attachment",
            "achieved": "2011-06-15"}
    base.update(values)
    return {k: v for k, v in base.items() if v is not None}


@pytest.fixture(autouse=True)
def private_evidence_root(settings, tmp_path):
    """Each test stores evidence in its own folder: other test runs sharing this checkout clean
    the common test folder when they finish, which must not pull files from under us."""
    storages = copy.deepcopy(settings.STORAGES)
    storages["evidence"]["OPTIONS"]["location"] = str(tmp_path / "evidence")
    settings.STORAGES = storages
    settings.EVIDENCE_ROOT = tmp_path / "evidence"
    return tmp_path / "evidence"
