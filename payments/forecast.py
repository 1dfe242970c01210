"""Forecasts: a provider's expected income, and a commissioner's liability by financial year.

Income. The pure engine is run period by period, from the next period a run would post to the
end of the contract, on the facts known now with one assumption: every claim still awaiting
checks or verification is treated as verified as submitted. Each period's figure is what its run
would post: entitlement to date minus what the ledger already holds (the real ledger, then the
forecast's own earlier periods). It is run a second time without that assumption, so the part
owed to claims in the pipeline is shown on its own. Nothing is posted: this is a forecast.

Liability. Committed = payable ledger lines (approved, and awaiting approval) by the financial
year of their period. Maximum = ``contracts.simulator.maximum_liability`` on the current terms
(the engine on best-case results, bounded by caps and the maximum value).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, replace
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from contracts.definition import financial_year_of
from contracts.definition import periods as contract_periods
from contracts.models import TermsStatus
from contracts.simulator import maximum_liability
from payments import engine

from .models import LedgerLine, RunStatus

ZERO = Decimal("0.00")

ASSUMPTIONS = (
    "Every claim still awaiting checks or verification is assumed to be verified as submitted. "
    "Claims that failed checks or were rejected are left out.",
    "Only results already returned are used: no further claims are assumed, and performance "
    "payments that wait on indicator returns not yet submitted are not forecast.",
    "Each period is worked out under the terms in force for it, and what the ledger already "
    "holds (approved or awaiting approval) is subtracted, so each figure is what that period's "
    "run would add.",
)


@dataclass(frozen=True)
class PipelineClaim:
    id: str  # the engine's claim id, e.g. "C12"
    claim_pk: int | None
    participant: str
    outcome: str
    achieved: datetime.date
    status: str  # the internal status, in words


@dataclass(frozen=True)
class ForecastPeriod:
    period: str
    financial_year: str
    start: datetime.date
    end: datetime.date
    payment_due: datetime.date
    state: str  # recalculation, closed, current, future
    expected: Decimal  # payable that period's run would post
    from_pipeline: Decimal  # of which owed to claims awaiting checks or verification
    shadow: Decimal
    lines: tuple[engine.Line, ...]

    @property
    def from_known(self) -> Decimal:
        return self.expected - self.from_pipeline

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


STATE_LABELS = {
    "recalculation": "Awaiting approval: a recalculation would add this",
    "closed": "Closed, not yet run",
    "current": "Open now",
    "future": "Future",
}


@dataclass(frozen=True)
class ForecastYear:
    financial_year: str
    expected: Decimal
    from_pipeline: Decimal


@dataclass(frozen=True)
class IncomeForecast:
    contract: str
    as_of: datetime.date
    periods: tuple[ForecastPeriod, ...]
    years: tuple[ForecastYear, ...]
    pipeline: tuple[PipelineClaim, ...]
    refused: tuple[engine.Refusal, ...]  # pipeline claims the terms would not pay
    ledger_approved: Decimal
    ledger_awaiting: Decimal
    assumptions: tuple[str, ...]
    notes: tuple[str, ...]
    published: bool = True  # False: no published terms yet, so nothing can be forecast

    @property
    def total(self) -> Decimal:
        return sum((p.expected for p in self.periods), ZERO)

    @property
    def from_pipeline(self) -> Decimal:
        return sum((p.from_pipeline for p in self.periods), ZERO)


# --- the pure part ------------------------------------------------------------------------


@dataclass(frozen=True)
class Projected:
    period: object
    lines: tuple[engine.Line, ...]  # what that period's run would post

    @property
    def payable(self) -> Decimal:
        return sum((ln.amount for ln in self.lines if not ln.shadow), ZERO)

    @property
    def shadow_total(self) -> Decimal:
        return sum((ln.amount for ln in self.lines if ln.shadow), ZERO)


def project(schedule, facts: engine.Facts, ledger: engine.Ledger):
    """(projected periods, assessment) for each (period, definition) in ``schedule``: what each
    period's run would post, each posted to an in-memory copy of the ledger before the next.

    Entitlement to date at a period is the part of the entitlement at a later period whose lines
    belong to periods up to it (the engine places every line in the period it becomes due;
    tests/payments/test_forecast.py holds it to that for C1-C6). So the engine calculates once
    per terms version, up to the last period forecast under it, and each period is a diff.
    """
    out, refusals, notes = [], [], []
    groups = []
    for period, definition in schedule:
        if groups and groups[-1][0] is definition:
            groups[-1][1].append(period)
        else:
            groups.append((definition, [period]))
    for definition, group in groups:
        assessment = engine.calculate(definition, facts, group[-1].id)
        refusals += assessment.refusals
        notes += assessment.notes
        index = {p.id: p.index for p in contract_periods(definition)}
        for period in group:
            due = [ln for ln in assessment.lines if index[ln.period] <= period.index]
            posted = tuple(engine.diff(due, ledger, period.id))
            ledger = ledger.post(posted, id_prefix="FORECAST-")
            out.append(Projected(period, posted))
    return out, tuple(refusals), tuple(dict.fromkeys(notes))


def as_if_verified(facts: engine.Facts) -> engine.Facts:
    return replace(facts, claims=tuple(replace(c, status="verified") if c.status == "pending"
                                       else c for c in facts.claims))


def income_projection(schedule, facts: engine.Facts, ledger: engine.Ledger):
    """(forecast periods, refusals of pipeline claims, notes) — pure: no database.

    Each period: (period, expected payable, of which from the pipeline, shadow, payable lines).
    """
    pipeline_ids = {c.id for c in facts.claims if c.status == "pending"}
    with_pipeline, refusals, notes = project(schedule, as_if_verified(facts), ledger)
    without = {pr.period.id: pr for pr in project(schedule, facts, ledger)[0]}
    periods = [(pr.period, pr.payable, pr.payable - without[pr.period.id].payable,
                pr.shadow_total, tuple(ln for ln in pr.lines if not ln.shadow))
               for pr in with_pipeline]
    refused = {r.claim_id: r for r in refusals if r.claim_id in pipeline_ids}
    return periods, tuple(refused.values()), notes


# --- reading the database -------------------------------------------------------------------


def _published(contract):
    return list(contract.versions.filter(status=TermsStatus.PUBLISHED)
                .order_by("-effective_from", "-number"))


def current_terms(contract):
    """The newest published terms, or None. A draft (which may not parse yet, e.g. a designer
    draft) is never read: nothing is paid, forecast or owed under it."""
    return (contract.versions.filter(status=TermsStatus.PUBLISHED)
            .order_by("-effective_from", "-number").first())


def _calendar(contract):
    """[(period, definition of the terms in force at its start)], the calendar from the newest
    terms (as payment runs resolve periods)."""
    versions = _published(contract)
    if not versions:
        return []
    definitions = {}

    def definition(version):
        if version.pk not in definitions:
            definitions[version.pk] = version.definition()
        return definitions[version.pk]

    schedule = []
    for period in contract_periods(definition(versions[0])):
        version = next((v for v in versions if v.effective_from <= period.start), versions[-1])
        defn = definition(version)
        own = next((p for p in contract_periods(defn) if p.id == period.id), period)
        schedule.append((own, defn))
    return schedule


def _engine_ledger(contract):
    """The contract's whole ledger as the engine reads it (runs read it the same way; they keep
    their own reader, tuned for incremental runs)."""
    rows = LedgerLine.objects.filter(contract=contract).order_by("id").values_list(
        "id", "key", "amount", "period_id", "kind", "rule_id", "shadow", "subcontractor")
    return engine.Ledger(tuple(
        engine.LedgerLine(id=str(pk), key=key, amount=amount, period=period_id, kind=kind,
                          rule_id=rule_id, shadow=shadow, subcontractor=sub or None)
        for pk, key, amount, period_id, kind, rule_id, shadow, sub in rows))


def known_facts(contract):
    """Every submitted fact for the contract, whatever its period (the outcomes app's facts)."""
    from outcomes.services import facts_for

    return facts_for(contract, datetime.date.max)


def _pipeline(facts):
    pending = [c for c in facts.claims if c.status == "pending"]
    pks = [int(c.id[1:]) for c in pending if c.id[:1] == "C" and c.id[1:].isdigit()]
    labels = {}
    if pks:
        from outcomes.models import Claim

        labels = {c.pk: c.get_status_display() for c in Claim.objects.filter(pk__in=pks)}
    out = []
    for c in pending:
        pk = int(c.id[1:]) if c.id[:1] == "C" and c.id[1:].isdigit() else None
        out.append(PipelineClaim(id=c.id, claim_pk=pk, participant=c.participant,
                                 outcome=c.outcome, achieved=c.achieved,
                                 status=labels.get(pk, "Awaiting checks or verification")))
    return tuple(sorted(out, key=lambda c: (c.achieved, c.id)))


def _start_index(contract):
    latest = contract.payment_runs.order_by("-period_index").first()
    if latest is None:
        return 0, None
    if latest.status == RunStatus.APPROVED:
        return latest.period_index + 1, None
    return latest.period_index, latest.period_id


def _state(period, today, recalculating):
    if period.id == recalculating:
        return "recalculation"
    if period.end < today:
        return "closed"
    if period.start <= today:
        return "current"
    return "future"


def income_forecast(contract, *, facts=None, today=None):
    """Expected income by period and financial year from the pipeline and the terms."""
    today = today or timezone.localdate()
    published = current_terms(contract) is not None
    if facts is None:
        facts = known_facts(contract) if published else engine.Facts()
    schedule = _calendar(contract)
    start, recalculating = _start_index(contract)
    schedule = [(p, d) for p, d in schedule if p.index >= start]
    projected, refused, notes = income_projection(schedule, facts, _engine_ledger(contract))
    periods = tuple(ForecastPeriod(
        period=p.id, financial_year=p.financial_year, start=p.start, end=p.end,
        payment_due=p.payment_due, state=_state(p, today, recalculating), expected=expected,
        from_pipeline=pipeline, shadow=shadow, lines=lines)
        for p, expected, pipeline, shadow, lines in projected)
    years = {}
    for p in periods:
        expected, pipeline = years.get(p.financial_year, (ZERO, ZERO))
        years[p.financial_year] = (expected + p.expected, pipeline + p.from_pipeline)
    held = _ledger_by_status(contract)
    return IncomeForecast(
        contract=contract.reference, as_of=today, periods=periods,
        years=tuple(ForecastYear(fy, e, f) for fy, (e, f) in years.items()),
        pipeline=_pipeline(facts), refused=refused,
        ledger_approved=held.get(True, ZERO), ledger_awaiting=held.get(False, ZERO),
        assumptions=ASSUMPTIONS, notes=notes, published=published)


def _ledger_by_status(contract):
    rows = (LedgerLine.objects.filter(contract=contract, shadow=False)
            .values("run__status").annotate(total=Sum("amount")))
    out = {}
    for row in rows:
        approved = row["run__status"] == RunStatus.APPROVED
        out[approved] = out.get(approved, ZERO) + row["total"]
    return out


# --- liability --------------------------------------------------------------------------------


@dataclass(frozen=True)
class YearLiability:
    financial_year: str
    approved: Decimal
    awaiting_approval: Decimal
    expected_further: Decimal | None  # the income forecast for the year; None: not worked out
    maximum: Decimal | None  # None: nothing in the terms bounds it

    @property
    def committed(self) -> Decimal:
        return self.approved + self.awaiting_approval

    @property
    def headroom(self) -> Decimal | None:
        """How much more the year could still cost under the terms, beyond what is committed."""
        return None if self.maximum is None else self.maximum - self.committed


@dataclass(frozen=True)
class ContractLiability:
    contract: str
    years: tuple[YearLiability, ...]
    notes: tuple[str, ...]
    published: bool = True  # False: no published terms yet, so no calendar and no maximum

    @property
    def approved(self) -> Decimal:
        return sum((y.approved for y in self.years), ZERO)

    @property
    def awaiting_approval(self) -> Decimal:
        return sum((y.awaiting_approval for y in self.years), ZERO)

    @property
    def committed(self) -> Decimal:
        return self.approved + self.awaiting_approval

    @property
    def expected_further(self) -> Decimal | None:
        values = [y.expected_further for y in self.years]
        return None if any(v is None for v in values) else sum(values, ZERO)

    @property
    def maximum(self) -> Decimal | None:
        values = [y.maximum for y in self.years]
        return None if any(v is None for v in values) else sum(values, ZERO)

    @property
    def headroom(self) -> Decimal | None:
        return None if self.maximum is None else self.maximum - self.committed


def committed_by_year(contract, calendar=None):
    """{financial year: {approved: Decimal, awaiting: Decimal}} from payable ledger lines."""
    calendar = calendar if calendar is not None else [p for p, _ in _calendar(contract)]
    fy_of = {p.id: p.financial_year for p in calendar}
    rows = (LedgerLine.objects.filter(contract=contract, shadow=False)
            .values("run__period_id", "run__period_start", "run__status")
            .annotate(total=Sum("amount")))
    out = {}
    for row in rows:
        fy = fy_of.get(row["run__period_id"]) or financial_year_of(row["run__period_start"])
        entry = out.setdefault(fy, {"approved": ZERO, "awaiting": ZERO})
        entry["approved" if row["run__status"] == RunStatus.APPROVED else "awaiting"] += \
            row["total"]
    return out


def contract_liability(contract, *, with_forecast=True, facts=None, today=None):
    """Committed and maximum liability by UK financial year (and the forecast still to come)."""
    schedule = _calendar(contract)
    calendar = [p for p, _ in schedule]
    committed = committed_by_year(contract, calendar)
    version = current_terms(contract)
    most = maximum_liability(version.definition()) if version is not None else None
    forecast = {}
    if with_forecast and schedule:
        forecast = {y.financial_year: y.expected
                    for y in income_forecast(contract, facts=facts, today=today).years}
    years = list(dict.fromkeys([p.financial_year for p in calendar] + sorted(committed)))
    rows = tuple(YearLiability(
        financial_year=fy,
        approved=committed.get(fy, {}).get("approved", ZERO),
        awaiting_approval=committed.get(fy, {}).get("awaiting", ZERO),
        expected_further=forecast.get(fy, ZERO) if with_forecast else None,
        maximum=most.by_year.get(fy) if most is not None else None,
    ) for fy in years)
    return ContractLiability(contract=contract.reference, years=rows,
                             notes=tuple(most.notes) if most is not None else (),
                             published=version is not None)


# --- JSON (the API) ---------------------------------------------------------------------------


def _s(value):
    return None if value is None else str(value)


def income_forecast_json(forecast):
    return {
        "contract": forecast.contract, "as_of": forecast.as_of.isoformat(), "forecast": True,
        "assumptions": list(forecast.assumptions),
        "total": str(forecast.total), "from_pipeline": str(forecast.from_pipeline),
        "ledger_approved": str(forecast.ledger_approved),
        "ledger_awaiting_approval": str(forecast.ledger_awaiting),
        "years": [{"financial_year": y.financial_year, "expected": str(y.expected),
                   "from_pipeline": str(y.from_pipeline)} for y in forecast.years],
        "periods": [{
            "period": p.period, "financial_year": p.financial_year,
            "start": p.start.isoformat(), "end": p.end.isoformat(),
            "payment_due": p.payment_due.isoformat(), "state": p.state,
            "expected": str(p.expected), "from_pipeline": str(p.from_pipeline),
            "lines": [{"key": ln.key, "kind": ln.kind, "rule": ln.rule_id,
                       "amount": str(ln.amount), "explanation": ln.explanation,
                       "references": list(ln.references)} for ln in p.lines],
        } for p in forecast.periods],
        "pipeline": [{"claim": c.id, "participant": c.participant, "outcome": c.outcome,
                      "achieved": c.achieved.isoformat(), "status": c.status}
                     for c in forecast.pipeline],
        "refused": [{"claim": r.claim_id, "outcome": r.outcome, "reason": r.reason,
                     "code": r.code} for r in forecast.refused],
        "notes": list(forecast.notes),
    }


def liability_json(liability):
    return {
        "contract": liability.contract,
        "years": [{"financial_year": y.financial_year, "approved": str(y.approved),
                   "awaiting_approval": str(y.awaiting_approval), "committed": str(y.committed),
                   "expected_further": _s(y.expected_further), "maximum": _s(y.maximum),
                   "headroom": _s(y.headroom)} for y in liability.years],
        "total": {"approved": str(liability.approved),
                  "awaiting_approval": str(liability.awaiting_approval),
                  "committed": str(liability.committed),
                  "expected_further": _s(liability.expected_further),
                  "maximum": _s(liability.maximum), "headroom": _s(liability.headroom)},
        "notes": list(liability.notes),
    }
