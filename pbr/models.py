"""Cross-cutting core: organisations, users and roles, API tokens, the audit log, job progress."""

import hashlib
import secrets
import uuid

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone


class OrganisationKind(models.TextChoices):
    COMMISSIONING_BODY = "commissioning_body", "Commissioning body"
    PROVIDER = "provider", "Provider"
    AUDIT_BODY = "audit_body", "Audit body"


class Role(models.TextChoices):
    COMMISSIONER = "commissioner", "Commissioner"
    PROVIDER_USER = "provider_user", "Provider user"
    PROVIDER_MANAGER = "provider_manager", "Provider manager"
    AUDITOR = "auditor", "Auditor"
    SITE_ADMIN = "site_admin", "Site administrator"


# Which organisation kind each role belongs to. A site admin belongs to no organisation.
ROLE_ORGANISATION_KIND = {
    Role.COMMISSIONER: OrganisationKind.COMMISSIONING_BODY,
    Role.PROVIDER_USER: OrganisationKind.PROVIDER,
    Role.PROVIDER_MANAGER: OrganisationKind.PROVIDER,
    Role.AUDITOR: OrganisationKind.AUDIT_BODY,
}


def is_signed_in(user):
    """True for an authenticated, active user: the first test of every scope and permission."""
    return bool(getattr(user, "is_authenticated", False) and user.is_active)


def scope_to_organisation(queryset, user, field="organisation_id"):
    """The one organisation scope: a site admin sees all; a member sees rows whose `field` is
    their organisation; anyone else, nothing."""
    if not is_signed_in(user):
        return queryset.none()
    if user.is_site_admin:
        return queryset
    if user.organisation_id is None:
        return queryset.none()
    return queryset.filter(**{field: user.organisation_id})


class OrganisationQuerySet(models.QuerySet):
    def for_user(self, user):
        """Organisations the user may see: their own; a site admin sees all."""
        return scope_to_organisation(self, user, "pk")


class Organisation(models.Model):
    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    kind = models.CharField(max_length=32, choices=OrganisationKind.choices)
    # Public-sector identifiers help finance exports match suppliers; optional.
    companies_house_number = models.CharField(max_length=16, blank=True)
    charity_number = models.CharField(max_length=16, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrganisationQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class UserQuerySet(models.QuerySet):
    def for_user(self, user):
        """Users the user may see: colleagues in their organisation; a site admin sees all."""
        if not is_signed_in(user):
            return self.none()
        if user.is_site_admin:
            return self
        if user.organisation_id is None:
            return self.filter(pk=user.pk)
        return self.filter(organisation_id=user.organisation_id)


class PbrUserManager(UserManager.from_queryset(UserQuerySet)):
    pass


class User(AbstractUser):
    """A person. Each belongs to one organisation with one role (ADR 0002)."""

    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    role = models.CharField(max_length=32, choices=Role.choices)

    objects = PbrUserManager()

    class Meta:
        ordering = ["username"]

    def clean(self):
        super().clean()
        expected = ROLE_ORGANISATION_KIND.get(self.role)
        if self.role == Role.SITE_ADMIN:
            return
        if self.organisation_id is None:
            raise ValidationError({"organisation": "Choose the organisation this person works for."})
        if expected and self.organisation.kind != expected:
            raise ValidationError({
                "role": f"A {self.get_role_display().lower()} must belong to a "
                f"{OrganisationKind(expected).label.lower()}, not a "
                f"{self.organisation.get_kind_display().lower()}.",
            })

    @property
    def is_site_admin(self):
        return self.role == Role.SITE_ADMIN or self.is_superuser

    @property
    def is_commissioner(self):
        return self.role == Role.COMMISSIONER

    @property
    def is_provider(self):
        return self.role in (Role.PROVIDER_USER, Role.PROVIDER_MANAGER)

    @property
    def is_provider_manager(self):
        return self.role == Role.PROVIDER_MANAGER

    @property
    def is_auditor(self):
        return self.role == Role.AUDITOR

    def display_name(self):
        return self.get_full_name() or self.username


class ApiTokenQuerySet(models.QuerySet):
    def for_user(self, user):
        return scope_to_organisation(self, user)

    def active(self):
        return self.filter(revoked_at__isnull=True)


def hash_token_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    """An organisation's key for its case system. Only a hash of the key is stored.

    A request with the token acts as the person who created it, so it can never do more than
    they can, and stops working when they leave (ADR 0002).
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=8, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def generate_key() -> str:
        return secrets.token_urlsafe(32)

    @property
    def is_active(self):
        return self.revoked_at is None


class AuditImmutableError(Exception):
    """Raised on any attempt to change or delete an audit event."""


class AuditEventQuerySet(models.QuerySet):
    def for_user(self, user):
        return scope_to_organisation(self, user)

    def update(self, **kwargs):
        raise AuditImmutableError("Audit events are append-only; they cannot be updated.")

    def delete(self):
        raise AuditImmutableError("Audit events are append-only; they cannot be deleted.")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AuditImmutableError("Audit events are append-only; they cannot be updated.")


class AuditEvent(models.Model):
    """One thing that happened. Written only by pbr.audit.record(); never changed afterwards.

    On PostgreSQL a trigger also refuses UPDATE and DELETE (migration 0002).
    """

    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    actor_label = models.CharField(max_length=200, blank=True)
    organisation = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    action = models.CharField(max_length=100, db_index=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=300, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self):
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.action} {self.object_repr}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditImmutableError("Audit events are append-only; they cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditImmutableError("Audit events are append-only; they cannot be deleted.")


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class JobQuerySet(models.QuerySet):
    def for_user(self, user):
        return scope_to_organisation(self, user)


class Job(models.Model):
    """Progress of a background task, so the UI can show it and nothing lives only in Celery."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100)
    organisation = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="jobs")
    requested_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.get_status_display()})"

    @property
    def percent(self):
        if not self.total:
            return 100 if self.status == JobStatus.SUCCEEDED else 0
        return min(100, round(100 * self.progress / self.total))


# The dashboards' snapshot table lives in its own package; importing it registers it here.
from .dashboards.models import DashboardSnapshot  # noqa: E402, F401
