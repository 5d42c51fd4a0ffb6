from django.core.management.base import BaseCommand

from notifications import delivery, tasks


class Command(BaseCommand):
    help = (
        "Deliver the notifications the after-commit step missed (browser push, e-mail); "
        "with --digests, also send the daily digests. For cron, where Celery beat is not used."
    )

    def add_arguments(self, parser):
        parser.add_argument("--digests", action="store_true", help="send the daily digests too")

    def handle(self, *args, digests: bool = False, **options):
        result = tasks.deliver_overdue()
        self.stdout.write(
            f"{result['pushed']} notification(s) pushed, "
            f"{result['emails_queued']} e-mail(s), "
            f"{result['webhooks_queued']} webhook delivery(ies) queued."
        )
        if digests:
            self.stdout.write(f"{delivery.digests_send()} digest(s) sent.")
