"""The absence hand-over as a command, for installations that schedule with cron."""

from django.core.management.base import BaseCommand

from workflows.services import delegations_apply


class Command(BaseCommand):
    help = "Give open tasks to the delegates of absent people, and back to those who returned."

    def handle(self, *args, **options):
        moved = delegations_apply()
        self.stdout.write(f"{moved} task(s) handed over.")
