"""Dashboard pages: check permission, scope with for_user(), read the snapshots, render.

Every table can be downloaded as CSV or XLSX from its own page with
``?download=csv|xlsx&table=<slug>``: the same rows, all periods included.
"""

import hashlib

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods

from contracts.models import Contract
from outcomes.models import Return, ReturnStatus
from pbr.models import Job
from pbr.views import require

from . import pages, permissions, rules
from .models import DashboardSnapshot
from .tables import download

LATE_SHOWN = 10
CACHE_SECONDS = 3600


def _stamps(contracts):
    """Which figures each contract has: (snapshot id, contract id, worked out at, forecast at).
    A small query; the figures themselves are read only when the rendered tables for exactly
    these stamps are not cached."""
    return tuple(DashboardSnapshot.objects.filter(contract__in=contracts).order_by("contract_id")
                 .values_list("pk", "contract_id", "computed_at", "forecast_computed_at"))


def _cached_html(parts, build):
    """The tables drawn from snapshots, rendered once per set of figures. The key names every
    contract and snapshot version drawn from, so two people see the same HTML only when they
    may see exactly the same contracts and the figures have not changed since."""
    key = "dashboards:" + hashlib.sha256(repr(parts).encode()).hexdigest()
    html = cache.get(key)
    if html is None:
        html = build()
        cache.set(key, html, CACHE_SECONDS)
    return mark_safe(html)  # noqa: S308 - rendered by our own templates, autoescaped


def _late_returns(user, contracts):
    """Late returns of `contracts`, which the caller has already scoped to the user with
    Contract.objects.for_user (the commissioner sees every provider's returns on them)."""
    return Return.objects.filter(contract__in=[c.pk for c in contracts]).filter(
        Q(marked_late_on__isnull=False) | Q(status=ReturnStatus.LATE))


def _snapshots(contracts, with_detail=False):
    qs = DashboardSnapshot.objects.filter(contract__in=contracts)
    if not with_detail:
        qs = qs.defer("detail")
    return {s.contract_id: s for s in qs}


def _stale_note(stamps, contracts):
    have = {contract_id for _pk, contract_id, _at, _fc in stamps}
    missing = [c.reference for c in contracts if c.pk not in have]
    oldest = min((at for _pk, _cid, at, _fc in stamps), default=None)
    return {"missing": missing, "oldest": oldest}


def _commissioner_contracts(user):
    contracts = Contract.objects.for_user(user).order_by("reference")
    if not user.is_site_admin:
        contracts = contracts.filter(commissioner_id=user.organisation_id)
    return contracts


@login_required
def programme(request):
    user = request.user
    require(permissions.can_view_programme(user))
    today = timezone.localdate()
    contracts = list(_commissioner_contracts(user).select_related("commissioner"))
    late = _late_returns(user, contracts).select_related("contract", "provider") \
        .order_by("-due_date", "contract__reference")
    late_counts = {}
    for contract_id in late.values_list("contract_id", flat=True):
        late_counts[contract_id] = late_counts.get(contract_id, 0) + 1
    exporting = bool(request.GET.get("download"))
    late_table = pages.late_returns_table(late if exporting else late[:LATE_SHOWN], today)
    total_late = sum(late_counts.values())
    if total_late > LATE_SHOWN and not exporting:
        late_table.more = (f"Showing the {LATE_SHOWN} most recently due of {total_late} late "
                           f"returns; download the table for all of them.")

    def tables():
        return pages.programme_tables(contracts, _snapshots(contracts), late_counts, today)

    response = download(request, tables() + [late_table], "programme") if exporting else None
    if response is not None:
        return response
    stamps = _stamps(contracts)
    body = _cached_html(
        ("programme", [c.pk for c in contracts], stamps, sorted(late_counts.items()), today),
        lambda: render_to_string("dashboards/_programme_tables.html",
                                 {"tables": {t.slug: t for t in tables()}}))
    return render(request, "dashboards/programme.html", {
        "body": body, "late_table": late_table, "contracts": contracts,
        "freshness": _stale_note(stamps, contracts), "today": today,
    })


@login_required
def contract(request, contract_pk):
    user = request.user
    obj = get_object_or_404(Contract.objects.for_user(user), pk=contract_pk)
    require(permissions.can_view_contract_dashboard(user, obj))
    today = timezone.localdate()
    exporting = bool(request.GET.get("download"))
    show_all = request.GET.get("periods") == "all" or exporting
    late = _late_returns(user, [obj]).select_related("contract", "provider").order_by("-due_date")
    late_table = pages.late_returns_table(late, today)
    stamp = (DashboardSnapshot.objects.filter(contract=obj)
             .only("pk", "contract_id", "computed_at", "forecast_computed_at").first())

    def tables(snap):
        return pages.contract_tables(obj, snap, show_all) if snap else []

    if exporting:
        snap = DashboardSnapshot.objects.filter(contract=obj).first()
        response = download(request, tables(snap) + [late_table], obj.reference)
        if response is not None:
            return response

    def build():
        snap = DashboardSnapshot.objects.get(pk=stamp.pk)
        built = tables(snap)
        summary = snap.summary
        return render_to_string("dashboards/_contract_body.html", {
            "contract": obj, "snapshot": snap, "tables": {t.slug: t for t in built},
            "indicator_tables": [t for t in built if t.slug.startswith("indicator-")],
            "ledger": summary.get("ledger"), "liability": summary.get("liability"),
            "forecast": summary.get("forecast"),
            "awaiting": sum(summary.get("claims", {}).get("awaiting", {}).values()),
            "errors": summary.get("errors"), "show_all": show_all,
        })

    body = None
    if stamp is not None:
        body = _cached_html(("contract", obj.pk, stamp.pk, stamp.computed_at,
                             stamp.forecast_computed_at, show_all), build)
    return render(request, "dashboards/contract.html", {
        "contract": obj, "snapshot": stamp, "body": body, "late_table": late_table,
        "today": today,
    })


def _equity(request, contracts, prefix, template, extra):
    refs = {c.pk: c.reference for c in contracts}

    def tables():
        snapshots = _snapshots(contracts)
        return pages.equity_tables(
            {cid: s.summary for cid, s in sorted(snapshots.items(), key=lambda kv: refs[kv[0]])},
            refs)

    response = download(request, tables()[0], prefix) if request.GET.get("download") else None
    if response is not None:
        return response
    stamps = _stamps(contracts)

    def build():
        built, unattributed = tables()
        return render_to_string("dashboards/_equity_tables.html", {
            "tables": {t.slug: t for t in built}, "unattributed": unattributed,
            "contract": extra["contract"]})

    body = _cached_html(("equity", sorted(refs), stamps), build)
    return render(request, template, dict(extra, **{
        "body": body, "freshness": _stale_note(stamps, contracts),
        "parking_rule": rules.PARKING_RULE, "rates_rule": rules.RATES_RULE,
        "creaming_rule": rules.CREAMING_RULE,
    }))


@login_required
def equity(request):
    user = request.user
    require(permissions.can_view_programme(user))
    contracts = list(_commissioner_contracts(user))
    return _equity(request, contracts, "equity", "dashboards/equity.html",
                   {"contracts": contracts, "contract": None})


@login_required
def contract_equity(request, contract_pk):
    user = request.user
    obj = get_object_or_404(Contract.objects.for_user(user), pk=contract_pk)
    require(permissions.can_view_contract_dashboard(user, obj))
    return _equity(request, [obj], f"{obj.reference}-equity", "dashboards/equity.html",
                   {"contracts": [obj], "contract": obj})


@login_required
def provider(request):
    from outcomes.models import ClaimQuery, ClaimStatus
    from outcomes.reminders import deadlines_for

    user = request.user
    require(permissions.can_view_provider_dashboard(user))
    today = timezone.localdate()
    org_id = None if user.is_site_admin else user.organisation_id
    contracts = list(Contract.objects.for_user(user).order_by("reference"))
    snapshots = _snapshots(contracts)
    tables = pages.provider_tables(org_id, contracts, snapshots)
    queries = (ClaimQuery.objects.for_user(user)
               .filter(responded_at__isnull=True, claim__status=ClaimStatus.QUERIED)
               .select_related("claim__return_record__contract", "claim__participant")
               .order_by("due_date", "pk"))
    tables.append(pages.queries_table(queries, today))
    tables.append(pages.deadlines_table(deadlines_for(user, today), today))
    if (response := download(request, tables, "provider")) is not None:
        return response
    stamps = [(s.pk, s.contract_id, s.computed_at, s.forecast_computed_at)
              for s in snapshots.values()]
    return render(request, "dashboards/provider.html", {
        "tables": {t.slug: t for t in tables}, "contracts": contracts,
        "freshness": _stale_note(stamps, contracts), "today": today,
    })


@login_required
@require_http_methods(["GET", "POST"])
def refresh(request):
    """Work the figures out again now, in the background, with progress shown."""
    from .tasks import refresh_dashboards

    user = request.user
    require(permissions.can_refresh(user))
    contracts = list(_commissioner_contracts(user))
    if request.method == "POST":
        if not contracts:
            messages.info(request, "You have no contracts, so there are no figures to work out.")
            return redirect("dashboard_refresh")
        job = Job.objects.create(name="Dashboard figures", organisation=user.organisation,
                                 requested_by=user, total=len(contracts))
        refresh_dashboards.delay_on_commit([c.pk for c in contracts], False, job.pk)
        return redirect("job_detail", job_pk=job.pk)
    snapshots = _snapshots(contracts)
    return render(request, "dashboards/refresh.html", {
        "rows": [(c, snapshots.get(c.pk)) for c in contracts],
    })
