"""Factories for the contract domain: small, valid objects, each test adds what it needs."""

import datetime
from decimal import Decimal

import factory
from django.contrib.auth.models import Permission
from factory.django import DjangoModelFactory

from workflows.models import (
    Action,
    Contract,
    FundingLine,
    Organisation,
    Signatory,
    SignatoryKind,
    SteeringCommittee,
    Theme,
    User,
    WorkingGroup,
)

PASSWORD = "correct-horse-battery-staple"


class OrganisationFactory(DjangoModelFactory):
    class Meta:
        model = Organisation
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"ORG{n}")
    name = factory.LazyAttribute(lambda o: f"Organisation {o.code}")
    category = "collectivite"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"person{n}")
    first_name = "Personne"
    last_name = factory.LazyAttribute(lambda o: o.username)
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    organisation = factory.SubFactory(OrganisationFactory)
    position = "Chargé de mission"
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


class ContractFactory(DjangoModelFactory):
    """A draft contract with one coordinator (``contract.coordinators.first()``)."""

    class Meta:
        model = Contract
        skip_postgeneration_save = True

    reference = factory.Sequence(lambda n: f"CLS-TEST-{n}")
    title = factory.LazyAttribute(lambda o: f"Contrat local de santé {o.reference}")
    kind = "CLS"
    territory_name = "Communauté de communes de test"
    territory_communes = 12
    territory_population = 18000
    period_start = datetime.date(2024, 1, 1)
    period_end = datetime.date(2027, 12, 31)

    @factory.post_generation
    def coordinator(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.coordinators.add(extracted or UserFactory())


class ThemeFactory(DjangoModelFactory):
    class Meta:
        model = Theme

    contract = factory.SubFactory(ContractFactory)
    code = factory.Sequence(lambda n: f"T{n}")
    title = factory.LazyAttribute(lambda o: f"Axe {o.code}")


class WorkingGroupFactory(DjangoModelFactory):
    """A working group with two leads, as the binôme ARS/CC of the seeds."""

    class Meta:
        model = WorkingGroup
        skip_postgeneration_save = True

    contract = factory.SubFactory(ContractFactory)
    code = factory.Sequence(lambda n: f"GT{n}")
    title = factory.LazyAttribute(lambda o: f"Groupe {o.code}")

    @factory.post_generation
    def leads(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            leads = extracted if extracted is not None else [UserFactory(), UserFactory()]
            obj.leads.set(leads)
            obj.members.add(*leads)


class ActionFactory(DjangoModelFactory):
    class Meta:
        model = Action

    contract = factory.SubFactory(ContractFactory)
    theme = factory.LazyAttribute(lambda o: ThemeFactory(contract=o.contract))
    working_group = factory.LazyAttribute(lambda o: WorkingGroupFactory(contract=o.contract))
    code = factory.Sequence(lambda n: f"A{n}")
    title = factory.LazyAttribute(lambda o: f"Action {o.code}")
    objective = "Améliorer l'accès aux soins."
    pilot = factory.SubFactory(UserFactory)


class FundingLineFactory(DjangoModelFactory):
    class Meta:
        model = FundingLine

    action = factory.SubFactory(ActionFactory)
    funder = factory.SubFactory(OrganisationFactory)
    amount = Decimal("10000.00")


class SteeringCommitteeFactory(DjangoModelFactory):
    class Meta:
        model = SteeringCommittee
        skip_postgeneration_save = True

    contract = factory.SubFactory(ContractFactory)
    chair = factory.SubFactory(UserFactory)
    quorum = 2

    @factory.post_generation
    def members(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.members.set([obj.chair, *(extracted or [UserFactory(), UserFactory()])])


class SignatoryFactory(DjangoModelFactory):
    """A signatory whose signer and representative belong to its organisation, as the contract
    file's rules want: people given from elsewhere are moved into it."""

    class Meta:
        model = Signatory

    contract = factory.SubFactory(ContractFactory)
    organisation = factory.SubFactory(OrganisationFactory)
    kind = SignatoryKind.MANDATORY
    signer = factory.LazyAttribute(lambda o: UserFactory(organisation=o.organisation))
    order = 1

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        organisation = kwargs["organisation"]
        for person in (kwargs.get("signer"), kwargs.get("represented_by")):
            if person is not None and person.organisation_id != organisation.pk:
                person.organisation = organisation
                person.save(update_fields=["organisation"])
        return super()._create(model_class, *args, **kwargs)


# --- Personas -----------------------------------------------------------------------------


def contract_author(username: str = "coordination.valouche") -> User:
    """Inès Benali, coordinator of the Val d'Ouche intercommunality, granted the right to set
    contracts up (``workflows.add_contract``): who writes a contract in Accord."""
    person = UserFactory(
        username=username,
        first_name="Inès",
        last_name="Benali",
        organisation=OrganisationFactory(code="CCVO", name="CC du Val d'Ouche"),
    )
    person.user_permissions.add(Permission.objects.get(codename="add_contract"))
    return User.objects.get(pk=person.pk)  # a fresh instance: no stale permission cache
