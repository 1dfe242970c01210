"""A draft saved from the designer may not validate yet. Every page and API route that takes a
contract must still answer without a server error for it."""

import re
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from contracts.definition import load_document
from contracts.designer.services import problems_in, save_draft
from contracts.services import import_contract
from pbr.models import Role

C2 = Path(__file__).resolve().parents[2] / "examples" / "contracts" / "c2-southend.yaml"


def _routes(patterns, prefix=""):
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield route


CONTRACT_ROUTES = [r for r in _routes(get_resolver().url_patterns)
                   if re.findall(r"<(?:\w+:)?(\w+)>", r) == ["contract_pk"]]


@pytest.fixture
def incomplete_draft(world_a):
    commissioner = world_a.users[Role.COMMISSIONER]
    document = load_document(C2)
    contract = import_contract(document, actor=commissioner, links={"EFS": world_a.provider})
    document["rules"][0]["bands"][0].pop("pot")
    document["rules"][0]["bands"][1]["stretch"] = "1"
    save_draft(contract, document, actor=commissioner)
    assert problems_in(contract.current_version().document)
    return contract


def test_routes_are_found():
    assert any("design" in r for r in CONTRACT_ROUTES)
    assert any(r.startswith("payments/") for r in CONTRACT_ROUTES)
    assert any(r.startswith("api/") for r in CONTRACT_ROUTES)


@pytest.mark.django_db
@pytest.mark.parametrize("route", CONTRACT_ROUTES)
def test_an_incomplete_draft_causes_no_server_error(client, world_a, incomplete_draft, route):
    url = "/" + re.sub(r"<(?:\w+:)?contract_pk>", str(incomplete_draft.pk), route)
    for role in (Role.COMMISSIONER, Role.PROVIDER_MANAGER):
        client.force_login(world_a.users[role])
        status = client.get(url).status_code
        assert status < 500, (role, url, status)
