"""External datasets: the commissioner uploads a CSV (page or API), refused whole with row-level
problems; the newest figure for each dataset and period reaches the engine as ExternalValue
(Peterborough-style comparison cohorts, 002:2294-2299)."""

import hashlib
from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from outcomes.external import external_facts
from outcomes.models import DatasetUpload, DatasetValue
from outcomes.services import add_rows, facts_for, start_return, submit_return
from payments.services import run_period
from pbr.models import AuditEvent, Role

from .conftest import c3_document, make_contract
from .corpus import xlsx_bytes

pytestmark = pytest.mark.django_db

HEADER = "dataset,period,value"


def cohort_document(reference="COHORTS"):
    return {
        "format_version": 1, "reference": reference, "title": "Reconviction against a matched cohort",
        "funders": [{"name": "Ministry", "share_pct": "100"}],
        "prime_provider": {"name": "One Service", "code": "PRIME"},
        "start": "2012-04-01", "end": "2015-03-31", "annual_value": "100000",
        "calendar": {"kind": "quarterly", "start": "2012-04-01"},
        "indicators": [{"code": "reconviction_events", "kind": "average",
                        "direction": "lower_is_better"}],
        "datasets": [{"code": "matched", "kind": "comparison_cohort", "measure": "frequency",
                      "source": "Police National Computer, matched by propensity score"}],
        "rules": [{"id": "cohorts", "type": "cohort_baseline", "indicator": "reconviction_events",
                   "against": "comparison", "dataset": "matched", "value": "100000",
                   "cohorts": ["cohort 1", "cohort 2"],
                   "curve": [{"improvement": "10", "pct": "100"}], "shape": "stepped"}],
    }


def csv_bytes(*lines, header=HEADER):
    return ("\n".join([header, *lines]) + "\n").encode()


@pytest.fixture
def cohorts(world_a):
    return make_contract(world_a, cohort_document())


@pytest.fixture
def commissioner(world_a):
    return world_a.users[Role.COMMISSIONER]


def upload_page(client, contract, content, name="matched.csv"):
    return client.post(f"/returns/datasets/{contract.pk}/",
                       {"file": SimpleUploadedFile(name, content)})


def test_commissioner_uploads_a_csv_and_it_is_kept_with_its_hash(client, cohorts, commissioner):
    content = csv_bytes("matched,cohort 1,1.00", "matched,cohort 2,0.9850")
    client.force_login(commissioner)
    response = upload_page(client, cohorts, content)
    assert response.status_code == 302
    upload = DatasetUpload.objects.get()
    assert upload.sha256 == hashlib.sha256(content).hexdigest()
    assert (upload.original_name, upload.rows, upload.size, upload.uploaded_by) == (
        "matched.csv", 2, len(content), commissioner)
    assert sorted(DatasetValue.objects.values_list("dataset", "period", "value")) == [
        ("matched", "cohort 1", Decimal("1.0000")), ("matched", "cohort 2", Decimal("0.9850"))]
    event = AuditEvent.objects.get(action="dataset.uploaded")
    assert event.after["sha256"] == upload.sha256 and event.actor == commissioner
    page = client.get(f"/returns/datasets/{cohorts.pk}/").content.decode()
    assert "2 figures saved from matched.csv." in page
    assert "0.985" in page and "Police National Computer" in page


def test_an_xlsx_is_accepted_too(client, cohorts, commissioner):
    client.force_login(commissioner)
    content = xlsx_bytes([HEADER.split(","), ["matched", "cohort 1", 1.25]])
    assert upload_page(client, cohorts, content, "matched.xlsx").status_code == 302
    assert DatasetValue.objects.get().value == Decimal("1.25")


BAD_FILES = [
    ("unknown dataset", csv_bytes("baseline_x,cohort 1,1"), "unknown-dataset"),
    ("unknown period", csv_bytes("matched,cohort 9,1"), "unknown-period"),
    ("negative value", csv_bytes("matched,cohort 1,-1"), "negative"),
    ("value not a number", csv_bytes("matched,cohort 1,lots"), "not-a-number"),
    ("too many places", csv_bytes("matched,cohort 1,1.23456"), "too-many-places"),
    ("blank value", csv_bytes("matched,cohort 1,"), "required"),
    ("blank dataset", csv_bytes(",cohort 1,1"), "required"),
    ("duplicate rows", csv_bytes("matched,cohort 1,1", "matched,cohort 1,2"), "duplicate-row"),
    ("formula", csv_bytes("matched,cohort 1,=1+1"), "formula"),
    ("more cells than columns", csv_bytes("matched,cohort 1,1,extra"), "extra-cell"),
    ("missing column", csv_bytes("matched,cohort 1", header="dataset,period"),
     "missing-column"),
    ("unknown column", csv_bytes("matched,cohort 1,1,x", header=HEADER + ",notes"),
     "unknown-column"),
    ("header only", csv_bytes(), "no-rows"),
    ("empty file", b"", "empty"),
    ("not a table", b"%PDF-1.4\n%%EOF\n", "not-a-table"),
    ("latin-1", "matched,cohort 1,1\nmatchéd,cohort 2,1\n".encode("latin-1"), "bad-encoding"),
]


@pytest.mark.parametrize(("name", "content", "code"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_a_bad_file_is_refused_whole_with_row_level_problems(client, cohorts, commissioner,
                                                             name, content, code):
    from outcomes.external import upload_dataset
    from outcomes.validation import ReturnRejected

    with pytest.raises(ReturnRejected) as refused:
        upload_dataset(cohorts, SimpleUploadedFile("d.csv", content), "d.csv",
                       actor=commissioner)
    assert code in {p.code for p in refused.value.problems}, refused.value.problems
    assert DatasetUpload.objects.count() == 0 and DatasetValue.objects.count() == 0


def test_the_page_lists_every_problem_and_saves_nothing(client, cohorts, commissioner):
    client.force_login(commissioner)
    content = csv_bytes("matched,cohort 1,1", "nope,cohort 1,1", "matched,cohort 7,-2")
    response = upload_page(client, cohorts, content)
    page = response.content.decode()
    assert response.status_code == 200
    assert "3 problems found. Nothing has been saved." in page
    assert "nope is not a dataset of this contract. Datasets are: matched." in page
    assert "cohort 7 is not a period, quarter, year or cohort of this contract." in page
    assert "The value must not be negative." in page
    assert DatasetUpload.objects.count() == 0 and DatasetValue.objects.count() == 0


def test_a_contract_without_datasets_refuses_uploads(client, world_a, commissioner):
    c3 = make_contract(world_a, c3_document())
    client.force_login(commissioner)
    page = client.get(f"/returns/datasets/{c3.pk}/").content.decode()
    assert "name no external datasets" in page and 'type="file"' not in page
    from outcomes.external import add_dataset_rows
    from outcomes.validation import ReturnRejected

    with pytest.raises(ReturnRejected, match="name no external datasets"):
        add_dataset_rows(c3, [(2, {"dataset": "x", "period": "2011-12", "value": "1"})],
                         actor=commissioner)


def test_only_the_managing_commissioner_uploads_others_on_the_contract_read(
        client, cohorts, world_a, world_b):
    content = csv_bytes("matched,cohort 1,1")
    for role in (Role.PROVIDER_MANAGER, Role.PROVIDER_USER, Role.AUDITOR):
        client.force_login(world_a.users[role])
        assert client.get(f"/returns/datasets/{cohorts.pk}/").status_code == 200
        assert upload_page(client, cohorts, content).status_code == 403
    client.force_login(world_b.users[Role.COMMISSIONER])
    assert client.get(f"/returns/datasets/{cohorts.pk}/").status_code == 404
    assert upload_page(client, cohorts, content).status_code == 404
    assert client.get(f"/returns/datasets/{cohorts.pk}/export.csv").status_code == 404
    assert DatasetValue.objects.count() == 0


def test_api_takes_rows_or_a_file_all_or_nothing(client, cohorts, commissioner, world_a,
                                                 world_b):
    client.force_login(commissioner)
    bad = client.post("/api/v1/datasets/", {"contract": cohorts.reference, "rows": [
        {"dataset": "matched", "period": "cohort 1", "value": "1.1"},
        {"dataset": "matched", "period": "cohort 3", "value": "1"}]},
        content_type="application/json")
    assert bad.status_code == 400
    assert bad.json()["problems"] == [{"row": 3, "column": "period", "code": "unknown-period",
                                       "message": "cohort 3 is not a period, quarter, year or "
                                                  "cohort of this contract."}]
    assert DatasetValue.objects.count() == 0
    rows = [{"dataset": "matched", "period": "cohort 1", "value": "1.1"}]
    good = client.post("/api/v1/datasets/", {"contract": cohorts.reference, "rows": rows},
                       content_type="application/json")
    assert good.status_code == 201, good.json()
    assert good.json()["rows"] == 1 and good.json()["source"] == "api"
    filed = client.post("/api/v1/datasets/", {"contract": cohorts.reference, "file":
                                              SimpleUploadedFile("m.csv", csv_bytes(
                                                  "matched,cohort 2,0.7"))})
    assert filed.status_code == 201, filed.json()
    assert filed.json()["sha256"] == hashlib.sha256(csv_bytes("matched,cohort 2,0.7")).hexdigest()
    client.force_login(world_a.users[Role.PROVIDER_MANAGER])
    refused = client.post("/api/v1/datasets/", {"contract": cohorts.reference, "rows": rows},
                          content_type="application/json")
    assert refused.status_code == 403
    listed = client.get(f"/api/v1/datasets/?contract={cohorts.reference}").json()["results"]
    assert sorted((v["period"], v["value"]) for v in listed) == [("cohort 1", "1.1000"),
                                                                ("cohort 2", "0.7000")]
    client.force_login(world_b.users[Role.COMMISSIONER])
    assert client.get("/api/v1/datasets/").json()["results"] == []
    missing = client.post("/api/v1/datasets/", {"contract": cohorts.reference, "rows": rows},
                          content_type="application/json")
    assert missing.status_code == 404


def test_the_newest_figure_is_used_and_the_earlier_one_is_kept(client, cohorts, commissioner):
    from outcomes.external import add_dataset_rows

    first = add_dataset_rows(cohorts, [(2, {"dataset": "matched", "period": "cohort 1",
                                            "value": "1.00"})], actor=commissioner)
    second = add_dataset_rows(cohorts, [(2, {"dataset": "matched", "period": "cohort 1",
                                             "value": "0.95"})], actor=commissioner)
    [value] = external_facts(cohorts)
    newest = second.values.get()
    assert (value.dataset, value.period, value.value, value.id) == (
        "matched", "cohort 1", Decimal("0.95"), f"X{newest.pk}")
    assert first.values.get().value == Decimal("1.00")
    client.force_login(commissioner)
    export = b"".join(client.get(f"/returns/datasets/{cohorts.pk}/export.csv")
                      .streaming_content).decode()
    assert "matched,cohort 1,1.0000,no" in export and "matched,cohort 1,0.9500,yes" in export


def test_list_page_shows_contracts_and_what_is_held(client, cohorts, commissioner):
    from outcomes.external import add_dataset_rows

    add_dataset_rows(cohorts, [(2, {"dataset": "matched", "period": "cohort 1",
                                    "value": "1"})], actor=commissioner)
    client.force_login(commissioner)
    page = client.get("/returns/datasets/").content.decode()
    assert "COHORTS" in page and "<code>matched</code>" in page
    template = client.get("/returns/datasets/template.csv")
    assert template.content.decode().strip() == HEADER


def test_comparison_cohort_figures_reach_the_statement_and_a_correction_reverses(
        cohorts, commissioner, provider_user):
    from outcomes.external import add_dataset_rows

    ret = start_return(cohorts, "Q1 2013-14", actor=provider_user)
    add_rows(ret, [(2, {"indicator": "reconviction_events", "measure_period": "cohort 1",
                        "value": "0.88"})], actor=provider_user, kind="indicators")
    submit_return(ret, actor=provider_user)
    uploaded = add_dataset_rows(cohorts, [(2, {"dataset": "matched", "period": "cohort 1",
                                               "value": "1.00"})], actor=commissioner)
    facts = facts_for(cohorts, date(2013, 6, 30))
    assert [(v.dataset, v.period, v.value) for v in facts.external] == [
        ("matched", "cohort 1", Decimal("1"))]
    run, lines = run_period(cohorts, "Q1 2013-14")
    [line] = [ln for ln in lines if ln.key == "cohorts:cohort 1"]
    assert line.amount == Decimal("100000.00")
    assert f"X{uploaded.values.get().pk}" in line.references
    assert "against the matched comparison cohort 1 is a 12% reduction" in line.explanation
    # The comparison cohort is re-matched: 0.95 makes it a 7.4% reduction, below the 10% point.
    add_dataset_rows(cohorts, [(2, {"dataset": "matched", "period": "cohort 1",
                                    "value": "0.95"})], actor=commissioner)
    _run, corrections = run_period(cohorts, "Q2 2013-14")
    [reversal] = [ln for ln in corrections if ln.key == "cohorts:cohort 1"]
    assert reversal.amount == Decimal("-100000.00")
    assert reversal.corrects_id == line.pk


def test_the_commissioner_home_page_leads_to_the_datasets(client, commissioner):
    client.force_login(commissioner)
    page = client.get("/commissioner/").content.decode()
    assert 'href="/returns/datasets/"' in page


@pytest.mark.parametrize("rows", [5, 50])
def test_dataset_pages_and_api_list_do_not_ask_per_row(client, world_a, commissioner,
                                                        django_assert_max_num_queries, rows):
    from outcomes.external import add_dataset_rows

    for n in range(rows):
        contract = make_contract(world_a, cohort_document(f"COHORTS-{n}"))
        add_dataset_rows(contract, [(2, {"dataset": "matched", "period": "cohort 1",
                                         "value": str(n)})], actor=commissioner)
    contract = make_contract(world_a, cohort_document("COHORTS-MANY"))
    for n in range(rows):
        add_dataset_rows(contract, [(2, {"dataset": "matched", "period": "cohort 1",
                                         "value": str(n)})], actor=commissioner)
    client.force_login(commissioner)
    # The list parses each contract's terms on the page (at most 25), one query each.
    with django_assert_max_num_queries(20 + 25):
        assert client.get("/returns/datasets/").status_code == 200
    with django_assert_max_num_queries(20):
        assert client.get(f"/returns/datasets/{contract.pk}/").status_code == 200
    with django_assert_max_num_queries(10):
        assert client.get("/api/v1/datasets/").status_code == 200
