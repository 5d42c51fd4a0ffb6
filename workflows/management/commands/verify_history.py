"""Recompute every contract's history chain against its anchors, then anchor the intact heads
(a checkpoint and today's signed head file); exit 1 naming the first bad entry."""

from django.core.management.base import BaseCommand, CommandError

from workflows.audit.services import history_check
from workflows.models import Contract


class Command(BaseCommand):
    help = (
        "Check that no history entry was edited, inserted or removed, nor cut off the end of a"
        " chain since its last anchor; then anchor the heads found intact."
    )

    def add_arguments(self, parser):
        parser.add_argument("--contract", metavar="REF", help="Only this contract's history.")

    def handle(self, *args, contract: str | None = None, **options):
        contracts = None
        if contract:
            contracts = Contract.objects.filter(reference=contract)
            if not contracts.exists():
                raise CommandError(f'No contract with reference "{contract}".')
        check = history_check(contracts)
        for result in check.results:
            reference = result.contract.reference
            if result.valid:
                self.stdout.write(f"{reference}: OK ({result.entries} entries)")
            else:
                self.stderr.write(
                    f"{reference}: BROKEN at entry #{result.first_bad_seq}: {result.problem}"
                )
        for name in check.forged_files:
            self.stderr.write(f"{name}: FORGED: the seal's signature of this head file fails")
        for reference, anchor in sorted(check.vanished.items()):
            self.stderr.write(
                f"{reference}: MISSING from the database "
                f"({anchor.seq} entries in the {anchor.label})"
            )
        if check.unanchored:
            self.stderr.write(f"Today's signed head file could not be written: {check.unanchored}")
        problems = (
            len(check.broken)
            + len(check.forged_files)
            + len(check.vanished)
            + bool(check.unanchored)
        )
        if problems:
            raise CommandError(f"{problems} history problem(s) found.", returncode=1)
