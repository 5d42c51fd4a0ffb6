"""Writes for auditors: every export is recorded, a verification bundle in the contract's own
history too; administrative changes to a contract's people are recorded before/after; a
broken chain alerts the administrators."""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from workflows.anchors import Anchor, AnchorFiles, anchor_file_write, anchor_files_read
from workflows.documents import contract_documents
from workflows.history import UnitOfWork
from workflows.models import (
    Contract,
    HistoryCheckpoint,
    HistoryEntry,
    HistoryEvent,
    HistoryExport,
    User,
)
from workflows.selectors import ChainVerification, contract_attachments

from .selectors import (
    BundleFile,
    bundle_folder,
    history_verify_all,
    people_changes,
    verification_bundle_files,
)

logger = logging.getLogger(__name__)


@transaction.atomic
def history_export_record(
    *, user: User, format: str, search: dict, entries: QuerySet[HistoryEntry]
) -> HistoryExport:
    """Record who exported what, before the file is sent: reading an export leaves a trace."""
    references = sorted(
        set(entries.order_by().values_list("contract__reference", flat=True).distinct())
    )
    return HistoryExport.objects.create(
        user=user,
        username=user.username,
        format=format,
        filters=search,
        entries=entries.count(),
        contracts=references,
    )


@transaction.atomic
def contract_verification_bundle(
    *, contract: Contract, user: User, extra_files: Iterable[BundleFile] = ()
) -> bytes:
    """The contract's verification bundle as a ZIP file, its reading recorded first in the
    contract's history (so the bundle holds its own record, and its head is the chain's)."""
    with UnitOfWork.lock(contract.pk) as unit:
        unit.record(event=HistoryEvent.HISTORY_EXPORTED, actor=user)
    contract = unit.contract
    signed = [
        BundleFile(name, content) for name, content in contract_documents().evidence_files(contract)
    ]
    attached = attachment_files(contract)
    files = verification_bundle_files(contract, [*signed, *attached, *extra_files])
    HistoryExport.objects.create(
        user=user,
        username=user.username,
        format=HistoryExport.Format.BUNDLE,
        filters={"contract": contract.reference},
        entries=contract.history.count(),
        contracts=[contract.reference],
    )
    return _bundle_zip(contract, files)


def verification_bundle_zip(contract: Contract, documents: Iterable[BundleFile]) -> bytes:
    """The verification bundle of the history as it stands, with ``documents``, recording
    nothing: for a package that holds it (the archive), whose reading is its own."""
    return _bundle_zip(contract, verification_bundle_files(contract, documents))


def _bundle_zip(contract: Contract, files: list[BundleFile]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in files:
            archive.writestr(f"{bundle_folder(contract)}/{item.name}", item.content)
    return buffer.getvalue()


def attachment_files(contract: Contract) -> list[BundleFile]:
    """The files joined to the contract, as ``attachment-<id>-<name>`` (two may share a name;
    flat, as the script reads the bundle's files): the manifest lists each with its SHA-256,
    the one recorded when it was added."""
    files = []
    for attachment in contract_attachments(contract):
        with attachment.file.open("rb") as stored:
            content = stored.read()
        files.append(BundleFile(f"attachment-{attachment.pk}-{attachment.name}", content))
    return files


@transaction.atomic
def contract_people_change_record(
    *, contract: Contract, actor: User | None, before: dict, after: dict, comment: str = ""
) -> HistoryEntry | None:
    """Record an administrative change to the contract's people or signatories (the admin
    site): only what changed, before and after. Nothing is written when nothing changed."""
    if before == after:
        return None
    with UnitOfWork.lock(contract.pk) as unit:
        return unit.record(
            event=HistoryEvent.PEOPLE_CHANGED,
            actor=actor,
            comment=comment,
            data=people_changes(before, after),
        )


def history_anchors_record(results: list[ChainVerification], files: AnchorFiles) -> str:
    """Remember the head of each chain just found intact: a checkpoint (when it moved since
    the last check) and today's signed head file, so that a later cut or a chain recomputed
    whole cannot go unnoticed. A broken chain keeps the head anchored before its break.
    Returns why the head file could not be written, if it could not (the check goes on: its
    breaks are still reported)."""
    heads = {result.contract.pk: result.head for result in results if result.head}
    HistoryCheckpoint.objects.bulk_create(
        [
            HistoryCheckpoint(contract_id=pk, seq=seq, hash=digest)
            for pk, (seq, digest) in heads.items()
        ],
        ignore_conflicts=True,  # the head has not moved since the last check
    )
    anchored = {reference: (anchor.seq, anchor.hash) for reference, anchor in files.heads.items()}
    for result in results:
        if result.head:
            anchored[result.contract.reference] = result.head
    try:
        anchor_file_write(anchored, day=timezone.localdate())
    except (OSError, ImproperlyConfigured) as error:
        logger.exception("The signed head file could not be written")
        return str(error)
    return ""


@dataclass(frozen=True)
class HistoryCheck:
    """A check of the chains: each contract's result, the signed head files whose signature
    no longer holds, and the contracts a head file names that the database no longer has."""

    results: list[ChainVerification]
    forged_files: tuple[str, ...] = ()
    vanished: dict[str, Anchor] = field(default_factory=dict)
    unanchored: str = ""  # why today's head file could not be written

    @property
    def broken(self) -> list[ChainVerification]:
        return [result for result in self.results if not result.valid]

    @property
    def ok(self) -> bool:
        return (
            not self.broken and not self.forged_files and not self.vanished and not self.unanchored
        )


def history_check(contracts: Iterable[Contract] | None = None) -> HistoryCheck:
    """Recompute the chains (all, or these contracts') against every anchor, then anchor the
    heads found intact: what ``verify_history`` and the nightly check both do."""
    files = anchor_files_read()
    results = history_verify_all(contracts, files=files)
    unanchored = history_anchors_record(results, files)
    vanished = {}
    if contracts is None:
        known = set(Contract.objects.values_list("reference", flat=True))
        vanished = {ref: anchor for ref, anchor in files.heads.items() if ref not in known}
    return HistoryCheck(results, files.forged, vanished, unanchored)


def history_problems(check: HistoryCheck) -> list[str]:
    """Each break the check found, in a line (the administrators' e-mail)."""
    lines = [
        _("%(reference)s: broken at entry no. %(seq)d (%(problem)s)")
        % {
            "reference": result.contract.reference,
            "seq": result.first_bad_seq,
            "problem": result.problem,
        }
        for result in check.broken
    ]
    lines += [
        _("%(file)s: the seal's signature of this head file does not hold (changed or replaced)")
        % {"file": name}
        for name in check.forged_files
    ]
    lines += [
        _("%(reference)s: missing from the database, %(count)d entries anchored on %(day)s")
        % {"reference": reference, "count": anchor.seq, "day": anchor.day.isoformat()}
        for reference, anchor in sorted(check.vanished.items())
    ]
    if check.unanchored:
        lines.append(
            _("Today's signed head file could not be written: %(error)s")
            % {"error": check.unanchored}
        )
    return lines


def history_check_and_alert() -> list[str]:
    """Recompute every chain and anchor the intact heads; on a break (or a forged head file,
    or a contract gone), e-mail the administrators (ADMINS and active staff with an address)
    naming each broken contract and its first bad entry. Returns the problems, in words."""
    check = history_check()
    lines = history_problems(check)
    if not lines:
        return []
    for line in lines:
        logger.error("History chain broken: %s", line)
    recipients = {address for _name, address in settings.ADMINS}
    recipients.update(
        User.objects.filter(is_staff=True, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if recipients:
        body = "\n".join(
            [
                _("The periodic check found approval histories modified outside Accord:"),
                "",
                *lines,
                "",
                _(
                    "Run `python manage.py verify_history` for details; do not trust these"
                    " histories from the entry named on."
                ),
            ]
        )
        send_mail(
            _("[Accord] Approval history altered"),
            body,
            settings.DEFAULT_FROM_EMAIL,
            sorted(recipients),
        )
    return lines
