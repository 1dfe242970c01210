"""Contracts API: list (scoped), import (YAML or JSON by Content-Type, all or nothing), terms as
JSON or YAML, variation; the web pages' permission functions; another organisation's contract is
404."""

import copy
import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from contracts.definition import load_document, parse, to_dict
from contracts.io import parse_text
from contracts.models import Contract, ContractParty, ContractStatus, PartyRole, TermsVersion
from contracts.services import import_contract
from pbr.models import AuditEvent, Role

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "contracts"
C2 = EXAMPLES / "c2-southend.yaml"
LIST = "/api/v1/contracts/"


def detail(contract, suffix=""):
    return f"{LIST}{contract.pk}/{suffix}"


@pytest.fixture
def commissioner(client, world_a):
    client.force_login(world_a.users[Role.COMMISSIONER])
    return world_a.users[Role.COMMISSIONER]


def _mine(world, **kwargs):
    return import_contract(load_document(C2), commissioner=world.commissioning_body, **kwargs)


@pytest.mark.django_db
def test_list_shows_only_contracts_the_user_may_see(client, world_a, world_b, commissioner,
                                                    django_assert_max_num_queries):
    mine = _mine(world_a)
    theirs = import_contract(load_document(EXAMPLES / "c4-lewisham.yaml"),
                             commissioner=world_b.commissioning_body)
    import_contract(load_document(EXAMPLES / "c6-sheffield.yaml"),
                    commissioner=world_a.commissioning_body)
    with django_assert_max_num_queries(6):
        body = client.get(LIST).json()
    references = [c["reference"] for c in body["results"]]
    assert mine.reference in references and theirs.reference not in references
    assert len(references) == 2
    row = next(c for c in body["results"] if c["reference"] == mine.reference)
    assert row["commissioner"] == world_a.commissioning_body.slug
    assert row["annual_value"] == "20000.00" and row["status"] == "draft"
    assert row["versions"][0]["number"] == 1 and row["versions"][0]["status"] == "draft"
    assert client.get(LIST, {"reference": mine.reference}).json()["count"] == 1
    assert client.get(LIST, {"status": "published"}).json()["count"] == 0
    # A provider sees the contracts it delivers, and only those.
    client.force_login(world_a.users[Role.PROVIDER_USER])
    assert client.get(LIST).json()["count"] == 0
    linked = import_contract(load_document(EXAMPLES / "c5-birmingham.yaml"),
                             commissioner=world_a.commissioning_body,
                             links={"ESS": world_a.provider})
    assert [c["reference"] for c in client.get(LIST).json()["results"]] == [linked.reference]


@pytest.mark.django_db
def test_another_organisations_contract_is_not_found(client, world_a, world_b, commissioner):
    theirs = _mine(world_b)
    assert client.get(detail(theirs)).status_code == 404
    assert client.get(detail(theirs, "terms/")).status_code == 404
    response = client.post(detail(theirs, "variations/") + "?reason=x&effective_from=2012-04-01",
                           C2.read_bytes(), content_type="application/yaml")
    assert response.status_code == 404
    assert theirs.versions.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.PROVIDER_MANAGER, Role.PROVIDER_USER, Role.AUDITOR])
def test_only_commissioners_can_import(client, world_a, role):
    client.force_login(world_a.users[role])
    response = client.post(LIST, C2.read_bytes(), content_type="application/yaml")
    assert response.status_code == 403
    assert "Only commissioners" in response.json()["detail"]
    assert not Contract.objects.exists()


@pytest.mark.django_db
def test_anonymous_gets_401(client):
    assert client.get(LIST).status_code == 401
    assert client.post(LIST, C2.read_bytes(), content_type="application/yaml").status_code == 401


@pytest.mark.django_db
def test_import_yaml_body(client, world_a, commissioner):
    response = client.post(LIST, C2.read_bytes(), content_type="application/yaml")
    assert response.status_code == 201, response.content
    body = response.json()
    contract = Contract.objects.get(reference="C2-SOUTHEND")
    assert body["id"] == contract.pk and response["Location"].endswith(f"/{contract.pk}/")
    assert contract.commissioner == world_a.commissioning_body
    assert contract.status == ContractStatus.DRAFT
    assert parse(contract.current_version().document) == parse(load_document(C2))
    assert AuditEvent.objects.filter(action="contract.imported").count() == 1


@pytest.mark.django_db
def test_import_json_body_reads_decimals_exactly(client, world_a, commissioner):
    document = load_document(C2)
    text = json.dumps(document, default=str).replace('"96.5"', "96.5")
    assert "96.5," in text or "96.5}" in text
    response = client.post(LIST, text, content_type="application/json")
    assert response.status_code == 201, response.content
    defn = Contract.objects.get().current_version().definition()
    assert defn.rules[0].bands[1].stretch == Decimal("96.5")
    assert str(defn.rules[0].bands[1].stretch) == "96.5"


@pytest.mark.django_db
def test_import_publish_and_link_like_the_command(client, world_a, commissioner):
    url = f"{LIST}?publish=true&link=EFS={world_a.provider.slug}&auditor={world_a.audit_body.slug}"
    response = client.post(url, C2.read_bytes(), content_type="text/yaml")
    assert response.status_code == 201, response.content
    contract = Contract.objects.get()
    assert contract.status == ContractStatus.PUBLISHED
    assert response.json()["versions"][0]["status"] == "published"
    assert contract.parties.get(role=PartyRole.PRIME).organisation == world_a.provider
    assert contract.parties.get(role=PartyRole.AUDITOR).organisation == world_a.audit_body


@pytest.mark.django_db
def test_publishing_an_unlinked_prime_is_refused_and_nothing_saved(client, world_a, commissioner):
    response = client.post(f"{LIST}?publish=1", C2.read_bytes(), content_type="application/yaml")
    assert response.status_code == 400
    assert [p["code"] for p in response.json()["problems"]] == ["party-unlinked"]
    assert not Contract.objects.exists() and not ContractParty.objects.exists()


@pytest.mark.django_db
def test_bad_document_lists_every_problem_with_its_path_and_saves_nothing(client, world_a,
                                                                          commissioner):
    document = load_document(C2)
    document["rules"][0]["bands"][0]["stretch"] = "100"
    document["rules"][0]["bands"][1]["pot"] = "-1"
    document["funders"][0]["share_pct"] = "90"
    events = AuditEvent.objects.count()
    response = client.post(LIST, yaml.safe_dump(document), content_type="application/yaml")
    assert response.status_code == 400
    body = response.json()
    assert "Nothing has been saved" in body["detail"]
    problems = {p["path"]: p for p in body["problems"]}
    assert problems["rules[0].bands[0].stretch"]["code"] == "band-order"
    assert problems["rules[0].bands[1].pot"]["code"] == "negative-amount"
    assert problems["funders"]["code"] == "funders-sum"
    assert all(set(p) == {"path", "message", "code"} and p["message"] for p in body["problems"])
    assert not Contract.objects.exists() and not TermsVersion.objects.exists()
    assert AuditEvent.objects.count() == events


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "content_type", "code"), [
    (b"reference: [unclosed", "application/yaml", "syntax"),
    (b'{"reference": ', "application/json", "syntax"),
    (b"", "application/json", "empty"),
    (b"- a\n- list\n", "application/yaml", "not-an-object"),
    (b"x" * (1024 * 1024 + 10), "application/yaml", "too-large"),
])
def test_unreadable_bodies_are_refused_with_a_problem(client, world_a, commissioner, body,
                                                      content_type, code):
    response = client.post(LIST, body, content_type=content_type)
    assert response.status_code == 400
    assert [p["code"] for p in response.json()["problems"]] == [code]
    assert not Contract.objects.exists()


@pytest.mark.django_db
def test_unknown_link_or_media_type(client, world_a, commissioner):
    response = client.post(f"{LIST}?link=EFS=nobody", C2.read_bytes(),
                           content_type="application/yaml")
    assert response.status_code == 400
    assert response.json()["problems"][0]["path"] == "link"
    assert client.post(LIST, "reference: x", content_type="text/plain").status_code == 415
    assert not Contract.objects.exists()


@pytest.mark.django_db
def test_terms_as_json_or_yaml_and_by_version(client, world_a, commissioner):
    contract = _mine(world_a, links={"EFS": world_a.provider}, publish=True)
    stored = contract.current_version().document
    response = client.get(detail(contract, "terms/"))
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == stored
    as_yaml = client.get(detail(contract, "terms/"), HTTP_ACCEPT="application/yaml")
    assert as_yaml["Content-Type"].startswith("application/yaml")
    assert parse(parse_text(as_yaml.content, "x.yaml")) == parse(load_document(C2))
    by_format = client.get(detail(contract, "terms/"), {"format": "yaml"})
    assert by_format.content == as_yaml.content

    varied = copy.deepcopy(load_document(C2))
    varied["rules"][0]["bands"][0]["pot"] = "12000"
    response = client.post(detail(contract, "variations/") + "?reason=Pot%20increased"
                           "&effective_from=2012-04-01", yaml.safe_dump(varied),
                           content_type="application/yaml")
    assert response.status_code == 201, response.content
    assert [v["number"] for v in response.json()["versions"]] == [1, 2]
    latest = client.get(detail(contract, "terms/")).json()
    first = client.get(detail(contract, "terms/"), {"version": 1}).json()
    assert latest["rules"][0]["bands"][0]["pot"] == "12000"
    assert first == stored
    assert to_dict(parse(first)) == to_dict(parse(load_document(C2)))
    assert client.get(detail(contract, "terms/"), {"version": 9}).status_code == 404
    assert client.get(detail(contract, "terms/"), {"version": "x"}).status_code == 400


@pytest.mark.django_db
def test_refusals_asked_for_as_yaml_are_yaml_with_the_reason(client, world_a, commissioner):
    """Found by the API fuzz (tests/api): the YAML renderer could not write DRF's error details,
    so a 404 or 400 asked for as YAML was a server error."""
    contract = _mine(world_a, links={"EFS": world_a.provider}, publish=True)
    for url, params, status, detail_text in [
        (f"{LIST}0/terms/", {"format": "yaml"}, 404, "No Contract matches the given query."),
        (detail(contract, "terms/"), {"format": "yaml", "version": 9}, 404,
         "This contract has no terms version with that number."),
        (detail(contract, "terms/"), {"format": "yaml", "version": "x"}, 400,
         "version must be a whole number."),
    ]:
        response = client.get(url, params)
        assert response.status_code == status
        assert response["Content-Type"].startswith("application/yaml")
        assert yaml.safe_load(response.content) == {"detail": detail_text}


@pytest.mark.django_db
def test_list_filters_refuse_what_the_database_cannot_compare(client, world_a, commissioner):
    """Found by the API fuzz (tests/api): PostgreSQL refuses a NUL character in any string, so
    a filter holding one was a server error there; it is a 400 naming the parameter."""
    contract = _mine(world_a, links={"EFS": world_a.provider}, publish=True)
    response = client.get(LIST, {"reference": "C2\x00"})
    assert response.status_code == 400
    assert response.json() == {"reference": ["Null characters are not allowed."]}
    found = client.get(LIST, {"reference": contract.reference, "status": "published"}).json()
    assert [c["id"] for c in found["results"]] == [contract.pk]


@pytest.mark.django_db
def test_variation_problems_and_permissions(client, world_a, commissioner):
    contract = _mine(world_a, links={"EFS": world_a.provider}, publish=True)
    url = detail(contract, "variations/")
    response = client.post(url + "?effective_from=2012-04-01", C2.read_bytes(),
                           content_type="application/yaml")
    assert response.status_code == 400
    assert [p["code"] for p in response.json()["problems"]] == ["reason-required"]
    response = client.post(url + "?reason=x&effective_from=soon", C2.read_bytes(),
                           content_type="application/yaml")
    assert [p["path"] for p in response.json()["problems"]] == ["effective_from"]
    client.force_login(world_a.users[Role.PROVIDER_MANAGER])
    response = client.post(url + "?reason=x&effective_from=2012-04-01", C2.read_bytes(),
                           content_type="application/yaml")
    assert response.status_code == 403
    assert contract.versions.count() == 1


@pytest.mark.django_db
def test_schema_documents_the_contract_routes(client, commissioner):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert "/api/v1/contracts/" in schema["paths"]
    create = schema["paths"]["/api/v1/contracts/"]["post"]
    assert {"application/json", "application/yaml"} <= set(create["requestBody"]["content"])
    assert "/api/v1/contracts/{contract_pk}/terms/" in schema["paths"]
