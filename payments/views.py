"""Payment pages: a contract's runs, statements (HTML and CSV), approval, finance export."""

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from contracts.definition import periods as contract_periods
from contracts.models import Contract
from pbr.csv_export import csv_response
from pbr.views import paginate, require

from . import permissions
from .models import LedgerLine, PaymentRun, RunStatus
from .services import RunError, approve_run, build_statement
from .tasks import enqueue_contract_run


def _next_period(contract):
    latest = contract.payment_runs.order_by("-period_index").first()
    version = contract.current_version()
    if version is None:
        return None
    calendar = contract_periods(version.definition())
    if latest is None:
        return calendar[0] if calendar else None
    if latest.status != RunStatus.APPROVED:
        return next((p for p in calendar if p.id == latest.period_id), None)
    return next((p for p in calendar if p.index > latest.period_index), None)


@login_required
def contract_runs(request, contract_pk):
    contract = get_object_or_404(Contract.objects.for_user(request.user), pk=contract_pk)
    runs = contract.payment_runs.select_related("approved_by").order_by("-period_index")
    page, query = paginate(request, runs)
    next_period = _next_period(contract)
    return render(request, "payments/contract_runs.html", {
        "contract": contract, "page": page, "query": query,
        "next_period": next_period,
        "rerun": next_period is not None and runs.filter(period_id=next_period.id).exists(),
        "can_run": permissions.can_run_payments(request.user, contract).allowed,
    })


@login_required
@require_POST
def contract_run_next(request, contract_pk):
    contract = get_object_or_404(Contract.objects.for_user(request.user), pk=contract_pk)
    require(permissions.can_run_payments(request.user, contract))
    period = _next_period(contract)
    if period is None:
        messages.error(request, "There is no period left to run for this contract.")
        return redirect("contract_runs", contract.pk)
    job = enqueue_contract_run(contract, [period.id], actor=request.user)
    messages.success(request, f"The {period.id} run has started. This page shows its progress.")
    return redirect("job_detail", job.pk)


@login_required
def run_statement(request, payment_run_pk):
    run = get_object_or_404(PaymentRun.objects.for_user(request.user).select_related(
        "contract", "terms_version", "approved_by", "second_approved_by"), pk=payment_run_pk)
    return render(request, "payments/statement.html", {
        "run": run, "statement": build_statement(run),
        "can_approve": permissions.can_approve_run(request.user, run).allowed
        and run.status == RunStatus.DRAFT and run.approved_by_id != request.user.pk,
    })


@login_required
def run_statement_csv(request, payment_run_pk):
    run = get_object_or_404(PaymentRun.objects.for_user(request.user).select_related("contract"),
                            pk=payment_run_pk)
    data = build_statement(run)
    rows = ([ln.pk, data["contract"], data["period"], ln.kind, ln.rule_id, ln.key, ln.amount,
             "yes" if ln.shadow else "no", ln.subcontractor, ln.participant, ln.corrects_id or "",
             " ".join(ln.references), ln.explanation] for ln in data["lines"])
    header = ["line_id", "contract", "period", "kind", "rule", "key", "amount", "shadow",
              "subcontractor", "participant", "corrects_line", "references", "explanation"]
    return csv_response(f"statement-{data['contract']}-{data['period']}.csv".replace(" ", "-"),
                        header, rows)


@login_required
@require_POST
def run_approve(request, payment_run_pk):
    run = get_object_or_404(PaymentRun.objects.for_user(request.user), pk=payment_run_pk)
    require(permissions.can_approve_run(request.user, run))
    try:
        run = approve_run(run, actor=request.user)
    except RunError as exc:
        messages.error(request, str(exc))
    else:
        if run.status == RunStatus.APPROVED:
            messages.success(request, f"{run.period_id} approved and locked. It is now in the "
                                      "finance export.")
        else:
            messages.success(request, "First approval recorded. A second commissioner must approve "
                                      "this run because of its value.")
    return redirect("run_statement", run.pk)


@login_required
def approved_payments_csv(request):
    """Approved, payable lines for finance systems (one row per line, traceable to its rule)."""
    lines = (LedgerLine.objects.for_user(request.user).payable()
             .filter(run__status=RunStatus.APPROVED)
             .select_related("contract", "run").order_by("contract__reference", "run__period_index", "id"))
    rows = ([ln.contract.reference, ln.period_id, ln.run.period_end, ln.run.approved_at.date()
             if ln.run.approved_at else "", ln.pk, ln.kind, ln.rule_id, ln.amount, ln.subcontractor,
             ln.explanation] for ln in lines.iterator())
    header = ["contract", "period", "period_end", "approved_on", "line_id", "kind", "rule", "amount",
              "subcontractor", "explanation"]
    return csv_response(f"approved-payments-{datetime.date.today():%Y-%m-%d}.csv", header, rows)
