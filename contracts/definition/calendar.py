"""Payment calendar: explicit date ranges, never month numbers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from .model import Calendar, ContractDefinition, ReconciliationGroup

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@dataclass(frozen=True, kw_only=True)
class Period:
    id: str  # the label is the stable id, e.g. "P1 2013-14"; statements and ledger use it
    index: int  # 0-based position in the contract, for ordering
    start: date
    end: date
    financial_year: str  # "2013-14"
    number_in_year: int  # 1-based
    group: str  # reconciliation group, e.g. "Q1 2013-14"
    shadow: bool
    payment_due: date

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    @property
    def label(self) -> str:
        return self.id


def financial_year_of(day: date, start_month: int = 4) -> str:
    first = day.year if day.month >= start_month else day.year - 1
    return f"{first}-{(first + 1) % 100:02d}"


def financial_year_bounds(label: str, start_month: int = 4) -> tuple[date, date]:
    first = int(label[:4])
    return date(first, start_month, 1), date(first + 1, start_month, 1) - timedelta(days=1)


def contract_year(defn: ContractDefinition, day: date) -> int:
    """1-based contract year: year N runs from the Nth anniversary of the start date."""
    years = day.year - defn.start.year
    if (day.month, day.day) < (defn.start.month, defn.start.day):
        years -= 1
    return years + 1


def _add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    return date(day.year + month0 // 12, month0 % 12 + 1, 1)


def default_groups(cal: Calendar) -> tuple[ReconciliationGroup, ...]:
    if cal.reconciliation_groups:
        return cal.reconciliation_groups
    if cal.kind == "four_weekly":
        spans = [(1, 3), (4, 6), (7, 9), (10, 13)]
    elif cal.kind == "monthly":
        spans = [(1, 3), (4, 6), (7, 9), (10, 12)]
    elif cal.kind == "quarterly":
        spans = [(1, 1), (2, 2), (3, 3), (4, 4)]
    else:
        spans = [(1, 1)]
    if cal.kind == "annual":
        return (ReconciliationGroup(label="Year", periods=(1,)),)
    return tuple(ReconciliationGroup(label=f"Q{i + 1}", periods=tuple(range(a, b + 1)))
                 for i, (a, b) in enumerate(spans))


def _raw_periods(defn: ContractDefinition) -> list[tuple[str | None, date, date, str, int]]:
    """(label or None, start, end, financial year, number in year)."""
    cal = defn.calendar
    fy_month = cal.financial_year_start_month
    out: list[tuple[str | None, date, date, str, int]] = []
    if cal.periods:
        counters: dict[str, int] = {}
        for p in cal.periods:
            fy = financial_year_of(p.end, fy_month)
            counters[fy] = counters.get(fy, 0) + 1
            out.append((p.label, p.start, p.end, fy, counters[fy]))
        return out
    start = cal.start
    if cal.kind == "four_weekly":
        # thirteen 28-day periods make a year; the year is named by where its P1 ends
        n = 0
        while start <= defn.end:
            number = n % 13 + 1
            if number == 1:
                fy = financial_year_of(start + timedelta(days=27), fy_month)
            end = start + timedelta(days=27)
            out.append((None, start, end, fy, number))
            start = end + timedelta(days=1)
            n += 1
        return out
    step = {"monthly": 1, "quarterly": 3, "annual": 12}[cal.kind]
    while start <= defn.end:
        nxt = _add_months(start, step) if start.day == 1 else _add_months(start, step).replace(
            day=min(start.day, 28))
        end = nxt - timedelta(days=1)
        fy = financial_year_of(start, fy_month)
        months_in = (start.month - fy_month) % 12
        out.append((None, start, end, fy, months_in // step + 1))
        start = nxt
    return out


def _label(kind: str, start: date, fy: str, number: int) -> str:
    if kind == "monthly":
        return f"{MONTHS[start.month - 1]} {start.year}"
    if kind == "quarterly":
        return f"Q{number} {fy}"
    if kind == "annual":
        return fy
    return f"P{number} {fy}"


def periods(defn: ContractDefinition) -> list[Period]:
    cal = defn.calendar
    groups = default_groups(cal)
    shadow = cal.shadow
    result = []
    for index, (label, start, end, fy, number) in enumerate(_raw_periods(defn)):
        group = next((g.label for g in groups if number in g.periods), groups[-1].label)
        in_shadow = bool(shadow and start >= shadow.start and end <= shadow.end)
        result.append(Period(
            id=label or _label(cal.kind, start, fy, number),
            index=index, start=start, end=end, financial_year=fy, number_in_year=number,
            group=f"{group} {fy}" if cal.kind != "annual" else fy,
            shadow=in_shadow,
            payment_due=end + timedelta(days=cal.payment_in_arrears_days),
        ))
    return result


def period_for(all_periods: list[Period], day: date, claim_days: int = 0) -> Period | None:
    for p in all_periods:
        if p.contains(day):
            return p
    if all_periods and all_periods[-1].end < day <= all_periods[-1].end + timedelta(
            days=claim_days):
        return all_periods[-1]
    return None


def calendar_problems(defn: ContractDefinition) -> list[tuple[str, str]]:
    """Gaps and overlaps in explicitly listed periods, as (path, message)."""
    problems = []
    listed = defn.calendar.periods
    for i, p in enumerate(listed):
        if p.end < p.start:
            problems.append((f"calendar.periods[{i}].end",
                             f"period {p.label!r} ends before it starts"))
        if i == 0:
            continue
        prev = listed[i - 1]
        expected = prev.end + timedelta(days=1)
        if p.start > expected:
            problems.append((
                f"calendar.periods[{i}].start",
                f"gap in the calendar: {prev.label!r} ends {prev.end} but {p.label!r} starts "
                f"{p.start}; {expected} to {p.start - timedelta(days=1)} is in no period"))
        elif p.start < expected:
            problems.append((
                f"calendar.periods[{i}].start",
                f"overlap in the calendar: {p.label!r} starts {p.start}, before {prev.label!r} "
                f"ends {prev.end}"))
    return problems
