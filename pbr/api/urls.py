from django.urls import path
from rest_framework.routers import SimpleRouter

from contracts.api import ContractViewSet
from payments.api import PaymentRunViewSet, RunPeriodView

from . import views

router = SimpleRouter(use_regex_path=False)
router.register("organisations", views.OrganisationViewSet, basename="api-organisation")
router.register("audit-events", views.AuditEventViewSet, basename="api-audit-event")
router.register("jobs", views.JobViewSet, basename="api-job")
router.register("payment-runs", PaymentRunViewSet, basename="api-payment-run")
router.register("contracts", ContractViewSet, basename="api-contract")

urlpatterns = [
    path("me/", views.MeView.as_view(), name="api-me"),
    path("contracts/<int:contract_pk>/run-period/", RunPeriodView.as_view(), name="api-run-period"),
    *router.urls,
]
