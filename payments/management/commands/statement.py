import json

from django.core.management.base import BaseCommand, CommandError

from contracts.models import Contract
from payments.models import PaymentRun
from payments.services import build_statement, statement_json


class Command(BaseCommand):
    help = "Print a contract's statement for a period: every line with its explanation, and the total."

    def add_arguments(self, parser):
        parser.add_argument("reference")
        parser.add_argument("period")
        parser.add_argument("--json", action="store_true", help="Machine-readable output.")

    def handle(self, *args, reference, period, json=False, **options):
        contract = Contract.objects.filter(reference=reference).first()
        if contract is None:
            raise CommandError(f"No contract has reference {reference}.")
        run = PaymentRun.objects.filter(contract=contract, period_id=period).first()
        if run is None:
            raise CommandError(f"{reference} has no run for {period}. Run: manage.py run_period "
                               f"{reference} '{period}'")
        if json:
            self.stdout.write(_dumps(statement_json(run)))
            return
        data = build_statement(run)
        self.stdout.write(f"{data['contract']} {data['period']} ({data['period_start']} to "
                          f"{data['period_end']}), terms v{data['terms_version']}, {data['status']}")
        for line in data["lines"]:
            shadow = " [shadow: not payable]" if line.shadow else ""
            self.stdout.write(f"  {line.amount:>14,.2f}  {line.kind:<18} {line.rule_id}: "
                              f"{line.explanation}{shadow}")
        self.stdout.write(f"  {data['total']:>14,.2f}  TOTAL PAYABLE")
        if data["by_funder"]:
            self.stdout.write("By funder:")
            for f in data["by_funder"]:
                self.stdout.write(f"  {f['amount']:>14,.2f}  {f['funder']} ({f['share_pct']}%)")
            if data["funder_explanation"]:
                self.stdout.write(f"  {data['funder_explanation']}")
        if data["subcontractor_totals"]:
            self.stdout.write("By subcontractor:")
            for sub in data["subcontractor_totals"]:
                self.stdout.write(
                    f"  {sub['amount']:>14,.2f}  {sub['name']}: outcome payments "
                    f"{sub['outcome_payments']:,.2f}, management fee {sub['management_fee']:,.2f}, "
                    f"deductions {sub['deductions']:,.2f}")
            self.stdout.write(f"  {data['prime_retained']:>14,.2f}  kept by the prime provider")


def _dumps(data):
    return json.dumps(data, indent=2, ensure_ascii=False)
