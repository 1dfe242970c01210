"""Payment runs: compute with the pure engine, post the difference to the ledger, approve.

`payments` reads contracts and verified claims; it never changes them.
"""

import time
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from contracts.definition import periods as contract_periods
from contracts.definition.money import fmt_number, gbp
from contracts.models import Contract, TermsStatus
from payments import engine
from payments.engine.flowdown import allocate as engine_allocate
from pbr import audit

from .models import LedgerLine, PaymentRun, RunStatus
from .permissions import can_approve_run, can_run_payments

CENT = Decimal("0.01")


class RunError(Exception):
    """A run that cannot go ahead, with the reason in words."""


@dataclass(frozen=True)
class ResolvedPeriod:
    terms_version: object
    definition: object
    period: object


def resolve_period(contract, period_id):
    """Find a period by its label (e.g. 'P4 2013-14') in the terms in force for it."""
    versions = list(contract.versions.filter(status=TermsStatus.PUBLISHED).order_by("-effective_from",
                                                                                      "-number"))
    if not versions:
        raise RunError(f"{contract.reference} has no published terms, so nothing can be paid yet.")
    # The calendar comes from the newest terms; the rules from the version in force at the start.
    calendar = contract_periods(versions[0].definition())
    period = next((p for p in calendar if p.id == period_id), None)
    if period is None:
        known = ", ".join(p.id for p in calendar[:3])
        raise RunError(f"{contract.reference} has no period called ‘{period_id}’. Periods are "
                       f"named like {known} …")
    version = next((v for v in versions if v.effective_from <= period.start), versions[-1])
    definition = version.definition()
    period = next(p for p in contract_periods(definition) if p.id == period_id)
    return ResolvedPeriod(version, definition, period)


def default_facts(contract, period):
    """Facts from the outcomes app (verified claims, indicator returns) when it provides them."""
    try:
        from outcomes.services import facts_for
    except ImportError:
        return engine.Facts()
    return facts_for(contract, period.end)


def _engine_ledger(contract):
    rows = LedgerLine.objects.filter(contract=contract).order_by("id").values_list(
        "id", "key", "amount", "period_id", "kind", "rule_id", "shadow", "subcontractor")
    return engine.Ledger(tuple(
        engine.LedgerLine(id=str(pk), key=key, amount=amount, period=period_id, kind=kind,
                          rule_id=rule_id, shadow=shadow, subcontractor=sub or None)
        for pk, key, amount, period_id, kind, rule_id, shadow, sub in rows))


def _get_run(contract, resolved):
    """The run row for (contract, period), locked; created if missing, race-safe."""
    period = resolved.period
    for _attempt in range(2):
        try:
            with transaction.atomic():
                run, _ = PaymentRun.objects.get_or_create(
                    contract=contract, period_id=period.id,
                    defaults={"period_index": period.index, "period_start": period.start,
                              "period_end": period.end, "terms_version": resolved.terms_version})
            break
        except IntegrityError:
            continue
    # A second run of the same contract and period waits here until the first commits.
    return PaymentRun.objects.select_for_update().get(pk=run.pk)


def run_period(contract, period_id, *, actor=None, facts=None, job=None):
    """Compute a period and post the difference. Returns (run, lines posted now).

    Everything for one computation is written in one transaction, so a crash part-way leaves
    the ledger exactly as it was and a re-run produces the uninterrupted result.
    """
    if actor is not None:
        decision = can_run_payments(actor, contract)
        if not decision:
            raise RunError(decision.reason)
    resolved = resolve_period(contract, period_id)
    with transaction.atomic():
        run = _get_run(contract, resolved)
        later = (PaymentRun.objects.filter(contract=contract, period_index__gt=run.period_index)
                 .order_by("-period_index").first())
        if later is not None:
            # Entitlement is computed "to date": recomputing an earlier period after a later one
            # would reverse the later lines. Late facts belong in the next open period instead.
            raise RunError(f"{period_id} is closed: {later.period_id} has been computed since. "
                           f"Late facts are picked up by the run for {later.period_id} or after.")
        if run.status == RunStatus.APPROVED:
            raise RunError(f"The {period_id} run was approved on {run.approved_at:%d %B %Y} and is "
                           "locked. New facts are picked up by the next period's run.")
        if facts is None:
            facts = default_facts(contract, resolved.period)
        ledger = _engine_ledger(contract)
        statement = engine.statement(resolved.definition, facts, ledger, period_id)
        computation = run.computations + 1
        posted = []
        for line in statement.lines:
            row = LedgerLine.objects.create(
                contract=contract, run=run, period_id=period_id, key=line.key, kind=line.kind,
                rule_id=line.rule_id, amount=line.amount.quantize(CENT, ROUND_HALF_UP),
                shadow=line.shadow, subcontractor=line.subcontractor or "",
                participant=line.participant or "", explanation=line.explanation,
                inputs=dict(line.inputs), references=list(line.references),
                corrects_id=int(line.corrects) if line.corrects else None,
                computation=computation,
            )
            posted.append(row)
        run.computations = computation
        run.last_computed_at = timezone.now()
        run.status = RunStatus.DRAFT
        run.error = ""
        run.terms_version = resolved.terms_version
        run.notes = list(statement.notes)
        run.refusals = [{"claim": r.claim_id, "participant": r.participant, "outcome": r.outcome,
                         "reason": r.reason, "code": r.code, "rule": r.rule_id or ""}
                        for r in statement.refusals]
        if job is not None:
            run.job = job
        if settings.PBR_TEST_RUN_PAUSE:
            time.sleep(settings.PBR_TEST_RUN_PAUSE)
        run.save()
        audit.record("payment_run.computed", actor=actor, obj=run, organisation=contract.commissioner,
                     after={"computation": computation, "lines_posted": len(posted),
                            "amount_posted": str(sum((r.amount for r in posted if not r.shadow),
                                                     Decimal("0.00")))},
                     actor_label="" if actor else "payment scheduler")
    return run, posted


@transaction.atomic
def approve_run(run, *, actor):
    run = PaymentRun.objects.select_for_update().select_related("contract").get(pk=run.pk)
    decision = can_approve_run(actor, run)
    if not decision:
        raise RunError(decision.reason)
    if run.status != RunStatus.DRAFT:
        raise RunError(f"Only a run awaiting approval can be approved; this one is "
                       f"{run.get_status_display().lower()}.")
    threshold = Decimal(str(settings.PBR_SECOND_APPROVAL_ABOVE))
    total = Decimal(run.payable_total())
    now = timezone.now()
    if run.approved_by_id is None:
        run.approved_by, run.approved_at = actor, now
        needs_second = abs(total) > threshold
        if not needs_second:
            run.status = RunStatus.APPROVED
        audit.record("payment_run.approved" if not needs_second else "payment_run.first_approval",
                     actor=actor, obj=run, organisation=run.contract.commissioner,
                     before={"status": "draft"}, after={"status": run.status, "total": str(total)})
    else:
        if run.approved_by_id == actor.pk:
            raise RunError(f"Runs over £{threshold:,.2f} need a second approver: someone other "
                           "than the first.")
        run.second_approved_by, run.second_approved_at = actor, now
        run.status = RunStatus.APPROVED
        audit.record("payment_run.approved", actor=actor, obj=run, organisation=run.contract.commissioner,
                     before={"status": "draft"}, after={"status": "approved", "total": str(total)})
    run.save()
    return run


def _pennies(amount):
    n = int(abs(amount) / CENT)
    return f"{n}p"


def _names(items):
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _funder_split(total, funders):
    """Split a payable total by the funders' shares of the pooled budget, exactly to the penny.

    Each share is rounded down to the penny and the pennies left over go to the funders whose
    exact shares had the largest fraction of a penny cut off (ties: listed first in the terms),
    so the split always adds up to the total and never depends on the order of computation.
    """
    funders = list(funders)
    if not funders:
        return [], ""
    split = engine_allocate(total, [Decimal(f.share_pct) / 100 for f in funders])
    rows = [{"funder": f.name, "share_pct": fmt_number(Decimal(f.share_pct)),
             "exact": split.exact[i], "exact_text": _exact_str(split.exact[i]),
             "amount": split.amounts[i],
             "rounding": (CENT if total >= 0 else -CENT) if i in split.residue_to else Decimal("0.00")}
            for i, f in enumerate(funders)]
    if len(funders) == 1:
        why = f"{funders[0].name} funds the whole contract, so it pays the whole amount."
    elif not split.residue_to:
        why = ("Each funder pays its share of the pooled budget; every share comes to a whole "
               "number of pennies.")
    else:
        got = _names([funders[i].name for i in split.residue_to])
        why = (f"Each funder pays its share of the pooled budget, rounded down to the penny. The "
               f"{_pennies(split.residue)} left over {'goes' if len(split.residue_to) == 1 else 'go'}"
               f" to {got}: the largest fraction of a penny was cut from "
               f"{'its share' if len(split.residue_to) == 1 else 'their shares'} (a tie goes to "
               "the funder listed first in the terms).")
    return rows, why


PASSDOWN_LABELS = {"evenly": "shared evenly", "pro_rata": "shared pro rata to delivery",
                   "at_fault": "passed down only when at fault"}


def _subcontractor_totals(engine_lines, definition, total):
    """Per subcontractor: outcome money passed down, the prime's management fee, shared
    deductions and the net; and what the prime keeps of the period's payable total."""
    subs = {s.code: {"subcontractor": s.code, "name": s.name or s.code,
                     "management_fee_pct": fmt_number(s.management_fee_pct),
                     "clawback_passdown": s.clawback_passdown,
                     "passdown_label": PASSDOWN_LABELS.get(s.clawback_passdown, s.clawback_passdown),
                     "outcome_payments": Decimal("0.00"), "passed_down": Decimal("0.00"),
                     "management_fee": Decimal("0.00"), "deductions": Decimal("0.00"),
                     "amount": Decimal("0.00"), "lines": []}
            for s in definition.subcontractors}
    for line in engine.flow_down(engine_lines, definition):
        entry = subs[line.subcontractor]
        if line.kind == "flow_down":
            entry["outcome_payments"] += Decimal(line.inputs["prime_amount"])
            entry["passed_down"] += Decimal(line.inputs["passed_down"])
            entry["management_fee"] += Decimal(line.inputs["management_fee"])
        else:
            entry["deductions"] += line.amount
        entry["amount"] += line.amount
        entry["lines"].append({"key": line.key, "kind": line.kind, "amount": line.amount,
                               "explanation": line.explanation,
                               "references": list(line.references)})
    rows = list(subs.values())
    to_subs = sum((r["amount"] for r in rows), Decimal("0.00"))
    fees = sum((r["management_fee"] for r in rows), Decimal("0.00"))
    retained = total - to_subs
    explanation = ""
    if rows:
        explanation = (f"Of the {gbp(total)} payable, {gbp(to_subs)} flows down to "
                       f"subcontractors and the prime keeps {gbp(retained)}: its own delivery, "
                       f"{gbp(fees)} in management fees, and anything not passed down under the "
                       "flow-down terms.")
    return rows, retained, explanation


def _reference_links(lines):
    """Links for the claims (C<id>) and indicator returns (I<id>) a line is based on."""
    from django.urls import reverse

    indicator_ids = {int(ref[1:]) for ln in lines for ref in ln.references
                     if isinstance(ref, str) and ref[:1] == "I" and ref[1:].isdigit()}
    returns = {}
    if indicator_ids:
        from outcomes.models import IndicatorReturn

        returns = dict(IndicatorReturn.objects.filter(pk__in=indicator_ids)
                       .values_list("pk", "return_record_id"))
    for ln in lines:
        links = []
        for ref in ln.references:
            url = None
            if isinstance(ref, str) and ref[1:].isdigit():
                if ref[0] == "C":
                    url = reverse("claim_detail", args=[int(ref[1:])])
                elif ref[0] == "I" and int(ref[1:]) in returns:
                    url = reverse("return_detail", args=[returns[int(ref[1:])]])
            links.append({"text": str(ref), "url": url})
        ln.reference_links = links


def build_statement(run):
    """Everything a statement shows, as plain data (HTML, PDF, CSV, JSON and the API use this)."""
    contract = run.contract
    lines = list(run.lines.select_related("corrects").order_by("id"))
    payable = sum((ln.amount for ln in lines if not ln.shadow), Decimal("0.00"))
    shadow = sum((ln.amount for ln in lines if ln.shadow), Decimal("0.00"))
    definition = run.terms_version.definition()
    engine_lines = [engine.Line(key=ln.key, kind=ln.kind, rule_id=ln.rule_id, period=ln.period_id,
                                amount=ln.amount, explanation=ln.explanation, inputs=ln.inputs,
                                references=tuple(ln.references), shadow=ln.shadow,
                                subcontractor=ln.subcontractor or None,
                                participant=ln.participant or None)
                    for ln in lines]
    _reference_links(lines)
    by_funder, funder_explanation = _funder_split(payable, definition.funders)
    subcontractors, prime_retained, flow_explanation = _subcontractor_totals(
        engine_lines, definition, payable)
    return {
        "contract": contract.reference,
        "title": contract.title,
        "prime_provider": definition.prime_provider.name,
        "funders": [f.name for f in definition.funders],
        "period": run.period_id,
        "period_start": run.period_start,
        "period_end": run.period_end,
        "terms_version": run.terms_version.number,
        "status": run.status,
        "status_label": run.get_status_display(),
        "is_draft": run.status != RunStatus.APPROVED,
        "lines": lines,
        "total": payable,
        "shadow_total": shadow,
        "by_funder": by_funder,
        "funder_explanation": funder_explanation,
        # the subcontractors with lines this period, net (kept for existing consumers)
        "by_subcontractor": [s for s in subcontractors if s["lines"]],
        "subcontractor_totals": subcontractors,
        "prime_retained": prime_retained,
        "flow_down_explanation": flow_explanation,
        "notes": run.notes,
        "refusals": run.refusals,
    }


def _exact_str(value):
    """An exact share as written by hand: every digit it has, and at least pence."""
    text = f"{value.normalize():f}"
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def statement_json(run):
    data = build_statement(run)
    return {
        "contract": data["contract"],
        "period": data["period"],
        "period_start": data["period_start"].isoformat(),
        "period_end": data["period_end"].isoformat(),
        "terms_version": data["terms_version"],
        "status": data["status"],
        "lines": [{
            "id": ln.pk, "key": ln.key, "kind": ln.kind, "rule": ln.rule_id, "amount": str(ln.amount),
            "shadow": ln.shadow, "explanation": ln.explanation, "inputs": ln.inputs,
            "references": ln.references, "subcontractor": ln.subcontractor or None,
            "participant": ln.participant or None, "corrects": ln.corrects_id,
        } for ln in data["lines"]],
        "total": str(data["total"]),
        "shadow_total": str(data["shadow_total"]),
        "by_funder": [{"funder": f["funder"], "share_pct": f["share_pct"],
                       "exact": f["exact_text"], "amount": str(f["amount"]),
                       "rounding": str(f["rounding"])} for f in data["by_funder"]],
        "funder_explanation": data["funder_explanation"],
        "by_subcontractor": [{"subcontractor": s["subcontractor"], "amount": str(s["amount"])}
                             for s in data["by_subcontractor"]],
        "subcontractor_totals": [{
            "subcontractor": s["subcontractor"], "name": s["name"],
            "management_fee_pct": s["management_fee_pct"],
            "clawback_passdown": s["clawback_passdown"],
            **{k: str(s[k]) for k in ("outcome_payments", "passed_down", "management_fee",
                                      "deductions", "amount")},
            "lines": [dict(ln, amount=str(ln["amount"])) for ln in s["lines"]],
        } for s in data["subcontractor_totals"]],
        "prime_retained": str(data["prime_retained"]),
        "flow_down_explanation": data["flow_down_explanation"],
        "notes": data["notes"],
        "refusals": data["refusals"],
    }


def due_periods(contract, today):
    """Periods of a contract that have closed by `today` and have no approved run yet."""
    try:
        resolved_calendar = contract_periods(contract.current_version().definition())
    except Exception:  # noqa: BLE001 - a contract with broken terms is reported, not fatal
        return []
    done = set(contract.payment_runs.filter(status=RunStatus.APPROVED).values_list("period_id", flat=True))
    return [p for p in resolved_calendar if p.end < today and p.id not in done]


def live_contracts():
    return Contract.objects.filter(status__in=["published", "live"])
