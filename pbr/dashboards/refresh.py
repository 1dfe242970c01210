"""Work out a contract's dashboard figures and store them as its DashboardSnapshot.

Run in the background (pbr/dashboards/tasks.py): after a payment run is approved, every half
hour for claims and verification, and nightly with the income forecast. Everything is read
through the owning app's own functions where one exists, never worked out a second way:

* committed and maximum liability: ``payments.forecast.contract_liability``;
* income forecast: ``payments.forecast.income_forecast``;
* error rate and red/amber/green: ``outcomes.verification.sampling.provider_error_rate`` and
  ``rating_for`` with the contract's policy (``outcomes.verification.policy.policy_values``),
  exactly as risk-based sampling rates a provider;
* which claims still await verification: ``outcomes.services.engine_status`` ("pending");
* live claims: the latest submitted version of each return (``ReturnQuerySet.latest_versions``).

A national contract has hundreds of thousands of claims and ledger lines: each figure is one
grouped query, never a query per row.
"""

import logging
import time
from collections import defaultdict
from decimal import Decimal

from django.db import transaction
from django.db.models import (
    Case,
    Count,
    DecimalField,
    Exists,
    Max,
    OuterRef,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from contracts.definition import financial_year_of
from contracts.definition.model import (
    CohortBaseline,
    OnAccountReconciliation,
    PerformancePayment,
    PeriodicBonus,
    TargetBand,
    ThresholdPenalty,
    VolumeReconciliation,
)
from contracts.models import Contract, ContractParty, PartyRole
from pbr.models import Organisation

from .models import DashboardSnapshot

log = logging.getLogger(__name__)

ZERO = Decimal("0.00")
SNAPSHOT_VERSION = 1
# Claims that count as achieved: submitted, and not refused by the checks or a verifier.
NOT_COUNTED = ("draft", "failed", "rejected")
# Outcome kinds that are not results: recorded activity (milestones) and unpaid personal goals.
NOT_RESULTS = ("milestone", "personal")


def _s(value):
    return None if value is None else str(value)


def _definition(contract):
    from payments.forecast import current_terms

    version = current_terms(contract)
    return version.definition() if version is not None else None


def _providers(contract, provider_ids):
    """{organisation id: name} for the contract's delivering parties and any provider with
    participants or claims on it."""
    ids = set(provider_ids) | set(ContractParty.objects.filter(
        contract=contract, role__in=(PartyRole.PRIME, PartyRole.SUBCONTRACTOR),
        organisation__isnull=False).values_list("organisation_id", flat=True))
    return {str(pk): name for pk, name in
            Organisation.objects.filter(pk__in=ids).values_list("pk", "name")}


def _prime_id(contract):
    return (ContractParty.objects.filter(contract=contract, role=PartyRole.PRIME,
                                         organisation__isnull=False)
            .values_list("organisation_id", flat=True).first())


# --- claims ---------------------------------------------------------------------------------


def claim_figures(contract, requires_verification):
    """Claims by provider and status, results by period and outcome, and what awaits
    verification, from one grouped query over the live claims."""
    from outcomes.models import Claim
    from outcomes.services import engine_status

    rows = (Claim.objects.live(contract)
            .values("return_record__provider_id", "return_record__period_id",
                    "return_record__period_start", "outcome", "status")
            .annotate(n=Count("id")).order_by())
    by_status = defaultdict(lambda: defaultdict(int))
    awaiting = defaultdict(int)
    by_period = {}
    by_year = defaultdict(lambda: defaultdict(int))
    for row in rows:
        pid, status, n = str(row["return_record__provider_id"]), row["status"], row["n"]
        by_status[pid][status] += n
        if status != "draft" and engine_status(status, requires_verification=requires_verification) \
                == "pending":
            awaiting[pid] += n
        if status in NOT_COUNTED:
            continue
        start = row["return_record__period_start"]
        entry = by_period.setdefault(row["return_record__period_id"],
                                     {"period": row["return_record__period_id"],
                                      "start": start.isoformat(), "counts": defaultdict(int)})
        entry["counts"][row["outcome"]] += n
        by_year[financial_year_of(start)][row["outcome"]] += n
    periods = sorted(by_period.values(), key=lambda e: e["start"])
    for entry in periods:
        entry["counts"] = dict(entry["counts"])
    return {
        "by_provider_status": {p: dict(s) for p, s in by_status.items()},
        "awaiting": dict(awaiting),
        "by_year": {fy: dict(c) for fy, c in sorted(by_year.items())},
    }, periods


# --- indicators -----------------------------------------------------------------------------


def indicator_targets(defn):
    """{indicator code: [(label, value)]}: every figure the terms measure an indicator against."""
    out = defaultdict(list)

    def add(code, label, value):
        if value is not None and (label, str(value)) not in [(a, str(b)) for a, b in out[code]]:
            out[code].append((label, Decimal(value)))

    for rule in defn.rules if defn else ():
        if isinstance(rule, TargetBand):
            for band in rule.bands:
                add(band.indicator, "Minimum", band.minimum)
                add(band.indicator, "Target", band.target)
                add(band.indicator, "Stretch", band.stretch)
        elif isinstance(rule, PeriodicBonus):
            add(rule.condition.indicator, f"Bonus threshold ({rule.condition.op})",
                rule.condition.threshold)
        elif isinstance(rule, ThresholdPenalty):
            for t in rule.thresholds:
                add(t.indicator, "Penalty below", t.minimum)
        elif isinstance(rule, OnAccountReconciliation):
            for scored in rule.indicators:
                add(scored.indicator, "Target", scored.target)
        elif isinstance(rule, PerformancePayment):
            for cond in rule.conditions:
                add(cond.indicator, f"Performance payment ({cond.op})", cond.threshold)
        elif isinstance(rule, VolumeReconciliation):
            add(rule.indicator, "Predicted volume", rule.predicted)
        elif isinstance(rule, CohortBaseline):
            add(rule.indicator, "Baseline", rule.baseline_value)
    return dict(out)


def judge(value, targets, lower_is_better=False):
    """'Met stretch', 'Below minimum'...: the best target the value reaches."""
    if value is None or not targets:
        return "No target in the terms" if not targets else "Not returned"
    ordered = sorted(targets, key=lambda t: t[1], reverse=lower_is_better)
    met = [label for label, target in ordered
           if (value <= target if lower_is_better else value >= target)]
    if met:
        return f"Met: {met[-1].lower()}"
    return f"Not met: {ordered[0][0].lower()}"


def indicator_figures(contract, defn):
    """Each indicator's returned figures by what they measure, against the terms' targets."""
    from outcomes.models import IndicatorReturn, Return

    latest = Return.objects.filter(contract=contract).latest_versions()
    figures = {}
    for row in (IndicatorReturn.objects.filter(return_record__in=latest)
                .values_list("indicator", "measure_period", "value", "numerator", "denominator",
                             "return_record__period_start", "id")
                .order_by("return_record__period_start", "id")):
        code, measure, value, num, den, start, _pk = row
        if value is None and num is not None and den:
            value = (num * 100 / den)
        figures.setdefault(code, {})[measure] = (start, value)  # a later return supersedes
    targets = indicator_targets(defn)
    out = []
    known = [(i.code, i.name or i.code, i.unit, i.direction == "lower_is_better")
             for i in (defn.indicators if defn else ())]
    known += [(c, c, "", False) for c in sorted(figures) if c not in {k[0] for k in known}]
    for code, name, unit, lower in known:
        mine = targets.get(code, [])
        values = [{"measure": measure, "value": _s(value.quantize(Decimal("0.01"))
                                                   if value is not None else None),
                   "result": judge(value, mine, lower)}
                  for measure, (_start, value) in sorted(figures.get(code, {}).items(),
                                                         key=lambda kv: (kv[1][0], kv[0]))]
        out.append({"code": code, "name": name, "unit": unit, "lower_is_better": lower,
                    "targets": [[label, str(v)] for label, v in mine], "values": values})
    return out


# --- the ledger ---------------------------------------------------------------------------


def ledger_figures(contract):
    """Payments (positive lines) and clawbacks (negative lines) by period and approval."""
    from payments.models import LedgerLine, RunStatus

    money = DecimalField(max_digits=16, decimal_places=2)
    rows = (LedgerLine.objects.filter(contract=contract)
            .values("period_id", "run__period_start", "run__status", "shadow")
            .annotate(paid=Coalesce(Sum(Case(When(amount__gt=0, then="amount"), output_field=money)),
                                    Value(ZERO), output_field=money),
                      clawed=Coalesce(Sum(Case(When(amount__lt=0, then="amount"), output_field=money)),
                                      Value(ZERO), output_field=money))
            .order_by())
    totals = {"paid": ZERO, "clawed_back": ZERO, "awaiting_paid": ZERO,
              "awaiting_clawed_back": ZERO, "shadow": ZERO}
    periods = {}
    for row in rows:
        if row["shadow"]:
            totals["shadow"] += row["paid"] + row["clawed"]
            continue
        approved = row["run__status"] == RunStatus.APPROVED
        totals["paid" if approved else "awaiting_paid"] += row["paid"]
        totals["clawed_back" if approved else "awaiting_clawed_back"] += -row["clawed"]
        entry = periods.setdefault(row["period_id"], {
            "period": row["period_id"], "start": row["run__period_start"].isoformat(),
            "paid": ZERO, "clawed_back": ZERO, "approved": True})
        entry["paid"] += row["paid"]
        entry["clawed_back"] += -row["clawed"]
        entry["approved"] = entry["approved"] and approved
    totals["net"] = totals["paid"] - totals["clawed_back"]
    series = sorted(periods.values(), key=lambda e: e["start"])
    return ({k: str(v) for k, v in totals.items()},
            [dict(e, paid=str(e["paid"]), clawed_back=str(e["clawed_back"])) for e in series])


def _liability_json(liability, maximum_as_of):
    return {
        "published": liability.published, "maximum_as_of": maximum_as_of,
        "committed": str(liability.committed), "approved": str(liability.approved),
        "awaiting_approval": str(liability.awaiting_approval),
        "maximum": _s(liability.maximum), "headroom": _s(liability.headroom),
        "years": [{"financial_year": y.financial_year, "approved": str(y.approved),
                   "awaiting_approval": str(y.awaiting_approval), "committed": str(y.committed),
                   "maximum": _s(y.maximum), "headroom": _s(y.headroom)} for y in liability.years],
        "notes": list(liability.notes),
    }


def liability_figures(contract, *, with_maximum=True, previous=None):
    """Committed against maximum by financial year: payments/forecast.py's own figures.

    The maximum runs the simulator on best-case results, which can take minutes for a capped
    outcome basket; it changes only with the terms. So the half-hourly refresh takes committed
    afresh from ``committed_by_year`` and keeps the maximum from the last full refresh (the
    nightly one, or after a payment run), combined by forecast.py's own ``ContractLiability``.
    """
    from payments.forecast import (
        ContractLiability,
        YearLiability,
        committed_by_year,
        contract_liability,
        current_terms,
    )

    if with_maximum:
        return _liability_json(contract_liability(contract, with_forecast=False),
                               timezone.now().isoformat())
    previous = previous or {}  # never worked out yet: no maximum until the full refresh
    committed = committed_by_year(contract)
    maxima = {y["financial_year"]: D(y["maximum"]) for y in previous.get("years", [])}
    years = list(dict.fromkeys(list(maxima) + sorted(committed)))
    liability = ContractLiability(
        contract=contract.reference, notes=tuple(previous.get("notes", ())),
        published=current_terms(contract) is not None,
        years=tuple(YearLiability(
            financial_year=fy, approved=committed.get(fy, {}).get("approved", ZERO),
            awaiting_approval=committed.get(fy, {}).get("awaiting", ZERO), expected_further=None,
            maximum=maxima.get(fy)) for fy in years))
    return _liability_json(liability, previous.get("maximum_as_of"))


def D(value):
    return None if value in (None, "") else Decimal(value)


def forecast_figures(contract):
    """The prime provider's income forecast: payments/forecast.py's own figures."""
    from payments.forecast import income_forecast

    forecast = income_forecast(contract)
    return {
        "published": forecast.published, "as_of": forecast.as_of.isoformat(),
        "total": str(forecast.total), "from_pipeline": str(forecast.from_pipeline),
        "ledger_approved": str(forecast.ledger_approved),
        "ledger_awaiting": str(forecast.ledger_awaiting),
        "pipeline_claims": len(forecast.pipeline),
        "years": [{"financial_year": y.financial_year, "expected": str(y.expected),
                   "from_pipeline": str(y.from_pipeline)} for y in forecast.years],
        "periods": [{"period": p.period, "payment_due": p.payment_due.isoformat(),
                     "state": p.state_label, "expected": str(p.expected),
                     "from_pipeline": str(p.from_pipeline)}
                    for p in forecast.periods if p.expected or p.from_pipeline][:12],
    }


# --- verification ---------------------------------------------------------------------------


def error_rates(contract, provider_ids):
    """Each provider's past error rate and rating, as risk-based sampling works them out."""
    from outcomes.verification.policy import get_policy, policy_values
    from outcomes.verification.sampling import provider_error_rate, rating_for

    policy = policy_values(contract)
    out = []
    for pid in sorted(provider_ids, key=int):
        found = provider_error_rate(contract, int(pid))
        rating, _factor = rating_for(found, policy)
        out.append({"provider_id": pid, "rate": _s(found), "rating": rating})
    return {"rows": out, "has_policy": get_policy(contract) is not None,
            "green_below_pct": policy["green_below_pct"], "red_from_pct": policy["red_from_pct"],
            "adjusts": policy["adjust_by_error_rate"] == "True"}


# --- equity ---------------------------------------------------------------------------------


def equity_figures(contract, defn):
    """Participants, activity, outcomes and payments by provider and segment, and referrals to
    subcontractors by segment (pbr/dashboards/rules.py judges them)."""
    from outcomes.models import Claim, Participant, Return
    from payments.models import LedgerLine

    latest = Return.objects.filter(contract=contract).latest_versions()
    counted = (Claim.objects.filter(participant=OuterRef("pk"), return_record__in=latest,
                                    achieved__gt=OuterRef("start_date"))
               .exclude(status__in=NOT_COUNTED))
    results = [o.code for o in (defn.outcomes if defn else ()) if o.kind not in NOT_RESULTS]
    referred = (Claim.objects.filter(participant=OuterRef("pk")).exclude(subcontractor="")
                .order_by("id").values("subcontractor")[:1])
    rows = (Participant.objects.filter(contract=contract)
            .annotate(active=Exists(counted), has_outcome=Exists(counted.filter(outcome__in=results)),
                      referred_to=Coalesce(Subquery(referred), Value("")))
            .values("provider_id", "segment", "active", "has_outcome", "referred_to")
            .annotate(n=Count("id")).order_by())
    groups = {}
    flow = defaultdict(int)
    for row in rows:
        key = (str(row["provider_id"]), row["segment"])
        g = groups.setdefault(key, {"provider_id": key[0], "segment": key[1], "participants": 0,
                                    "active": 0, "with_outcome": 0, "paid": ZERO})
        g["participants"] += row["n"]
        g["active"] += row["n"] if row["active"] else 0
        g["with_outcome"] += row["n"] if row["has_outcome"] else 0
        flow[(row["referred_to"], row["segment"])] += row["n"]
    # Payments by the segment of the participant each ledger line is for ("P<id>").
    where = {pk: (str(prov), seg) for pk, prov, seg in
             Participant.objects.filter(contract=contract)
             .values_list("pk", "provider_id", "segment").iterator(chunk_size=20000)}
    unattributed = ZERO
    for participant, total in (LedgerLine.objects.filter(contract=contract, shadow=False)
                               .values("participant").annotate(total=Sum("amount"))
                               .values_list("participant", "total").order_by()):
        pk = int(participant[1:]) if participant[:1] == "P" and participant[1:].isdigit() else None
        if pk in where and where[pk] in groups:
            groups[where[pk]]["paid"] += total
        else:
            unattributed += total
    shares = {s.code: _s(s.delivery_share_pct) for s in (defn.subcontractors if defn else ())}
    return {
        "groups": [dict(g, paid=str(g["paid"])) for g in
                   sorted(groups.values(), key=lambda g: (int(g["provider_id"]), g["segment"]))],
        "unattributed_paid": str(unattributed),
        "flow": [[sub, seg, n] for (sub, seg), n in sorted(flow.items())],
        "delivery_shares": {k: v for k, v in shares.items() if v is not None},
        "subcontractors": {s.code: s.name or s.code for s in (defn.subcontractors if defn else ())},
        "segment_names": {s.code: s.name or s.code for s in (defn.segments if defn else ())},
    }


# --- the snapshot ---------------------------------------------------------------------------


def build(contract, *, with_forecast=True, previous=None):
    """(summary, detail, forecast computed?) for one contract."""
    from outcomes.services import verification_required

    defn = _definition(contract)
    requires = verification_required(contract)
    claims, periods = claim_figures(contract, requires)
    equity = equity_figures(contract, defn)
    provider_ids = set(claims["by_provider_status"]) | {g["provider_id"] for g in equity["groups"]}
    ledger, ledger_series = ledger_figures(contract)
    prime = _prime_id(contract)
    summary = {
        "version": SNAPSHOT_VERSION,
        "requires_verification": requires,
        "prime_provider_id": _s(prime),
        "providers": _providers(contract, {int(p) for p in provider_ids}),
        "outcome_names": {o.code: o.name or o.code for o in (defn.outcomes if defn else ())},
        # PostgreSQL's jsonb does not keep key order: the terms' order is kept as a list.
        "outcome_order": [o.code for o in (defn.outcomes if defn else ())],
        "claims": claims,
        "ledger": ledger,
        "liability": liability_figures(
            contract, with_maximum=with_forecast,
            previous=previous.summary.get("liability") if previous is not None else None),
        "errors": error_rates(contract, provider_ids),
        "equity": equity,
    }
    forecast_done = False
    if with_forecast:
        summary["forecast"] = forecast_figures(contract)
        forecast_done = True
    elif previous is not None and "forecast" in previous.summary:
        summary["forecast"] = previous.summary["forecast"]
    indicators = indicator_figures(contract, defn)
    # The programme page shows only each indicator's latest figure: kept in the small part.
    summary["indicators_latest"] = [dict(ind, values=ind["values"][-1:]) for ind in indicators
                                    if ind["values"]]
    detail = {"version": SNAPSHOT_VERSION, "periods": periods, "ledger": ledger_series,
              "indicators": indicators}
    return summary, detail, forecast_done


def inputs(contract):
    """What a contract's figures are worked out from, in a handful of small queries, whatever
    the contract's size: equal inputs give equal figures (ADR 0020).

    * its facts version (``payments.fact_changes.contract_facts_version``, ADR 0021): it moves
      whenever a claim, participant, event, evidence link, return, indicator return, dataset
      figure, sample or finding, the verification policy or a terms version of the contract is
      written, by any path (database triggers). Read first, so a write committed while the
      figures are being worked out moves it again;
    * its highest ledger line and how many of its runs are approved (ledger lines and approvals
      are not facts: paid, awaiting approval and committed come from them);
    * its parties and their organisations' names (providers' names and the prime provider);
    * the snapshot's format version.
    """
    from payments.fact_changes import contract_facts_version
    from payments.models import LedgerLine, PaymentRun, RunStatus

    facts = contract_facts_version(contract)
    return {
        "version": SNAPSHOT_VERSION,
        "facts": facts,
        "ledger": LedgerLine.objects.filter(contract=contract).aggregate(top=Max("id"))["top"],
        "approved_runs": PaymentRun.objects.filter(contract=contract,
                                                   status=RunStatus.APPROVED).count(),
        "parties": [list(p) for p in ContractParty.objects.filter(contract=contract)
                    .order_by("pk").values_list("pk", "role", "organisation_id",
                                                "organisation__name")],
    }


def refresh_contract(contract, *, with_forecast=True, force=False):
    """Work out and store one contract's figures; returns the snapshot.

    with_forecast: also run the engine for the income forecast and the simulator for the
    maximum liability (the nightly refresh, and after a payment run); otherwise both are kept
    from the last time they were worked out, and a contract whose inputs() are those its
    figures were worked out from is not worked out again: its figures are marked as checked
    now (`computed_at`) and kept.

    force: work the figures out even so (after writes that bypassed the fact-change triggers,
    such as the benchmarks' bulk set-up with `session_replication_role = replica`)."""
    started = time.monotonic()
    now = timezone.now()
    current = inputs(contract)
    if not with_forecast and not force:
        kept = DashboardSnapshot.objects.filter(contract=contract, summary__inputs=current)
        if kept.update(computed_at=now):
            log.info("Dashboard figures for %s unchanged", contract.reference)
            return DashboardSnapshot.objects.get(contract=contract)
    previous = DashboardSnapshot.objects.filter(contract=contract).first()
    summary, detail, forecast_done = build(contract, with_forecast=with_forecast,
                                           previous=previous)
    summary["inputs"] = current
    seconds = Decimal(str(round(time.monotonic() - started, 2)))
    with transaction.atomic():
        snapshot, _created = DashboardSnapshot.objects.update_or_create(
            contract=contract, defaults={
                "computed_at": now, "summary": summary, "detail": detail, "seconds": seconds,
                "forecast_computed_at": now if forecast_done else (
                    previous.forecast_computed_at if previous else None)})
    log.info("Dashboard figures for %s in %s s", contract.reference, seconds)
    return snapshot


def refresh_contracts(contract_ids, *, with_forecast=True, progress=None):
    """Refresh several contracts; one contract's failure is logged and the others go on.
    Returns (refreshed references, failures as 'REF: error')."""
    done, failed = [], []
    contracts = Contract.objects.filter(pk__in=contract_ids).order_by("reference")
    for i, contract in enumerate(contracts, start=1):
        try:
            refresh_contract(contract, with_forecast=with_forecast)
            done.append(contract.reference)
        except Exception as exc:  # one broken contract must not hide every other's figures
            log.exception("Dashboard figures for %s could not be worked out", contract.reference)
            failed.append(f"{contract.reference}: {exc}")
        if progress:
            progress(i, contract.reference)
    return done, failed
