"""Shared test factories (factory_boy)."""

import factory
from django.utils.text import slugify

from pbr.models import AuditEvent, Job, Organisation, OrganisationKind, Role, User


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Organisation {n}")
    slug = factory.LazyAttribute(lambda o: slugify(o.name))
    kind = OrganisationKind.PROVIDER


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    role = Role.PROVIDER_USER
    organisation = factory.SubFactory(OrganisationFactory)
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class JobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Job

    name = "test job"


def audit_event(organisation, action="test.event"):
    return AuditEvent.objects.create(action=action, organisation=organisation, actor_label="test")
