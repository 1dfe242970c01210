"""Apply the retention period (docs/security.md, "Retention"); also run nightly by Celery beat."""

import datetime

from django.core.management.base import BaseCommand, CommandError

from outcomes.data_protection import apply_retention
from pbr.data_protection import retention_days


class Command(BaseCommand):
    help = ("Erase the participants (pseudonymise them, delete their evidence files) of every "
            "contract that ended more than PBR_EVIDENCE_RETENTION_DAYS ago, and delete evidence "
            "files older than that which were never attached to a claim.")

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true",
                            help="Say what would be erased and deleted; change nothing.")
        parser.add_argument("--today", default="", help="Act as on this day (YYYY-MM-DD).")

    def handle(self, *args, **options):
        today = None
        if options["today"]:
            try:
                today = datetime.date.fromisoformat(options["today"])
            except ValueError:
                raise CommandError("--today: enter a date like 2031-04-01.") from None
        report = apply_retention(today=today, dry_run=options["dry_run"])
        verb = "would be" if report.dry_run else "were"
        self.stdout.write(f"Retention: {retention_days()} days; contracts that ended before "
                          f"{report.cutoff:%d %B %Y} are past it.")
        if not report.contracts:
            self.stdout.write("No contract is past its retention period.")
        for reference, out in report.contracts.items():
            kept = (f"; {len(out.files_kept)} file(s) kept: they also support claims on a "
                    "contract still within its retention period") if out.files_kept else ""
            self.stdout.write(f"{reference}: {out.participants} participant(s) {verb} "
                              f"pseudonymised and {len(out.files_deleted)} evidence file(s) "
                              f"deleted{kept}.")
        self.stdout.write(f"Evidence never attached to a claim, uploaded before the cut-off: "
                          f"{len(report.unattached.files_deleted)} file(s) {verb} deleted.")
        errors = report.total.file_errors
        for error in errors:
            self.stderr.write(f"Could not delete stored file {error}; delete it by hand.")
        if errors:
            raise CommandError("Some stored files could not be deleted (listed above).")
