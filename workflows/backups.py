"""Backups an operator can restore and prove intact (docs/operations.md).

A backup is a folder: ``database.dump`` (pg_dump's custom format: the whole database, signed
documents and encrypted signing keys included), ``files.tar.gz`` (MEDIA_ROOT: the
attachments), ``anchors.tar.gz`` (ACCORD_ANCHORS_DIR: the signed daily head files of the
histories, which a restored installation checks its chains against) and ``manifest.json``
(when, each file's size and SHA-256, and each contract's history head: its last entry's
number and hash). Restoring checks the files against the manifest before touching anything,
restores into an empty database and empty folders, then checks that every contract's history
holds the head backed up: a dump cut short or a wrong file is named, not silently restored.
The secrets are not in the backup: the restored installation needs the same
ACCORD_SIGNING_KEY (its signing keys are encrypted with it).

pg_dump and pg_restore are PostgreSQL's own tools (the server's major version or newer), run
with a timeout (ACCORD_BACKUP_TIMEOUT) and the connection settings of DATABASE_URL.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from .models import Contract, HistoryEntry

DUMP = "database.dump"
FILES = "files.tar.gz"
ANCHORS = "anchors.tar.gz"
MANIFEST = "manifest.json"
FORMAT = 1


class BackupError(Exception):
    """The backup or the restore cannot go on; the message says why."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _postgres() -> tuple[list[str], dict[str, str]]:
    """pg_dump / pg_restore's connection options and environment, from DATABASE_URL."""
    if connection.vendor != "postgresql":
        raise BackupError(
            "Backups are made of PostgreSQL installations (DATABASE_URL). On the embedded "
            "default, stop Accord and copy its var/ folder."
        )
    database = settings.DATABASES["default"]
    options = [f"--dbname={database['NAME']}"]
    if database.get("HOST"):
        options.append(f"--host={database['HOST']}")
    if database.get("PORT"):
        options.append(f"--port={database['PORT']}")
    if database.get("USER"):
        options.append(f"--username={database['USER']}")
    env = dict(os.environ)
    if database.get("PASSWORD"):
        env["PGPASSWORD"] = str(database["PASSWORD"])
    return options, env


def _run(command: list[str], env: dict[str, str]) -> None:
    tool = shutil.which(command[0])
    if tool is None:
        raise BackupError(f"{command[0]} is not installed (PostgreSQL's client tools).")
    try:
        completed = subprocess.run(
            [tool, *command[1:]],
            env=env,
            capture_output=True,
            text=True,
            timeout=settings.ACCORD_BACKUP_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise BackupError(
            f"{command[0]} did not finish within {settings.ACCORD_BACKUP_TIMEOUT} s."
        ) from error
    if completed.returncode:
        raise BackupError(f"{command[0]} failed: {completed.stderr.strip()[-2000:]}")


def history_heads() -> dict[str, dict[str, Any]]:
    """Each contract's history head: {reference: {"seq", "hash"}} (None: no entry yet)."""
    last = HistoryEntry.objects.filter(contract=OuterRef("pk")).order_by("-seq")
    rows = Contract.objects.annotate(
        head_seq=Subquery(last.values("seq")[:1]), head_hash=Subquery(last.values("hash")[:1])
    ).values_list("reference", "head_seq", "head_hash")
    return {
        reference: {"seq": seq, "hash": digest} for reference, seq, digest in rows.order_by("pk")
    }


def _anchors() -> Path:
    return Path(settings.ACCORD_ANCHORS_DIR)


def backup_write(directory: Path) -> dict[str, Any]:
    """Write a backup into ``directory`` (new or empty) and return its manifest."""
    if directory.exists() and any(directory.iterdir()):
        raise BackupError(f"{directory} is not empty: a backup goes into a new folder.")
    options, env = _postgres()
    directory.mkdir(parents=True, exist_ok=True)
    # The heads first: the dump, taken after, holds them or more (entries are only added).
    heads = history_heads()
    _run(
        [
            "pg_dump",
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            *options,
            "--file",
            str(directory / DUMP),
        ],
        env,
    )
    for name, folder in ((FILES, Path(settings.MEDIA_ROOT)), (ANCHORS, _anchors())):
        with tarfile.open(directory / name, "w:gz") as archive:
            if folder.exists():
                archive.add(folder, arcname=".")
    manifest = {
        "format": FORMAT,
        "created_at": timezone.now().isoformat(),
        "database": str(settings.DATABASES["default"]["NAME"]),
        "files": {
            name: {"bytes": (directory / name).stat().st_size, "sha256": _sha256(directory / name)}
            for name in (DUMP, FILES, ANCHORS)
        },
        "contracts": heads,
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


def _manifest(directory: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError) as error:
        raise BackupError(f"{directory / MANIFEST} cannot be read: {error}") from error
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{directory / MANIFEST} is not a backup of this format.")
    for name, expected in manifest["files"].items():
        path = directory / name
        if not path.exists():
            raise BackupError(f"{path} is missing.")
        if _sha256(path) != expected["sha256"]:
            raise BackupError(f"{path} is not the file backed up (its SHA-256 differs).")
    return manifest


def backup_restore(directory: Path) -> int:
    """Restore the backup in ``directory`` into the (empty) database and MEDIA_ROOT; return
    how many contracts it holds, once their history heads are checked against the manifest."""
    manifest = _manifest(directory)
    options, env = _postgres()
    if connection.introspection.table_names():
        raise BackupError(
            f"The database {settings.DATABASES['default']['NAME']} is not empty: restore into "
            "a new database (createdb), never over a running installation."
        )
    media, anchors = Path(settings.MEDIA_ROOT), _anchors()
    for setting, folder in (("MEDIA_ROOT", media), ("ACCORD_ANCHORS_DIR", anchors)):
        if folder.exists() and any(folder.iterdir()):
            raise BackupError(f"{setting} ({folder}) is not empty: restore into an empty folder.")
    connection.close()  # pg_restore creates the tables; this process reads them afterwards
    _run(
        [
            "pg_restore",
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            *options,
            str(directory / DUMP),
        ],
        env,
    )
    for name, folder in ((FILES, media), (ANCHORS, anchors)):
        if name not in manifest["files"]:
            continue  # a backup made before the anchors were kept
        folder.mkdir(parents=True, exist_ok=True)
        with tarfile.open(directory / name, "r:gz") as archive:
            archive.extractall(folder, filter="data")
    restored = history_heads()
    for reference, head in manifest["contracts"].items():
        if reference not in restored:
            raise BackupError(f"{reference} is missing from the restored database.")
        if head["seq"] is None:
            continue
        entry = HistoryEntry.objects.filter(contract__reference=reference, seq=head["seq"])
        if list(entry.values_list("hash", flat=True)) != [head["hash"]]:
            raise BackupError(
                f"{reference}: the restored history does not hold the backup's head, entry "
                f"{head['seq']} ({head['hash'][:12]}…); it ends at entry "
                f"{restored[reference]['seq']}."
            )
    return len(restored)
