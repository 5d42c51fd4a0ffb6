from django.core.management.base import BaseCommand

from workflows.services import reminders_send


class Command(BaseCommand):
    help = (
        "Send the reminders of tasks due soon, the overdue notices and the coordinators' "
        "alerts, each once per task and step (the Celery beat job, for cron)."
    )

    def handle(self, *args, **options):
        sent = reminders_send()
        self.stdout.write(
            f"{sent['due_soon']} reminder(s), {sent['overdue']} overdue notice(s), "
            f"{sent['coordinator_alert']} coordinator alert(s) sent."
        )
