from django.core.management.base import BaseCommand, CommandError

from pbr import mfa
from pbr.models import User


class Command(BaseCommand):
    help = ("Reset a person's two-factor authentication (they set up a new authenticator app at "
            "their next sign-in). For when no other site administrator can do it from the "
            "organisation page. Written to the audit log.")

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--reason", required=True,
                            help="Why, for the audit log (for example: lost phone, identity "
                                 "checked by telephone).")

    def handle(self, *args, username, reason, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user is called {username}.")
        if not reason.strip():
            raise CommandError("Give a reason with --reason: it is written to the audit log.")
        deleted = mfa.reset(user, reason=reason.strip(), actor_label="manage.py reset_mfa")
        self.stdout.write(self.style.SUCCESS(
            f"Reset two-factor authentication for {username} ({deleted} device(s) removed). "
            "They will set up a new authenticator app when they next sign in."))
