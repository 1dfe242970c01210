from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import mfa_views, views
from .forms_auth import (
    GovukAuthenticationForm,
    GovukPasswordChangeForm,
    GovukPasswordResetForm,
    GovukSetPasswordForm,
)

auth_patterns = [
    path("sign-in/", auth_views.LoginView.as_view(
        authentication_form=GovukAuthenticationForm, redirect_authenticated_user=True),
        name="login"),
    path("sign-out/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", auth_views.PasswordResetView.as_view(form_class=GovukPasswordResetForm),
         name="password_reset"),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(),
         name="password_reset_done"),
    path("password-reset/<uidb64>/<token>/",
         auth_views.PasswordResetConfirmView.as_view(form_class=GovukSetPasswordForm),
         name="password_reset_confirm"),
    path("password-reset/complete/", auth_views.PasswordResetCompleteView.as_view(),
         name="password_reset_complete"),
    path("password-change/", auth_views.PasswordChangeView.as_view(
        form_class=GovukPasswordChangeForm), name="password_change"),
    path("password-change/done/", auth_views.PasswordChangeDoneView.as_view(),
         name="password_change_done"),
    # Two-factor authentication (ADR 0015).
    path("two-factor/", mfa_views.mfa_account, name="mfa_account"),
    path("two-factor/code/", mfa_views.mfa_verify, name="mfa_verify"),
    path("two-factor/set-up/", mfa_views.mfa_setup, name="mfa_setup"),
    path("two-factor/turn-off/", mfa_views.mfa_turn_off, name="mfa_turn_off"),
    path("two-factor/reset/<int:user_pk>/", mfa_views.mfa_reset, name="mfa_reset"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("commissioner/", views.home_commissioner, name="home_commissioner"),
    path("provider/", views.home_provider, name="home_provider"),
    path("auditor/", views.home_auditor, name="home_auditor"),
    path("site-admin/", views.home_site_admin, name="home_site_admin"),
    path("account/", include(auth_patterns)),
    path("account/api-tokens/", views.api_token_list, name="api_token_list"),
    path("account/api-tokens/<int:api_token_pk>/revoke/", views.api_token_revoke,
         name="api_token_revoke"),
    path("organisations/", views.organisation_list, name="organisation_list"),
    path("organisations/<int:organisation_pk>/", views.organisation_detail,
         name="organisation_detail"),
    path("audit-log/", views.audit_event_list, name="audit_event_list"),
    path("audit-log/export.csv", views.audit_event_export, name="audit_event_export"),
    path("audit-log/<int:audit_event_pk>/", views.audit_event_detail, name="audit_event_detail"),
    path("jobs/", views.job_list, name="job_list"),
    path("jobs/<int:job_pk>/", views.job_detail, name="job_detail"),
    path("contracts/", include("contracts.urls")),
    path("returns/", include("outcomes.urls")),
    path("verification/", include("outcomes.verification.urls")),
    path("payments/", include("payments.urls")),
    path("dashboards/", include("pbr.dashboards.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("outcomes.api")),
    path("api/v1/", include("outcomes.api_verification")),
    path("api/v1/", include("payments.api")),
    path("api/v1/", include("pbr.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up code as a script file (no inline script);
    # Swagger UI's stylesheet draws its icons from data: URLs (ADR 0016).
    path("api/docs/", csp_update({"img-src": ["data:"]})(
        SpectacularSwaggerSplitView.as_view(url_name="api-schema")), name="api-docs"),
]

handler404 = "pbr.errors.not_found"
handler403 = "pbr.errors.forbidden"
handler500 = "pbr.errors.server_error"
