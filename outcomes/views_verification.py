"""Verification pages: the auditor's work queue, the claim review page, samples, post-payment
checks, the policy, and the provider's claims in verification. Thin: scope, check, call one
service, render."""

from csp.constants import SELF
from csp.decorators import csp_replace
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_http_methods, require_POST

from contracts.models import Contract
from pbr import audit
from pbr.csv_export import csv_response
from pbr.views import paginate, require

from . import evidence as evidence_files
from .models import Claim, EvidenceFile
from .paging import NarrowSort
from .services import ReturnError, contract_periods_now
from .verification import forms, permissions, services
from .verification.explain import explain
from .verification.extrapolation import projected_recovery
from .verification.models import Sample, SampleItem, SampleKind, VerificationPolicy
from .verification.policy import get_policy
from .verification.queue import QUEUE_RELATED, provider_claims, queue_for, waiting_by_contract

INLINE_TYPES = {"application/pdf", "image/png", "image/jpeg"}
# The site-wide policy refuses frames (ADR 0016); the review page shows PDF evidence in an
# <iframe> served by verification_evidence below, so it alone may frame this site's pages.
shows_evidence_inline = csp_replace({"frame-src": [SELF]})


# --- the work queue -------------------------------------------------------------------------


@login_required
def verification_queue(request):
    require(permissions.can_use_queue(request.user))
    form = forms.QueueFilterForm(request.GET or None, user=request.user)
    claims = queue_for(request.user, form.params())
    # Sorted on ids, then one page of rows read with their joins (outcomes/paging.py).
    rows = Claim.objects.select_related(*QUEUE_RELATED)
    page, query = paginate(request, NarrowSort(claims.select_related(None), rows,
                                               page=request.GET.get("page"), per_page=25))
    return render(request, "verification/queue.html", {
        "form": form, "page": page, "query": query,
        "waiting": waiting_by_contract(request.user),
        "bulk_form": forms.BulkForm(), "filtered": bool(form.params()),
    })


@login_required
def verification_export(request):
    require(permissions.can_use_queue(request.user))
    form = forms.QueueFilterForm(request.GET or None, user=request.user)
    claims = queue_for(request.user, form.params())
    header = ["claim", "contract", "provider", "period", "participant", "outcome", "achieved",
              "status", "due", "allocated to", "selected because"]

    def rows():
        for c in claims.iterator(chunk_size=2000):
            review = c.review if permissions.has_review(c) else None
            yield [c.pk, c.return_record.contract.reference, c.return_record.provider.name,
                   c.return_record.period_id, c.participant.provider_reference, c.outcome,
                   c.achieved.isoformat(), c.get_status_display(),
                   review.due_date.isoformat() if review and review.due_date else "",
                   review.allocated_to.username if review and review.allocated_to_id else "",
                   "; ".join(r["text"] for r in review.reasons) if review else ""]
    return csv_response("verification-queue.csv", header, rows())


@login_required
@require_POST
def verification_bulk(request):
    require(permissions.can_use_queue(request.user))
    visible = Claim.objects.for_user(request.user).filter(
        pk__in=[v for v in request.POST.getlist("claims") if v.isdigit()])
    form = forms.BulkForm(request.POST, claim_ids=list(visible.values_list("pk", flat=True)))
    back = reverse("verification_queue") + (f"?{request.POST['query']}"
                                            if request.POST.get("query") else "")
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(back)
    data = form.cleaned_data
    results = services.bulk_decide(data["claims"], actor=request.user, decision=data["decision"],
                                   reason_code=data["reason_code"], note=data["note"])
    done = [pk for pk, refusal in results if refusal is None]
    refused = [(pk, refusal) for pk, refusal in results if refusal is not None]
    verb = "verified" if data["decision"] == "verify" else "rejected"
    if done:
        messages.success(request, f"{len(done)} claim{'s' if len(done) != 1 else ''} {verb}.")
    for pk, refusal in refused:
        messages.error(request, f"Claim {pk} was not {verb}: {refusal}")
    return redirect(back)


# --- the claim review page --------------------------------------------------------------------


def _claim(request, claim_pk):
    return get_object_or_404(
        Claim.objects.for_user(request.user).select_related(
            "return_record__contract", "return_record__provider", "participant"),
        pk=claim_pk)


ACTION_FORMS = {
    "select": forms.NoteForm, "start_review": None, "raise_query": forms.QueryForm,
    "respond": forms.RespondForm, "verify": forms.NoteForm, "reject": forms.RejectForm,
    "record_finding": forms.FindingForm, "appeal": forms.AppealForm,
    "decide_appeal": forms.DecideAppealForm,
}


def _allowed(user, claim):
    """action -> whether this user may do it to this claim now."""
    allowed = {a: bool(permissions.can_transition(user, claim, a))
               for a in permissions.TRANSITIONS if a != "accept"}
    upheld, dismissed = allowed.pop("uphold_appeal"), allowed.pop("dismiss_appeal")
    allowed["decide_appeal"] = upheld or dismissed
    return allowed


def _review_context(request, claim, bound=None):
    from .api_verification import claim_history

    allowed = _allowed(request.user, claim)
    contract = claim.return_record.contract
    action_forms = {}
    for name, form_class in ACTION_FORMS.items():
        if allowed.get(name) and form_class is not None:
            action_forms[name] = bound if bound and bound[0] == name else (name, form_class())
    evidence = list(claim.evidence_files.all())
    can_allocate = bool(permissions.can_verify_contract(request.user, contract)) \
        and claim.status in permissions.OPEN_STATUSES
    return {
        "claim": claim, "ret": claim.return_record, "contract": contract,
        "review": claim.review if permissions.has_review(claim) else None,
        "explanation": explain(claim), "allowed": allowed,
        "forms": {name: form for name, (_n, form) in action_forms.items()},
        "allocate_form": forms.AllocateForm(contract=contract) if can_allocate else None,
        "evidence": evidence, "inline": [e for e in evidence if e.content_type in INLINE_TYPES],
        "queries": claim.queries.select_related("raised_by", "responded_by")
        .prefetch_related("evidence"),
        "appeals": claim.appeals.select_related("lodged_by", "decided_by")
        .prefetch_related("evidence"),
        "history": claim_history(claim).select_related("actor"),
        "deadline": permissions.appeal_deadline(claim),
        "is_verifier": bool(permissions.can_verify_contract(request.user, contract)),
    }


@login_required
@shows_evidence_inline
def verification_claim(request, claim_pk):
    claim = _claim(request, claim_pk)
    return render(request, "verification/claim.html", _review_context(request, claim))


def _upload(request, form):
    """The optional new file and listed evidence numbers of a respond/appeal form."""
    files = services.evidence_for(request.user, [
        part for part in (form.cleaned_data.get("evidence") or "").replace(";", ",").split(",")
        if part.strip()])
    upload = form.cleaned_data.get("file")
    if upload is not None:
        try:
            files.append(evidence_files.store(
                upload, upload.name, organisation=request.user.organisation,
                uploaded_by=request.user,
                evidence_type=form.cleaned_data.get("evidence_type") or ""))
        except evidence_files.EvidenceRefused as exc:
            raise services.InputError(str(exc)) from exc
    return files


def _run(request, claim, name, form_class, call, success):
    """Validate the form, call the service, and show the page again with any problem."""
    form = form_class(request.POST, request.FILES) if form_class else None
    if form is not None and not form.is_valid():
        context = _review_context(request, claim, bound=(name, form))
        return render(request, "verification/claim.html", context, status=400)
    try:
        call(form.cleaned_data if form is not None else {}, form)
    except services.VerificationError as exc:
        if form is None:
            messages.error(request, str(exc))
            return redirect("verification_claim", claim_pk=claim.pk)
        form.add_error(None, str(exc))
        context = _review_context(request, claim, bound=(name, form))
        return render(request, "verification/claim.html", context, status=400)
    messages.success(request, success)
    return redirect("verification_claim", claim_pk=claim.pk)


def _transition_view(name, form_class, call, success):
    @login_required
    @require_POST
    @shows_evidence_inline  # a refused form shows the review page again
    def view(request, claim_pk):
        claim = _claim(request, claim_pk)
        check = "uphold_appeal" if name == "decide_appeal" else name
        require(permissions.can_act(request.user, claim, check))
        return _run(request, claim, name, form_class,
                    lambda data, form: call(request, claim, data, form), success)
    view.__name__ = f"verification_{name}"
    return view


verification_select = _transition_view(
    "select", forms.NoteForm,
    lambda r, c, d, f: services.select_claim(c, actor=r.user, note=d["note"]),
    "Claim selected for verification.")
verification_start_review = _transition_view(
    "start_review", None, lambda r, c, d, f: services.start_review(c, actor=r.user),
    "You are reviewing this claim.")
verification_query = _transition_view(
    "raise_query", forms.QueryForm,
    lambda r, c, d, f: services.raise_query(c, actor=r.user, text=d["text"]),
    "Query sent to the provider.")
verification_respond = _transition_view(
    "respond", forms.RespondForm,
    lambda r, c, d, f: services.respond_to_query(c, actor=r.user, text=d["text"],
                                                 evidence=_upload(r, f)),
    "Your answer has been sent to the auditor.")
verification_verify = _transition_view(
    "verify", forms.NoteForm,
    lambda r, c, d, f: services.verify_claim(c, actor=r.user, note=d["note"]),
    "Claim verified.")
verification_reject = _transition_view(
    "reject", forms.RejectForm,
    lambda r, c, d, f: services.reject_claim(c, actor=r.user, reason_code=d["reason_code"],
                                             note=d["note"]),
    "Claim rejected.")
verification_finding = _transition_view(
    "record_finding", forms.FindingForm,
    lambda r, c, d, f: services.record_finding(c, actor=r.user, reason_code=d["reason_code"],
                                               note=d["note"]),
    "Finding recorded: the next payment run recovers what was paid.")
verification_appeal = _transition_view(
    "appeal", forms.AppealForm,
    lambda r, c, d, f: services.appeal_claim(c, actor=r.user, grounds=d["grounds"],
                                             evidence=_upload(r, f)),
    "Appeal lodged. A commissioner will decide it.")
verification_decide_appeal = _transition_view(
    "decide_appeal", forms.DecideAppealForm,
    lambda r, c, d, f: services.decide_appeal(c, actor=r.user, upheld=d["upheld"],
                                              note=d["note"]),
    "Appeal decided.")


@login_required
@require_POST
def verification_allocate(request, claim_pk):
    claim = _claim(request, claim_pk)
    contract = claim.return_record.contract
    require(permissions.can_verify_contract(request.user, contract))
    form = forms.AllocateForm(request.POST, contract=contract)
    if not form.is_valid():
        messages.error(request, "Choose who to allocate the claim to.")
        return redirect("verification_claim", claim_pk=claim.pk)
    try:
        services.allocate(claim, actor=request.user, assignee=form.chosen_person())
    except services.VerificationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Allocated to {form.chosen_person().display_name}.")
    return redirect("verification_claim", claim_pk=claim.pk)


@login_required
@xframe_options_sameorigin
def verification_evidence(request, evidence_file_pk):
    """A PDF or image shown inside the review page. The same scope as the download view (a
    file is visible only through a claim the user can see); other types are downloaded."""
    evidence = get_object_or_404(EvidenceFile.objects.for_user(request.user),
                                 pk=evidence_file_pk)
    if evidence.content_type not in INLINE_TYPES:
        return redirect("evidence_download", evidence_file_pk=evidence.pk)
    try:
        handle = evidence_files.open_stored(evidence)
    except FileNotFoundError:
        raise Http404("The stored file is missing.") from None
    audit.record("evidence.viewed", actor=request.user, obj=evidence)
    response = FileResponse(handle, as_attachment=False, filename=evidence.original_name,
                            content_type=evidence.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    # Evidence is checked on upload (no scripts, no active PDF content); this keeps it inert
    # (no scripts) and framable only by this site. Chromium's PDF viewer fetches the document
    # again and embeds it, so it needs connect-src and object-src 'self' to render it.
    response["Content-Security-Policy"] = ("default-src 'none'; connect-src 'self'; "
                                           "img-src 'self'; object-src 'self'; "
                                           "frame-ancestors 'self'")
    response["Cache-Control"] = "private, no-store"
    return response


# --- the provider's side ------------------------------------------------------------------------


@login_required
def verification_provider(request):
    require(permissions.can_see_own_claims(request.user))
    form = forms.ProviderFilterForm(request.GET or None)
    claims = provider_claims(request.user, form.params())
    page, query = paginate(request, claims)
    with_policy = set(VerificationPolicy.objects.filter(
        contract_id__in={c.return_record.contract_id for c in page.object_list})
        .values_list("contract_id", flat=True))
    rows = [{"claim": c, "explanation": explain(
        c, has_policy=c.return_record.contract_id in with_policy)} for c in page.object_list]
    return render(request, "verification/provider.html", {
        "form": form, "page": page, "query": query, "rows": rows,
        "filtered": bool(form.params()),
    })


# --- samples and post-payment checks --------------------------------------------------------------


def _contract(request, contract_pk):
    return get_object_or_404(Contract.objects.for_user(request.user), pk=contract_pk)


def _period_ids(contract):
    try:
        return [p.id for p in contract_periods_now(contract)]
    except ReturnError:
        return []


@login_required
def verification_samples(request):
    require(permissions.can_use_queue(request.user))
    samples = Sample.objects.for_user(request.user).select_related("contract", "drawn_by")
    kind = request.GET.get("kind", "")
    if kind in SampleKind.values:
        samples = samples.filter(kind=kind)
    page, query = paginate(request, samples)
    return render(request, "verification/samples.html", {
        "page": page, "query": query, "kind": kind, "kinds": SampleKind.choices})


@login_required
@require_http_methods(["GET", "POST"])
def verification_draw(request, contract_pk):
    contract = _contract(request, contract_pk)
    require(permissions.can_draw_sample(request.user, contract))
    waiting = services.waiting_to_be_sampled(contract)
    periods = sorted(set(waiting.values_list("return_record__period_id", flat=True)))
    form = forms.DrawSampleForm(request.POST or None, periods=periods)
    if request.method == "POST" and form.is_valid():
        try:
            sample = services.draw_sample(contract, actor=request.user,
                                          period_id=form.cleaned_data["period_id"] or None,
                                          seed=form.cleaned_data["seed"])
        except services.VerificationError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Sample {sample.reference} drawn: {sample.sample_size} of "
                                      f"{sample.population_count} claims selected for "
                                      "verification; the rest accepted without review.")
            return redirect("verification_sample", sample_pk=sample.pk)
    return render(request, "verification/draw.html", {
        "contract": contract, "form": form, "waiting": waiting.count(),
        "policy": get_policy(contract)})


@login_required
@require_http_methods(["GET", "POST"])
def verification_check(request, contract_pk):
    contract = _contract(request, contract_pk)
    require(permissions.can_draw_sample(request.user, contract))
    form = forms.DrawCheckForm(request.POST or None, periods=_period_ids(contract))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            sample = services.draw_check(contract, actor=request.user,
                                         period_from=data["period_from"],
                                         period_to=data["period_to"], outcome=data["outcome"],
                                         size=data["size"], seed=data["seed"])
        except services.VerificationError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Post-payment check {sample.reference} drawn: "
                                      f"{sample.sample_size} of {sample.population_count} paid "
                                      "claims to check.")
            return redirect("verification_sample", sample_pk=sample.pk)
    return render(request, "verification/check.html", {"contract": contract, "form": form})


def _sample(request, sample_pk):
    return get_object_or_404(Sample.objects.for_user(request.user).select_related("contract"),
                             pk=sample_pk)


@login_required
def verification_sample(request, sample_pk):
    sample = _sample(request, sample_pk)
    items = sample.items.select_related("claim__participant", "claim__return_record__provider",
                                        "decided_by")
    if request.user.is_provider:
        items = items.filter(claim__return_record__provider_id=request.user.organisation_id)
    page, query = paginate(request, items, per_page=50)
    reproduced, same = services.reproduce_sample(sample)
    is_verifier = bool(permissions.can_verify_contract(request.user, sample.contract))
    return render(request, "verification/sample.html", {
        "sample": sample, "page": page, "query": query, "same": same,
        "reproduced_count": len(reproduced), "is_verifier": is_verifier,
        "can_close": is_verifier and bool(permissions.can_close_sample(request.user, sample))
        and sample.kind == SampleKind.CHECK,
        "finding_form": forms.SampleFindingForm(), "close_form": forms.CloseSampleForm(),
        "recovery": projected_recovery(sample) if sample.kind == SampleKind.CHECK else None,
        "rates": [{"provider": pid, **rate} for pid, rate in sample.rates.items()],
    })


@login_required
def verification_sample_export(request, sample_pk):
    sample = _sample(request, sample_pk)
    items = sample.items.select_related("claim__participant", "claim__return_record__provider")
    if request.user.is_provider:
        items = items.filter(claim__return_record__provider_id=request.user.organisation_id)
    header = ["sample", "seed", "claim", "provider", "participant", "outcome", "achieved",
              "selected because", "finding", "reason", "note"]
    rows = ([sample.reference, str(sample.seed), i.claim_id, i.claim.return_record.provider.name,
             i.claim.participant.provider_reference, i.claim.outcome,
             i.claim.achieved.isoformat(), "; ".join(r["text"] for r in i.reasons),
             i.get_finding_display() if sample.kind == SampleKind.CHECK else
             i.claim.get_status_display(), i.get_reason_code_display(), i.note] for i in items)
    return csv_response(f"sample-{sample.reference}.csv", header, rows)


@login_required
@require_POST
def verification_sample_finding(request, sample_item_pk):
    item = get_object_or_404(SampleItem.objects.for_user(request.user).select_related(
        "sample__contract", "claim__return_record"), pk=sample_item_pk)
    require(permissions.can_verify_contract(request.user, item.sample.contract))
    form = forms.SampleFindingForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Claim {item.claim_id}: choose the finding.")
    else:
        try:
            services.record_sample_finding(item, actor=request.user, **form.cleaned_data)
        except services.VerificationError as exc:
            messages.error(request, f"Claim {item.claim_id}: {exc}")
        else:
            messages.success(request, f"Finding recorded for claim {item.claim_id}.")
    return redirect(reverse("verification_sample", args=[item.sample_id])
                    + f"#item-{item.pk}")


@login_required
@require_POST
def verification_sample_close(request, sample_pk):
    sample = _sample(request, sample_pk)
    require(permissions.can_verify_contract(request.user, sample.contract))
    form = forms.CloseSampleForm(request.POST)
    form.is_valid()
    try:
        sample = services.close_sample(sample, actor=request.user,
                                       recovery_period=form.cleaned_data.get("recovery_period"))
    except services.VerificationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{sample.reference} closed: {sample.errors} of "
                                  f"{sample.sample_size} could not be verified. The recovery is "
                                  f"on the {sample.recovery_period} statement.")
    return redirect("verification_sample", sample_pk=sample.pk)


# --- policy ---------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def verification_policy(request, contract_pk):
    contract = _contract(request, contract_pk)
    # Providers do not see the sampling rules: knowing the thresholds would let a claim avoid them.
    require(permissions.can_verify_contract(request.user, contract))
    can_edit = bool(permissions.can_edit_policy(request.user, contract))
    policy = get_policy(contract)
    instance = policy or VerificationPolicy(contract=contract)
    form = forms.PolicyForm(request.POST or None, instance=instance)
    if request.method == "POST":
        require(permissions.can_edit_policy(request.user, contract))
        if form.is_valid():
            try:
                services.save_policy(contract, actor=request.user, values={
                    name: form.cleaned_data[name] for name in VerificationPolicy.SNAPSHOT_FIELDS})
            except services.VerificationError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Verification policy for {contract.reference} saved. "
                                          "It applies to samples drawn from now on.")
                return redirect("verification_policy", contract_pk=contract.pk)
    return render(request, "verification/policy.html", {
        "contract": contract, "form": form, "policy": policy, "can_edit": can_edit})
