"""Participants, returns, claims, indicator returns and evidence files.

Every model has a QuerySet with ``for_user(user)``: a provider sees its own organisation's rows,
the commissioner who manages the contract and the contract's auditor see the contract's rows, a
site admin sees everything and anyone else nothing.
"""

import hashlib
import hmac
import re

from django.conf import settings
from django.db import models
from django.db.models import Q

from contracts.models import Contract, PartyRole
from pbr.models import Organisation, Role
from pbr.models import is_signed_in as _active


def contract_scope(user, prefix="contract__"):
    """Q for rows whose contract the user's organisation manages or audits; None = no rows."""
    org = user.organisation_id
    if user.role == Role.COMMISSIONER:
        return Q(**{f"{prefix}commissioner_id": org})
    if user.role == Role.AUDITOR:
        return Q(**{f"{prefix}parties__role": PartyRole.AUDITOR,
                    f"{prefix}parties__organisation_id": org})
    return None


class ScopedQuerySet(models.QuerySet):
    # Paths from this model to its contract and to the provider organisation that owns the row.
    contract_path = "contract__"
    provider_field = "provider_id"

    def for_user(self, user):
        if not _active(user):
            return self.none()
        if user.is_site_admin:
            return self
        if user.organisation_id is None:
            return self.none()
        if user.is_provider:
            return self.filter(**{self.provider_field: user.organisation_id})
        scope = contract_scope(user, self.contract_path)
        if scope is None:
            return self.none()
        # The auditor join through parties can repeat rows; the subquery keeps them unique.
        return self.filter(pk__in=self.model.objects.filter(scope).values("pk"))


# --- participants --------------------------------------------------------------------------

NINO_RE = re.compile(r"^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]$")


def normalise_nino(value):
    return re.sub(r"\s+", "", str(value or "")).upper()


def identity_hash(ni_number, date_of_birth):
    """Keyed hash of stable identifiers: the same person matches across providers and
    contracts, while the identifiers themselves are never stored."""
    message = f"{normalise_nino(ni_number)}|{date_of_birth.isoformat()}".encode()
    return hmac.new(settings.PSEUDONYM_KEY.encode(), message, hashlib.sha256).hexdigest()


class ParticipantQuerySet(ScopedQuerySet):
    pass


class Participant(models.Model):
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="participants")
    provider = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="participants")
    provider_reference = models.CharField(max_length=64,
                                          help_text="The provider's own case reference.")
    identity_hash = models.CharField(max_length=64, db_index=True)
    segment = models.CharField(max_length=64, blank=True)
    start_date = models.DateField(help_text="Attachment: the first day on the programme.")
    leave_date = models.DateField(null=True, blank=True)
    leave_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ParticipantQuerySet.as_manager()

    class Meta:
        ordering = ["contract", "provider_reference"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "provider", "provider_reference"],
                                    name="unique_participant_reference"),
        ]

    def __str__(self):
        return self.provider_reference

    @property
    def pseudonym(self):
        """The reference the engine and statements use: stable, and not an identifier."""
        return f"P{self.pk}"


# --- returns -------------------------------------------------------------------------------


class ReturnStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    LATE = "late", "Submitted late"
    LOCKED = "locked", "Locked"


class ReturnQuerySet(ScopedQuerySet):
    def submitted(self):
        return self.exclude(status=ReturnStatus.DRAFT)

    def latest_versions(self):
        """The newest submitted version of each (contract, provider, period): amendments replace
        what they supersede without the older version being changed."""
        newer = Return.objects.filter(
            contract_id=models.OuterRef("contract_id"), provider_id=models.OuterRef("provider_id"),
            period_id=models.OuterRef("period_id"), version__gt=models.OuterRef("version"),
        ).exclude(status=ReturnStatus.DRAFT)
        return self.submitted().exclude(models.Exists(newer))


class Return(models.Model):
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="returns")
    provider = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="returns")
    period_id = models.CharField(max_length=32, help_text="Period label, e.g. 'Q1 2011-12'.")
    period_start = models.DateField()
    period_end = models.DateField()
    due_date = models.DateField()
    status = models.CharField(max_length=16, choices=ReturnStatus.choices,
                              default=ReturnStatus.DRAFT)
    version = models.PositiveIntegerField(default=1)
    supersedes = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="superseded_by")
    reason = models.TextField(blank=True, help_text="Why an amendment was made.")
    created_by = models.ForeignKey("pbr.User", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_by = models.ForeignKey("pbr.User", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    submitted_at = models.DateTimeField(null=True, blank=True)

    objects = ReturnQuerySet.as_manager()

    class Meta:
        ordering = ["-period_start", "contract", "provider", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "provider", "period_id", "version"],
                                    name="unique_return_version"),
        ]

    def __str__(self):
        return f"{self.contract.reference} {self.period_id} v{self.version}"

    @property
    def is_editable(self):
        return self.status == ReturnStatus.DRAFT


# --- claims --------------------------------------------------------------------------------


class ClaimStatus(models.TextChoices):
    DRAFT = "draft", "Not yet submitted"
    PASSED = "passed", "Checks passed"
    FAILED = "failed", "Failed checks"
    HELD = "held", "Held: possible duplicate"
    VERIFIED = "verified", "Verified"
    REJECTED = "rejected", "Rejected"


class ClaimQuerySet(ScopedQuerySet):
    contract_path = "return_record__contract__"
    provider_field = "return_record__provider_id"

    def live(self, contract):
        """Claims in the latest submitted version of each of the contract's returns."""
        latest = Return.objects.filter(contract=contract).latest_versions()
        return self.filter(return_record__in=latest)


class Claim(models.Model):
    return_record = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="claims")
    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="claims")
    row_number = models.PositiveIntegerField(default=0, help_text="Row in the file it came from.")
    outcome = models.CharField(max_length=64)
    achieved = models.DateField()
    started = models.DateField(null=True, blank=True,
                               help_text="Start of the spell measured, e.g. first day in work.")
    step_from = models.PositiveSmallIntegerField(null=True, blank=True)
    step_to = models.PositiveSmallIntegerField(null=True, blank=True)
    grade = models.CharField(max_length=8, blank=True)
    criteria_met = models.PositiveSmallIntegerField(null=True, blank=True)
    criteria_total = models.PositiveSmallIntegerField(null=True, blank=True)
    value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True,
                                help_text="Units for per-unit prices; empty means 1.")
    subcontractor = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=ClaimStatus.choices,
                              default=ClaimStatus.DRAFT)
    checks = models.JSONField(default=list, blank=True,
                              help_text="Automatic check results: code, passed, reason.")
    copied_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    objects = ClaimQuerySet.as_manager()

    class Meta:
        ordering = ["return_record", "row_number", "id"]
        indexes = [models.Index(fields=["outcome", "achieved"])]

    def __str__(self):
        return f"{self.outcome} for {self.participant} on {self.achieved:%d %b %Y}"

    @property
    def contract(self):
        return self.return_record.contract

    def failed_checks(self):
        return [c for c in self.checks if not c.get("passed")]


class IndicatorReturnQuerySet(ScopedQuerySet):
    contract_path = "return_record__contract__"
    provider_field = "return_record__provider_id"


class IndicatorReturn(models.Model):
    return_record = models.ForeignKey(Return, on_delete=models.CASCADE,
                                      related_name="indicator_returns")
    row_number = models.PositiveIntegerField(default=0)
    indicator = models.CharField(max_length=64)
    measure_period = models.CharField(
        max_length=32, help_text="What the figure covers: a period, quarter, financial year or "
                                 "cohort; defaults to the return's period.")
    value = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    numerator = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    denominator = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)

    objects = IndicatorReturnQuerySet.as_manager()

    class Meta:
        ordering = ["return_record", "row_number", "id"]

    def __str__(self):
        return f"{self.indicator} {self.measure_period}"


# --- evidence ------------------------------------------------------------------------------


class EvidenceFileQuerySet(models.QuerySet):
    def for_user(self, user):
        if not _active(user):
            return self.none()
        if user.is_site_admin:
            return self
        if user.organisation_id is None:
            return self.none()
        if user.is_provider:
            return self.filter(organisation_id=user.organisation_id)
        # Commissioners and auditors see evidence only once it supports a claim they can see.
        claims = Claim.objects.for_user(user)
        return self.filter(pk__in=EvidenceFile.claims.through.objects.filter(
            claim__in=claims).values("evidencefile_id"))


class EvidenceFile(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT,
                                     related_name="evidence_files")
    evidence_type = models.CharField(max_length=64, blank=True,
                                     help_text="Evidence type code named by the contract, e.g. "
                                               "'off_benefit_check'.")
    original_name = models.CharField(max_length=255)
    stored_name = models.CharField(max_length=255, unique=True)
    content_type = models.CharField(max_length=100, help_text="Detected from the content.")
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    uploaded_by = models.ForeignKey("pbr.User", null=True, on_delete=models.PROTECT,
                                    related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)
    claims = models.ManyToManyField(Claim, blank=True, related_name="evidence_files")

    objects = EvidenceFileQuerySet.as_manager()

    class Meta:
        ordering = ["-uploaded_at", "-id"]

    def __str__(self):
        return self.original_name
