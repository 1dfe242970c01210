"""Contracts in the database: import, export round trip, all-or-nothing errors, variation."""

import copy
import datetime
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

from contracts.definition import load_document, parse, to_dict
from contracts.io import parse_text
from contracts.models import Contract, ContractStatus, TermsImmutableError, TermsStatus, TermsVersion
from contracts.services import ContractError, import_contract, publish_terms, vary_contract
from pbr.models import AuditEvent, Organisation, OrganisationKind, Role

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "contracts").glob("*.yaml"))


@pytest.fixture
def council(db):
    return Organisation.objects.create(name="Test Council", slug="test-council",
                                       kind=OrganisationKind.COMMISSIONING_BODY)


@pytest.mark.django_db
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_imports_and_exports_back_to_an_equivalent_document(council, path):
    out = StringIO()
    call_command("import_contract", str(path), "--commissioner", council.slug, stdout=out)
    reference = load_document(path)["reference"]
    assert f"Imported {reference}" in out.getvalue()
    exported = StringIO()
    call_command("export_contract", reference, stdout=exported)
    again = yaml.safe_load(exported.getvalue())
    # Equivalent: the exported document parses to exactly the definition the file describes.
    assert parse(parse_text(exported.getvalue())) == parse(load_document(path))
    assert again["reference"] == reference
    exported_json = StringIO()
    call_command("export_contract", reference, "--format", "json", stdout=exported_json)
    assert parse(parse_text(exported_json.getvalue(), "x.json")) == parse(load_document(path))


def _c2():
    return load_document(next(p for p in EXAMPLES if p.name.startswith("c2")))


BAD = [
    ("allocations", lambda d: d.update(allocations=[
        {"code": c, "pct": p} for c, p in zip("abcde", ["70", "10", "5", "5", "5"], strict=True)]),
     "allocations"),
    ("stretch below minimum", lambda d: d["rules"][0]["bands"][0].update(stretch="100"),
     "rules[0].bands[0].stretch"),
    ("negative pot", lambda d: d["rules"][0]["bands"][0].update(pot="-5"), "rules[0].bands[0].pot"),
    ("unknown indicator", lambda d: d["rules"][0]["bands"][0].update(indicator="nope"),
     "rules[0].bands[0].indicator"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("label", "change", "path"), BAD, ids=[b[0] for b in BAD])
def test_bad_definitions_are_refused_with_the_path_and_nothing_is_saved(council, label, change, path):
    document = _c2()
    change(document)
    events = AuditEvent.objects.count()
    with pytest.raises(ContractError) as raised:
        import_contract(document, commissioner=council)
    assert any(p.path.startswith(path) for p in raised.value.problems), raised.value.problems
    assert all(p.message and p.code for p in raised.value.problems)
    assert Contract.objects.count() == 0 and TermsVersion.objects.count() == 0
    assert AuditEvent.objects.count() == events


@pytest.mark.django_db
def test_cli_lists_every_problem_and_saves_nothing(council, tmp_path):
    document = _c2()
    document["rules"][0]["bands"][0]["stretch"] = "100"
    document["rules"][0]["bands"][1]["pot"] = "-1"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(document))
    with pytest.raises(CommandError) as raised:
        call_command("import_contract", str(bad), "--commissioner", council.slug)
    message = str(raised.value)
    assert "nothing saved" in message
    assert "rules[0].bands[0].stretch" in message and "rules[0].bands[1].pot" in message
    assert Contract.objects.count() == 0


@pytest.mark.parametrize(("raw", "needle"), [
    (b"", "empty"), (b"\xff\xfe\x00junk", "not UTF-8"), (b"reference: [unclosed", "not valid YAML"),
    (b"{\"reference\": ", "not valid JSON"), (b"- just\n- a list\n", "one contract definition"),
    (b"x" * (1024 * 1024 + 1), "larger than 1 MB"),
])
def test_unreadable_files_get_a_clear_message(raw, needle):
    with pytest.raises(ContractError) as raised:
        parse_text(raw, "upload.yaml")
    assert needle in str(raised.value)


@pytest.mark.django_db
def test_variation_keeps_the_old_version_and_applies_only_from_its_effective_date(council, world_a):
    commissioner = world_a.users[Role.COMMISSIONER]
    commissioner.organisation = council
    commissioner.save()
    document = _c2()
    contract = import_contract(document, actor=commissioner, links={"EFS": world_a.provider})
    v1 = contract.current_version()
    publish_terms(v1, actor=commissioner)
    v1.refresh_from_db()
    original = copy.deepcopy(v1.document)
    original_hash = v1.document_sha256

    varied = copy.deepcopy(document)
    varied["rules"][0]["bands"][0]["pot"] = "12000"
    with pytest.raises(ContractError) as raised:
        vary_contract(contract, varied, actor=commissioner, reason="",
                      effective_from=datetime.date(2012, 4, 1))
    assert {p.code for p in raised.value.problems} == {"reason-required"}
    v2 = vary_contract(contract, varied, actor=commissioner, reason="Pot increased after review",
                       effective_from=datetime.date(2012, 4, 1))

    v1.refresh_from_db()
    assert v1.document == original and v1.document_sha256 == original_hash
    assert v1.status == TermsStatus.PUBLISHED and v2.status == TermsStatus.PUBLISHED
    assert v2.supersedes == v1 and v2.reason == "Pot increased after review"
    assert contract.terms_on(datetime.date(2012, 3, 31)) == v1
    assert contract.terms_on(datetime.date(2012, 4, 1)) == v2
    assert contract.terms_on(datetime.date(2011, 3, 31)) is None
    assert v2.definition().rules[0].bands[0].pot == 12000
    assert v1.definition().rules[0].bands[0].pot == 10000
    assert AuditEvent.objects.filter(action="contract.varied", reason="Pot increased after review").exists()


@pytest.mark.django_db
def test_published_terms_cannot_be_edited_or_deleted(council, world_a):
    contract = import_contract(_c2(), commissioner=council, links={"EFS": world_a.provider},
                               publish=True)
    version = contract.current_version()
    assert contract.status == ContractStatus.PUBLISHED
    version.document = dict(version.document, title="Rewritten")
    with pytest.raises(TermsImmutableError):
        version.save()
    version.refresh_from_db()
    with pytest.raises(TermsImmutableError):
        version.delete()


@pytest.mark.django_db
def test_publishing_needs_the_prime_provider_linked(council):
    contract = import_contract(_c2(), commissioner=council)
    with pytest.raises(ContractError, match="Link Example Floating Support"):
        publish_terms(contract.current_version())


@pytest.mark.django_db
def test_contracts_are_scoped_to_their_parties(council, world_a, world_b):
    contract = import_contract(_c2(), commissioner=council, links={"EFS": world_a.provider})
    assert list(Contract.objects.for_user(world_a.users[Role.PROVIDER_USER])) == [contract]
    assert list(Contract.objects.for_user(world_b.users[Role.PROVIDER_USER])) == []
    assert list(Contract.objects.for_user(world_a.users[Role.COMMISSIONER])) == []


def test_round_trip_of_canonical_form_is_stable():
    document = _c2()
    canonical = to_dict(parse(document))
    assert to_dict(parse(canonical)) == canonical
