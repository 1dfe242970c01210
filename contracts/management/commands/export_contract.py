from django.core.management.base import BaseCommand, CommandError

from contracts.io import to_json, to_yaml
from contracts.models import Contract


class Command(BaseCommand):
    help = "Print a contract's terms (its current version, or --terms-version N) as YAML or JSON."

    def add_arguments(self, parser):
        parser.add_argument("reference")
        parser.add_argument("--terms-version", type=int, dest="number", metavar="N")
        parser.add_argument("--format", choices=["yaml", "json"], default="yaml")

    def handle(self, *args, reference, number=None, format="yaml", **options):
        contract = Contract.objects.filter(reference=reference).first()
        if contract is None:
            raise CommandError(f"No contract has reference {reference}.")
        version = contract.versions.filter(number=number).first() if number else contract.current_version()
        if version is None:
            raise CommandError(f"{reference} has no version {number}.")
        self.stdout.write(to_json(version.document) if format == "json" else to_yaml(version.document),
                          ending="")
