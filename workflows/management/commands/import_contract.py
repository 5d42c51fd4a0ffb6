"""Import a contract file: all or nothing, every problem listed with its place in the file."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from workflows.contract_file import parse_contract_file
from workflows.errors import ContractFileTooLarge, InvalidContractFile
from workflows.models import User
from workflows.services import contract_import


class Command(BaseCommand):
    help = (
        "Import a contract file (JSON or YAML, format accord.contract/1). A file with problems "
        "imports nothing: each problem is printed with its place in the file, and the command "
        "exits with status 1."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", help="The contract file (.json, .yaml).")
        parser.add_argument(
            "--as",
            dest="username",
            metavar="USERNAME",
            help="The person recorded as having imported it (default: nobody, the system).",
        )

    def handle(self, *args, file: str, username: str | None = None, **options):
        actor = None
        if username:
            actor = User.objects.filter(username=username).first()
            if actor is None:
                raise CommandError(
                    _('No person with username "%(username)s".') % {"username": username}
                )

        path = Path(file)
        try:
            raw = path.read_bytes()
        except FileNotFoundError as exc:
            raise CommandError(_('No file "%(file)s".') % {"file": file}) from exc
        except OSError as exc:
            raise CommandError(
                _('Cannot read "%(file)s": %(reason)s') % {"file": file, "reason": exc.strerror}
            ) from exc

        try:
            document = parse_contract_file(raw, filename=path.name)
            contract = contract_import(document=document, actor=actor)
        except InvalidContractFile as exc:
            for line in exc.errors:
                self.stderr.write(line)
            raise CommandError(exc.message, returncode=1) from exc
        except ContractFileTooLarge as exc:
            raise CommandError(exc.message, returncode=1) from exc

        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "Imported %(reference)s (%(actions)d actions, %(groups)d working groups, "
                    "%(signatories)d signatories): status %(status)s"
                )
                % {
                    "reference": contract.reference,
                    "actions": contract.actions.count(),
                    "groups": contract.working_groups.count(),
                    "signatories": contract.signatories.count(),
                    "status": contract.status,
                }
            )
        )
