"""Contract pages: list, detail with the terms summary, import, publish, vary, export."""

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from pbr.csv_export import csv_response
from pbr.views import paginate, require

from . import permissions
from .designer.services import problems_in
from .forms import ImportForm, VaryForm
from .io import parse_text, to_json, to_yaml
from .models import Contract, ContractStatus, TermsStatus, TermsVersion
from .services import ContractError, import_contract, publish_terms, vary_contract


def _contracts(request):
    contracts = Contract.objects.for_user(request.user).select_related("commissioner")
    status = request.GET.get("status", "")
    q = request.GET.get("q", "").strip()
    if status:
        contracts = contracts.filter(status=status)
    if q:
        contracts = contracts.filter(Q(reference__icontains=q) | Q(title__icontains=q))
    return contracts, status, q


@login_required
def contract_list(request):
    contracts, status, q = _contracts(request)
    page, query = paginate(request, contracts)
    return render(request, "contracts/contract_list.html", {
        "page": page, "query": query, "status": status, "q": q,
        "statuses": ContractStatus.choices,
        "can_import": permissions.can_design_contracts(request.user).allowed,
    })


@login_required
def contract_export_csv(request):
    contracts, _status, _q = _contracts(request)
    rows = ([c.reference, c.title, c.commissioner.name, c.get_status_display(), c.start, c.end,
             c.annual_value, c.maximum_value or ""] for c in contracts.iterator())
    return csv_response(f"contracts-{datetime.date.today():%Y-%m-%d}.csv",
                        ["reference", "title", "commissioner", "status", "start", "end",
                         "annual_value", "maximum_value"], rows)


def _summary_sections(definition):
    try:
        from .summary import summarise
    except ImportError:  # the summary module is optional while it is being built
        return []
    return summarise(definition)


@login_required
def contract_detail(request, contract_pk):
    contract = get_object_or_404(Contract.objects.for_user(request.user).select_related("commissioner"),
                                 pk=contract_pk)
    versions = contract.versions.select_related("created_by", "approved_by").order_by("-number")
    version = versions.first()
    number = request.GET.get("version")
    if number and number.isdigit():
        version = versions.filter(number=int(number)).first() or version
    # A draft saved from the designer may still have problems: list them instead of a summary.
    problems = [] if version.status == TermsStatus.PUBLISHED else problems_in(version.document)
    definition = None if problems else version.definition()
    return render(request, "contracts/contract_detail.html", {
        "contract": contract, "versions": versions, "version": version, "definition": definition,
        "sections": _summary_sections(definition) if definition else [], "problems": problems,
        "can_design": permissions.can_edit_terms(request.user, contract).allowed,
        "parties": contract.parties.select_related("organisation"),
        "can_publish": permissions.can_publish_terms(request.user, version).allowed,
        "can_vary": permissions.can_vary_contract(request.user, contract).allowed,
    })


@login_required
def terms_download(request, terms_version_pk, fmt):
    version = get_object_or_404(TermsVersion.objects.for_user(request.user).select_related("contract"),
                                 pk=terms_version_pk)
    name = f"{version.contract.reference}-v{version.number}"
    if fmt == "json":
        response = HttpResponse(to_json(version.document), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="{name}.json"'
    else:
        response = HttpResponse(to_yaml(version.document), content_type="application/yaml")
        response["Content-Disposition"] = f'attachment; filename="{name}.yaml"'
    return response


def _document_from(form):
    upload = form.cleaned_data.get("file")
    if upload:
        return parse_text(upload.read(), upload.name)
    return parse_text(form.cleaned_data["text"])


@login_required
@require_http_methods(["GET", "POST"])
def contract_import(request):
    require(permissions.can_design_contracts(request.user))
    form = ImportForm(request.POST or None, request.FILES or None)
    problems = []
    if request.method == "POST" and form.is_valid():
        try:
            contract = import_contract(_document_from(form), actor=request.user,
                                       auditor=form.cleaned_data["auditor"])
        except ContractError as exc:
            problems = exc.problems
        else:
            messages.success(request, f"{contract.reference} imported as a draft. Check the summary, "
                                      "then publish it.")
            return redirect("contract_detail", contract.pk)
    return render(request, "contracts/contract_import.html", {"form": form, "problems": problems})


@login_required
@require_POST
def terms_publish(request, terms_version_pk):
    version = get_object_or_404(TermsVersion.objects.for_user(request.user).select_related("contract"),
                                pk=terms_version_pk)
    require(permissions.can_publish_terms(request.user, version))
    try:
        publish_terms(version, actor=request.user)
    except ContractError as exc:
        for problem in exc.problems:
            messages.error(request, problem.message)
    else:
        messages.success(request, f"Version {version.number} of {version.contract.reference} is "
                                  "published. It can no longer be edited; change it by variation.")
    return redirect("contract_detail", version.contract_id)


@login_required
@require_http_methods(["GET", "POST"])
def contract_vary(request, contract_pk):
    contract = get_object_or_404(Contract.objects.for_user(request.user), pk=contract_pk)
    require(permissions.can_vary_contract(request.user, contract))
    form = VaryForm(request.POST or None, request.FILES or None)
    problems = []
    if request.method == "POST" and form.is_valid():
        try:
            version = vary_contract(contract, _document_from(form), actor=request.user,
                                    reason=form.cleaned_data["reason"],
                                    effective_from=form.cleaned_data["effective_from"])
        except ContractError as exc:
            problems = exc.problems
        else:
            messages.success(request, f"Variation published as version {version.number}, in force "
                                      f"from {version.effective_from:%-d %B %Y}.")
            return redirect("contract_detail", contract.pk)
    return render(request, "contracts/contract_vary.html", {
        "form": form, "problems": problems, "contract": contract,
    })


def _financial_years(definition):
    from .definition import periods

    seen = []
    for period in periods(definition):
        if period.financial_year not in seen:
            seen.append(period.financial_year)
    return seen


def _assumption_grid(request, definition, years):
    """Read `ind__<code>__<fy>` / `out__<code>__<fy>` inputs; report bad numbers by field."""
    from decimal import Decimal, InvalidOperation

    indicators, outcomes, rows, errors = {}, {}, [], []
    for prefix, items, target in (("ind", definition.indicators, indicators),
                                  ("out", [o for o in definition.outcomes if o.kind != "personal"],
                                   outcomes)):
        for item in items:
            cells = []
            for fy in years:
                name = f"{prefix}__{item.code}__{fy}"
                raw = request.GET.get(name, "").strip()
                error = ""
                if raw:
                    try:
                        value = Decimal(raw.replace(",", "").rstrip("%"))
                        if not value.is_finite() or value < 0:
                            raise InvalidOperation
                    except InvalidOperation:
                        error = "Enter a number of 0 or more, like 95 or 96.5"
                        errors.append((name, f"{item.name or item.code}, {fy}: {error}"))
                    else:
                        target.setdefault(item.code, {})[fy] = value if prefix == "ind" else int(value)
                cells.append({"name": name, "value": raw, "error": error})
            rows.append({"kind": prefix, "code": item.code, "label": item.name or item.code,
                         "cells": cells})
    return indicators, outcomes, rows, errors


@login_required
def contract_simulate(request, contract_pk):
    """What-if: payments by period, budget exposure per year, and every cliff edge."""
    from .simulator import Assumptions, simulate

    contract = get_object_or_404(Contract.objects.for_user(request.user), pk=contract_pk)
    version = contract.current_version()
    if version.status != TermsStatus.PUBLISHED and problems_in(version.document):
        messages.error(request, "The draft terms have problems to fix in the designer before "
                                "they can be simulated.")
        return redirect("contract_detail", contract.pk)
    definition = version.definition()
    years = _financial_years(definition)
    indicators, outcomes, rows, errors = _assumption_grid(request, definition, years)
    result = None
    if "simulate" in request.GET and not errors:
        result = simulate(definition, Assumptions(indicators=indicators, outcomes=outcomes))
    return render(request, "contracts/contract_simulate.html", {
        "contract": contract, "version": version, "years": years, "rows": rows,
        "errors": errors, "result": result,
    })
