"""factory_boy factories for the test suite."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from docks.models import Bucket, Dock, Server
from stackdock.models import BUILTIN_ROLES, Membership, Organization, Role

User = get_user_model()
PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}@example.com")
    email = factory.SelfAttribute("username")
    password = factory.django.Password(PASSWORD)


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"org-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())

    @factory.post_generation
    def builtin_roles(self, create, extracted, **kwargs):  # type: ignore[no-untyped-def]
        if create:
            for name, perms in BUILTIN_ROLES.items():
                Role.objects.get_or_create(
                    org=self, name=name, defaults={"permissions": perms, "builtin": True}
                )


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    class Params:
        role_name = "viewer"

    user = factory.SubFactory(UserFactory)
    org = factory.SubFactory(OrganizationFactory)
    role = factory.LazyAttribute(lambda o: Role.objects.get(org=o.org, name=o.role_name))


class DockFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dock

    org = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"dock-{n}")
    provider = "sandbox"


class ServerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Server

    dock = factory.SubFactory(DockFactory)
    org = factory.SelfAttribute("dock.org")
    provider = factory.SelfAttribute("dock.provider")
    provider_resource_id = factory.Sequence(lambda n: f"i-{n:08x}")
    name = factory.Sequence(lambda n: f"server-{n}")


class BucketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Bucket

    dock = factory.SubFactory(DockFactory)
    org = factory.SelfAttribute("dock.org")
    provider = factory.SelfAttribute("dock.provider")
    provider_resource_id = factory.Sequence(lambda n: f"bucket-{n}")
    name = factory.SelfAttribute("provider_resource_id")
