"""Back up the installation: the PostgreSQL database and the stored files (docs/operations.md)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from workflows.backups import BackupError, backup_write


class Command(BaseCommand):
    help = (
        "Write a backup into DIR: the database (pg_dump, custom format), the stored files "
        "(MEDIA_ROOT, as a tar.gz) and a manifest with their SHA-256 and each contract's "
        "history head, which `restore` checks."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", metavar="DIR", type=Path, help="A new, empty folder.")

    def handle(self, *args, directory: Path, **options):
        try:
            manifest = backup_write(directory)
        except BackupError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"Backup written to {directory}: {len(manifest['contracts'])} contract(s), "
            f"{manifest['files']['database.dump']['bytes']} bytes of database, "
            f"{manifest['files']['files.tar.gz']['bytes']} bytes of stored files."
        )
