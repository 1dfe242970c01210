"""Verification and audit: policies, samples, reviews, queries and appeals.

Imported by outcomes/models.py so Django registers them with the outcomes app. Every model has a
QuerySet with ``for_user(user)`` (the same rules as claims: a provider sees its own claims'
rows, the contract's commissioner and auditor see the contract's rows, a site admin sees all).
"""

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from contracts.models import Contract, PartyRole
from pbr.models import Organisation
from pbr.models import is_signed_in as _active

from ..models import Claim, EvidenceFile, ScopedQuerySet, contract_scope


class RejectionReason(models.TextChoices):
    EVIDENCE_MISSING = "evidence_missing", "Evidence missing or unreadable"
    EVIDENCE_MISMATCH = "evidence_mismatch", "Evidence does not support the claim"
    NOT_ELIGIBLE = "not_eligible", "Participant not eligible"
    NOT_ACHIEVED = "not_achieved", "Outcome not achieved or not sustained"
    DUPLICATE = "duplicate", "Duplicate of another claim"
    WRONG_DATES = "wrong_dates", "Dates are wrong"
    NO_RESPONSE = "no_response", "No answer to the auditor's query"
    OTHER = "other", "Other (explained in the note)"


# --- policy --------------------------------------------------------------------------------


class PolicyMode(models.TextChoices):
    VERIFY_ALL = "verify_all", "Verify every claim"
    SAMPLE = "sample", "Verify a risk-based sample"


def _pct(**kwargs):
    return models.DecimalField(max_digits=5, decimal_places=2,
                               validators=[MinValueValidator(Decimal(0)),
                                           MaxValueValidator(Decimal(100))], **kwargs)


def _factor(**kwargs):
    return models.DecimalField(max_digits=4, decimal_places=2,
                               validators=[MinValueValidator(Decimal(0)),
                                           MaxValueValidator(Decimal(10))], **kwargs)


class VerificationPolicyQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(contract__in=Contract.objects.for_user(user))


class VerificationPolicy(models.Model):
    """How a contract's claims are verified. Kept beside the contract, not in its terms document:
    it is an operating decision the commissioner may tighten or relax without a variation
    (docs/adr/0009-verification-policy-per-contract.md). A contract without a policy pays claims
    that pass the automatic checks without human review."""

    contract = models.OneToOneField(Contract, on_delete=models.CASCADE,
                                    related_name="verification_policy")
    mode = models.CharField(max_length=16, choices=PolicyMode.choices, default=PolicyMode.SAMPLE)
    sample_pct = _pct(default=Decimal("10.00"), help_text="Share of claims drawn at random, in "
                                                         "percent, before the provider's rating.")
    value_threshold = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="Every claim worth at least this much is checked. Empty: no value rule.")
    check_duplicates = models.BooleanField(default=True, help_text="Check every claim held as a "
                                                                   "possible duplicate.")
    check_new_providers = models.BooleanField(
        default=True, help_text="Check every claim in a provider's first sample on the contract.")
    check_outliers = models.BooleanField(
        default=True, help_text="Check claims whose units are far above the usual for the "
                                "outcome.")
    outlier_factor = _factor(default=Decimal("3.00"),
                             help_text="A claim is an outlier when its units exceed this many "
                                       "times the median for its outcome.")
    adjust_by_error_rate = models.BooleanField(
        default=True, help_text="Raise or lower the random share by the provider's past error "
                                "rate (red, amber, green).")
    green_below_pct = _pct(default=Decimal("2.00"),
                           help_text="A provider whose past error rate is below this is green.")
    red_from_pct = _pct(default=Decimal("10.00"),
                        help_text="A provider whose past error rate is at least this is red.")
    green_factor = _factor(default=Decimal("0.50"),
                           help_text="Green providers: the random share is multiplied by this.")
    red_factor = _factor(default=Decimal("2.00"),
                         help_text="Red providers: the random share is multiplied by this.")
    post_payment_pct = _pct(default=Decimal("10.00"),
                            help_text="Share of paid claims drawn for a post-payment check.")
    review_days = models.PositiveSmallIntegerField(
        default=20, validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="Days the auditor has to decide a selected claim.")
    query_response_days = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="Days the provider has to answer a query.")
    appeal_window_days = models.PositiveSmallIntegerField(
        default=28, validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="Days after a rejection within which the provider may appeal.")
    updated_by = models.ForeignKey("pbr.User", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    objects = VerificationPolicyQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "verification policies"
        constraints = [
            models.CheckConstraint(condition=Q(green_below_pct__lte=models.F("red_from_pct")),
                                   name="policy_green_below_red"),
        ]

    def __str__(self):
        return f"Verification policy for {self.contract.reference}"

    SNAPSHOT_FIELDS = ("mode", "sample_pct", "value_threshold", "check_duplicates",
                       "check_new_providers", "check_outliers", "outlier_factor",
                       "adjust_by_error_rate", "green_below_pct", "red_from_pct", "green_factor",
                       "red_factor", "post_payment_pct", "review_days", "query_response_days",
                       "appeal_window_days")

    def snapshot(self):
        """The policy as stored on each sample: strings, so it round-trips through JSON, with
        decimals at their stored number of places whether or not the row was just saved."""
        values = {}
        for name in self.SNAPSHOT_FIELDS:
            value = getattr(self, name)
            field = self._meta.get_field(name)
            if value is not None and isinstance(field, models.DecimalField):
                value = Decimal(value).quantize(Decimal(1).scaleb(-field.decimal_places))
            values[name] = None if value is None else str(value)
        return values


# --- samples -------------------------------------------------------------------------------


class SampleKind(models.TextChoices):
    SELECTION = "selection", "Selection for verification"
    CHECK = "check", "Post-payment check"


class SampleStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class SampleQuerySet(models.QuerySet):
    def for_user(self, user):
        if not _active(user):
            return self.none()
        if user.is_site_admin:
            return self
        if user.organisation_id is None:
            return self.none()
        if user.is_provider:
            # A provider sees samples of its own claims, and checks whose recovery falls on it as
            # the prime provider.
            return self.filter(Q(provider_id=user.organisation_id) | Q(
                provider__isnull=True, contract__parties__role=PartyRole.PRIME,
                contract__parties__organisation_id=user.organisation_id)).distinct()
        scope = contract_scope(user)
        if scope is None:
            return self.none()
        return self.filter(pk__in=Sample.objects.filter(scope).values("pk"))


class Sample(models.Model):
    """One draw of claims, stored with everything needed to reproduce and explain it: the seed,
    the policy as it stood, the population drawn from, the forced selections and each provider's
    random share."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT,
                                 related_name="verification_samples")
    provider = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+", help_text="Empty: every provider.")
    kind = models.CharField(max_length=16, choices=SampleKind.choices)
    scope = models.JSONField(default=dict, blank=True,
                             help_text="What the population was: period, outcome, dates.")
    seed = models.BigIntegerField()
    policy = models.JSONField(help_text="The verification policy when the sample was drawn.")
    population = models.JSONField(default=list, blank=True,
                                  help_text="[claim id, provider id] of every claim drawn from.")
    forced = models.JSONField(default=dict, blank=True,
                              help_text="Claim id -> reasons it had to be checked.")
    rates = models.JSONField(default=dict, blank=True,
                             help_text="Provider id -> rating, past error rate and random share.")
    population_count = models.PositiveIntegerField(default=0)
    population_total = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal(0),
                                           help_text="Post-payment checks: paid for the "
                                                     "population.")
    sample_size = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=8, choices=SampleStatus.choices,
                              default=SampleStatus.OPEN)
    errors = models.PositiveIntegerField(default=0)
    recovery_period = models.CharField(max_length=40, blank=True,
                                       help_text="Period whose statement carries the recovery.")
    drawn_by = models.ForeignKey("pbr.User", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    drawn_at = models.DateTimeField(default=timezone.now)
    closed_by = models.ForeignKey("pbr.User", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = SampleQuerySet.as_manager()

    class Meta:
        ordering = ["-drawn_at", "-id"]

    def __str__(self):
        return f"{self.reference} ({self.get_kind_display().lower()}, {self.contract.reference})"

    @property
    def reference(self):
        """The id statements and the payment engine quote for this sample."""
        return f"S{self.pk}"

    @property
    def error_rate_pct(self):
        if not self.sample_size:
            return None
        return Decimal(self.errors) * 100 / self.sample_size


class Finding(models.TextChoices):
    PENDING = "pending", "Not yet checked"
    CONFIRMED = "confirmed", "Verified"
    ERROR = "error", "Could not be verified"


class SampleItemQuerySet(ScopedQuerySet):
    contract_path = "claim__return_record__contract__"
    provider_field = "claim__return_record__provider_id"


class SampleItem(models.Model):
    sample = models.ForeignKey(Sample, on_delete=models.CASCADE, related_name="items")
    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="sample_items")
    reasons = models.JSONField(default=list, help_text="Why it was selected: code and words.")
    finding = models.CharField(max_length=16, choices=Finding.choices, default=Finding.PENDING)
    reason_code = models.CharField(max_length=32, choices=RejectionReason.choices, blank=True)
    note = models.TextField(blank=True)
    decided_by = models.ForeignKey("pbr.User", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    objects = SampleItemQuerySet.as_manager()

    class Meta:
        ordering = ["sample", "claim_id"]
        constraints = [
            models.UniqueConstraint(fields=["sample", "claim"], name="unique_claim_per_sample"),
        ]

    def __str__(self):
        return f"{self.sample.reference}: claim {self.claim_id}"


# --- reviews, queries, appeals ------------------------------------------------------------


class ClaimScopedQuerySet(ScopedQuerySet):
    contract_path = "claim__return_record__contract__"
    provider_field = "claim__return_record__provider_id"


class ClaimReview(models.Model):
    """The verification record of one claim: why it was selected, who has it, the decision."""

    claim = models.OneToOneField(Claim, on_delete=models.CASCADE, related_name="review")
    sample = models.ForeignKey(Sample, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="reviews")
    reasons = models.JSONField(default=list, blank=True)
    allocated_to = models.ForeignKey("pbr.User", null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="allocated_reviews")
    allocated_at = models.DateTimeField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True, db_index=True)
    decided_by = models.ForeignKey("pbr.User", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    reason_code = models.CharField(max_length=32, choices=RejectionReason.choices, blank=True)
    note = models.TextField(blank=True)
    rejected_by = models.ForeignKey("pbr.User", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    rejected_at = models.DateTimeField(null=True, blank=True)
    after_payment = models.BooleanField(default=False,
                                        help_text="Rejected by a finding after payment.")

    objects = ClaimScopedQuerySet.as_manager()

    def __str__(self):
        return f"Review of claim {self.claim_id}"


class ClaimQuery(models.Model):
    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="queries")
    raised_by = models.ForeignKey("pbr.User", on_delete=models.PROTECT, related_name="+")
    raised_at = models.DateTimeField(default=timezone.now)
    text = models.TextField()
    due_date = models.DateField()
    response = models.TextField(blank=True)
    responded_by = models.ForeignKey("pbr.User", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    responded_at = models.DateTimeField(null=True, blank=True)
    evidence = models.ManyToManyField(EvidenceFile, blank=True, related_name="+")

    objects = ClaimScopedQuerySet.as_manager()

    class Meta:
        ordering = ["claim", "raised_at", "id"]
        verbose_name_plural = "claim queries"

    def __str__(self):
        return f"Query on claim {self.claim_id}"

    @property
    def is_open(self):
        return self.responded_at is None


class Appeal(models.Model):
    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="appeals")
    lodged_by = models.ForeignKey("pbr.User", on_delete=models.PROTECT, related_name="+")
    lodged_at = models.DateTimeField(default=timezone.now)
    grounds = models.TextField()
    evidence = models.ManyToManyField(EvidenceFile, blank=True, related_name="+")
    decided_by = models.ForeignKey("pbr.User", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    upheld = models.BooleanField(null=True, blank=True)
    note = models.TextField(blank=True)

    objects = ClaimScopedQuerySet.as_manager()

    class Meta:
        ordering = ["claim", "lodged_at", "id"]

    def __str__(self):
        return f"Appeal on claim {self.claim_id}"
