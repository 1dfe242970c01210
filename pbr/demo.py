"""Demo organisations and people, shared by `seed_demo` and the tests."""

from django.db import transaction

from . import audit
from .models import Organisation, OrganisationKind, Role, User

DEMO_PASSWORD = "demo-password-123"

# Demo people whose role needs two-factor authentication (ADR 0015) get an authenticator device
# with one of these fixed, published keys, so a fresh clone can sign in: add the base32 key
# (README.md) to an authenticator app, or run `python manage.py demo_totp USERNAME`. They are
# public, so a device with one of them protects nothing: never use them on a live service.
DEMO_TOTP_KEYS = {
    "commissioner": "ab715e6518ca18f29c8b0f8a897898c45b0661f7",
    "auditor": "a46731176da7aaebcb2190340bbfc9a6b04312ef",
    "admin": "0ef38afccae50de1b61f56a0877dde81bd93eeed",
}
DEMO_DEVICE_NAME = "Demo authenticator (published key)"

ORGANISATIONS = [
    ("northshire-council", "Northshire County Council", OrganisationKind.COMMISSIONING_BODY),
    ("pathway-housing", "Pathway Housing Trust", OrganisationKind.PROVIDER),
    ("step-up-charity", "Step Up Community Charity", OrganisationKind.PROVIDER),
    ("clearview-assurance", "Clearview Assurance", OrganisationKind.AUDIT_BODY),
]

# username, first, last, organisation slug, role
PEOPLE = [
    ("commissioner", "Cara", "Commissioner", "northshire-council", Role.COMMISSIONER),
    ("provider-manager", "Priya", "Manager", "pathway-housing", Role.PROVIDER_MANAGER),
    ("provider-user", "Paul", "Caseworker", "pathway-housing", Role.PROVIDER_USER),
    ("subcontractor", "Sam", "Subcontractor", "step-up-charity", Role.PROVIDER_MANAGER),
    ("auditor", "Alex", "Auditor", "clearview-assurance", Role.AUDITOR),
    ("admin", "Ada", "Administrator", None, Role.SITE_ADMIN),
]


@transaction.atomic
def seed_people():
    """Create (or refresh) demo organisations and users. Safe to run more than once."""
    orgs = {}
    for slug, name, kind in ORGANISATIONS:
        orgs[slug], _ = Organisation.objects.update_or_create(
            slug=slug, defaults={"name": name, "kind": kind})
    users = []
    for username, first, last, org_slug, role in PEOPLE:
        user, created = User.objects.get_or_create(username=username)
        user.first_name, user.last_name = first, last
        user.email = f"{username}@example.org"
        user.organisation = orgs.get(org_slug)
        user.role = role
        user.is_active = True
        user.is_staff = user.is_superuser = role == Role.SITE_ADMIN
        user.set_password(DEMO_PASSWORD)
        user.save()
        if created:
            audit.record("user.created", actor=None, obj=user, organisation=user.organisation,
                         after={"role": role}, reason="Demo data", actor_label="seed_demo")
        users.append(user)
        if username in DEMO_TOTP_KEYS:
            seed_demo_device(user)
    return orgs, users


def seed_demo_device(user):
    """Give a demo user a confirmed TOTP device with their published key (unless they already
    have a device: someone may have set up their own app)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if TOTPDevice.objects.filter(user=user).exists():
        return None
    return TOTPDevice.objects.create(user=user, name=DEMO_DEVICE_NAME, confirmed=True,
                                     key=DEMO_TOTP_KEYS[user.username])


def demo_device(username):
    """The user's device if it is a demo one (its key is the published demo key), else None."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    key = DEMO_TOTP_KEYS.get(username)
    if key is None:
        return None
    return TOTPDevice.objects.filter(user__username=username, key=key, confirmed=True).first()


def readable_key(hex_key):
    from .mfa import readable_secret

    return readable_secret(hex_key)


def current_code(device):
    """The code an authenticator app holding this device's key shows now."""
    import time

    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():0{device.digits}d}"


def seed_contracts(orgs, users):
    """Import the worked example contracts (C1-C6) for the demo commissioner and run a few periods.

    Safe to run more than once: existing references are left alone.
    """
    from pathlib import Path

    from contracts.definition import load_document
    from contracts.models import Contract
    from contracts.services import import_contract
    from payments.models import RunStatus
    from payments.services import approve_run, run_period

    examples = Path(__file__).resolve().parent.parent / "examples" / "contracts"
    commissioner = next(u for u in users if u.role == Role.COMMISSIONER)
    created = []
    for path in sorted(examples.glob("*.yaml")):
        document = load_document(path)
        if Contract.objects.filter(reference=document["reference"]).exists():
            continue
        links = {document["prime_provider"]["code"]: orgs["pathway-housing"]}
        for sub in document.get("subcontractors", [])[:1]:
            links[sub["code"]] = orgs["step-up-charity"]
        contract = import_contract(document, actor=commissioner, links=links,
                                   auditor=orgs["clearview-assurance"], publish=True,
                                   reason=f"Demo data: {path.name}")
        created.append(contract)
    c1 = Contract.objects.filter(reference="C1-DERBYSHIRE").first()
    if c1 is not None and not c1.payment_runs.exists():
        for period_id in ("P1 2013-14", "P2 2013-14"):
            run, _posted = run_period(c1, period_id, actor=commissioner)
        first = c1.payment_runs.get(period_id="P1 2013-14")
        if first.status == RunStatus.DRAFT:
            approve_run(first, actor=commissioner)
    return created
