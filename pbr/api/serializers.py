from rest_framework import serializers

from ..models import AuditEvent, Job, Organisation, User


class OrganisationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organisation
        fields = ["id", "name", "slug", "kind", "companies_house_number", "charity_number",
                  "is_active"]


class MeSerializer(serializers.ModelSerializer):
    organisation = OrganisationSerializer(read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name", "email", "role", "organisation"]


class AuditEventSerializer(serializers.ModelSerializer):
    organisation = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = AuditEvent
        fields = ["id", "occurred_at", "actor_label", "organisation", "action", "object_type",
                  "object_id", "object_repr", "before", "after", "reason", "request_id"]


class JobSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = Job
        fields = ["id", "uuid", "name", "status", "progress", "total", "percent", "message",
                  "created_at", "started_at", "finished_at"]
