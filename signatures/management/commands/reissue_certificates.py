"""Reissue the certificates issued before Accord published its revocation list."""

from django.core.management.base import BaseCommand

from signatures.pki import certificates_reissue


class Command(BaseCommand):
    help = (
        "Replace every valid certificate of Accord's authority that names no CRL "
        "distribution point (issued before the revocation list was published), so that "
        "readers can check it; the old one is superseded, not revoked. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="List them without changing anything."
        )

    def handle(self, *args, dry_run: bool = False, **options):
        reissued = certificates_reissue(dry_run=dry_run)
        for old, new in reissued:
            line = f"{old.kind} {old.subject} ({old.fingerprint[:16]})"
            self.stdout.write(
                f"{line}: would be reissued"
                if new is None
                else f"{line}: reissued as {new.fingerprint[:16]}"
            )
        verb = "to reissue" if dry_run else "reissued"
        self.stdout.write(f"{len(reissued)} certificates {verb}.")
