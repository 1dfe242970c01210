"""Core API routes. Every queryset is scoped with for_user(): another organisation's object is 404."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, viewsets

from ..models import AuditEvent, Job, Organisation
from .serializers import AuditEventSerializer, JobSerializer, MeSerializer, OrganisationSerializer


class MeView(generics.RetrieveAPIView):
    serializer_class = MeSerializer

    @extend_schema(summary="The signed-in user or the token's user, with role and organisation")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_object(self):
        return self.request.user


class OrganisationViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = OrganisationSerializer
    lookup_url_kwarg = "organisation_pk"

    def get_queryset(self):
        return Organisation.objects.for_user(self.request.user)


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = AuditEventSerializer
    lookup_url_kwarg = "audit_event_pk"

    def get_queryset(self):
        return AuditEvent.objects.for_user(self.request.user).select_related("organisation")


class JobViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = JobSerializer
    lookup_url_kwarg = "job_pk"

    def get_queryset(self):
        return Job.objects.for_user(self.request.user)
