"""Provider screens for returns, claims, participants and evidence. Thin: scope, check, call a
service, render."""

import datetime
import tempfile
import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import storages
from django.db import transaction
from django.db.models import Count, Prefetch
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from contracts.models import Contract, PartyRole
from pbr import audit
from pbr.csv_export import csv_response, safe_cell
from pbr.models import Job
from pbr.views import paginate, require

from . import evidence as evidence_files
from . import permissions, reminders, services, tasks
from .forms import (
    AmendForm,
    AttachEvidenceForm,
    ClaimFilterForm,
    ClaimForm,
    EvidenceForm,
    LeaveForm,
    ParticipantFilterForm,
    ReturnFilterForm,
    SegmentForm,
    StartReturnForm,
    UploadForm,
)
from .models import Claim, EvidenceFile, Participant, Return, ReturnUpload
from .paging import ClaimsByReturn
from .validation import MAX_FILE_BYTES, ReturnRejected, template_csv


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
    today = timezone.localdate()
    for ret in page.object_list:
        ret.due_label = reminders.return_due_label(ret, today)
    return render(request, "outcomes/return_list.html", {
        "form": form, "page": page, "query": query, "today": today,
        "deadlines": _deadline_rows(request.user, today),
        "show_provider": not request.user.is_provider,
        "can_start": bool(permissions.can_submit_returns(request.user)),
    })


def _deadline_rows(user, today):
    return [{"deadline": d, "label": d.label(today), "overdue": d.is_overdue(today)}
            for d in reminders.deadlines_for(user, today)]


@login_required
@require_http_methods(["GET", "POST"])
def return_start(request):
    user = request.user
    if not user.is_site_admin:
        require(permissions.can_submit_returns(user))
    # The "Returns due" table links here with the contract and period filled in.
    initial = {k: request.GET[k][:64] for k in ("contract", "period_id") if k in request.GET}
    form = StartReturnForm(request.POST or None, initial=initial,
                           contracts=_delivered_contracts(user))
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
    today = timezone.localdate()
    return render(request, "outcomes/return_detail.html", {
        "ret": ret, "page": page, "query": query, "status": status, "outcome": outcome,
        "today": today,
        "due_label": reminders.return_due_label(ret, today),
        "indicators": ret.indicator_returns.all(),
        "events": ret.events.select_related("participant"),
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


def _go(request, url):
    """Redirect; the upload script (static/js/upload-progress.js) sends its request with XHR,
    which would follow a redirect silently, so it is told where to go instead."""
    if request.headers.get("x-requested-with") == "XMLHttpRequest":
        return JsonResponse({"location": url})
    return redirect(url)


@login_required
@require_http_methods(["GET", "POST"])
def return_upload(request, return_pk):
    ret = _get_return(request, return_pk)
    require(permissions.can_edit_return(request.user, ret))
    form = UploadForm(request.POST or None, request.FILES or None)
    problems = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > settings.PBR_UPLOAD_BACKGROUND_BYTES:
            if upload.size > MAX_FILE_BYTES:
                form.add_error("file", f"The file must be smaller than "
                                       f"{MAX_FILE_BYTES // (1024 * 1024)} MB.")
            else:
                record = _queue_upload(request, ret, upload)
                return _go(request, reverse("return_upload_detail",
                                            kwargs={"return_upload_pk": record.pk}))
        else:
            try:
                kind, saved = services.import_file(ret, upload, upload.name, actor=request.user)
            except ReturnRejected as exc:
                problems = exc.problems
            else:
                noun = "indicator" if kind == "indicators" else kind[:-1]
                messages.success(request, f"{saved} {noun} row{'s' if saved != 1 else ''} added.")
                return _go(request, reverse("return_detail", kwargs={"return_pk": ret.pk}))
    return render(request, "outcomes/return_upload.html", {
        "ret": ret, "form": form, "problems": problems,
        "recent_uploads": ret.uploads.select_related("uploaded_by")[:5],
        "background_bytes": settings.PBR_UPLOAD_BACKGROUND_BYTES,
    })


def _queue_upload(request, ret, upload):
    """Keep a large file privately, record it with a Job, and check it in the background."""
    storage = storages["evidence"]
    stored_name = storage.save(f"return-uploads/{ret.provider_id}/{uuid.uuid4().hex}", upload)
    try:
        with transaction.atomic():
            job = Job.objects.create(
                name=f"Check return file {upload.name[:60]}", organisation=ret.provider,
                requested_by=request.user, total=tasks.UPLOAD_STAGES, progress=0,
                message=f"{upload.name} received ({upload.size:,} bytes); waiting to be checked.")
            record = ReturnUpload.objects.create(
                return_record=ret, job=job, original_name=upload.name[:255],
                stored_name=stored_name, size=upload.size, uploaded_by=request.user)
            audit.record("return.file_received", actor=request.user, obj=ret,
                         organisation=ret.provider,
                         after={"file": upload.name[:100], "bytes": upload.size,
                                "upload": record.pk})
            tasks.import_return_upload.delay_on_commit(record.pk)
    except Exception:
        storage.delete(stored_name)
        raise
    return record


@login_required
def return_upload_detail(request, return_upload_pk):
    record = get_object_or_404(
        ReturnUpload.objects.for_user(request.user).select_related(
            "return_record__contract", "job", "uploaded_by"), pk=return_upload_pk)
    context = {"record": record, "ret": record.return_record, "job": record.job,
               "problems": record.problems if record.status == "refused" else None}
    template = ("outcomes/_upload_status.html" if request.htmx
                else "outcomes/return_upload_detail.html")
    return render(request, template, context)


@login_required
def return_template(request):
    kind = request.GET.get("kind") if request.GET.get("kind") in ("indicators", "events") \
        else "claims"
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
                return _go(request, reverse("evidence_list"))
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


# --- claims across returns ---------------------------------------------------------------------


def _filtered_claims(request):
    contracts = Contract.objects.for_user(request.user).order_by("reference")
    form = ClaimFilterForm(request.GET or None, contracts=contracts)
    claims = Claim.objects.for_user(request.user).select_related(
        "participant", "return_record__contract", "return_record__provider")
    all_versions = False
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if data["contract"]:
            claims = claims.filter(return_record__contract=data["contract"])
        if data["period"]:
            claims = claims.filter(return_record__period_id__icontains=data["period"].strip())
        if data["outcome"]:
            claims = claims.filter(outcome__icontains=data["outcome"].strip())
        if data["status"]:
            claims = claims.filter(status=data["status"])
        if data["participant"]:
            claims = claims.filter(
                participant__provider_reference__icontains=data["participant"].strip())
        all_versions = data["all_versions"]
    if not all_versions:
        # A version replaced by an amendment repeats the claims of the version that replaced it.
        claims = claims.filter(return_record__superseded_by__isnull=True)
    claims = claims.order_by("-return_record__period_start", "return_record__contract__reference",
                             "return_record_id", "row_number", "pk")
    return form, claims


@login_required
def claim_list(request):
    form, claims = _filtered_claims(request)
    # A page at a time through the index on (return, row, id), not a sort of every match.
    rows = Claim.objects.select_related("participant", "return_record__contract",
                                        "return_record__provider")
    page, query = paginate(request, ClaimsByReturn(claims, rows), per_page=50)
    return render(request, "outcomes/claim_list.html", {
        "form": form, "page": page, "query": query,
        "show_provider": not request.user.is_provider,
    })


CLAIM_EXPORT_HEADER = [
    "contract", "provider", "period", "return_version", "return_status", "row",
    "participant_ref", "pseudonym", "segment", "outcome", "achieved", "started", "step_from",
    "step_to", "grade", "criteria_met", "criteria_total", "value", "subcontractor", "status",
    "evidence", "checks_not_passed",
]


def _claim_export_rows(claims):
    claims = claims.prefetch_related(
        Prefetch("evidence_files", queryset=EvidenceFile.objects.only("pk").order_by("pk")))
    for c in claims.iterator(chunk_size=2000):
        ret = c.return_record
        yield [
            ret.contract.reference, ret.provider.name, ret.period_id, ret.version,
            ret.get_status_display(), c.row_number, c.participant.provider_reference,
            c.participant.pseudonym, c.participant.segment, c.outcome, c.achieved, c.started,
            c.step_from, c.step_to, c.grade, c.criteria_met, c.criteria_total, c.value,
            c.subcontractor, c.get_status_display(),
            " ".join(f"E{e.pk}" for e in c.evidence_files.all()),
            " | ".join(check.get("reason", "") for check in c.failed_checks()),
        ]


@login_required
def claim_export(request, fmt="csv"):
    _form, claims = _filtered_claims(request)
    name = f"claims-{timezone.localdate():%Y-%m-%d}"
    if fmt == "xlsx":
        return _xlsx_response(f"{name}.xlsx", "Claims", CLAIM_EXPORT_HEADER,
                              _claim_export_rows(claims))
    return csv_response(f"{name}.csv", CLAIM_EXPORT_HEADER,
                        ([cell if cell is not None else "" for cell in row]
                         for row in _claim_export_rows(claims)))


def _xlsx_cell(value):
    """Dates and numbers stay typed; any text goes through the same formula-injection guard as
    CSV, since openpyxl would store a string starting with '=' as a live formula."""
    if value is None:
        return None
    if isinstance(value, (int, datetime.date)) and not isinstance(value, bool):
        return value
    if hasattr(value, "as_tuple"):  # Decimal: exact text of the number, kept numeric
        return value
    return safe_cell(value)


def _xlsx_response(filename, title, header, rows):
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    sheet.append([safe_cell(h) for h in header])
    for row in rows:
        sheet.append([_xlsx_cell(v) for v in row])
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it
    workbook.save(handle)
    handle.seek(0)
    return FileResponse(handle, as_attachment=True, filename=filename, content_type=(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))


# --- participants ------------------------------------------------------------------------------


def _filtered_participants(request):
    contracts = Contract.objects.for_user(request.user).order_by("reference")
    form = ParticipantFilterForm(request.GET or None, contracts=contracts)
    participants = (Participant.objects.for_user(request.user)
                    .select_related("contract", "provider")
                    .annotate(claim_count=Count("claims")))
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if data["contract"]:
            participants = participants.filter(contract=data["contract"])
        if data["segment"]:
            participants = participants.filter(segment__iexact=data["segment"].strip())
        if data["status"] == "active":
            participants = participants.filter(leave_date__isnull=True)
        elif data["status"] == "left":
            participants = participants.filter(leave_date__isnull=False)
        if data["reference"]:
            participants = participants.filter(
                provider_reference__icontains=data["reference"].strip())
    return form, participants.order_by("contract__reference", "provider_reference", "pk")


@login_required
def participant_list(request):
    form, participants = _filtered_participants(request)
    page, query = paginate(request, participants, per_page=50)
    return render(request, "outcomes/participant_list.html", {
        "form": form, "page": page, "query": query,
        "show_provider": not request.user.is_provider,
    })


@login_required
def participant_export(request):
    _form, participants = _filtered_participants(request)
    header = ["contract", "provider", "participant_ref", "pseudonym", "segment", "start_date",
              "leave_date", "leave_reason", "claims"]
    rows = ([p.contract.reference, p.provider.name, p.provider_reference, p.pseudonym,
             p.segment, p.start_date, p.leave_date or "", p.leave_reason, p.claim_count]
            for p in participants.iterator(chunk_size=2000))
    return csv_response(f"participants-{timezone.localdate():%Y-%m-%d}.csv", header, rows)


def _day(value):
    return f"{value.day} {value:%B %Y}"


def _get_participant(request, participant_pk):
    return get_object_or_404(Participant.objects.for_user(request.user)
                             .select_related("contract", "provider"), pk=participant_pk)


def _participant_page(request, participant, *, leave_form=None, segment_form=None):
    can_change = bool(permissions.can_change_participant(request.user, participant))
    segments = services.contract_segments(participant.contract) if can_change else []
    claims = (participant.claims.select_related("return_record")
              .order_by("achieved", "return_record__version", "pk"))
    return render(request, "outcomes/participant_detail.html", {
        "participant": participant, "claims": claims,
        "events": participant.events.select_related("return_record").order_by("occurred", "pk"),
        "can_change": can_change, "segments": segments,
        "leave_form": leave_form or LeaveForm(initial={
            "leave_date": participant.leave_date, "leave_reason": participant.leave_reason}),
        "segment_form": segment_form or SegmentForm(segments=segments),
    })


@login_required
def participant_detail(request, participant_pk):
    return _participant_page(request, _get_participant(request, participant_pk))


@login_required
@require_POST
def participant_leave(request, participant_pk):
    participant = _get_participant(request, participant_pk)
    require(permissions.can_change_participant(request.user, participant))
    form = LeaveForm(request.POST)
    if form.is_valid():
        try:
            services.record_leave(participant, actor=request.user,
                                  leave_date=form.cleaned_data["leave_date"],
                                  reason=form.cleaned_data["leave_reason"])
        except services.ReturnError as exc:
            form.add_error("leave_date", str(exc))
        else:
            messages.success(request, f"{participant.provider_reference} recorded as having left "
                                      f"on {_day(form.cleaned_data['leave_date'])}.")
            return redirect("participant_detail", participant_pk=participant.pk)
    return _participant_page(request, participant, leave_form=form)


@login_required
@require_POST
def participant_segment(request, participant_pk):
    participant = _get_participant(request, participant_pk)
    require(permissions.can_change_participant(request.user, participant))
    segments = services.contract_segments(participant.contract)
    form = SegmentForm(request.POST, segments=segments)
    if form.is_valid():
        try:
            services.change_segment(participant, form.cleaned_data["segment"],
                                    actor=request.user, reason=form.cleaned_data["reason"])
        except services.ReturnError as exc:
            form.add_error("segment", str(exc))
        else:
            messages.success(request, f"{participant.provider_reference} moved to payment group "
                                      f"{form.cleaned_data['segment']}.")
            return redirect("participant_detail", participant_pk=participant.pk)
    return _participant_page(request, participant, segment_form=form)
