"""The sweep of seals left undone (the broker lost their task), for cron installations."""

from django.core.management.base import BaseCommand

from signatures.tasks import seal_pending


class Command(BaseCommand):
    help = "Seal the signed documents whose seal is still missing after the grace period."

    def handle(self, *args, **options):
        sealed = seal_pending()
        self.stdout.write(f"{sealed} document(s) sealed.")
