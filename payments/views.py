"""Payment pages: a contract's runs, statements (HTML and CSV), approval, finance export."""

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from contracts.definition import periods as contract_periods
from contracts.models import Contract
from pbr.csv_export import csv_response
from pbr.views import paginate, require

from . import permissions
from .forecast import contract_liability, current_terms, income_forecast
from .models import LedgerLine, PaymentRun, RunStatus
from .pdf import render_statement_pdf, statement_filename
from .services import RunError, approve_run, build_statement
from .subcontractors import subcontractor_ledgers
from .tasks import enqueue_contract_run


def _next_period(contract):
    latest = contract.payment_runs.order_by("-period_index").first()
    version = current_terms(contract)
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
        "can_forecast": permissions.can_view_income_forecast(request.user, contract).allowed,
        "can_see_liability": permissions.can_view_liability(request.user, contract).allowed,
        "can_see_subcontractors": permissions.can_view_subcontractor_ledger(
            request.user, contract).allowed,
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


def _statement_rows(data):
    """One row per line, then the totals as rows of the same columns told apart by `kind`
    (total, funder_total, subcontractor_total, prime_retained), so a finance system can filter."""
    for ln in data["lines"]:
        yield [ln.pk, data["contract"], data["period"], ln.kind, ln.rule_id, ln.key, ln.amount,
               "yes" if ln.shadow else "no", ln.subcontractor, ln.participant,
               ln.corrects_id or "", " ".join(ln.references), ln.explanation]
    summary = [data["contract"], data["period"]]
    yield ["", *summary, "total", "", "payable", data["total"], "no", "", "", "", "",
           "Total payable for the period."]
    for f in data["by_funder"]:
        yield ["", *summary, "funder_total", "", f["funder"], f["amount"], "no", "", "", "", "",
               f"{f['share_pct']}% share. {data['funder_explanation']}"]
    for s in data["subcontractor_totals"]:
        yield ["", *summary, "subcontractor_total", "", s["subcontractor"], s["amount"], "no",
               s["subcontractor"], "", "", "",
               f"{s['name']}: outcome payments £{s['outcome_payments']:,.2f}, passed down "
               f"£{s['passed_down']:,.2f}, management fee kept by the prime "
               f"£{s['management_fee']:,.2f}, clawbacks passed down £{s['deductions']:,.2f}."]
    if data["subcontractor_totals"]:
        yield ["", *summary, "prime_retained", "", "prime", data["prime_retained"], "no", "", "",
               "", "", data["flow_down_explanation"]]


@login_required
def run_statement_csv(request, payment_run_pk):
    run = get_object_or_404(PaymentRun.objects.for_user(request.user).select_related(
        "contract", "terms_version"), pk=payment_run_pk)
    data = build_statement(run)
    header = ["line_id", "contract", "period", "kind", "rule", "key", "amount", "shadow",
              "subcontractor", "participant", "corrects_line", "references", "explanation"]
    return csv_response(f"statement-{data['contract']}-{data['period']}.csv".replace(" ", "-"),
                        header, _statement_rows(data))


@login_required
def run_statement_pdf(request, payment_run_pk):
    """The statement as a PDF; the same scope as the HTML statement (another organisation's
    run is not found)."""
    run = get_object_or_404(PaymentRun.objects.for_user(request.user).select_related(
        "contract", "terms_version", "approved_by", "second_approved_by"), pk=payment_run_pk)
    data = build_statement(run)
    response = HttpResponse(render_statement_pdf(run, data), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{statement_filename(data)}"'
    return response


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


def _subcontractor_context(request, contract):
    require(permissions.can_view_subcontractor_ledger(request.user, contract))
    codes = permissions.visible_subcontractors(request.user, contract)
    approved_only = request.GET.get("status") == "approved"
    return subcontractor_ledgers(contract, codes=codes, approved_only=approved_only), approved_only


@login_required
def subcontractor_ledger(request, contract_pk):
    """For a contract: what flowed down to each subcontractor, line by line, with a running
    total across periods. A subcontractor sees only its own lines."""
    contract = get_object_or_404(Contract.objects.for_user(request.user), pk=contract_pk)
    ledgers, approved_only = _subcontractor_context(request, contract)
    wanted = request.GET.get("subcontractor", "")
    error = ""
    if wanted and wanted not in ledgers:
        error = "Choose a subcontractor from the list."
    selected = ledgers.get(wanted) or next(iter(ledgers.values()), None)
    page, query = paginate(request, selected.rows if selected else [], per_page=50)
    csv_query = request.GET.copy()
    csv_query.pop("page", None)
    return render(request, "payments/subcontractor_ledger.html", {
        "contract": contract, "ledgers": list(ledgers.values()), "selected": selected,
        "page": page, "query": query, "approved_only": approved_only, "error": error,
        "csv_query": csv_query.urlencode(),
    })


@login_required
def subcontractor_ledger_csv(request, contract_pk):
    contract = get_object_or_404(Contract.objects.for_user(request.user), pk=contract_pk)
    ledgers, _approved_only = _subcontractor_context(request, contract)
    wanted = request.GET.get("subcontractor", "")
    chosen = [ledgers[wanted]] if wanted in ledgers else list(ledgers.values())
    header = ["contract", "subcontractor", "name", "period", "run_status", "prime_line_id",
              "key", "kind", "rule", "amount", "running_total", "references", "explanation"]
    rows = ([contract.reference, ledger.code, ledger.name, row.period, row.run_status,
             row.prime_line_id or "", row.key, row.kind, row.rule_id, row.amount,
             row.running_total, " ".join(row.references), row.explanation]
            for ledger in chosen for row in ledger.rows)
    suffix = f"-{wanted}" if wanted in ledgers else ""
    return csv_response(f"subcontractor-ledger-{contract.reference}{suffix}.csv", header, rows)


# --- forecasts ------------------------------------------------------------------------------------


@login_required
def forecast_list(request):
    """Every contract the user can see, with the forecasts their role may open."""
    contracts = (Contract.objects.for_user(request.user).select_related("commissioner")
                 .prefetch_related("parties").order_by("reference"))
    page, query = paginate(request, contracts)
    rows = [{"contract": c,
             "income": permissions.can_view_income_forecast(request.user, c).allowed,
             "liability": permissions.can_view_liability(request.user, c).allowed}
            for c in page.object_list]
    return render(request, "payments/forecast_list.html", {"page": page, "query": query,
                                                           "rows": rows})


@login_required
def contract_income_forecast(request, contract_pk):
    contract = get_object_or_404(Contract.objects.for_user(request.user), pk=contract_pk)
    require(permissions.can_view_income_forecast(request.user, contract))
    forecast = income_forecast(contract)
    return render(request, "payments/income_forecast.html", {
        "contract": contract, "forecast": forecast,
        "periods_with_money": [p for p in forecast.periods if p.expected or p.lines],
    })


@login_required
def contract_income_forecast_csv(request, contract_pk):
    contract = get_object_or_404(Contract.objects.for_user(request.user), pk=contract_pk)
    require(permissions.can_view_income_forecast(request.user, contract))
    forecast = income_forecast(contract)
    header = ["contract", "period", "financial_year", "start", "end", "payment_due", "state",
              "expected", "from_pipeline", "from_known_facts_and_terms", "lines"]
    rows = ([contract.reference, p.period, p.financial_year, p.start, p.end, p.payment_due,
             p.state, p.expected, p.from_pipeline, p.from_known, len(p.lines)]
            for p in forecast.periods)
    return csv_response(f"income-forecast-{contract.reference}-{forecast.as_of:%Y-%m-%d}.csv",
                        header, rows)


@login_required
def contract_liability_view(request, contract_pk):
    contract = get_object_or_404(Contract.objects.for_user(request.user), pk=contract_pk)
    require(permissions.can_view_liability(request.user, contract))
    return render(request, "payments/liability.html", {
        "contract": contract, "liability": contract_liability(contract),
    })


@login_required
def contract_liability_csv(request, contract_pk):
    contract = get_object_or_404(Contract.objects.for_user(request.user), pk=contract_pk)
    require(permissions.can_view_liability(request.user, contract))
    liability = contract_liability(contract)
    header = ["contract", "financial_year", "approved", "awaiting_approval", "committed",
              "expected_further", "maximum", "headroom"]
    rows = ([contract.reference, y.financial_year, y.approved, y.awaiting_approval, y.committed,
             y.expected_further, "" if y.maximum is None else y.maximum,
             "" if y.headroom is None else y.headroom] for y in liability.years)
    return csv_response(f"liability-{contract.reference}-{datetime.date.today():%Y-%m-%d}.csv",
                        header, rows)
