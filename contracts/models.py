"""Contracts and their versioned terms.

The terms themselves are the contract definition document (format v1, `contracts/definition/`),
stored canonically as JSON on a TermsVersion. A published version never changes; a variation is a
new version with a reason, an approver and an effective date (ADR 0004).
"""

import hashlib
import json
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from pbr.models import Organisation, is_signed_in


class ContractStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    LIVE = "live", "Live"
    ENDED = "ended", "Ended"
    TERMINATED = "terminated", "Terminated"


class PartyRole(models.TextChoices):
    FUNDER = "funder", "Funder"
    PRIME = "prime", "Prime provider"
    SUBCONTRACTOR = "subcontractor", "Subcontractor"
    AUDITOR = "auditor", "Auditor"


class ContractQuerySet(models.QuerySet):
    def for_user(self, user):
        """Contracts a user may see: their organisation owns, funds, delivers or audits it."""
        if not is_signed_in(user):
            return self.none()
        if user.is_site_admin:
            return self
        if user.organisation_id is None:
            return self.none()
        org = user.organisation_id
        return self.filter(Q(commissioner_id=org) | Q(parties__organisation_id=org)).distinct()


class Contract(models.Model):
    reference = models.CharField(max_length=64, unique=True)
    title = models.CharField(max_length=300)
    commissioner = models.ForeignKey(Organisation, on_delete=models.PROTECT,
                                     related_name="commissioned_contracts",
                                     help_text="The commissioning body that manages the contract.")
    status = models.CharField(max_length=16, choices=ContractStatus.choices,
                              default=ContractStatus.DRAFT)
    start = models.DateField()
    end = models.DateField()
    annual_value = models.DecimalField(max_digits=14, decimal_places=2)
    maximum_value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ContractQuerySet.as_manager()

    class Meta:
        ordering = ["reference"]

    def __str__(self):
        return f"{self.reference}: {self.title}"

    def current_version(self):
        return self.versions.order_by("-number").first()

    def published_versions(self):
        return self.versions.filter(status=TermsStatus.PUBLISHED).order_by("effective_from", "number")

    def terms_on(self, day):
        """The published terms in force on a day: the latest version effective on or before it."""
        return (self.versions.filter(status=TermsStatus.PUBLISHED, effective_from__lte=day)
                .order_by("-effective_from", "-number").first())


class ContractParty(models.Model):
    """A party named in the definition, linked to an organisation on this service when known."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="parties")
    role = models.CharField(max_length=16, choices=PartyRole.choices)
    code = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=200)
    organisation = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="contract_parties")
    share_pct = models.DecimalField(max_digits=7, decimal_places=4, null=True, blank=True)

    class Meta:
        ordering = ["role", "name"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "role", "name"], name="unique_party_per_role"),
        ]

    def __str__(self):
        return f"{self.get_role_display()}: {self.name}"


class TermsStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


class TermsImmutableError(Exception):
    pass


class TermsVersionQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(contract__in=Contract.objects.for_user(user))


def canonical_json(document):
    return json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)


class TermsVersion(models.Model):
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=TermsStatus.choices, default=TermsStatus.DRAFT)
    effective_from = models.DateField()
    format_version = models.PositiveIntegerField(default=1)
    document = models.JSONField(help_text="The contract definition, canonical form (format v1).")
    document_sha256 = models.CharField(max_length=64)
    reason = models.TextField(blank=True, help_text="Why this version exists (required for variations).")
    created_by = models.ForeignKey("pbr.User", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey("pbr.User", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    published_at = models.DateTimeField(null=True, blank=True)
    supersedes = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="superseded_by")

    objects = TermsVersionQuerySet.as_manager()

    class Meta:
        ordering = ["contract", "number"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "number"], name="unique_version_number"),
        ]

    def __str__(self):
        return f"{self.contract.reference} v{self.number} ({self.get_status_display()})"

    def save(self, *args, **kwargs):
        self.document_sha256 = hashlib.sha256(canonical_json(self.document).encode()).hexdigest()
        if self.pk is not None:
            stored = TermsVersion.objects.filter(pk=self.pk).values(
                "status", "document_sha256", "effective_from").first()
            if stored and stored["status"] == TermsStatus.PUBLISHED and (
                    stored["document_sha256"] != self.document_sha256
                    or stored["effective_from"] != self.effective_from
                    or self.status != TermsStatus.PUBLISHED):
                raise TermsImmutableError(
                    "A published terms version cannot be changed; vary the contract instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.status == TermsStatus.PUBLISHED:
            raise TermsImmutableError("A published terms version cannot be deleted.")
        return super().delete(*args, **kwargs)

    def clean(self):
        if self.document is not None:
            self.document_sha256 = hashlib.sha256(canonical_json(self.document).encode()).hexdigest()

    def definition(self):
        """The parsed ContractDefinition (pure dataclasses) for the engine and the summary."""
        from contracts.definition import parse

        return parse(self.document)


def decimal_or_none(value):
    return None if value in (None, "") else Decimal(str(value))


def validate_share_total(parties):
    total = sum((p.share_pct or 0) for p in parties if p.role == PartyRole.FUNDER)
    if parties and total != 100:
        raise ValidationError(f"Funder shares add up to {total}%, not 100%.")
