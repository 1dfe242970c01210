"""Erase one participant's personal data on request (docs/security.md, "Erasure on request")."""

from django.core.management.base import BaseCommand, CommandError

from outcomes.data_protection import ErasureError, erase_participant, find_participant
from pbr.models import User


class Command(BaseCommand):
    help = ("Erase a participant's personal data: their reference, identity hash, leave reason, "
            "free-text notes, evidence files and the same in the audit log. The claims' facts "
            "and the payment ledger stay, under the pseudonym P<id>.")

    def add_arguments(self, parser):
        parser.add_argument("contract", help="The contract's reference, e.g. C1-DERBYSHIRE.")
        parser.add_argument("participant", help="The provider's own case reference.")
        parser.add_argument("--reason", required=True,
                            help="Why, e.g. the request's reference. Kept in the audit log: do "
                                 "not name the person.")
        parser.add_argument("--provider", default="",
                            help="The provider's slug, when two providers use the reference.")
        parser.add_argument("--by", default="",
                            help="Username of the person carrying out the request (audited).")
        parser.add_argument("--delete-shared-evidence", action="store_true",
                            help="Also delete evidence files that support other people's claims.")

    def handle(self, *args, **options):
        actor = None
        if options["by"]:
            actor = User.objects.filter(username=options["by"], is_active=True).first()
            if actor is None:
                raise CommandError(f"--by: there is no active user {options['by']}.")
        try:
            found = find_participant(options["contract"], options["participant"],
                                     options["provider"])
            if found.earlier is not None:
                self.stdout.write(
                    f"Already erased on {found.earlier.occurred_at:%d %B %Y} (now "
                    f"{found.earlier.after.get('pseudonym', 'pseudonymised')}): nothing to do.")
                return
            result = erase_participant(
                found.participant, reason=options["reason"], actor=actor,
                actor_label="" if actor else "erase_participant",
                delete_shared_evidence=options["delete_shared_evidence"])
        except ErasureError as exc:
            raise CommandError(str(exc)) from None
        if result.outcome is None:
            when = f" on {result.already_erased_on:%d %B %Y}" if result.already_erased_on else ""
            self.stdout.write(f"{result.pseudonym} on {result.contract} was erased{when}: "
                              "nothing to do.")
            return
        out = result.outcome
        self.stdout.write(
            f"Erased {options['participant']} on {result.contract}: now {result.pseudonym}. "
            f"{out.claims} claim(s) kept as pseudonymised facts; "
            f"{len(out.files_deleted)} evidence file(s) deleted; "
            f"{out.texts_redacted} note(s) and {out.audit_events_redacted} audit event(s) "
            f"redacted; {out.uploads_redacted} upload report(s) redacted.")
        for error in out.file_errors:
            self.stderr.write(f"Could not delete stored file {error}; delete it by hand.")
        if out.file_errors:
            raise CommandError("Some stored files could not be deleted (listed above).")
