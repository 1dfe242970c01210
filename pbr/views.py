"""Web views for the core: role home pages, organisations, the audit log, jobs and API tokens.

Views are thin: check permission, scope with for_user(), call a service, render.
"""

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from . import permissions, services
from .csv_export import csv_response
from .forms import ApiTokenForm, AuditFilterForm
from .models import ApiToken, AuditEvent, Job, Organisation, Role, User

ROLE_HOMES = {
    Role.COMMISSIONER: "home_commissioner",
    Role.PROVIDER_USER: "home_provider",
    Role.PROVIDER_MANAGER: "home_provider",
    Role.AUDITOR: "home_auditor",
    Role.SITE_ADMIN: "home_site_admin",
}


def require(decision):
    """Turn a refused Decision into a 403 carrying its reason."""
    if not decision:
        raise PermissionDenied(decision.reason)


def paginate(request, queryset, per_page=25):
    paginator = Paginator(queryset, per_page)
    page = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()


@login_required
def home(request):
    user = request.user
    name = "home_site_admin" if user.is_site_admin else ROLE_HOMES.get(user.role)
    if name is None:
        raise PermissionDenied("Your account has no role yet. Ask a site administrator to set one.")
    return redirect(name)


def _role_home(request, allowed_roles, template, extra=None):
    user = request.user
    if not (user.role in allowed_roles or (Role.SITE_ADMIN in allowed_roles and user.is_site_admin)):
        raise PermissionDenied("This home page is for another role.")
    from contracts.models import Contract  # the core's pages list each app's objects

    contracts = Contract.objects.for_user(user).select_related("commissioner")
    context = {
        "contracts": contracts[:10],
        "contract_count": contracts.count(),
        "organisation": user.organisation,
        "colleagues": User.objects.for_user(user).filter(is_active=True).exclude(pk=user.pk)[:10],
        "recent_events": AuditEvent.objects.for_user(user).select_related("actor")[:5],
        "recent_jobs": Job.objects.for_user(user)[:5],
    }
    context.update(extra or {})
    return render(request, template, context)


@login_required
def home_commissioner(request):
    return _role_home(request, {Role.COMMISSIONER}, "pbr/home_commissioner.html")


@login_required
def home_provider(request):
    from django.utils import timezone

    from outcomes.reminders import deadlines_for  # returns due: the provider's monthly job

    tokens = ApiToken.objects.for_user(request.user).active()
    today = timezone.localdate()
    deadlines = [{"deadline": d, "label": d.label(today), "overdue": d.is_overdue(today)}
                 for d in deadlines_for(request.user, today)] if request.user.is_provider else []
    return _role_home(request, {Role.PROVIDER_USER, Role.PROVIDER_MANAGER},
                      "pbr/home_provider.html", {"active_tokens": tokens.count(),
                                                 "deadlines": deadlines})


@login_required
def home_auditor(request):
    from outcomes.models import ClaimStatus
    from outcomes.verification.queue import queue_for

    return _role_home(request, {Role.AUDITOR}, "pbr/home_auditor.html", {
        "allocated_to_me": queue_for(request.user, {"allocated": "me"}).count(),
        "unallocated": queue_for(request.user, {"allocated": "none"}).count(),
        "queries_waiting": queue_for(request.user, {"status": ClaimStatus.QUERIED}).count(),
    })


@login_required
def home_site_admin(request):
    return _role_home(request, {Role.SITE_ADMIN}, "pbr/home_site_admin.html", {
        "organisation_counts": services.organisation_counts(),
        "last_heartbeat": Job.objects.filter(name="heartbeat").first(),
    })


@login_required
def organisation_list(request):
    organisations = Organisation.objects.for_user(request.user)
    kind = request.GET.get("kind", "")
    if kind:
        organisations = organisations.filter(kind=kind)
    page, query = paginate(request, organisations)
    return render(request, "pbr/organisation_list.html", {
        "page": page, "query": query, "kind": kind,
        "kinds": Organisation._meta.get_field("kind").choices,
    })


@login_required
def organisation_detail(request, organisation_pk):
    organisation = get_object_or_404(Organisation.objects.for_user(request.user), pk=organisation_pk)
    members = User.objects.for_user(request.user).filter(organisation=organisation)
    return render(request, "pbr/organisation_detail.html", {
        "organisation": organisation, "members": members,
    })


def _filtered_events(request):
    require(permissions.can_view_audit_log(request.user))
    events = AuditEvent.objects.for_user(request.user).select_related("actor", "organisation")
    form = AuditFilterForm(request.GET or None)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if data.get("action"):
            events = events.filter(action__icontains=data["action"])
        if data.get("object_type"):
            events = events.filter(object_type__icontains=data["object_type"])
        if data.get("date_from"):
            events = events.filter(occurred_at__date__gte=data["date_from"])
        if data.get("date_to"):
            events = events.filter(occurred_at__date__lte=data["date_to"])
    return form, events


@login_required
def audit_event_list(request):
    form, events = _filtered_events(request)
    page, query = paginate(request, events, per_page=50)
    return render(request, "pbr/audit_event_list.html", {"form": form, "page": page, "query": query})


@login_required
def audit_event_export(request):
    _form, events = _filtered_events(request)
    rows = (
        [e.occurred_at.isoformat(), e.actor_label, e.organisation.name if e.organisation else "",
         e.action, e.object_type, e.object_id, e.object_repr, e.reason, e.request_id]
        for e in events.iterator()
    )
    header = ["occurred_at", "actor", "organisation", "action", "object_type", "object_id",
              "object", "reason", "request_id"]
    return csv_response(f"audit-log-{datetime.date.today():%Y-%m-%d}.csv", header, rows)


@login_required
def audit_event_detail(request, audit_event_pk):
    require(permissions.can_view_audit_log(request.user))
    event = get_object_or_404(AuditEvent.objects.for_user(request.user), pk=audit_event_pk)
    return render(request, "pbr/audit_event_detail.html", {"event": event})


@login_required
def job_list(request):
    require(permissions.can_view_jobs(request.user))
    page, query = paginate(request, Job.objects.for_user(request.user))
    return render(request, "pbr/job_list.html", {"page": page, "query": query})


@login_required
def job_detail(request, job_pk):
    require(permissions.can_view_jobs(request.user))
    job = get_object_or_404(Job.objects.for_user(request.user), pk=job_pk)
    # htmx polls the progress partial until the job has finished.
    template = "partials/job_progress.html" if request.htmx else "pbr/job_detail.html"
    return render(request, template, {"job": job})


@login_required
@require_http_methods(["GET", "POST"])
def api_token_list(request):
    user = request.user
    require(permissions.can_manage_api_tokens(user))
    new_key = None
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if user.organisation is None:
            form.add_error(None, "Site administrators issue tokens from an organisation's page "
                                 "in the admin site.")
        else:
            _token, new_key = services.issue_api_token(
                actor=user, organisation=user.organisation, name=form.cleaned_data["name"])
            form = ApiTokenForm()
    tokens = ApiToken.objects.for_user(user).select_related("created_by")
    page, query = paginate(request, tokens)
    return render(request, "pbr/api_token_list.html", {
        "form": form, "page": page, "query": query, "new_key": new_key,
    })


@login_required
@require_POST
def api_token_revoke(request, api_token_pk):
    token = get_object_or_404(ApiToken.objects.for_user(request.user), pk=api_token_pk)
    require(permissions.can_manage_api_tokens(request.user, token.organisation))
    if not token.is_active:
        raise Http404("This token has already been revoked.")
    services.revoke_api_token(actor=request.user, token=token)
    messages.success(request, f"Token “{token.name}” has been revoked. Systems using it will be "
                              "refused from now on.")
    return redirect(reverse("api_token_list"))
