"""Recompute every contract's history chain; exit 1 naming the first bad entry."""

from django.core.management.base import BaseCommand, CommandError

from workflows.models import Contract
from workflows.selectors import history_verify


class Command(BaseCommand):
    help = "Check that no history entry was edited, inserted or removed."

    def add_arguments(self, parser):
        parser.add_argument("--contract", metavar="REF", help="Only this contract's history.")

    def handle(self, *args, contract: str | None = None, **options):
        contracts = Contract.objects.order_by("reference")
        if contract:
            contracts = contracts.filter(reference=contract)
            if not contracts.exists():
                raise CommandError(f'No contract with reference "{contract}".')
        broken = 0
        for item in contracts:
            result = history_verify(item)
            if result.valid:
                self.stdout.write(f"{item.reference}: OK ({result.entries} entries)")
            else:
                broken += 1
                self.stderr.write(
                    f"{item.reference}: BROKEN at entry #{result.first_bad_seq}: {result.problem}"
                )
        if broken:
            raise CommandError(f"{broken} history chain(s) broken.", returncode=1)
