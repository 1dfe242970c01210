"""Provider screens for returns, claims and evidence. Thin: scope, check, call a service, render."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from contracts.models import Contract, PartyRole
from pbr import audit
from pbr.views import paginate, require

from . import evidence as evidence_files
from . import permissions, services
from .forms import (
    AmendForm,
    AttachEvidenceForm,
    ClaimForm,
    EvidenceForm,
    ReturnFilterForm,
    StartReturnForm,
    UploadForm,
)
from .models import Claim, EvidenceFile, Return
from .validation import ReturnRejected, template_csv


def _delivered_contracts(user):
    contracts = Contract.objects.for_user(user)
    if user.is_site_admin:
        return contracts
    return contracts.filter(parties__organisation_id=user.organisation_id,
                            parties__role__in=(PartyRole.PRIME, PartyRole.SUBCONTRACTOR)).distinct()


@login_required
def return_list(request):
    returns = Return.objects.for_user(request.user).select_related("contract", "provider")
    form = ReturnFilterForm(request.GET or None)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if data["contract"]:
            returns = returns.filter(contract__reference__icontains=data["contract"])
        if data["period"]:
            returns = returns.filter(period_id__icontains=data["period"])
        if data["status"]:
            returns = returns.filter(status=data["status"])
    page, query = paginate(request, returns)
    return render(request, "outcomes/return_list.html", {
        "form": form, "page": page, "query": query,
        "can_start": bool(permissions.can_submit_returns(request.user)),
    })


@login_required
@require_http_methods(["GET", "POST"])
def return_start(request):
    user = request.user
    if not user.is_site_admin:
        require(permissions.can_submit_returns(user))
    form = StartReturnForm(request.POST or None, contracts=_delivered_contracts(user))
    if request.method == "POST" and form.is_valid():
        if user.organisation is None:
            form.add_error(None, "Site administrators cannot submit returns; sign in as the "
                                 "provider.")
        else:
            try:
                ret = services.start_return(form.cleaned_data["contract"],
                                            form.cleaned_data["period_id"].strip(), actor=user)
            except services.ReturnError as exc:
                form.add_error("period_id", str(exc))
            else:
                return redirect("return_detail", return_pk=ret.pk)
    return render(request, "outcomes/return_start.html", {"form": form})


def _get_return(request, return_pk):
    return get_object_or_404(Return.objects.for_user(request.user)
                             .select_related("contract", "provider", "supersedes"), pk=return_pk)


@login_required
def return_detail(request, return_pk):
    ret = _get_return(request, return_pk)
    claims = ret.claims.select_related("participant")
    status = request.GET.get("status", "")
    if status:
        claims = claims.filter(status=status)
    outcome = request.GET.get("outcome", "")
    if outcome:
        claims = claims.filter(outcome=outcome)
    page, query = paginate(request, claims, per_page=50)
    return render(request, "outcomes/return_detail.html", {
        "ret": ret, "page": page, "query": query, "status": status, "outcome": outcome,
        "indicators": ret.indicator_returns.all(),
        "can_edit": bool(permissions.can_edit_return(request.user, ret)),
        "can_amend": bool(permissions.can_amend_return(request.user, ret)),
        "amend_form": AmendForm(), "statuses": Claim._meta.get_field("status").choices,
    })


@login_required
@require_http_methods(["GET", "POST"])
def claim_add(request, return_pk):
    ret = _get_return(request, return_pk)
    require(permissions.can_edit_return(request.user, ret))
    form = ClaimForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.add_rows(ret, [(1, form.row())], actor=request.user, source="form")
        except ReturnRejected as exc:
            for problem in exc.problems:
                field = problem.column if problem.column in form.fields else None
                form.add_error(field, problem.message)
        else:
            messages.success(request, "Claim added. Submit the return when it is complete.")
            return redirect("return_detail", return_pk=ret.pk)
    return render(request, "outcomes/claim_form.html", {"ret": ret, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def return_upload(request, return_pk):
    ret = _get_return(request, return_pk)
    require(permissions.can_edit_return(request.user, ret))
    form = UploadForm(request.POST or None, request.FILES or None)
    problems = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            kind, saved = services.import_file(ret, upload, upload.name, actor=request.user)
        except ReturnRejected as exc:
            problems = exc.problems
        else:
            messages.success(request, f"{saved} {'indicator' if kind == 'indicators' else 'claim'}"
                                      f" row{'s' if saved != 1 else ''} added.")
            return redirect("return_detail", return_pk=ret.pk)
    return render(request, "outcomes/return_upload.html", {
        "ret": ret, "form": form, "problems": problems})


@login_required
def return_template(request):
    kind = "indicators" if request.GET.get("kind") == "indicators" else "claims"
    response = HttpResponse(template_csv(kind), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="return-{kind}-template.csv"'
    return response


@login_required
@require_POST
def return_submit(request, return_pk):
    ret = _get_return(request, return_pk)
    require(permissions.can_edit_return(request.user, ret))
    try:
        ret = services.submit_return(ret, actor=request.user)
    except services.ReturnError as exc:
        messages.error(request, str(exc))
    else:
        failed = ret.claims.exclude(status="passed").count()
        messages.success(request, f"Return submitted ({ret.get_status_display().lower()})."
                         + (f" {failed} claim{'s' if failed != 1 else ''} did not pass the "
                            "automatic checks; see each claim for the reason." if failed else ""))
    return redirect("return_detail", return_pk=ret.pk)


@login_required
@require_POST
def return_amend(request, return_pk):
    ret = _get_return(request, return_pk)
    require(permissions.can_amend_return(request.user, ret))
    form = AmendForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter the reason for the amendment.")
        return redirect("return_detail", return_pk=ret.pk)
    new = services.amend_return(ret, actor=request.user, reason=form.cleaned_data["reason"])
    messages.success(request, f"Version {new.version} started. Version {ret.version} is kept "
                              "as it was submitted.")
    return redirect("return_detail", return_pk=new.pk)


@login_required
@require_http_methods(["GET", "POST"])
def claim_detail(request, claim_pk):
    claim = get_object_or_404(Claim.objects.for_user(request.user)
                              .select_related("participant", "return_record__contract"),
                              pk=claim_pk)
    ret = claim.return_record
    can_edit = bool(permissions.can_edit_return(request.user, ret))
    form = AttachEvidenceForm(request.POST or None)
    if request.method == "POST":
        require(permissions.can_edit_return(request.user, ret))
        if form.is_valid():
            evidence = EvidenceFile.objects.for_user(request.user).filter(
                pk=form.cleaned_data["evidence"]).first()
            if evidence is None:
                form.add_error("evidence", "Enter the number of one of your evidence files.")
            else:
                services.attach_evidence(claim, evidence, actor=request.user)
                messages.success(request, f"{evidence.original_name} attached.")
                return redirect("claim_detail", claim_pk=claim.pk)
    return render(request, "outcomes/claim_detail.html", {
        "claim": claim, "ret": ret, "form": form, "can_edit": can_edit,
        "evidence": claim.evidence_files.all(),
    })


@login_required
@require_http_methods(["GET", "POST"])
def evidence_list(request):
    form = EvidenceForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        require(permissions.can_upload_evidence(request.user))
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                stored = evidence_files.store(
                    upload, upload.name, organisation=request.user.organisation,
                    uploaded_by=request.user, evidence_type=form.cleaned_data["evidence_type"])
            except evidence_files.EvidenceRefused as exc:
                form.add_error("file", str(exc))
            else:
                messages.success(request, f"{stored.original_name} uploaded as evidence file "
                                          f"E{stored.pk}.")
                return redirect("evidence_list")
    files = EvidenceFile.objects.for_user(request.user).select_related("uploaded_by")
    page, query = paginate(request, files)
    return render(request, "outcomes/evidence_list.html", {
        "form": form, "page": page, "query": query,
        "can_upload": bool(permissions.can_upload_evidence(request.user)),
    })


@login_required
def evidence_download(request, evidence_file_pk):
    evidence = get_object_or_404(EvidenceFile.objects.for_user(request.user), pk=evidence_file_pk)
    try:
        handle = evidence_files.open_stored(evidence)
    except FileNotFoundError:
        raise Http404("The stored file is missing.") from None
    audit.record("evidence.downloaded", actor=request.user, obj=evidence)
    return evidence_response(handle, evidence)


def evidence_response(handle, evidence):
    """Always a download, never rendered: the browser must not guess or run the content."""
    response = FileResponse(handle, as_attachment=True, filename=evidence.original_name,
                            content_type=evidence.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
