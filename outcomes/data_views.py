"""Participant events on a return, and the external datasets of a contract.

Thin, like views.py: scope, check, call a service (outcomes.services / outcomes.external),
render. Another organisation's return or contract answers 404.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Max
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from contracts.models import Contract, TermsStatus
from pbr.csv_export import csv_response
from pbr.views import paginate, require

from . import external, permissions, services
from .forms import DatasetUploadForm, EventForm
from .models import DatasetUpload, DatasetValue, Return
from .validation import ReturnRejected, event_types


def _terms(contract, day=None):
    versions = contract.versions.filter(status=TermsStatus.PUBLISHED)
    if day is not None:
        versions = versions.filter(effective_from__lte=day)
    version = versions.order_by("-effective_from", "-number").first()
    return version.definition() if version else None


@login_required
@require_http_methods(["GET", "POST"])
def event_add(request, return_pk):
    ret = get_object_or_404(Return.objects.for_user(request.user)
                            .select_related("contract", "provider"), pk=return_pk)
    require(permissions.can_edit_return(request.user, ret))
    defn = _terms(ret.contract, ret.period_end) or _terms(ret.contract)
    codes = sorted(event_types(defn)) if defn else []
    form = EventForm(request.POST or None, event_types=codes)
    if request.method == "POST" and form.is_valid():
        try:
            services.add_rows(ret, [(1, form.row())], actor=request.user, kind="events",
                              source="form")
        except ReturnRejected as exc:
            for problem in exc.problems:
                field = problem.column if problem.column in form.fields else None
                form.add_error(field, problem.message)
        else:
            messages.success(request, "Event added. Submit the return when it is complete.")
            return redirect("return_detail", return_pk=ret.pk)
    return render(request, "outcomes/event_form.html", {"ret": ret, "form": form,
                                                         "codes": codes})


# --- external datasets -------------------------------------------------------------------------


@login_required
def dataset_list(request):
    """Contracts you can see, what external datasets their terms name and what is held."""
    contracts = Contract.objects.for_user(request.user).select_related("commissioner")
    reference = request.GET.get("contract", "").strip()[:64]
    if reference:
        contracts = contracts.filter(reference__icontains=reference)
    page, query = paginate(request, contracts)
    held = {row["contract"]: row for row in DatasetValue.objects.for_user(request.user)
            .filter(contract__in=[c.pk for c in page.object_list]).values("contract")
            .annotate(figures=Count("pk"), last=Max("upload__uploaded_at"))}
    rows = []
    for contract in page.object_list:
        defn = _terms(contract)
        rows.append({"contract": contract,
                     "datasets": [d.code for d in defn.datasets] if defn else [],
                     "figures": held.get(contract.pk, {}).get("figures", 0),
                     "last": held.get(contract.pk, {}).get("last")})
    return render(request, "outcomes/dataset_list.html", {
        "page": page, "query": query, "rows": rows, "reference": reference})


@login_required
@require_http_methods(["GET", "POST"])
def dataset_detail(request, contract_pk):
    contract = get_object_or_404(Contract.objects.for_user(request.user), pk=contract_pk)
    can_upload = permissions.can_upload_datasets(request.user, contract)
    form = DatasetUploadForm(request.POST or None, request.FILES or None)
    problems = None
    if request.method == "POST":
        require(can_upload)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                stored = external.upload_dataset(contract, upload, upload.name,
                                                 actor=request.user)
            except ReturnRejected as exc:
                problems = exc.problems
            else:
                messages.success(request, f"{stored.rows} figure{'s' if stored.rows != 1 else ''}"
                                          f" saved from {stored.original_name}.")
                return redirect("dataset_detail", contract_pk=contract.pk)
    defn = _terms(contract)
    values = (DatasetValue.objects.for_user(request.user).filter(contract=contract).current()
              .select_related("upload", "upload__uploaded_by").order_by("dataset", "period"))
    uploads = DatasetUpload.objects.for_user(request.user).filter(contract=contract) \
        .select_related("uploaded_by")
    page, query = paginate(request, uploads, per_page=10)
    return render(request, "outcomes/dataset_detail.html", {
        "contract": contract, "datasets": defn.datasets if defn else (), "values": values,
        "page": page, "query": query, "form": form, "problems": problems,
        "can_upload": bool(can_upload), "columns": external.DATASET_COLUMNS,
    })


@login_required
def dataset_export(request, contract_pk):
    """Every figure ever uploaded for the contract, with the file it came from."""
    contract = get_object_or_404(Contract.objects.for_user(request.user), pk=contract_pk)
    values = DatasetValue.objects.for_user(request.user).filter(contract=contract)
    current = set(values.current().values_list("pk", flat=True))
    rows = ([v.dataset, v.period, v.value, "yes" if v.pk in current else "no",
             v.upload.original_name, v.upload.sha256, v.upload.uploaded_at.isoformat(),
             v.upload.uploaded_by.get_username() if v.upload.uploaded_by else ""]
            for v in values.select_related("upload", "upload__uploaded_by").order_by("pk"))
    return csv_response(f"{contract.reference}-datasets.csv",
                        ["dataset", "period", "value", "current", "file", "sha256",
                         "uploaded_at", "uploaded_by"], rows)


@login_required
def dataset_template(request):
    header = ",".join(c.name for c in external.DATASET_COLUMNS) + "\r\n"
    response = HttpResponse(header, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="dataset-template.csv"'
    return response
