"""The in-browser designer: it reads C1-C6 field by field, saving unchanged gives an equivalent
document, every save goes through the importer's validator with errors linked to their inputs,
add/remove works with htmx and without JavaScript, and publishing is refused while problems
remain."""

import copy
from pathlib import Path

import pytest
from django.urls import reverse

from contracts.definition import load_document, parse, to_dict, validate
from contracts.designer import forms
from contracts.models import Contract, ContractParty, ContractStatus, PartyRole, TermsStatus
from contracts.services import ContractError, import_contract, publish_terms
from pbr.models import AuditEvent, Role
from tests.contract_terms.formscrape import designer_form

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "contracts").glob("*.yaml"))
SECTIONS = [s.slug for s in forms.SECTIONS]


def _text(value):
    if isinstance(value, bool):
        return "true" if value else None
    return "" if value is None else str(value)


def flatten(value, path=""):
    """path -> the text its input should hold, for every leaf of a document."""
    out = {}
    if isinstance(value, dict):
        for key, sub in value.items():
            out.update(flatten(sub, forms.join(path, key)))
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, sub in enumerate(value):
            out.update(flatten(sub, forms.join(path, i)))
    elif isinstance(value, list):
        sep = ", " if all(isinstance(v, int) for v in value) else "\n"
        out[path] = sep.join(str(v) for v in value)
    else:
        out[path] = _text(value)
    return out


@pytest.fixture
def commissioner(world_a):
    return world_a.users[Role.COMMISSIONER]


def _import(world, path, **kwargs):
    return import_contract(load_document(path), commissioner=world.commissioning_body, **kwargs)


def section_url(contract, slug):
    return reverse(f"designer_{slug}", args=[contract.pk])


@pytest.mark.django_db
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_designer_shows_every_value_of_each_example_and_saving_unchanged_is_equivalent(
        client, world_a, commissioner, path):
    original = load_document(path)
    contract = _import(world_a, path)
    client.force_login(commissioner)
    stored = contract.current_version().document
    expected = flatten({k: v for k, v in stored.items() if k != "format_version"})
    shown = {}
    for slug in SECTIONS:
        response = client.get(section_url(contract, slug))
        assert response.status_code == 200, slug
        fields = designer_form(response.content.decode())
        shown.update(fields)
    for field_path, text in expected.items():
        if text is None:
            assert field_path not in shown, field_path
        else:
            assert shown.get(field_path) == text, (field_path, shown.get(field_path), text)
    # Every segment, outcome and rule has its own item in the form.
    for list_name in ("segments", "outcomes", "indicators", "rules", "baskets", "allocations"):
        for i in range(len(stored.get(list_name, []))):
            assert f"{list_name}[{i}]._item" in shown, (list_name, i)

    for slug in SECTIONS:
        fields = designer_form(client.get(section_url(contract, slug)).content.decode())
        response = client.post(section_url(contract, slug), {**fields, "action": "save"})
        assert response.status_code == 302, (slug, response.content.decode()[:2000])
    version = contract.current_version()
    assert version.status == TermsStatus.DRAFT
    assert to_dict(parse(version.document)) == to_dict(parse(original))
    assert version.document == stored


@pytest.mark.django_db
def test_every_rule_type_and_outcome_kind_round_trips_through_the_forms(client, world_a,
                                                                       commissioner):
    """A document using every rule type, every outcome kind and every optional block."""
    document = load_document(next(p for p in EXAMPLES if p.name.startswith("c2")))
    document.update(
        segments=[{"code": "A", "name": "Group A"}, {"code": "B"}],
        subcontractors=[{"code": "SUB", "name": "Sub Ltd", "tier": 2, "management_fee_pct": "12.5",
                         "outcome_pass_through_pct": "90", "clawback_passdown": "evenly",
                         "delivery_share_pct": "40"}],
        calendar={**document["calendar"], "shadow": {"start": "2011-04-01", "end": "2011-06-30",
                                                     "applies_to": "all"},
                  "post_contract_claim_days": 90, "financial_year_start_month": 4,
                  "reconciliation_groups": [{"label": "H1", "periods": [1, 2]},
                                            {"label": "H2", "periods": [3, 4]}]},
        outcomes=[
            {"code": "start", "kind": "milestone", "once_per_participant": False},
            {"code": "job", "name": "Job", "once_within_weeks": 104, "qualifying_weeks": 13,
             "evidence": ["payslip", "letter"], "voided_by": ["represented"],
             "prerequisites": ["start"], "eligible_segments": ["A"], "category": "core",
             "sustainment": [{"label": "6 months", "weeks": 26, "max_adverse_events": 1}]},
            {"code": "sustain", "kind": "recurring", "trigger": "job", "every_weeks": 4,
             "max_count": 6},
            {"code": "ladder", "kind": "progression", "steps": 5},
            {"code": "graded", "kind": "graded"},
            {"code": "mine", "kind": "personal"},
        ],
        baskets=[{"id": "five", "paid_outcomes_per_participant": 2, "outcomes": ["job", "ladder"],
                  "mandatory": ["job"], "segments": ["A"]}],
        datasets=[{"code": "base", "kind": "baseline", "measure": "binary", "value": "41.6",
                   "source": "PNC"},
                  {"code": "cmp", "kind": "comparison_cohort", "measure": "frequency"}],
        allocations=[{"code": "x", "name": "X", "pct": "60"}, {"code": "y", "pct": "40"}],
    )
    document["rules"] = [
        *document["rules"],
        {"id": "core", "type": "core_instalments", "pct_of_annual_value": "10",
         "schedule": "quarterly", "on_account": True, "allocation": "x"},
        {"id": "tariff", "type": "tariff", "unit_value": "1000",
         "prices": [{"outcome": "job", "segment": "A", "pct_of_unit_value": "30", "max_count": 1,
                     "qualifying_weeks": 26}, {"outcome": "ladder", "amount": "50"}],
         "tapers": [{"outcome": "job", "from_contract_year": 2, "pct": "75"}]},
        {"id": "derived", "type": "tariff", "prices": [{"outcome": "sustain"}],
         "derived_price": {"pot": "2000", "planned_participants": 10,
                           "outcomes_per_participant": 2}},
        {"id": "grades", "type": "grade", "outcome": "graded",
         "grades": [{"grade": "A", "min_share_pct": "90", "price": "100"},
                    {"grade": "B", "min_share_pct": "50", "price": "40"}]},
        {"id": "bonus", "type": "periodic_bonus",
         "condition": {"indicator": document["indicators"][0]["code"], "op": "<", "threshold": "3"},
         "amount": "250"},
        {"id": "penalty", "type": "threshold_penalty", "missed": "all", "penalty": "1000",
         "thresholds": [{"indicator": document["indicators"][0]["code"], "minimum": "5"}]},
        {"id": "cohort", "type": "cohort_baseline", "indicator": document["indicators"][0]["code"],
         "dataset": "base", "improvement": "points", "value": "5000", "cohorts": ["C1", "C2"],
         "curve": [{"improvement": "5", "pct": "-10"}, {"improvement": "10", "pct": "100"}],
         "shape": "linear", "below_pct": "-20", "all_cohorts_threshold": "7.5"},
        {"id": "recon", "type": "on_account_reconciliation", "on_account_rule": "core",
         "max_score": "1.2",
         "indicators": [{"indicator": document["indicators"][0]["code"], "target": "70"}]},
        {"id": "volume", "type": "volume_reconciliation", "fee_rule": "core",
         "indicator": document["indicators"][0]["code"], "predicted": "120",
         "tolerance_pct": "10", "adjust": "whole"},
        {"id": "perf", "type": "performance_payment", "amount": "900",
         "conditions": [{"indicator": document["indicators"][0]["code"], "threshold": "1"}]},
        {"id": "cap", "type": "cap", "scope": "participant", "applies_to": ["tariff"],
         "outcomes": ["job"], "maximum": "5000", "minimum_pct": "1", "description": "A cap"},
        {"id": "recover", "type": "sample_recovery", "extrapolate": False},
    ]
    assert validate(document) == []
    assert {r["type"] for r in document["rules"]} == set(forms.RULES_BY_TYPE)
    contract = import_contract(copy.deepcopy(document), commissioner=world_a.commissioning_body)
    client.force_login(commissioner)
    for slug in SECTIONS:
        fields = designer_form(client.get(section_url(contract, slug)).content.decode())
        response = client.post(section_url(contract, slug), {**fields, "action": "save"})
        assert response.status_code == 302, slug
    assert to_dict(parse(contract.current_version().document)) == to_dict(parse(document))


@pytest.mark.django_db
def test_error_paths_map_to_the_inputs_and_the_draft_is_saved_incomplete(client, world_a,
                                                                         commissioner):
    contract = _import(world_a, next(p for p in EXAMPLES if p.name.startswith("c2")))
    client.force_login(commissioner)
    url = section_url(contract, "rules")
    fields = designer_form(client.get(url).content.decode())
    fields["rules[0].bands[0].stretch"] = "100"  # below the minimum
    fields["rules[0].bands[1].pot"] = ""  # a required field left empty
    response = client.post(url, {**fields, "action": "save"}, follow=True)
    page = response.content.decode()
    # Schema errors come first (as on import): the missing pot, linked to its own input.
    assert 'href="#f-rules-0-bands-1-pot"' in page
    assert 'id="f-rules-0-bands-1-pot-error"' in page
    version = contract.current_version()
    assert version.status == TermsStatus.DRAFT
    assert version.document["rules"][0]["bands"][0]["stretch"] == "100"  # saved, incomplete
    assert "pot" not in version.document["rules"][0]["bands"][1]

    fields = designer_form(page)
    fields["rules[0].bands[1].pot"] = "5000"
    page = client.post(url, {**fields, "action": "save"}, follow=True).content.decode()
    assert 'href="#f-rules-0-bands-0-stretch"' in page
    assert "stretch target 100 is below the minimum" in page
    assert ('class="govuk-input govuk-input--width-10 govuk-input--error" '
            'id="f-rules-0-bands-0-stretch"') in page

    # Publishing is refused with the same list; the version stays a draft.
    response = client.post(reverse("designer_publish", args=[contract.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "This version cannot be published" in page
    assert f'href="{url}#f-rules-0-bands-0-stretch"' in page
    contract.refresh_from_db()
    assert contract.status == ContractStatus.DRAFT
    with pytest.raises(ContractError) as raised:
        publish_terms(contract.current_version())
    assert {"band-order", "party-unlinked"} <= {p.code for p in raised.value.problems}


@pytest.mark.parametrize(("path", "message", "code", "rendered", "expected"), [
    ("rules[2].bands[1].stretch", "x", "band-order", set(), "rules[2].bands[1].stretch"),
    ("rules[2].bands[1]", "'stretch' is required", "schema-required", set(),
     "rules[2].bands[1].stretch"),
    ("outcomes[0].prerequisites[1]", "x", "unknown-outcome", {"outcomes[0].prerequisites"},
     "outcomes[0].prerequisites"),
    ("funders", "x", "funders-sum", {"funders"}, "funders"),
])
def test_error_targets(path, message, code, rendered, expected):
    target = forms.error_target(path, message, code)
    assert (forms.anchor_for(target, rendered) if rendered else target) == expected
    assert forms.dom_id("rules[2].bands[1].stretch") == "f-rules-2-bands-1-stretch"


@pytest.mark.django_db
def test_add_and_remove_with_htmx_swap_only_the_list_and_save_nothing(client, world_a,
                                                                      commissioner):
    contract = _import(world_a, next(p for p in EXAMPLES if p.name.startswith("c2")))
    client.force_login(commissioner)
    url = section_url(contract, "rules")
    before = contract.current_version().document_sha256
    fields = designer_form(client.get(url).content.decode())
    response = client.post(url, {**fields, "action": "add:rules[0].bands"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div class="govuk-form-group pbr-designer-list')
    assert 'id="f-rules-0-bands"' in html and 'name="rules[0].bands[2]._item"' in html
    assert 'id="designer-status" hx-swap-oob="true"' in html
    assert "<html" not in html
    # The new band's first input takes the focus.
    assert 'id="f-rules-0-bands-2-indicator"' in html and "autofocus" in html

    response = client.post(url, {**fields, "action": "remove:rules[0].bands[0]"},
                           HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert 'name="rules[0].bands[1]._item"' not in html
    # The remaining band is renumbered: tenancy sustainment is now band 1.
    swapped = designer_form(f'<form novalidate>{html}</form>')
    assert swapped["rules[0].bands[0].indicator"] == "tenancy_sustainment"
    assert swapped["rules[0].bands[0].minimum"] == "95"
    # A new rule of the chosen type.
    response = client.post(url, {**fields, "action": "add:rules", "new_rule_type": "cap"},
                           HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert 'name="rules[1].type" value="cap"' in html and 'id="f-rules-1-scope"' in html
    assert contract.current_version().document_sha256 == before


@pytest.mark.django_db
def test_add_and_remove_work_without_javascript(client, world_a, commissioner):
    contract = _import(world_a, next(p for p in EXAMPLES if p.name.startswith("c5")))
    client.force_login(commissioner)
    url = section_url(contract, "outcomes")
    fields = designer_form(client.get(url).content.decode())
    count = len(contract.current_version().document["outcomes"])
    page = client.post(url, {**fields, "action": "add:outcomes"}).content.decode()
    assert "<html" in page and "Your changes are not saved yet" in page
    fields = designer_form(page)
    assert f"outcomes[{count}]._item" in fields
    fields[f"outcomes[{count}].code"] = "new_one"
    fields[f"outcomes[{count}].kind"] = "personal"
    page = client.post(url, {**fields, "action": "remove:outcomes[0]"}).content.decode()
    fields = designer_form(page)
    assert fields["outcomes[0].code"] == "primary_health"
    response = client.post(url, {**fields, "action": "save"})
    assert response.status_code == 302
    outcomes = contract.current_version().document["outcomes"]
    assert [o["code"] for o in outcomes][-1] == "new_one"
    assert "accommodation" not in [o["code"] for o in outcomes]
    # The basket still names the removed outcome: the validator says so, linked to the basket.
    page = client.get(url).content.decode()
    assert "refers to outcome &#x27;accommodation&#x27;" in page
    assert reverse("designer_baskets", args=[contract.pk]) + "#f-baskets-0-outcomes" in page


@pytest.mark.django_db
def test_a_target_that_is_not_a_list_is_refused(client, world_a, commissioner):
    contract = _import(world_a, EXAMPLES[0])
    client.force_login(commissioner)
    url = section_url(contract, "details")
    fields = designer_form(client.get(url).content.decode())
    for action in ("add:title", "add:rules", "remove:funders", "add:calendar.periods"):
        assert client.post(url, {**fields, "action": action}).status_code == 400, action


def _new_contract_fields(provider):
    return {
        "reference": "NEW-1", "title": "A new contract", "start": "2024-04-01",
        "end": "2025-03-31", "annual_value": "£120,000", "funders[0]._item": "1",
        "funders[0].name": "Alpha Council", "funders[0].share_pct": "60",
        "funders[1]._item": "1", "funders[1].name": "Health Board", "funders[1].share_pct": "40",
        "prime_provider.name": "", "prime_provider.code": "",
        "_prime_organisation": str(provider.pk),
        "subcontractors[0]._item": "1", "subcontractors[0].code": "SUB1",
        "subcontractors[0].management_fee_pct": "15", "subcontractors[0].clawback_passdown":
        "at_fault", "subcontractors[0].tier": "1", "subcontractors[0].outcome_pass_through_pct":
        "100",
        "calendar.kind": "monthly", "calendar.start": "2024-04-01", "action": "save",
    }


@pytest.mark.django_db
def test_a_commissioner_starts_a_new_contract(client, world_a, commissioner):
    client.force_login(commissioner)
    url = reverse("designer_new")
    page = client.get(url).content.decode()
    fields = designer_form(page)
    assert fields["funders[0].name"] == world_a.commissioning_body.name
    assert fields["funders[0].share_pct"] == "100"

    bad = {**_new_contract_fields(world_a.provider), "funders[1].share_pct": "30"}
    response = client.post(url, bad)
    assert response.status_code == 200
    page = response.content.decode()
    assert "funder shares must add up to 100%, but 60% + 30% = 90%" in page
    assert 'href="#f-funders"' in page
    assert not Contract.objects.filter(reference="NEW-1").exists()

    response = client.post(url, _new_contract_fields(world_a.provider))
    contract = Contract.objects.get(reference="NEW-1")
    assert response.status_code == 302
    assert response["Location"] == reverse("designer_overview", args=[contract.pk])
    assert contract.commissioner == world_a.commissioning_body
    assert contract.status == ContractStatus.DRAFT and str(contract.annual_value) == "120000.00"
    version = contract.current_version()
    assert version.status == TermsStatus.DRAFT
    assert version.document["prime_provider"] == {"name": world_a.provider.name,
                                                  "code": world_a.provider.slug}
    assert version.document["subcontractors"][0]["clawback_passdown"] == "at_fault"
    prime = contract.parties.get(role=PartyRole.PRIME)
    assert prime.organisation == world_a.provider
    assert contract.parties.filter(role=PartyRole.FUNDER).count() == 2
    assert AuditEvent.objects.filter(action="contract.designed", object_id=str(contract.pk)).exists()

    # The same reference again is refused, naming the field.
    page = client.post(url, _new_contract_fields(world_a.provider)).content.decode()
    assert "A contract with reference NEW-1 already exists" in page
    assert 'href="#f-reference"' in page
    assert Contract.objects.filter(reference="NEW-1").count() == 1


@pytest.mark.django_db
def test_the_prime_organisation_is_required_to_start(client, world_a, commissioner):
    client.force_login(commissioner)
    fields = {**_new_contract_fields(world_a.provider), "_prime_organisation": ""}
    page = client.post(reverse("designer_new"), fields).content.decode()
    assert "Choose the prime provider" in page and 'href="#f-_prime_organisation"' in page
    assert not Contract.objects.exists()


@pytest.mark.django_db
def test_build_a_contract_section_by_section_then_publish(client, world_a, commissioner):
    client.force_login(commissioner)
    client.post(reverse("designer_new"), _new_contract_fields(world_a.provider))
    contract = Contract.objects.get(reference="NEW-1")
    seg = section_url(contract, "segments")
    fields = designer_form(client.post(seg, {**designer_form(client.get(seg).content.decode()),
                                             "action": "add:segments"}).content.decode())
    fields["segments[0].code"] = "A"
    assert client.post(seg, {**fields, "action": "save_continue"})["Location"] == section_url(
        contract, "outcomes")
    out = section_url(contract, "outcomes")
    fields = designer_form(client.get(out).content.decode())
    for i, code in enumerate(("entry", "job")):
        fields = designer_form(client.post(out, {**fields, "action": "add:outcomes"})
                               .content.decode())
        fields[f"outcomes[{i}].code"] = code
    client.post(out, {**fields, "action": "save"})
    rules = section_url(contract, "rules")
    fields = designer_form(client.get(rules).content.decode())
    fields = designer_form(client.post(rules, {**fields, "action": "add:rules",
                                               "new_rule_type": "tariff"}).content.decode())
    fields["rules[0].id"] = "tariff"
    fields = designer_form(client.post(rules, {**fields, "action": "add:rules[0].prices"})
                           .content.decode())
    fields.update({"rules[0].prices[0].outcome": "job", "rules[0].prices[0].segment": "A",
                   "rules[0].prices[0].amount": "1,500"})
    fields = designer_form(client.post(rules, {**fields, "action": "add:rules",
                                               "new_rule_type": "cap"}).content.decode())
    fields.update({"rules[1].id": "cap", "rules[1].scope": "year", "rules[1].maximum": "50000"})
    response = client.post(rules, {**fields, "action": "save"}, follow=True)
    assert "Saved. The terms have no problems." in response.content.decode()
    document = contract.current_version().document
    assert document["rules"][0]["prices"] == [{"outcome": "job", "segment": "A",
                                               "amount": "1500"}]
    assert parse(document).rule("cap").maximum == 50000

    response = client.post(reverse("designer_publish", args=[contract.pk]))
    assert response.status_code == 302
    contract.refresh_from_db()
    assert contract.status == ContractStatus.PUBLISHED
    # Published terms are shown read-only and cannot be saved.
    page = client.get(rules).content.decode()
    assert "cannot be edited" in page and 'name="action"' not in page
    before = contract.current_version().document_sha256
    client.post(rules, {**fields, "action": "save"})
    assert contract.current_version().document_sha256 == before
    detail = client.get(reverse("contract_detail", args=[contract.pk])).content.decode()
    assert "The terms in plain English" in detail


@pytest.mark.django_db
def test_details_save_keeps_the_contract_row_and_parties_in_step(client, world_a, commissioner):
    contract = _import(world_a, EXAMPLES[0])
    client.force_login(commissioner)
    url = section_url(contract, "details")
    fields = designer_form(client.get(url).content.decode())
    assert fields["_prime_organisation"] == ""
    fields.update({"title": "Renamed", "annual_value": "300000",
                   "_prime_organisation": str(world_a.provider.pk)})
    client.post(url, {**fields, "action": "save"})
    contract.refresh_from_db()
    assert contract.title == "Renamed" and str(contract.annual_value) == "300000.00"
    assert ContractParty.objects.get(contract=contract, role=PartyRole.PRIME).organisation \
        == world_a.provider
    # Another contract's reference cannot be taken: nothing is saved.
    other = _import(world_a, EXAMPLES[2])
    fields = designer_form(client.get(url).content.decode())
    page = client.post(url, {**fields, "reference": other.reference, "title": "Again",
                             "action": "save"}).content.decode()
    assert f"A contract with reference {other.reference} already exists" in page
    contract.refresh_from_db()
    assert contract.title == "Renamed"


@pytest.mark.django_db
def test_only_the_managing_commissioner_may_design(client, world_a, world_b, commissioner):
    contract = _import(world_b, EXAMPLES[0])
    client.force_login(commissioner)
    assert client.get(reverse("designer_overview", args=[contract.pk])).status_code == 404
    mine = _import(world_a, EXAMPLES[0].with_name("c2-southend.yaml"),
                   links={"EFS": world_a.provider})
    client.force_login(world_a.users[Role.PROVIDER_MANAGER])
    assert client.get(reverse("designer_overview", args=[mine.pk])).status_code == 403
    assert client.post(section_url(mine, "rules"), {"action": "save"}).status_code == 403
    assert client.get(reverse("designer_new")).status_code == 403


@pytest.mark.django_db
def test_the_terms_publish_button_also_refuses_an_incomplete_draft(client, world_a, commissioner):
    contract = _import(world_a, EXAMPLES[0], links={"EHS": world_a.provider})
    client.force_login(commissioner)
    url = section_url(contract, "rules")
    fields = designer_form(client.get(url).content.decode())
    fields["rules[0].pct_of_annual_value"] = "120"
    client.post(url, {**fields, "action": "save"})
    version = contract.current_version()
    client.post(reverse("terms_publish", args=[version.pk]))
    version.refresh_from_db()
    assert version.status == TermsStatus.DRAFT
    detail = client.get(reverse("contract_detail", args=[contract.pk]))
    assert detail.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("rule_type", sorted(forms.RULES_BY_TYPE))
def test_every_rule_type_can_be_added_with_all_its_fields(client, world_a, commissioner,
                                                          rule_type):
    import dataclasses

    contract = _import(world_a, next(p for p in EXAMPLES if p.name.startswith("c2")))
    client.force_login(commissioner)
    url = section_url(contract, "rules")
    fields = designer_form(client.get(url).content.decode())
    assert f'<option value="{rule_type}">' in client.get(url).content.decode()
    html = client.post(url, {**fields, "action": "add:rules", "new_rule_type": rule_type},
                       HTTP_HX_REQUEST="true").content.decode()
    assert f'name="rules[1].type" value="{rule_type}"' in html
    for f in dataclasses.fields(forms.RULES_BY_TYPE[rule_type]):
        if f.name != "type":
            assert f'id="{forms.dom_id(f"rules[1].{f.name}")}' in html, f.name


@pytest.mark.django_db
def test_every_outcome_kind_is_offered(client, world_a, commissioner):
    contract = _import(world_a, next(p for p in EXAMPLES if p.name.startswith("c5")))
    client.force_login(commissioner)
    page = client.get(section_url(contract, "outcomes")).content.decode()
    for kind in ("one_off", "recurring", "progression", "graded", "personal", "milestone"):
        assert f'<option value="{kind}"' in page
    for name in ("sustainment", "voided_by", "prerequisites", "eligible_segments", "evidence",
                 "once_within_weeks", "trigger", "every_weeks", "steps"):
        assert f'id="f-outcomes-0-{name}"' in page, name
