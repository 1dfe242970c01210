from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from contracts.io import parse_text
from contracts.services import ContractError, import_contract
from pbr.models import Organisation, OrganisationKind


class Command(BaseCommand):
    help = ("Import a contract definition (YAML or JSON, format v1). Every error is listed with its "
            "path; nothing is saved unless the whole file is valid.")

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--commissioner", help="Slug of the commissioning body that manages it "
                            "(default: the only one, if there is exactly one).")
        parser.add_argument("--link", action="append", default=[], metavar="CODE=SLUG",
                            help="Link a party code or name in the file to an organisation slug.")
        parser.add_argument("--auditor", help="Slug of the audit body that verifies its claims.")
        parser.add_argument("--publish", action="store_true", help="Publish the terms at once.")

    def handle(self, *args, file, commissioner=None, link=(), auditor=None, publish=False, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"{file}: no such file.")
        commissioning_bodies = Organisation.objects.filter(kind=OrganisationKind.COMMISSIONING_BODY)
        if commissioner:
            body = commissioning_bodies.filter(slug=commissioner).first()
            if body is None:
                raise CommandError(f"--commissioner {commissioner}: no commissioning body has that slug.")
        elif commissioning_bodies.count() == 1:
            body = commissioning_bodies.get()
        else:
            raise CommandError("Say which commissioning body manages it: --commissioner SLUG.")
        links = {}
        for item in link:
            code, _, slug = item.partition("=")
            org = Organisation.objects.filter(slug=slug).first()
            if not code or org is None:
                raise CommandError(f"--link {item}: expected CODE=SLUG with an existing organisation.")
            links[code] = org
        audit_body = None
        if auditor:
            audit_body = Organisation.objects.filter(slug=auditor, kind=OrganisationKind.AUDIT_BODY).first()
            if audit_body is None:
                raise CommandError(f"--auditor {auditor}: no audit body has that slug.")
        try:
            document = parse_text(path.read_bytes(), path.name)
            contract = import_contract(document, commissioner=body, links=links, auditor=audit_body,
                                       publish=publish, reason=f"Imported from {path.name}")
        except ContractError as exc:
            lines = "\n".join(f"  {p}" for p in exc.problems)
            raise CommandError(
                f"{path.name}: {len(exc.problems)} problem(s), nothing saved:\n{lines}") from exc
        state = "published" if publish else "draft"
        self.stdout.write(self.style.SUCCESS(f"Imported {contract.reference} ({state}, version 1)."))
