from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PaymentsConfig(AppConfig):
    name = "payments"

    def ready(self):
        from .fact_changes import on_post_migrate
        from .ledger_checks import on_post_migrate as install_ledger_checks

        # After every migrate (SQLite rebuilds tables and loses their triggers).
        post_migrate.connect(on_post_migrate, sender=self, dispatch_uid="payments.fact_change_triggers")
        post_migrate.connect(install_ledger_checks, sender=self,
                             dispatch_uid="payments.ledger_check_triggers")
