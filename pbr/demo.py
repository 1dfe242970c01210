"""Demo organisations and people, shared by `seed_demo` and the tests."""

from django.db import transaction

from . import audit
from .models import Organisation, OrganisationKind, Role, User

DEMO_PASSWORD = "demo-password-123"

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
    return orgs, users
