"""Re-encrypt every stored signing key with the current ACCORD_SIGNING_KEY."""

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from signatures.keys import signing_keys_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored private key with ACCORD_SIGNING_KEY, opening each with it or "
        "one of ACCORD_SIGNING_KEY_PREVIOUS (comma-separated). Safe to run again; afterwards "
        "the previous keys may be removed."
    )

    def handle(self, *args, **options):
        try:
            rotation = signing_keys_rotate()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"{rotation.rotated} signing keys re-encrypted with ACCORD_SIGNING_KEY, "
            f"{rotation.current} already were."
        )
