"""External datasets: figures a commissioner uploads that a contract's rules measure against.

Baselines, matched comparison cohorts and third-party counts (the contract format's
`datasets[]`, referenced by a rule's `dataset`). A file or an API call is validated whole with
the same cell rules as returns, and saved whole or not at all. Figures are never changed: a
later upload for the same dataset and period supersedes the earlier figure, which is kept with
the file it came from (its SHA-256, who uploaded it and when).
"""

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from contracts.definition import periods as contract_periods
from contracts.models import TermsStatus
from payments import engine
from pbr import audit

from . import permissions
from .models import DatasetUpload, DatasetValue
from .validation import (
    CellError,
    Column,
    Problems,
    ReturnRejected,
    RowProblem,
    _header_problems,
    _TooMany,
    parse_decimal,
    read_cells,
    read_table,
)

DATASET_COLUMNS = (
    Column("dataset", True, "Dataset code from the contract terms (datasets[].code)."),
    Column("period", True, "The cohort label, or the period, quarter or financial year the "
                           "figure covers, exactly as the contract's rules name it (for example "
                           "'cohort 1' or '2012-13')."),
    Column("value", True, "The figure: a number with up to four decimal places, not negative "
                          "(a rate in percent, a frequency per person, or a count)."),
)
DATASET_FIELDS = {c.name for c in DATASET_COLUMNS}


class DatasetError(Exception):
    """An upload that cannot go ahead at all (permission, no terms), in words."""


@dataclass
class DatasetRow:
    row: int
    dataset: str
    period: str
    value: Decimal


def _published(contract):
    return [v.definition() for v in contract.versions.filter(status=TermsStatus.PUBLISHED)
            .order_by("effective_from", "number")]


def datasets_of(contract):
    """Dataset code -> its definition, from every published version of the terms."""
    found = {}
    for defn in _published(contract):
        for dataset in defn.datasets:
            found[dataset.code] = dataset
    return found


def period_keys(defn):
    """Every key a figure may be given for: period ids, reconciliation groups, financial years
    and the cohort labels the rules name."""
    keys = set()
    for p in contract_periods(defn):
        keys.update((p.id, p.group, p.financial_year))
    for rule in defn.rules:
        keys.update(getattr(rule, "cohorts", ()) or ())
    keys.discard(None)
    return keys


def validate_dataset_rows(contract, rows):
    """rows: iterable of (row number, {column: value}). Returns DatasetRows or raises
    ReturnRejected with every problem (row, column, message)."""
    problems = Problems()
    out = []
    try:
        published = _published(contract)
        if not published:
            problems.add(None, "", f"{contract.reference} has no published terms yet, so no "
                         "dataset can be uploaded.", "no-terms")
            problems.raise_if_any()
        known = datasets_of(contract)
        if not known:
            problems.add(None, "", f"The terms of {contract.reference} name no external "
                         "datasets, so there is nothing to upload figures for.", "no-datasets")
            problems.raise_if_any()
        keys = set()
        for defn in published:
            keys |= period_keys(defn)
        seen = {}
        for number, raw in rows:
            row = _dataset_row(number, raw, problems, known, keys)
            if row is None:
                continue
            key = (row.dataset, row.period)
            if key in seen:
                problems.add(number, "period", f"{row.dataset} for {row.period} is given twice "
                             f"(row {seen[key]}). Keep one.", "duplicate-row")
                continue
            seen[key] = number
            out.append(row)
        if not out and not problems:
            problems.add(None, "", "There are no rows of figures to save.", "no-rows")
    except _TooMany:
        pass
    problems.raise_if_any()
    return out


def _dataset_row(number, raw, problems, known, keys):
    before = len(problems.items)
    values = read_cells(number, raw, DATASET_FIELDS, problems, "the dataset file")
    if values is None:
        return None
    code = values["dataset"]
    if not code:
        problems.add(number, "dataset", "Enter the dataset code.", "required")
    elif code not in known:
        problems.add(number, "dataset", f"{code} is not a dataset of this contract. Datasets "
                     f"are: {', '.join(sorted(known))}.", "unknown-dataset")
    period = values["period"]
    if not period:
        problems.add(number, "period", "Enter the cohort or period the figure covers.",
                     "required")
    elif period not in keys:
        problems.add(number, "period", f"{period} is not a period, quarter, year or cohort of "
                     "this contract.", "unknown-period")
    value = None
    if not values["value"]:
        problems.add(number, "value", "Enter the figure.", "required")
    else:
        try:
            value = parse_decimal(values["value"], "The value", places=4)
        except CellError as exc:
            problems.add(number, "value", str(exc), exc.code)
    if len(problems.items) > before:
        return None
    return DatasetRow(row=number, dataset=code, period=period, value=value)


def _sha256_of(upload):
    digest, size = hashlib.sha256(), 0
    if hasattr(upload, "seek"):
        upload.seek(0)
    for chunk in (upload.chunks() if hasattr(upload, "chunks") else iter(
            lambda: upload.read(64 * 1024), b"")):
        digest.update(chunk)
        size += len(chunk)
    upload.seek(0)
    return digest.hexdigest(), size


def _require(user, contract):
    if user is None:
        return
    decision = permissions.can_upload_datasets(user, contract)
    if not decision:
        raise ReturnRejected([RowProblem(None, "", decision.reason, "permission")])


def upload_dataset(contract, upload, name, *, actor):
    """A CSV or XLSX of figures: read, validate whole, save whole. Returns the DatasetUpload."""
    _require(actor, contract)
    sha256, size = _sha256_of(upload)
    header, rows = read_table(upload, name)
    problems = Problems()
    _header_problems(header, DATASET_FIELDS, [c.name for c in DATASET_COLUMNS if c.required],
                     problems)
    problems.raise_if_any()
    valid = validate_dataset_rows(contract, rows)
    return _save(contract, valid, actor=actor, name=name[:255], sha256=sha256, size=size,
                 source="file")


def add_dataset_rows(contract, rows, *, actor, name="API rows"):
    """Rows sent as data (the API). The SHA-256 is of the rows as canonical JSON, so the same
    figures sent twice are recognisably the same."""
    _require(actor, contract)
    rows = list(rows)
    valid = validate_dataset_rows(contract, rows)
    canonical = json.dumps([raw for _n, raw in rows], sort_keys=True, default=str).encode()
    return _save(contract, valid, actor=actor, name=name, sha256=hashlib.sha256(canonical)
                 .hexdigest(), size=len(canonical), source="api")


@transaction.atomic
def _save(contract, rows, *, actor, name, sha256, size, source):
    upload = DatasetUpload.objects.create(
        contract=contract, original_name=name, sha256=sha256, size=size, rows=len(rows),
        source=source, uploaded_by=actor if getattr(actor, "is_authenticated", False) else None)
    DatasetValue.objects.bulk_create([DatasetValue(
        upload=upload, contract=contract, row_number=row.row, dataset=row.dataset,
        period=row.period, value=row.value) for row in rows], batch_size=2000)
    audit.record("dataset.uploaded", actor=actor, obj=upload, organisation=contract.commissioner,
                 after={"contract": contract.reference, "rows": len(rows), "sha256": sha256,
                        "source": source,
                        "datasets": sorted({row.dataset for row in rows})})
    return upload


def external_facts(contract):
    """The newest figure for each dataset and period, as the engine's ExternalValue."""
    from .services import plain  # services imports this module

    return tuple(engine.ExternalValue(dataset=v.dataset, period=v.period, value=plain(v.value),
                                      id=f"X{v.pk}")
                 for v in DatasetValue.objects.filter(contract=contract).current().order_by("pk"))
