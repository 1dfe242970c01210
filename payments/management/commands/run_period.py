from django.core.management.base import BaseCommand, CommandError

from contracts.models import Contract
from payments.services import RunError, run_period


class Command(BaseCommand):
    help = ("Compute a contract's period (e.g. 'P4 2013-14') and post the difference to the ledger. "
            "Re-running with no new facts posts nothing.")

    def add_arguments(self, parser):
        parser.add_argument("reference")
        parser.add_argument("period", help="Period label as shown on statements, e.g. 'P4 2013-14'.")

    def handle(self, *args, reference, period, **options):
        contract = Contract.objects.filter(reference=reference).first()
        if contract is None:
            raise CommandError(f"No contract has reference {reference}.")
        try:
            run, posted = run_period(contract, period)
        except RunError as exc:
            raise CommandError(str(exc)) from exc
        total = sum((line.amount for line in posted if not line.shadow), 0)
        self.stdout.write(self.style.SUCCESS(
            f"{reference} {period}: computation {run.computations} posted {len(posted)} line(s), "
            f"£{total:,.2f} payable; run total £{run.payable_total():,.2f} ({run.get_status_display()})."))
