"""Payment runs and the append-only ledger.

A run for (contract, period) computes entitlement to date with the pure engine, subtracts what the
ledger holds and posts only the difference as LedgerLine rows (ADR 0005). Rows are never edited or
deleted; a correction is a new row whose `corrects` points at the row it corrects.
"""

from django.db import models
from django.db.models import Q, Sum
from django.db.models.base import ModelState

from contracts.models import Contract


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DRAFT = "draft", "Awaiting approval"
    APPROVED = "approved", "Approved"
    FAILED = "failed", "Failed"


class PaymentRunQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(contract__in=Contract.objects.for_user(user))


class PaymentRun(models.Model):
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="payment_runs")
    period_id = models.CharField(max_length=40, help_text="Period label, e.g. 'P4 2013-14'.")
    period_index = models.PositiveIntegerField()
    period_start = models.DateField()
    period_end = models.DateField()
    terms_version = models.ForeignKey("contracts.TermsVersion", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    job = models.ForeignKey("pbr.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    computations = models.PositiveIntegerField(default=0, help_text="How many times it was computed.")
    last_computed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    notes = models.JSONField(default=list, blank=True)
    refusals = models.JSONField(default=list, blank=True)
    approved_by = models.ForeignKey("pbr.User", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    second_approved_by = models.ForeignKey("pbr.User", null=True, blank=True, on_delete=models.PROTECT,
                                           related_name="+")
    second_approved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # What the last computation read, so the next run of the contract can recompute only the
    # participants whose facts changed since (ADR 0012). Empty when the caller supplied the
    # facts itself: the next run is then a full recomputation.
    facts_as_of = models.DateField(null=True, blank=True,
                                   help_text="Facts were read as known on this date.")
    ledger_high_water = models.BigIntegerField(
        null=True, blank=True, help_text="Highest ledger line id of the contract after the run.")
    mode = models.CharField(max_length=16, blank=True,
                            help_text="full, or incremental: only changed participants recomputed.")
    participants_recomputed = models.PositiveIntegerField(default=0)
    participants_from_tally = models.PositiveIntegerField(
        default=0, help_text="Of those, how many were assessed without reading their history: "
                             "from their tally of accepted claims, or as new (ADR 0022).")
    tallies_complete = models.BooleanField(
        default=False, help_text="Every participant with a claim had a tally after this run.")
    facts_basis = models.JSONField(default=dict, blank=True,
                                   help_text="Contract-wide settings the facts were read under.")
    facts_version = models.BigIntegerField(
        null=True, blank=True,
        help_text="The contract's facts version the computation read (ADR 0021): a re-run of the "
                  "same period at the same version has nothing new to compute.")

    objects = PaymentRunQuerySet.as_manager()

    class Meta:
        ordering = ["contract", "period_index"]
        constraints = [
            # One run per contract and period: re-running adds difference lines to it, never a twin.
            models.UniqueConstraint(fields=["contract", "period_id"], name="unique_run_per_period"),
        ]

    def __str__(self):
        return f"{self.contract.reference} {self.period_id}"

    @property
    def is_locked(self):
        return self.status == RunStatus.APPROVED

    def payable_total(self):
        return self.lines.filter(shadow=False).aggregate(t=Sum("amount"))["t"] or 0

    def shadow_total(self):
        return self.lines.filter(shadow=True).aggregate(t=Sum("amount"))["t"] or 0


class LedgerImmutableError(Exception):
    pass


class LedgerLineQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(contract__in=Contract.objects.for_user(user))

    def payable(self):
        return self.filter(shadow=False)

    def update(self, **kwargs):
        raise LedgerImmutableError("Ledger lines are append-only; post a correcting line instead.")

    def delete(self):
        raise LedgerImmutableError("Ledger lines are append-only; post a correcting line instead.")


class LedgerLine(models.Model):
    # No single-column indexes on contract, run or key: every lookup by contract is served by
    # the (contract, ...) indexes below and every lookup by run by the unique constraint's
    # (run, computation, key) index; each extra index slows every line a run posts.
    # The database checks the contract and the corrected line for a whole statement at once,
    # not as foreign keys row by row (payments/ledger_checks.py, ADR 0023): the contract must be
    # the run's, the corrected line one of the contract's. The run keeps its foreign key.
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="ledger_lines",
                                 db_index=False, db_constraint=False)
    run = models.ForeignKey(PaymentRun, on_delete=models.PROTECT, related_name="lines",
                            db_index=False)
    period_id = models.CharField(max_length=40)
    key = models.CharField(max_length=300)
    kind = models.CharField(max_length=40)
    rule_id = models.CharField(max_length=100)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    shadow = models.BooleanField(default=False)
    subcontractor = models.CharField(max_length=64, blank=True)
    participant = models.CharField(max_length=128, blank=True)
    explanation = models.TextField()
    inputs = models.JSONField(default=dict, blank=True)
    references = models.JSONField(default=list, blank=True)
    corrects = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="corrections", db_index=False, db_constraint=False)
    computation = models.PositiveIntegerField(help_text="Which computation of the run posted it.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LedgerLineQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["contract", "key"]),
                   models.Index(fields=["contract", "participant"], name="ledger_contract_participant"),
                   models.Index(fields=["contract", "id"], name="ledger_contract_id"),
                   # Few lines correct another: index only those.
                   models.Index(fields=["corrects"], condition=Q(corrects__isnull=False),
                                name="ledger_corrects")]
        constraints = [
            # A computation posts each key at most once: a retried computation cannot double-post.
            models.UniqueConstraint(fields=["run", "computation", "key"], name="unique_key_per_computation"),
            models.CheckConstraint(condition=Q(amount__gte=-999999999999) & Q(amount__lte=999999999999),
                                   name="amount_in_range"),
        ]

    def __str__(self):
        return f"{self.period_id} {self.key} £{self.amount}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise LedgerImmutableError("Ledger lines are append-only; post a correcting line instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise LedgerImmutableError("Ledger lines are append-only; post a correcting line instead.")

    @classmethod
    def unsaved(cls, values):
        """An unsaved line from the values of its columns in field order, as `cls(*values)`
        but without Model.__init__, which sets each field through its descriptor: a national
        run builds 88,000 lines and that was a second of it."""
        line = cls.__new__(cls)
        line.__dict__.update(zip([f.attname for f in cls._meta.concrete_fields], values,
                                 strict=True))
        line._state = ModelState()
        return line


class FactChange(models.Model):
    """A participant whose facts were written to since the contract's last run.

    Rows are added by database triggers on the outcomes tables (payments/fact_changes.py), so
    every way of writing a claim, return, participant, event or evidence link is seen; a run
    deletes its contract's rows in its own transaction and recomputes those participants.
    No foreign key: the participant may since have been deleted, which is itself a change.
    """

    participant_id = models.BigIntegerField(db_index=True)
    claim_id = models.BigIntegerField(
        null=True, blank=True,
        help_text="Set when the change touched this claim only (a new claim, evidence added to "
                  "it): the participant's claims before it are unchanged.")

    def __str__(self):
        return f"change to participant {self.participant_id}"


class ContractFactMark(models.Model):
    """Something that can change a contract's entitlement was written (ADR 0021).

    Inserted by the same database triggers as FactChange, and by triggers on the contract-level
    facts (indicator returns, external datasets, samples and their findings, the verification
    policy, terms versions, returns). Insert-only, so writers never wait for each other; folded
    into ContractFactsVersion by `payments.fact_changes.contract_facts_version`.
    """

    contract_id = models.BigIntegerField(db_index=True)

    def __str__(self):
        return f"change to the facts of contract {self.contract_id}"


class ContractFactsVersion(models.Model):
    """A number that goes up whenever a contract's facts change (ADR 0021): read it with
    `payments.fact_changes.contract_facts_version(contract)`; equal numbers mean no fact of the
    contract was written in between."""

    contract = models.OneToOneField(Contract, on_delete=models.CASCADE, primary_key=True,
                                    related_name="+")
    version = models.BigIntegerField(default=0)
    changed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"contract {self.contract_id} facts version {self.version}"


class ParticipantTally(models.Model):
    """The claims accepted so far for one participant of a contract, as the last computation
    that assessed the participant left them (ADR 0022).

    A payment run whose only news for a participant is claims that come after all of theirs
    already known reads this row instead of the participant's history: the engine starts from
    these claims (`payments.engine.calculate(prior=...)`) and assesses only the new ones.
    Written in the run's own transaction for every participant it assesses; a full
    recomputation rewrites all of the contract's rows. Not a fact: it can always be rebuilt
    (a participant without a row has their history read, as before).
    """

    # No database constraints on the two keys: PostgreSQL checks a constraint row by row at
    # commit, which for the 84,000 tallies a national month rewrites cost over a second.
    # Django still deletes a contract's tallies with it (on_delete is Django's), and a tally
    # is never trusted for another contract or terms version than the run's (ADR 0022).
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="+",
                                 db_index=False, db_constraint=False)
    participant = models.CharField(max_length=128, help_text="Pseudonym, as on ledger lines.")
    terms_version = models.ForeignKey("contracts.TermsVersion", on_delete=models.CASCADE,
                                      related_name="+", db_index=False, db_constraint=False)
    accepted = models.JSONField(
        default=list, blank=True,
        help_text="[claim id, outcome, achieved, attachment date] of each accepted claim, in the "
                  "order accepted; dates as proleptic Gregorian ordinals.")
    through_achieved = models.DateField(help_text="The last claim covered, in the engine's order: "
                                                  "its achieved date...")
    through_claim = models.CharField(max_length=32, help_text="...and its engine id.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contract", "participant"],
                                               name="unique_tally_per_participant")]

    def __str__(self):
        return f"{self.participant}: {len(self.accepted)} claims accepted"
