"""Navigation by role: each role sees the sections it can use."""

from django.urls import reverse

from .mfa import needs_code
from .models import Role


def navigation_for(user):
    if not getattr(user, "is_authenticated", False):
        return []
    items = [("Home", reverse("home")), ("Contracts", reverse("contract_list")),
             ("Returns", reverse("return_list"))]
    if user.role == Role.COMMISSIONER or user.is_site_admin:
        items.append(("Dashboards", reverse("dashboard_programme")))
    elif user.role in (Role.PROVIDER_USER, Role.PROVIDER_MANAGER):
        items.append(("Dashboard", reverse("dashboard_provider")))
    if user.role in (Role.AUDITOR, Role.COMMISSIONER):
        items.append(("Verification", reverse("verification_queue")))
    elif user.role in (Role.PROVIDER_USER, Role.PROVIDER_MANAGER):
        items.append(("Claims in verification", reverse("verification_provider")))
    if user.role in (Role.COMMISSIONER, Role.PROVIDER_USER, Role.PROVIDER_MANAGER):
        items.append(("Forecasts", reverse("forecast_list")))
    if user.role == Role.PROVIDER_MANAGER or user.is_site_admin:
        items.append(("API tokens", reverse("api_token_list")))
    items.append(("Audit log", reverse("audit_event_list")))
    items.append(("Background jobs", reverse("job_list")))
    if user.is_site_admin:
        items.append(("Organisations", reverse("organisation_list")))
        items.append(("Admin", reverse("admin:index")))
    else:
        items.append(("My organisation", reverse("organisation_list")))
    items.append(("API", reverse("api-docs")))
    return items


def navigation(request):
    user = getattr(request, "user", None)
    if user is not None and getattr(request, "session", None) is not None and needs_code(request):
        # Half signed in: every link would lead back to the code page (pbr.mfa's middleware).
        return {"navigation_items": []}
    current = request.path
    items = []
    for label, url in navigation_for(user):
        active = current == url or (url != "/" and current.startswith(url))
        items.append({"label": label, "url": url, "active": active})
    return {"navigation_items": items}
