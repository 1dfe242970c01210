from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from pbr.demo import DEMO_PASSWORD, DEMO_TOTP_KEYS, readable_key, seed_contracts, seed_people


class Command(BaseCommand):
    help = "Load demo organisations and people (idempotent) and print the demo sign-ins."

    def add_arguments(self, parser):
        parser.add_argument("--allow-production", action="store_true",
                            help="Allow running with DEBUG off (never do this on a live service).")

    def handle(self, *args, allow_production=False, **options):
        if not settings.DEBUG and not allow_production and "test" not in settings.SETTINGS_MODULE:
            raise CommandError("Refusing to load demo data with DEBUG off. "
                               "Pass --allow-production if you really mean it.")
        orgs, users = seed_people()
        contracts = seed_contracts(orgs, users)
        if contracts:
            self.stdout.write(f"Imported example contracts: {', '.join(c.reference for c in contracts)}")
        self.stdout.write(self.style.SUCCESS("Demo data loaded. Sign in at /account/sign-in/ with:"))
        for user in users:
            org = user.organisation.name if user.organisation else "(no organisation)"
            self.stdout.write(f"  {user.username:<18} {user.get_role_display():<20} {org}")
        self.stdout.write(f"Every demo password is: {DEMO_PASSWORD}")
        self.stdout.write(
            f"{', '.join(sorted(DEMO_TOTP_KEYS))} also need a code from an authenticator app "
            "after the password. Get the current code with:")
        self.stdout.write("  python manage.py demo_totp USERNAME")
        self.stdout.write("or add the demo key to an authenticator app (README.md lists them):")
        for username, key in sorted(DEMO_TOTP_KEYS.items()):
            self.stdout.write(f"  {username:<18} {readable_key(key)}")
