"""The history's heads remembered outside its table, so that a chain cut at its end or
rewritten whole (every link recomputed) cannot pass for intact.

A chain only proves that its entries follow each other; a head remembered elsewhere proves
that they are the ones written. Four places keep one:

- the checkpoints (``HistoryCheckpoint``) that ``verify_history`` and the nightly check
  write: in the database, they catch an intruder who forgets them, not one who empties them;
- the signed daily head file, ``ACCORD_ANCHORS_DIR/YYYY-MM-DD.json``, every contract's head,
  with a detached signature by Accord's seal (``YYYY-MM-DD.json.sig``, RSA PKCS#1 v1.5 over
  SHA-256, checkable with openssl and ``seal-certificate.pem``). The seal's private key is
  encrypted with ``ACCORD_SIGNING_KEY``, which is not in the database: who holds the database
  alone can neither rewrite the file (it is on the server's disk) nor sign another. An HMAC
  keyed from ``DJANGO_SECRET_KEY`` would not do: whoever reads the settings could forge it;
- the completion certificate: the seal's signature of the contract document names the head of
  the history at signature (in the signature's reason, covered by the signature);
- the webhooks' payloads, at the partners': checked with the bundle's ``--expected-head``.

The seal belongs to ``signatures``, which the domain never imports: ``history_seal()`` is its
implementation named by ``settings.ACCORD_HISTORY_SEAL``, as ``workflows.documents`` does for
the documents.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from .models import Contract, HistoryCheckpoint

ANCHOR_FORMAT = "accord.history-heads/1"
CERTIFICATE_FILE = "seal-certificate.pem"
# In a verification bundle: the head files as "anchor-YYYY-MM-DD.json" (and ".sig"), and the
# certificates of the seals that signed them.
BUNDLE_ANCHOR_PREFIX = "anchor-"
BUNDLE_CERTIFICATES = "seal-certificates.pem"


class HistorySeal(Protocol):
    """What the domain asks of the seal about its history's heads."""

    def sign(self, content: bytes) -> tuple[bytes, bytes]:
        """A detached signature of ``content`` by the seal, and the seal's certificate (PEM)."""
        ...

    def verify(self, content: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is the seal's, made over ``content`` (any seal the
        installation ever had, provided its stored key is genuine)."""
        ...

    def certificates(self) -> list[bytes]:
        """The certificate (PEM) of every genuine seal the installation ever had."""
        ...

    def certified_heads(self, contract: Contract) -> list[tuple[int, str, datetime.date]]:
        """(seq, hash, day) of the head each of the contract's sealed documents certifies,
        read from a seal signature that verifies."""
        ...


@cache
def history_seal() -> HistorySeal:
    """The installation's ``HistorySeal`` (``settings.ACCORD_HISTORY_SEAL``)."""
    return import_string(settings.ACCORD_HISTORY_SEAL)()


@dataclass(frozen=True)
class Anchor:
    """A head of a contract's chain remembered on ``day`` by ``source``."""

    seq: int
    hash: str
    source: str  # "checkpoint", "file" or "certificate"
    day: datetime.date
    # When a checkpoint was written (the full check that found the chain intact up to it).
    at: datetime.datetime | None = None

    @property
    def label(self) -> str:
        """Where the head was remembered, for the command's (English) output."""
        where = {
            "checkpoint": "checkpoint",
            "file": "signed head file",
            "certificate": "completion certificate",
        }[self.source]
        return f"{where} of {self.day.isoformat()}"


def anchors_dir() -> Path:
    return Path(settings.ACCORD_ANCHORS_DIR)


def anchor_path(day: datetime.date) -> Path:
    return anchors_dir() / f"{day.isoformat()}.json"


@dataclass(frozen=True)
class AnchorFiles:
    """The latest head each signed head file gives per contract reference, and the files
    whose signature does not hold (changed or replaced)."""

    heads: dict[str, Anchor]
    forged: tuple[str, ...] = ()


@lru_cache(maxsize=1024)
def _read_file(path: str, _mtime_ns: int, _size: int) -> tuple[dict[str, Anchor], bool]:
    """One head file's heads and whether its signature holds; cached while it is unchanged
    (the pages check the anchors too)."""
    content = Path(path).read_bytes()
    try:
        signature = Path(path + ".sig").read_bytes()
    except FileNotFoundError:
        return {}, False
    if not history_seal().verify(content, signature):
        return {}, False
    try:
        document = json.loads(content)
        day = datetime.date.fromisoformat(document["day"])
        heads = {
            reference: Anchor(int(head["seq"]), str(head["hash"]), "file", day)
            for reference, head in document["heads"].items()
        }
    except (ValueError, KeyError, TypeError):
        return {}, False
    return heads, True


def anchor_files_read() -> AnchorFiles:
    """Every signed head file, oldest first: each contract's latest anchored head."""
    folder = anchors_dir()
    if not folder.is_dir():
        return AnchorFiles({})
    heads: dict[str, Anchor] = {}
    forged = []
    for path in sorted(folder.glob("????-??-??.json")):
        stat = path.stat()
        found, genuine = _read_file(str(path), stat.st_mtime_ns, stat.st_size)
        if not genuine:
            forged.append(path.name)
        heads.update(found)
    return AnchorFiles(heads, tuple(forged))


def anchor_bundle_files(reference: str) -> list[tuple[str, bytes]]:
    """(name, content) of the signed head files naming the contract, each the first to give
    one of its heads, with their signatures and the seals' certificates: the bundle's
    script checks offline that each is signed and that its head is in the chain. The files
    go whole (the signature covers them): they also name the other contracts' heads."""
    folder = anchors_dir()
    if not folder.is_dir():
        return []
    files: list[tuple[str, bytes]] = []
    last = None
    for path in sorted(folder.glob("????-??-??.json")):
        try:
            content = path.read_bytes()
            signature = path.with_name(path.name + ".sig").read_bytes()
            head = json.loads(content)["heads"].get(reference)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # unsigned or unreadable: the database's check reports it
        if head is None or head == last:
            continue
        last = head
        name = BUNDLE_ANCHOR_PREFIX + path.name
        files += [(name, content), (name + ".sig", signature)]
    if files:
        files.append((BUNDLE_CERTIFICATES, b"".join(history_seal().certificates())))
    return files


def _write(path: Path, content: bytes) -> None:
    """Replace ``path`` whole: a reader never sees half a file."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(content)
    os.replace(partial, path)


def anchor_file_write(heads: Mapping[str, tuple[int, str]], *, day: datetime.date) -> Path:
    """Write the day's head file (replacing the one written earlier that day) and its
    signature by the seal; returns its path."""
    document = {
        "format": ANCHOR_FORMAT,
        "day": day.isoformat(),
        "written_at": timezone.now().isoformat(),
        "heads": {
            reference: {"seq": seq, "hash": digest} for reference, (seq, digest) in heads.items()
        },
    }
    content = json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True).encode()
    signature, certificate = history_seal().sign(content)
    folder = anchors_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = anchor_path(day)
    _write(path.with_name(path.name + ".sig"), signature)
    _write(path, content)
    _write(folder / CERTIFICATE_FILE, certificate)
    return path


def contract_anchors(
    contract: Contract, *, files: AnchorFiles | None = None, certified: bool = False
) -> list[Anchor]:
    """The heads of the contract's chain remembered outside the chain: its last checkpoint,
    its head in the latest signed head file naming it, and, when ``certified``, the heads its
    completion certificates' seals certify (a PDF signature checked: the command and the
    nightly check only)."""
    anchors = [
        Anchor(seq, digest, "checkpoint", timezone.localdate(at), at)
        for seq, digest, at in HistoryCheckpoint.objects.filter(contract=contract)
        .order_by("-seq")
        .values_list("seq", "hash", "at")[:1]
    ]
    files = anchor_files_read() if files is None else files
    if (head := files.heads.get(contract.reference)) is not None:
        anchors.append(head)
    if certified:
        anchors += [
            Anchor(seq, digest, "certificate", day)
            for seq, digest, day in history_seal().certified_heads(contract)
        ]
    return anchors
