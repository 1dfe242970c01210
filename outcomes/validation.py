"""The one validator for returns: the web form, CSV/XLSX upload and the API all end here.

Input is rows of text (a dict per row, keyed by column name) with the spreadsheet row number.
Output is typed rows ready to save, or ReturnRejected carrying every problem found (row, column,
message). Nothing is saved by this module; services.add_rows saves only a fully valid set.
"""

import csv
import datetime
import io
import re
from collections.abc import Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from contracts.definition import periods as contract_periods
from contracts.models import TermsStatus

from . import evidence as evidence_files
from .models import (
    ADVERSE_EVENT,
    NINO_RE,
    Claim,
    EvidenceFile,
    IndicatorReturn,
    Participant,
    ParticipantEvent,
    identity_hash,
)

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_ROWS = 200_000
MAX_PROBLEMS = 1000
MAX_CELL = 200


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    doc: str


CLAIM_COLUMNS = (
    Column("participant_ref", True, "Your own case reference for the person (letters, digits, "
                                    "space . _ / -; up to 64 characters)."),
    Column("ni_number", False, "National Insurance number. Needed the first time a person is "
                               "returned; never stored, only a keyed hash of it with the date of "
                               "birth."),
    Column("date_of_birth", False, "Date of birth (YYYY-MM-DD or DD/MM/YYYY). Needed with "
                                   "ni_number."),
    Column("segment", False, "Payment group code from the contract. Needed the first time a "
                             "person is returned when the contract has payment groups."),
    Column("start_date", False, "Date the person joined the programme (attachment). Needed the "
                                "first time a person is returned."),
    Column("outcome", True, "Outcome code from the contract terms in force on the achieved "
                            "date."),
    Column("achieved", True, "Date the outcome was achieved. Not in the future, not after the "
                             "end of the return's period."),
    Column("started", False, "Start of the spell measured (e.g. first day in work); needed for "
                             "outcomes with sustainment windows or qualifying weeks."),
    Column("step_from", False, "Progression outcomes: step before (1..steps)."),
    Column("step_to", False, "Progression outcomes: step reached (higher than step_from)."),
    Column("grade", False, "Graded outcomes: grade awarded (or give criteria_met and "
                           "criteria_total)."),
    Column("criteria_met", False, "Graded outcomes: number of criteria met."),
    Column("criteria_total", False, "Graded outcomes: number of criteria assessed."),
    Column("value", False, "Units for per-unit prices (e.g. units of sheltered housing); empty "
                           "means 1. Up to two decimal places, not negative."),
    Column("subcontractor", False, "Subcontractor code from the contract, if a subcontractor "
                                   "delivered it."),
    Column("evidence", False, "Evidence file numbers already uploaded, separated by ; "
                              "(for example E12;E15)."),
)

INDICATOR_COLUMNS = (
    Column("indicator", True, "Indicator code from the contract."),
    Column("measure_period", False, "What the figure covers: a period (e.g. 'Q1 2011-12'), a "
                                    "quarter group, a financial year ('2011-12') or a cohort "
                                    "label. Empty means the return's period."),
    Column("value", False, "Count or average indicators: the figure."),
    Column("numerator", False, "Rate indicators: what is counted on top."),
    Column("denominator", False, "Rate indicators: what it is divided by (more than 0)."),
)

EVENT_COLUMNS = (
    Column("participant_ref", True, "Your case reference for a person already returned on this "
                                    "contract."),
    Column("event", True, f"'{ADVERSE_EVENT}' for an adverse event counted against a sustainment "
                          "window's tolerance (e.g. a tenancy breach), or an event code the "
                          "contract names as voiding an outcome (e.g. re-presentation)."),
    Column("occurred", True, "Date it happened. Not in the future, not after the end of the "
                             "return's period, not before the person joined."),
)

CLAIM_FIELDS = {c.name for c in CLAIM_COLUMNS}
INDICATOR_FIELDS = {c.name for c in INDICATOR_COLUMNS}
EVENT_FIELDS = {c.name for c in EVENT_COLUMNS}


@dataclass(frozen=True)
class RowProblem:
    row: int | None  # spreadsheet row number (header is row 1); None means the whole file
    column: str
    message: str
    code: str

    @property
    def where(self):
        if self.row is None:
            return f"column {self.column}" if self.column else "whole file"
        return f"row {self.row}" + (f", column {self.column}" if self.column else "")

    def as_dict(self):
        return {"row": self.row, "column": self.column, "message": self.message,
                "code": self.code}


class ReturnRejected(Exception):
    """Carries every problem found; nothing has been saved when it is raised."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("; ".join(f"{p.where}: {p.message}" for p in self.problems[:5]))


class _TooMany(Exception):
    pass


class Problems:
    def __init__(self):
        self.items = []
        self.truncated = False

    def add(self, row, column, message, code):
        if len(self.items) >= MAX_PROBLEMS:
            self.truncated = True
            raise _TooMany
        self.items.append(RowProblem(row, column, message, code))

    def __bool__(self):
        return bool(self.items)

    def raise_if_any(self):
        if self.items:
            items = list(self.items)
            if self.truncated:
                items.append(RowProblem(None, "", f"Only the first {MAX_PROBLEMS} problems are "
                                        "listed; fix these and upload again.", "too-many"))
            raise ReturnRejected(items)


@dataclass(slots=True)  # a 100,000-row return holds 100,000 of these until they are saved
class ClaimRow:
    row: int
    participant_ref: str
    outcome: str
    achieved: datetime.date
    identity_hash: str | None = None
    segment: str = ""
    start_date: datetime.date | None = None
    started: datetime.date | None = None
    step_from: int | None = None
    step_to: int | None = None
    grade: str = ""
    criteria_met: int | None = None
    criteria_total: int | None = None
    value: Decimal | None = None
    subcontractor: str = ""
    evidence_ids: tuple = field(default_factory=tuple)


@dataclass
class EventRow:
    row: int
    participant_ref: str
    event: str
    occurred: datetime.date


@dataclass
class IndicatorRow:
    row: int
    indicator: str
    measure_period: str
    value: Decimal | None = None
    numerator: Decimal | None = None
    denominator: Decimal | None = None


# --- reading cells ---------------------------------------------------------------------------


class CellError(ValueError):
    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


REF_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/-]{0,63}$")
CODE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y")
# The two date shapes nearly every cell has, read without strptime (which is slow); anything
# else, or a day that does not exist, goes the long way below for the same answer and message.
ISO_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
UK_DATE_RE = re.compile(r"(\d{2})/(\d{2})/(\d{4})")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
FORMULA_START = frozenset(" =+-@\t\r")
# Cells joined by newlines: a cell that starts like a formula, or any control character but the
# joining newline (a newline inside a cell shows as one newline too many).
UNSAFE_IN_JOINED_RE = re.compile(r"(?:^|\n)[ =+\-@\t\r]|[\x00-\x09\x0b-\x1f\x7f]")
WHITESPACE_RE = re.compile(r"\s+")
EARLIEST_BIRTH = datetime.date(1900, 1, 1)
EVIDENCE_REF_RE = re.compile(r"[Ee]?(\d{1,12})")


def text(value):
    """Cell text, trimmed; None and blank cells are ''."""
    if value.__class__ is str:  # CSV and form cells: the common case, first
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        value = format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
    return str(value).strip()


def check_safe(raw):
    if len(raw) > MAX_CELL:
        raise CellError(f"Enter {MAX_CELL} characters or fewer.", "too-long")
    if raw[:1] in FORMULA_START and evidence_files.looks_like_formula(raw):
        raise CellError("Remove the spreadsheet formula: a cell must not start with =, +, - or @.",
                        "formula")
    if CONTROL_RE.search(raw):
        raise CellError("Remove control characters from this cell.", "control-characters")


def parse_date(raw, what):
    match = ISO_DATE_RE.fullmatch(raw)
    if match:
        year, month, day = match.groups()
    else:
        match = UK_DATE_RE.fullmatch(raw)
        if match:
            day, month, year = match.groups()
    if match:
        try:
            return datetime.date(int(year), int(month), int(day))
        except ValueError:
            pass  # not a real day: the formats below give the message
    for fmt in DATE_FORMATS:
        try:
            return datetime.datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{4}", raw):
        raise CellError(f"{what} must be a real date; {raw} does not exist.", "impossible-date")
    raise CellError(f"{what} must be a date like 2024-03-31 or 31/03/2024.", "date-format")


def parse_int(raw, what, low=0, high=10_000):
    if not re.fullmatch(r"-?\d+", raw):
        raise CellError(f"{what} must be a whole number.", "not-a-whole-number")
    number = int(raw)
    if number < low:
        raise CellError(f"{what} must be {low} or more.", "negative" if number < 0 else "too-low")
    if number > high:
        raise CellError(f"{what} must be {high} or less.", "too-high")
    return number


def parse_decimal(raw, what, places=2):
    try:
        number = Decimal(raw.replace(",", ""))
    except InvalidOperation:
        raise CellError(f"{what} must be a number.", "not-a-number") from None
    if not number.is_finite():
        raise CellError(f"{what} must be a number.", "not-a-number")
    if number < 0:
        raise CellError(f"{what} must not be negative.", "negative")
    if number.as_tuple().exponent < -places:
        raise CellError(f"{what} must have at most {places} decimal places.", "too-many-places")
    if number >= Decimal(10) ** 10:
        raise CellError(f"{what} is too large.", "too-high")
    return number


# --- the context a return is validated in ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Known:
    """What the validator needs of a participant already held: four columns, not a model."""

    pk: int
    identity_hash: str
    segment: str
    start_date: datetime.date


class ParticipantIndex(Mapping):
    """The provider's participants on a contract by reference.

    A return can name a hundred thousand people, so the index holds `Known` rows (`known(ref)`)
    from one values query; full model instances are loaded, all in one query, only the first
    time the mapping itself is read (``index[ref]``, ``index.get(ref)``).
    """

    def __init__(self, contract, provider):
        self._scope = {"contract": contract, "provider": provider}
        self._known = {ref: Known(pk, hashed, segment, start) for ref, pk, hashed, segment, start
                       in Participant.objects.filter(**self._scope).values_list(
                           "provider_reference", "pk", "identity_hash", "segment",
                           "start_date").iterator(chunk_size=5000)}
        self._models = None

    def known(self, ref):
        return self._known.get(ref)

    def _instances(self):
        if self._models is None:
            self._models = {p.provider_reference: p
                            for p in Participant.objects.filter(**self._scope)}
        return self._models

    def __getitem__(self, ref):
        if ref not in self._known:
            raise KeyError(ref)
        return self._instances()[ref]

    def __contains__(self, ref):
        return ref in self._known

    def __iter__(self):
        return iter(self._known)

    def __len__(self):
        return len(self._known)


class ReturnContext:
    """What rows are checked against: the contract's published terms, its periods, the
    provider's participants and evidence, and the return's own claims. Loaded once per call."""

    def __init__(self, return_record):
        self.ret = return_record
        self.contract = return_record.contract
        self.provider = return_record.provider
        self.versions = list(self.contract.versions.filter(status=TermsStatus.PUBLISHED)
                             .order_by("effective_from", "number"))
        self._defs = {}
        self.latest = self.definition(self.versions[-1]) if self.versions else None
        self.participants = ParticipantIndex(self.contract, self.provider)
        self.evidence_ids = set(EvidenceFile.objects.filter(
            organisation=self.provider).values_list("pk", flat=True))
        self.existing_claims = {
            (ref, outcome, achieved, step_to) for ref, outcome, achieved, step_to in
            Claim.objects.filter(return_record=return_record).values_list(
                "participant__provider_reference", "outcome", "achieved", "step_to")}
        self.existing_indicators = {
            (code, period) for code, period in IndicatorReturn.objects.filter(
                return_record=return_record).values_list("indicator", "measure_period")}
        self.today = datetime.date.today()
        self._segments = None

    def definition(self, version):
        if version.pk not in self._defs:
            self._defs[version.pk] = version.definition()
        return self._defs[version.pk]

    def terms_on(self, day):
        found = None
        for version in self.versions:
            if version.effective_from <= day:
                found = version
        return self.definition(found) if found else None

    def segments(self):
        if self._segments is None:
            self._segments = frozenset(s.code for s in self.latest.segments) if self.latest \
                else frozenset()
        return self._segments

    def measure_periods(self):
        keys = set()
        for p in contract_periods(self.latest):
            keys.update((p.id, p.group, p.financial_year))
        for rule in self.latest.rules:
            keys.update(getattr(rule, "cohorts", ()) or ())
        return keys


# --- claims ------------------------------------------------------------------------------------


def _header_problems(header, fields, required, problems):
    seen = set()
    for index, name in enumerate(header, start=1):
        if not name:
            problems.add(1, f"column {index}", "Give this column a heading, or delete it.",
                         "blank-heading")
        elif name in seen:
            problems.add(1, name, f"The column {name} appears twice; keep one.",
                         "duplicate-column")
        elif name not in fields:
            problems.add(1, name, f"{name} is not a column of this return. Columns are: "
                         f"{', '.join(sorted(fields))}.", "unknown-column")
        seen.add(name)
    for name in required:
        if name not in seen:
            problems.add(1, name, f"The column {name} is missing; add it (see the template).",
                         "missing-column")


def _collect(ctx, rows, check_row, key_of, repeated, *, no_terms, sink=None):
    """The one loop every way in goes through (web form, CSV, XLSX, API) for every kind of row.

    rows: iterable of (row number, {column: value}), read lazily, so a file is never held whole.
    check_row(number, raw, problems) gives a typed row, or None after adding its problems;
    key_of(row) says what makes two rows the same; repeated(number, row, key, earlier row number
    or None, problems) adds a problem and returns True when the row repeats an earlier one or
    something already in the return. Returns the typed rows, or raises ReturnRejected listing
    every problem. With `sink`, each row that passes is handed to it while no problem has been
    found, instead of being returned (the caller's transaction takes them back if one is).
    """
    problems = Problems()
    out = []
    try:
        if ctx.latest is None:
            problems.add(None, "", no_terms, "no-terms")
            problems.raise_if_any()
        seen = {}
        for number, raw in rows:
            row = check_row(number, raw, problems)
            if row is None:
                continue
            key = key_of(row)
            if repeated(number, row, key, seen.get(key), problems):
                continue
            seen[key] = number
            if not problems:  # once one is found, nothing more is kept: the rows are refused
                (sink or out.append)(row)
    except _TooMany:
        _drain(rows)
    problems.raise_if_any()
    return out


def _drain(rows):
    """Read a file to its end, so that a fault in it (too many rows, unreadable CSV) is reported
    as the fault, whatever else was found first."""
    for _ in rows:
        pass


def validate_claims(ctx, rows, sink=None):
    """rows: iterable of (row number, {column: value}). Returns ClaimRows (or hands each to
    `sink`, see _collect) or raises ReturnRejected."""
    first_seen = {}  # participant ref -> what the row that introduced it in this file gave

    def repeated(number, row, key, earlier, problems):
        if earlier is not None:
            problems.add(number, "", f"This row repeats row {earlier} (same participant, "
                         "outcome and date). Delete one of them.", "duplicate-row")
            return True
        if key in ctx.existing_claims:
            problems.add(number, "", "This claim is already in the return.", "already-claimed")
            return True
        return False

    return _collect(
        ctx, rows, lambda number, raw, problems: _claim_row(ctx, number, raw, problems,
                                                            first_seen),
        lambda row: (row.participant_ref, row.outcome, row.achieved, row.step_to), repeated,
        no_terms="The contract has no published terms yet, so nothing can be claimed.", sink=sink)


def _safe_cells(values):
    """True when no cell can be unsafe: one pass over all of them, for the usual row. A row
    that fails it is looked at cell by cell (check_safe), which names each bad cell."""
    joined = "\n".join(values)
    return (len(joined) <= MAX_CELL or max(map(len, values)) <= MAX_CELL) \
        and joined.count("\n") == len(values) - 1 and not UNSAFE_IN_JOINED_RE.search(joined)


def _cells(raw, fields):
    """{column: trimmed text} for every column of the return, and whether the row has nothing
    outside them. CSV and form rows (all text, known columns) take the short way."""
    try:
        values = {name: cell.strip() for name, cell in raw.items()}
    except AttributeError:  # a workbook's numbers and dates, or an empty cell
        values = None
    if values is not None and values.keys() <= fields:
        if len(values) < len(fields):
            values = {**dict.fromkeys(fields, ""), **values}
        return values, True
    return {name: text(raw.get(name)) for name in fields}, raw.keys() <= fields


def _parse(problems, number, name, parse, raw, *args):
    """parse(raw, *args), or None after adding the problem to the cell's row and column."""
    try:
        return parse(raw, *args)
    except CellError as exc:
        problems.add(number, name, str(exc), exc.code)
        return None


def _claim_row(ctx, number, raw, problems, first_seen):
    values, inside = _cells(raw, CLAIM_FIELDS)
    bad = False
    if not _safe_cells(values.values()):
        for name, cell in list(values.items()):
            try:
                check_safe(cell)
            except CellError as exc:
                problems.add(number, name, str(exc), exc.code)
                bad = True
                del values[name]
    if not inside:
        for name in [k for k in raw if k not in CLAIM_FIELDS and text(raw.get(k))]:
            problems.add(number, _column_label(name), "This row has a value outside the "
                         "columns of the return.", "extra-cell")
            bad = True
    if bad:
        return None

    errors_before = len(problems.items)
    ref = values["participant_ref"]
    if not ref:
        problems.add(number, "participant_ref", "Enter the participant reference.", "required")
    elif not REF_RE.match(ref):
        problems.add(number, "participant_ref", "The participant reference may use letters, "
                     "digits, spaces and . _ / - only, up to 64 characters.", "bad-reference")

    achieved = None
    if not values["achieved"]:
        problems.add(number, "achieved", "Enter the date the outcome was achieved.", "required")
    else:
        achieved = _parse(problems, number, "achieved", parse_date, values["achieved"],
                          "The achieved date")
    if achieved is not None:
        if achieved > ctx.today:
            problems.add(number, "achieved", "The achieved date must not be in the future.",
                         "future-date")
            achieved = None
        elif achieved > ctx.ret.period_end:
            problems.add(number, "achieved", f"The achieved date must be on or before "
                         f"{ctx.ret.period_end:%d %B %Y}, the end of this return's period.",
                         "after-period")
            achieved = None
        elif achieved < ctx.contract.start:
            problems.add(number, "achieved", f"The achieved date must be on or after "
                         f"{ctx.contract.start:%d %B %Y}, when the contract started.",
                         "before-contract")
            achieved = None

    outcome_code = values["outcome"]
    outcome = None
    defn = ctx.terms_on(achieved) if achieved else None
    if not outcome_code:
        problems.add(number, "outcome", "Enter the outcome code.", "required")
    elif achieved is not None:
        if defn is None:
            problems.add(number, "achieved", "No contract terms were in force on the achieved "
                         "date.", "no-terms-on-date")
        else:
            outcome = defn.outcome(outcome_code)
            if outcome is None:
                known = ", ".join(o.code for o in defn.outcomes) or "none"
                problems.add(number, "outcome", f"{outcome_code} is not an outcome of this "
                             f"contract on {achieved:%d %B %Y}. Outcomes are: {known}.",
                             "unknown-outcome")

    started = _parse(problems, number, "started", parse_date, values["started"],
                     "The spell start date") if values["started"] else None
    if started and achieved and started > achieved:
        problems.add(number, "started", "The spell start date must be on or before the achieved "
                     "date.", "started-after-achieved")

    ident = _participant(ctx, number, ref, values, problems, first_seen)

    step_from = _parse(problems, number, "step_from", parse_int, values["step_from"],
                       "Step from", 1, 100) if values["step_from"] else None
    step_to = _parse(problems, number, "step_to", parse_int, values["step_to"], "Step to", 1,
                     100) if values["step_to"] else None
    grade = values["grade"]
    criteria_met = _parse(problems, number, "criteria_met", parse_int, values["criteria_met"],
                          "Criteria met") if values["criteria_met"] else None
    criteria_total = _parse(problems, number, "criteria_total", parse_int,
                            values["criteria_total"], "Criteria total", 1) \
        if values["criteria_total"] else None
    value = _parse(problems, number, "value", parse_decimal, values["value"], "The value") \
        if values["value"] else None
    if outcome is not None:
        _outcome_fields(number, outcome, values, step_from, step_to, criteria_met,
                        criteria_total, problems)
    if grade and (len(grade) > 8 or not CODE_RE.match(grade)):
        problems.add(number, "grade", "Enter the grade as a short code, for example A.",
                     "bad-grade")

    subcontractor = values["subcontractor"]
    if subcontractor and ctx.latest.subcontractor(subcontractor) is None:
        known = ", ".join(s.code for s in ctx.latest.subcontractors) or "none on this contract"
        problems.add(number, "subcontractor", f"{subcontractor} is not a subcontractor code of "
                     f"this contract ({known}).", "unknown-subcontractor")

    evidence_ids = []
    for part in filter(None, (p.strip() for p in values["evidence"].split(";"))):
        match = EVIDENCE_REF_RE.fullmatch(part)
        if not match or int(match.group(1)) not in ctx.evidence_ids:
            problems.add(number, "evidence", f"{part} is not one of your uploaded evidence files. "
                         "Upload it first and use its number, for example E12.",
                         "unknown-evidence")
        else:
            evidence_ids.append(int(match.group(1)))

    if len(problems.items) > errors_before:
        return None
    return ClaimRow(
        row=number, participant_ref=ref, outcome=outcome_code, achieved=achieved,
        identity_hash=ident["hash"], segment=ident["segment"], start_date=ident["start_date"],
        started=started, step_from=step_from, step_to=step_to, grade=grade,
        criteria_met=criteria_met, criteria_total=criteria_total, value=value,
        subcontractor=subcontractor, evidence_ids=tuple(dict.fromkeys(evidence_ids)),
    )


def _participant(ctx, number, ref, values, problems, first_seen):
    """Check the identifying columns; a new person needs them, a known one must match."""
    ni = values["ni_number"]
    dob = _parse(problems, number, "date_of_birth", parse_date, values["date_of_birth"],
                 "The date of birth") if values["date_of_birth"] else None
    if dob and not (EARLIEST_BIRTH <= dob <= ctx.today):
        problems.add(number, "date_of_birth", "The date of birth must be in the past and after "
                     "1900.", "impossible-date")
        dob = None
    ni_norm = WHITESPACE_RE.sub("", ni).upper()
    if ni and not NINO_RE.match(ni_norm):
        problems.add(number, "ni_number", "Enter a National Insurance number in the right format, "
                     "like AB 12 34 56 C.", "bad-ni-number")
        ni_norm = ""
    if bool(ni) != bool(values["date_of_birth"]):
        missing = "date_of_birth" if ni else "ni_number"
        problems.add(number, missing, "Give the National Insurance number and the date of birth "
                     "together.", "identifiers-incomplete")
    hashed = identity_hash(ni_norm, dob) if ni_norm and dob else None
    segment = values["segment"]
    if segment and segment not in ctx.segments():
        known = ", ".join(sorted(ctx.segments())) or "none on this contract"
        problems.add(number, "segment", f"{segment} is not a payment group of this contract "
                     f"({known}).", "unknown-segment")
    start = _parse(problems, number, "start_date", parse_date, values["start_date"],
                   "The start date") if values["start_date"] else None
    if start and not (ctx.contract.start <= start <= min(ctx.contract.end, ctx.today)):
        problems.add(number, "start_date", f"The start date must be between "
                     f"{ctx.contract.start:%d %B %Y} and today, within the contract.",
                     "start-out-of-range")
        start = None

    known = ctx.participants.known(ref)
    earlier = first_seen.get(ref)
    if known is not None:
        held = {"hash": known.identity_hash, "segment": known.segment,
                "start_date": known.start_date}
    elif earlier is not None:
        held = earlier
    else:
        held = None
    if held is None:
        if ref and not ni and not values["date_of_birth"]:
            problems.add(number, "ni_number", f"{ref} is new: give the National Insurance number "
                         "and date of birth the first time a person is returned.",
                         "identifiers-required")
        if ref and not values["start_date"]:
            problems.add(number, "start_date", f"{ref} is new: enter the date they joined the "
                         "programme.", "start-date-required")
        if ref and not segment and ctx.segments():
            problems.add(number, "segment", f"{ref} is new: choose their payment group.",
                         "segment-required")
        ident = {"hash": hashed, "segment": segment, "start_date": start}
        if ref:
            first_seen[ref] = ident
        return ident
    if hashed and held["hash"] and hashed != held["hash"]:
        problems.add(number, "ni_number", f"The identifiers do not match those already held for "
                     f"{ref}. Check the reference, NI number and date of birth.",
                     "identity-mismatch")
    if segment and held["segment"] and segment != held["segment"]:
        problems.add(number, "segment", f"{ref} is in payment group {held['segment']}, not "
                     f"{segment}.", "segment-mismatch")
    if start and held["start_date"] and start != held["start_date"]:
        problems.add(number, "start_date", f"{ref} joined on {held['start_date']:%d %B %Y}; the "
                     "start date cannot differ.", "start-date-mismatch")
    return {"hash": held["hash"], "segment": held["segment"] or segment,
            "start_date": held["start_date"]}


def _outcome_fields(number, outcome, values, step_from, step_to, criteria_met, criteria_total,
                    problems):
    if outcome.kind == "progression":
        if step_from is None or step_to is None:
            for name, got in (("step_from", step_from), ("step_to", step_to)):
                if got is None and not values[name]:
                    problems.add(number, name, f"{outcome.code} is a progression outcome: enter "
                                 "step_from and step_to.", "steps-required")
        else:
            if outcome.steps and (step_from > outcome.steps or step_to > outcome.steps):
                problems.add(number, "step_to", f"Steps run from 1 to {outcome.steps}.",
                             "step-out-of-range")
            if step_to <= step_from:
                problems.add(number, "step_to", "Step to must be higher than step from.",
                             "no-progress")
    elif values["step_from"] or values["step_to"]:
        problems.add(number, "step_to", f"{outcome.code} is not a progression outcome; leave the "
                     "steps empty.", "steps-not-allowed")
    if criteria_met is not None and criteria_total is not None and criteria_met > criteria_total:
        problems.add(number, "criteria_met", "Criteria met cannot be more than criteria total.",
                     "criteria-over-total")
    if (criteria_met is None) != (criteria_total is None) and not (
            values["criteria_met"] and values["criteria_total"]):
        problems.add(number, "criteria_total", "Give criteria_met and criteria_total together.",
                     "criteria-incomplete")


# --- indicator returns -------------------------------------------------------------------------


def validate_indicators(ctx, rows):
    allowed_periods = ctx.measure_periods() if ctx.latest is not None else set()

    def repeated(number, row, key, earlier, problems):
        if earlier is None and key not in ctx.existing_indicators:
            return False
        where = f"row {earlier}" if earlier is not None else "this return already"
        problems.add(number, "indicator", f"{row.indicator} for {row.measure_period} is "
                     f"given twice ({where}). Keep one.", "duplicate-row")
        return True

    return _collect(
        ctx, rows, lambda number, raw, problems: _indicator_row(ctx, number, raw, problems,
                                                                allowed_periods),
        lambda row: (row.indicator, row.measure_period), repeated,
        no_terms="The contract has no published terms yet.")



def read_cells(number, raw, fields, problems, where):
    """A row's cells by column name, each checked for formula payloads, with any value outside
    `fields` reported; None when the row has any such problem (recorded in `problems`)."""
    values = {}
    before = len(problems.items)
    for name in fields:
        cell = text(raw.get(name))
        try:
            check_safe(cell)
        except CellError as exc:
            problems.add(number, name, str(exc), exc.code)
            continue
        values[name] = cell
    for name in raw:
        if name not in fields and text(raw.get(name)):
            problems.add(number, _column_label(name), "This row has a value outside the "
                         f"columns of {where}.", "extra-cell")
    return None if len(problems.items) > before else values

def _indicator_row(ctx, number, raw, problems, allowed_periods):
    before = len(problems.items)
    values = read_cells(number, raw, INDICATOR_FIELDS, problems, "the return")
    if values is None:
        return None
    code = values["indicator"]
    indicator = ctx.latest.indicator(code) if code else None
    if not code:
        problems.add(number, "indicator", "Enter the indicator code.", "required")
    elif indicator is None:
        known = ", ".join(i.code for i in ctx.latest.indicators) or "none"
        problems.add(number, "indicator", f"{code} is not an indicator of this contract. "
                     f"Indicators are: {known}.", "unknown-indicator")
    period = values["measure_period"] or ctx.ret.period_id
    if period not in allowed_periods:
        problems.add(number, "measure_period", f"{period} is not a period, quarter, year or "
                     "cohort of this contract.", "unknown-period")
    parsed = {}
    for name in ("value", "numerator", "denominator"):
        if values[name]:
            try:
                parsed[name] = parse_decimal(values[name], f"The {name}", places=4)
            except CellError as exc:
                problems.add(number, name, str(exc), exc.code)
    if indicator is not None and len(problems.items) == before:
        if indicator.kind == "rate":
            if "value" not in parsed and not ("numerator" in parsed and "denominator" in parsed):
                problems.add(number, "numerator", f"{code} is a rate: enter the numerator and "
                             "denominator.", "rate-parts-required")
            elif "denominator" in parsed and parsed["denominator"] == 0:
                problems.add(number, "denominator", "The denominator must be more than 0.",
                             "zero-denominator")
            elif "numerator" in parsed and "denominator" in parsed \
                    and parsed["numerator"] > parsed["denominator"]:
                problems.add(number, "numerator", "The numerator cannot be more than the "
                             "denominator.", "numerator-over-denominator")
        elif "value" not in parsed:
            problems.add(number, "value", f"Enter the value for {code}.", "required")
    if len(problems.items) > before:
        return None
    return IndicatorRow(row=number, indicator=code, measure_period=period, **parsed)


# --- participant events ------------------------------------------------------------------------


def event_types(defn):
    """Event codes the terms accept: every outcome's voided_by codes, and the adverse event code
    when some outcome has a sustainment window to count it against."""
    codes = {code for outcome in defn.outcomes for code in outcome.voided_by}
    if any(outcome.sustainment for outcome in defn.outcomes):
        codes.add(ADVERSE_EVENT)
    return codes


def validate_events(ctx, rows):
    """rows: iterable of (row number, {column: value}). Returns EventRows or raises."""
    existing = set(ParticipantEvent.objects.filter(return_record=ctx.ret).values_list(
        "participant__provider_reference", "event", "occurred")) if ctx.latest is not None \
        else set()

    def repeated(number, row, key, earlier, problems):
        if earlier is None and key not in existing:
            return False
        where = f"row {earlier}" if earlier is not None else "this return already"
        problems.add(number, "", f"This event is given twice ({where}: same participant, "
                     "event and date). Keep one.", "duplicate-row")
        return True

    return _collect(
        ctx, rows, lambda number, raw, problems: _event_row(ctx, number, raw, problems),
        lambda row: (row.participant_ref, row.event, row.occurred), repeated,
        no_terms="The contract has no published terms yet.")


def _event_row(ctx, number, raw, problems):
    before = len(problems.items)
    values = read_cells(number, raw, EVENT_FIELDS, problems, "the return")
    if values is None:
        return None
    ref = values["participant_ref"]
    participant = ctx.participants.get(ref)
    if not ref:
        problems.add(number, "participant_ref", "Enter the participant reference.", "required")
    elif participant is None:
        problems.add(number, "participant_ref", f"{ref} has not been returned on this contract "
                     "yet: return them with a claim first.", "unknown-participant")
    occurred = None
    if not values["occurred"]:
        problems.add(number, "occurred", "Enter the date the event happened.", "required")
    else:
        try:
            occurred = parse_date(values["occurred"], "The event date")
        except CellError as exc:
            problems.add(number, "occurred", str(exc), exc.code)
    if occurred is not None:
        if occurred > ctx.today:
            problems.add(number, "occurred", "The event date must not be in the future.",
                         "future-date")
        elif occurred > ctx.ret.period_end:
            problems.add(number, "occurred", f"The event date must be on or before "
                         f"{ctx.ret.period_end:%d %B %Y}, the end of this return's period.",
                         "after-period")
        elif occurred < ctx.contract.start:
            problems.add(number, "occurred", f"The event date must be on or after "
                         f"{ctx.contract.start:%d %B %Y}, when the contract started.",
                         "before-contract")
        elif participant is not None and occurred < participant.start_date:
            problems.add(number, "occurred", f"{ref} joined on "
                         f"{participant.start_date:%d %B %Y}; an event before then does not "
                         "count.", "before-start")
    code = values["event"]
    if not code:
        problems.add(number, "event", "Enter the event code.", "required")
    else:
        defn = ctx.terms_on(occurred) if occurred is not None else ctx.latest
        known = event_types(defn) if defn is not None else set()
        if code not in known:
            listed = ", ".join(sorted(known)) or "none: these terms record no events"
            problems.add(number, "event", f"{code} is not an event of this contract's terms. "
                         f"Events are: {listed}.", "unknown-event")
    if len(problems.items) > before:
        return None
    return EventRow(row=number, participant_ref=ref, event=code, occurred=occurred)


# --- files -------------------------------------------------------------------------------------


def _clean_heading(value):
    return text(value).lstrip("\ufeff").strip().lower().replace(" ", "_")


@contextmanager
def open_table(source, name):
    """Open an uploaded CSV or XLSX as (header, rows) for the length of a with-block.

    rows is a lazy iterator of (row number, {column: value}) over a temporary copy on disk, so
    a file is never held in memory whole however long it is. The kind is decided by content.
    Raises ReturnRejected for a file that cannot be read, with the row of each undecodable line.
    """
    try:
        tmp, size, _sha = evidence_files.spool(source, MAX_FILE_BYTES)
    except evidence_files.EvidenceRefused:
        raise ReturnRejected([RowProblem(None, "", "The file must be smaller than "
                                         f"{MAX_FILE_BYTES // (1024 * 1024)} MB.",
                                         "too-large")]) from None
    with tmp:
        if size == 0:
            raise ReturnRejected([RowProblem(None, "", "The selected file is empty.", "empty")])
        head = tmp.read(8)
        tmp.seek(0)
        if head.startswith(b"PK\x03\x04"):
            opened = _open_xlsx(tmp)
        elif head.startswith((b"\xd0\xcf\x11\xe0", b"%PDF", b"MZ", b"\x7fELF")):
            raise ReturnRejected([RowProblem(None, "", "The file must be a CSV (UTF-8) or an "
                                             "Excel workbook (.xlsx).", "not-a-table")])
        else:
            opened = _open_csv(tmp)
        with opened as table:
            yield table


def read_table(source, name):
    """An uploaded CSV or XLSX read whole into (header, [(row number, {column: value})]), for
    files known to be small; returns go through open_table."""
    with open_table(source, name) as (header, rows):
        return header, list(rows)


def _table_rows(header, lines):
    """(row number, {column: value}) for each line that is not blank: the one place the rows of
    a file are collected, CSV or XLSX. Refuses a file with more than MAX_ROWS rows."""
    for number, cells in enumerate(lines, start=2):
        if number - 1 > MAX_ROWS:
            raise ReturnRejected([RowProblem(number, "", f"A return can hold at most "
                                             f"{MAX_ROWS} rows; split the file.",
                                             "too-many-rows")])
        if not any(text(c) for c in cells):
            continue
        yield number, _row_dict(header, cells)


@contextmanager
def _open_csv(tmp):
    problems = Problems()
    try:
        for number, line in enumerate(tmp, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                problems.add(number, "", "This line is not UTF-8 text. Save the file as "
                             "‘CSV UTF-8’ and upload it again.", "bad-encoding")
                continue
            if b"\x00" in line:
                problems.add(number, "", "This line contains binary data (NUL bytes).",
                             "binary-data")
    except _TooMany:
        pass
    problems.raise_if_any()
    tmp.seek(0)
    wrapper = io.TextIOWrapper(tmp, encoding="utf-8-sig", newline="")
    reader = csv.reader(wrapper)

    def unreadable(exc):
        return ReturnRejected([RowProblem(reader.line_num, "", f"The CSV cannot be read here: "
                                          f"{exc}.", "bad-csv")])

    def lines():
        try:
            yield from reader
        except csv.Error as exc:
            raise unreadable(exc) from None

    try:
        try:
            header = [_clean_heading(h) for h in next(reader)]
        except StopIteration:
            raise ReturnRejected([RowProblem(None, "", "The file is empty.", "empty")]) from None
        except csv.Error as exc:
            raise unreadable(exc) from None
        yield header, _table_rows(header, lines())
    finally:
        wrapper.detach()


OVERFLOW = "__overflow__"


def _column_label(key):
    key = str(key)
    if key.startswith(OVERFLOW):
        return f"column {key[len(OVERFLOW):]} (no heading)"
    return key[:40]


def _row_dict(header, cells):
    if len(cells) <= len(header):
        return dict(zip(header, cells, strict=False))  # a short row leaves columns out
    row = {}
    for index, cell in enumerate(cells):
        if index < len(header):
            row[header[index]] = cell
        elif text(cell):
            row[f"{OVERFLOW}{index + 1}"] = cell
    return row


@contextmanager
def _open_xlsx(tmp):
    try:
        evidence_files.inspect_zip(tmp, max_total=8 * MAX_FILE_BYTES)
    except evidence_files.EvidenceRefused as exc:
        raise ReturnRejected([RowProblem(None, "", str(exc), "bad-xlsx")]) from None
    tmp.seek(0)
    try:
        import openpyxl

        workbook = openpyxl.load_workbook(tmp, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
        raise ReturnRejected([RowProblem(None, "", "The file is not an Excel workbook (.xlsx) "
                                         "that can be opened.", "bad-xlsx")]) from exc
    try:
        sheet = workbook.worksheets[0]
        iterator = sheet.iter_rows(values_only=True)
        try:
            header = [_clean_heading(h) for h in next(iterator)]
        except StopIteration:
            raise ReturnRejected([RowProblem(None, "", "The workbook's first sheet is empty.",
                                             "empty")]) from None
        while header and not header[-1]:
            header.pop()
        yield header, _table_rows(header, iterator)
    finally:
        workbook.close()


def validate_file(ctx, header, rows, claims_sink=None):
    """Decide from the header whether it is a claims, indicators or events file, then
    validate. claims_sink: see validate_claims."""
    problems = Problems()
    is_indicators = "indicator" in header and "outcome" not in header
    is_events = "event" in header and "outcome" not in header and not is_indicators
    fields, columns = (INDICATOR_FIELDS, INDICATOR_COLUMNS) if is_indicators \
        else (EVENT_FIELDS, EVENT_COLUMNS) if is_events else (CLAIM_FIELDS, CLAIM_COLUMNS)
    with suppress(_TooMany):
        _header_problems(header, fields, [c.name for c in columns if c.required], problems)
    if problems:
        _drain(rows)  # a file that cannot be read is reported as such, before its headings
    problems.raise_if_any()
    if is_indicators:
        return "indicators", validate_indicators(ctx, rows)
    if is_events:
        return "events", validate_events(ctx, rows)
    return "claims", validate_claims(ctx, rows, sink=claims_sink)


def template_csv(kind="claims"):
    columns = {"indicators": INDICATOR_COLUMNS, "events": EVENT_COLUMNS}.get(kind, CLAIM_COLUMNS)
    buffer = io.StringIO()
    csv.writer(buffer).writerow([c.name for c in columns])
    return buffer.getvalue()
