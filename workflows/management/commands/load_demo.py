"""Load the demo contract and give its people a log-in, for the embedded demo only."""

from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from workflows.contract_file import parse_contract_file
from workflows.errors import InvalidContractFile
from workflows.models import Contract, ContractStatus, TaskStatus, User
from workflows.services import contract_import, launch_review

DEMO_FILE = Path(__file__).resolve().parents[2] / "demo" / "terres-des-confluences.json"
DEMO_PASSWORD = "accord-demo"  # noqa: S105 — printed on screen, embedded demo only


def _roles(user: User, contract: Contract) -> list[str]:
    roles = []
    if contract.coordinators.filter(pk=user.pk).exists():
        roles.append("coordination")
    if contract.signatories.filter(signer=user).exists():
        roles.append("signataire")
    if contract.signatories.filter(represented_by=user).exists():
        roles.append("représentant(e) d'un signataire")
    if contract.steering_committee.chair_id == user.pk:
        roles.append("présidence du COPIL")
    elif contract.steering_committee.members.filter(pk=user.pk).exists():
        roles.append("membre du COPIL")
    if contract.working_groups.filter(leads=user).exists():
        roles.append("animation de groupe de travail")
    if contract.actions.filter(pilot=user).exists():
        roles.append("pilote d'actions")
    return roles


class Command(BaseCommand):
    help = "Import the demo contract (Terres des Confluences) and set demo passwords."

    def add_arguments(self, parser):
        parser.add_argument(
            "--allow-demo-passwords",
            action="store_true",
            help="Set the demo passwords even outside the embedded default (never in production).",
        )
        parser.add_argument(
            "--draft",
            action="store_true",
            help="Leave a newly imported contract in draft instead of launching its review.",
        )

    @transaction.atomic
    def handle(self, *args, allow_demo_passwords: bool = False, draft: bool = False, **options):
        if not (settings.EMBEDDED or allow_demo_passwords):
            raise CommandError(
                "Demo passwords are for the embedded demo only (DATABASE_URL is set). "
                "Pass --allow-demo-passwords on a throw-away database if you really mean it."
            )
        document = parse_contract_file(DEMO_FILE.read_bytes(), filename=DEMO_FILE.name)
        contract = Contract.objects.filter(reference=document["reference"]).first()
        if contract is None:
            try:
                contract = contract_import(document=document, actor=None)
            except InvalidContractFile as exc:
                raise CommandError("\n".join([exc.message, *exc.errors])) from exc
            self.stdout.write(f"Contrat de démonstration importé : {contract.reference}")
            if not draft and contract.status == ContractStatus.DRAFT:
                # So that the demo's leads find review tasks in their inbox at once.
                launch_review(contract=contract, actor=contract.coordinators.order_by("pk")[0])
                self.stdout.write("Relecture lancée : les animateurs de groupe ont leurs tâches.")

        add_contract = Permission.objects.get(codename="add_contract")
        for coordinator in contract.coordinators.all():
            coordinator.user_permissions.add(add_contract)
        people = list(contract.participants.order_by("organisation__code", "username"))
        for person in people:
            person.set_password(DEMO_PASSWORD)
        User.objects.bulk_update(people, ["password"])
        admin, _ = User.objects.get_or_create(
            username="admin",
            defaults={"position": "Administration Accord", "is_staff": True, "is_superuser": True},
        )
        admin.set_password(DEMO_PASSWORD)
        admin.save(update_fields=["password"])

        self.stdout.write("")
        self.stdout.write(
            f"Identifiants de démonstration (mot de passe pour tous : {DEMO_PASSWORD})"
        )
        self.stdout.write(f"  {'admin':<24} {'':<24} administration (tous les contrats, /admin/)")
        for person in people:
            roles = ", ".join(_roles(person, contract)) or "membre d'un groupe de travail"
            tasks = person.tasks.filter(status=TaskStatus.ASSIGNED).count()
            inbox = f" ({tasks} tâche{'s' if tasks > 1 else ''} à traiter)" if tasks else ""
            self.stdout.write(
                f"  {person.username:<24} {person.formal_name:<24} {person.organisation.code:<9} "
                f"{roles}{inbox}"
            )
