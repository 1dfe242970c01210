"""The per-contract dashboard snapshot: every figure the dashboards show that would otherwise
aggregate a national contract's claims, participants and ledger lines on each request.

Registered with the core app by the import at the end of pbr/models.py.
"""

from django.db import models


class DashboardSnapshotQuerySet(models.QuerySet):
    def for_user(self, user):
        from contracts.models import Contract

        return self.filter(contract__in=Contract.objects.for_user(user))


class DashboardSnapshot(models.Model):
    """Derived figures for one contract, replaced whole by each refresh (pbr/dashboards/refresh.py).

    Never the only copy of a fact: everything here can be worked out again from claims,
    participants, returns, verification records and the ledger.
    """

    contract = models.OneToOneField("contracts.Contract", on_delete=models.CASCADE,
                                    related_name="dashboard_snapshot")
    computed_at = models.DateTimeField(help_text="When the claims, ledger and verification "
                                                 "figures were worked out.")
    forecast_computed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the income forecast was last worked out (it runs "
                                         "the payment engine, so it is refreshed less often).")
    seconds = models.DecimalField(max_digits=9, decimal_places=2, default=0,
                                  help_text="How long the last refresh took.")
    # Two parts, so the programme pages read only the small one for each of many contracts.
    summary = models.JSONField(default=dict, help_text="Totals the programme pages show; money "
                                                       "as decimal strings.")
    detail = models.JSONField(default=dict, help_text="Series by period and indicator the "
                                                      "contract page shows.")

    objects = DashboardSnapshotQuerySet.as_manager()

    class Meta:
        app_label = "pbr"
        ordering = ["contract"]

    def __str__(self):
        return f"Dashboard figures for contract {self.contract_id}"
