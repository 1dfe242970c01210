from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter(use_regex_path=False)
router.register("organisations", views.OrganisationViewSet, basename="api-organisation")
router.register("audit-events", views.AuditEventViewSet, basename="api-audit-event")
router.register("jobs", views.JobViewSet, basename="api-job")

urlpatterns = [
    path("me/", views.MeView.as_view(), name="api-me"),
    *router.urls,
]
