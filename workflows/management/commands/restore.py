"""Restore a backup into a fresh database and an empty MEDIA_ROOT (docs/operations.md)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from workflows.backups import BackupError, backup_restore


class Command(BaseCommand):
    help = (
        "Restore the backup in DIR into the database of DATABASE_URL, which must be empty, "
        "and MEDIA_ROOT, which must be empty; checks the files' SHA-256 before and every "
        "contract's history head after. Then run verify_history and verify_document."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", metavar="DIR", type=Path, help="A backup's folder.")

    def handle(self, *args, directory: Path, **options):
        try:
            restored = backup_restore(directory)
        except BackupError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"Restored {restored} contract(s) from {directory}; their history heads match "
            "the backup's. Now run: manage.py verify_history, and manage.py verify_document "
            "REF for the signed contracts."
        )
