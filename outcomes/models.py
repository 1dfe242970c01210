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
    marked_late_on = models.DateField(
        null=True, blank=True, help_text="Set by the nightly deadline task when the due date "
                                         "passed with this return still a draft.")

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


class ReminderKind(models.TextChoices):
    DUE_SOON = "due_soon", "Due soon"
    OVERDUE = "overdue", "Overdue"


class ReturnReminderQuerySet(ScopedQuerySet):
    pass


class ReturnReminder(models.Model):
    """One deadline email per (contract, provider, period, kind): the record is written in the
    same transaction as the send, so a re-run of the nightly task sends nothing twice."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="+")
    provider = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    period_id = models.CharField(max_length=32)
    kind = models.CharField(max_length=16, choices=ReminderKind.choices)
    due_date = models.DateField()
    sent_on = models.DateField(help_text="The local date the reminder was sent.")
    sent_at = models.DateTimeField(auto_now_add=True)
    recipients = models.PositiveIntegerField(default=0)

    objects = ReturnReminderQuerySet.as_manager()

    class Meta:
        ordering = ["-sent_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "provider", "period_id", "kind"],
                                    name="unique_return_reminder"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} reminder: {self.period_id}"


class UploadStatus(models.TextChoices):
    QUEUED = "queued", "Waiting to be checked"
    RUNNING = "running", "Being checked"
    SAVED = "saved", "Saved"
    REFUSED = "refused", "Refused: nothing saved"
    FAILED = "failed", "Failed: nothing saved"


class ReturnUploadQuerySet(ScopedQuerySet):
    contract_path = "return_record__contract__"
    provider_field = "return_record__provider_id"


class ReturnUpload(models.Model):
    """A large return file checked in the background. The file itself is kept privately only
    until it has been checked; the outcome (rows saved, or every problem) stays here."""

    return_record = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="uploads")
    job = models.OneToOneField("pbr.Job", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    original_name = models.CharField(max_length=255)
    stored_name = models.CharField(max_length=255, blank=True,
                                   help_text="Private storage name; empty once checked.")
    size = models.PositiveBigIntegerField()
    uploaded_by = models.ForeignKey("pbr.User", null=True, on_delete=models.PROTECT,
                                    related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=16, choices=UploadStatus.choices,
                              default=UploadStatus.QUEUED)
    kind = models.CharField(max_length=16, blank=True, help_text="claims or indicators")
    rows_saved = models.PositiveIntegerField(default=0)
    problems = models.JSONField(default=list, blank=True,
                                help_text="Every problem found: row, column, message, code.")

    objects = ReturnUploadQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.original_name

    @property
    def is_finished(self):
        return self.status in (UploadStatus.SAVED, UploadStatus.REFUSED, UploadStatus.FAILED)


# --- claims --------------------------------------------------------------------------------


class ClaimStatus(models.TextChoices):
    DRAFT = "draft", "Not yet submitted"
    PASSED = "passed", "Checks passed"
    FAILED = "failed", "Failed checks"
    HELD = "held", "Held: possible duplicate"
    # Verification (outcomes/verification/, docs/verification.md): a claim that passed its
    # checks is either selected for verification or accepted without review.
    SAMPLED = "sampled", "Selected for verification"
    ACCEPTED = "accepted", "Accepted without review"
    UNDER_REVIEW = "under_review", "Under review"
    QUERIED = "queried", "Query raised"
    RESPONDED = "responded", "Provider responded"
    VERIFIED = "verified", "Verified"
    REJECTED = "rejected", "Rejected"
    APPEALED = "appealed", "Appealed"


# Claims still being verified: selected, under review, queried, answered or appealed
# (verification.permissions.OPEN_STATUSES, which a test keeps equal to this).
OPEN_CLAIM_STATUSES = ("sampled", "under_review", "queried", "responded", "appealed")


class ClaimQuerySet(ScopedQuerySet):
    contract_path = "return_record__contract__"
    provider_field = "return_record__provider_id"

    def live(self, contract):
        """Claims in the latest submitted version of each of the contract's returns."""
        latest = Return.objects.filter(contract=contract).latest_versions()
        return self.filter(return_record__in=latest)


class Claim(models.Model):
    return_record = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="claims",
                                      db_index=False)  # claim_return_row_idx leads with it
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
        indexes = [
            models.Index(fields=["outcome", "achieved"]),
            # A return's claims in file order: the claim list reads a page from it without
            # sorting every matching claim (outcomes/paging.py). It also serves every look-up
            # by return, so the foreign key has no index of its own.
            models.Index(fields=["return_record", "row_number", "id"],
                         name="claim_return_row_idx"),
            # Only the claims still being verified (verification.permissions.OPEN_STATUSES,
            # 1% of a national programme): the auditor's queue and its count.
            models.Index(fields=["return_record", "id"], name="claim_open_idx",
                         condition=Q(status__in=OPEN_CLAIM_STATUSES)),
        ]

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


# --- participant events ----------------------------------------------------------------------

# The event code a provider returns for an adverse event in a sustainment window (a tenancy
# breach, a rough sleeping incident). Any other event code must be one the terms name in an
# outcome's voided_by. See docs/adr/0011-participant-events-and-external-datasets.md.
ADVERSE_EVENT = "adverse"


class ParticipantEventQuerySet(ScopedQuerySet):
    contract_path = "return_record__contract__"
    provider_field = "return_record__provider_id"


class ParticipantEvent(models.Model):
    """Something that happened to a participant that bears on payment without being an outcome:
    an adverse event counted against a sustainment window's tolerance, or an event that voids
    an outcome (e.g. re-presentation within six months)."""

    return_record = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="events")
    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="events")
    row_number = models.PositiveIntegerField(default=0)
    event = models.CharField(max_length=64, help_text=f"'{ADVERSE_EVENT}', or an event code the "
                                                      "terms name in an outcome's voided_by.")
    occurred = models.DateField()

    objects = ParticipantEventQuerySet.as_manager()

    class Meta:
        ordering = ["return_record", "row_number", "id"]
        indexes = [models.Index(fields=["participant", "occurred"])]

    def __str__(self):
        return f"{self.event} for {self.participant} on {self.occurred:%d %b %Y}"

    @property
    def is_adverse(self):
        return self.event == ADVERSE_EVENT


# --- external datasets -----------------------------------------------------------------------


class ExternalDataQuerySet(models.QuerySet):
    """A contract's commissioner and auditor see its external data, and so do the providers who
    deliver it: the figures their payments are measured against."""

    contract_path = "contract__"

    def for_user(self, user):
        if not _active(user):
            return self.none()
        if user.is_site_admin:
            return self
        if user.organisation_id is None:
            return self.none()
        if user.is_provider:
            scope = Q(**{f"{self.contract_path}parties__organisation_id": user.organisation_id,
                         f"{self.contract_path}parties__role__in": (PartyRole.PRIME,
                                                                    PartyRole.SUBCONTRACTOR)})
        else:
            scope = contract_scope(user, self.contract_path)
        if scope is None:
            return self.none()
        return self.filter(pk__in=self.model.objects.filter(scope).values("pk"))


class DatasetUpload(models.Model):
    """One file (or API call) of external figures, kept whole: later uploads supersede earlier
    figures for the same dataset and period without changing them."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT,
                                 related_name="dataset_uploads")
    original_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64, help_text="Of the file exactly as received.")
    size = models.PositiveBigIntegerField(default=0)
    rows = models.PositiveIntegerField(default=0)
    source = models.CharField(max_length=8, default="file", help_text="file or api")
    uploaded_by = models.ForeignKey("pbr.User", null=True, on_delete=models.PROTECT,
                                    related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    objects = ExternalDataQuerySet.as_manager()

    class Meta:
        ordering = ["-uploaded_at", "-id"]

    def __str__(self):
        return f"{self.original_name} ({self.contract.reference})"


class DatasetValueQuerySet(ExternalDataQuerySet):
    def current(self):
        """The newest figure for each (contract, dataset, period)."""
        newer = DatasetValue.objects.filter(
            contract_id=models.OuterRef("contract_id"), dataset=models.OuterRef("dataset"),
            period=models.OuterRef("period"), pk__gt=models.OuterRef("pk"))
        return self.exclude(models.Exists(newer))


class DatasetValue(models.Model):
    """One external figure: a baseline, a matched comparison cohort's result or a third-party
    count, for one period or cohort of a contract's dataset."""

    upload = models.ForeignKey(DatasetUpload, on_delete=models.PROTECT, related_name="values")
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT,
                                 related_name="dataset_values")
    row_number = models.PositiveIntegerField(default=0)
    dataset = models.CharField(max_length=64, help_text="Dataset code from the contract terms.")
    period = models.CharField(max_length=64, help_text="Cohort label, or the period, quarter or "
                                                       "financial year the figure covers.")
    value = models.DecimalField(max_digits=14, decimal_places=4)

    objects = DatasetValueQuerySet.as_manager()

    class Meta:
        ordering = ["contract", "dataset", "period", "id"]
        indexes = [models.Index(fields=["contract", "dataset", "period"])]

    def __str__(self):
        return f"{self.dataset} {self.period}: {self.value}"


# Verification models live in their own package; importing them here registers them with the app.
from .verification.models import (  # noqa: E402, F401
    Appeal,
    ClaimQuery,
    ClaimReview,
    Sample,
    SampleItem,
    VerificationPolicy,
)
