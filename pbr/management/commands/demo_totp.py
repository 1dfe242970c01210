from django.core.management.base import BaseCommand, CommandError

from pbr.demo import DEMO_TOTP_KEYS, current_code, demo_device


class Command(BaseCommand):
    help = ("Print the current two-factor code of a demo user (commissioner, auditor, admin). "
            "Refuses anyone whose device does not hold the published demo key.")

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        device = demo_device(username)
        if device is None:
            demo_users = ", ".join(sorted(DEMO_TOTP_KEYS))
            raise CommandError(
                f"{username} has no demo authenticator device. This command only prints codes "
                f"for the demo users ({demo_users}) while their device holds the published demo "
                "key (python manage.py seed_demo creates it).")
        self.stdout.write(current_code(device))
