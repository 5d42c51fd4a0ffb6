"""The contract document as the domain needs it: frozen when the council approves, signed by
each party, voided by a mandatory decline, handed to an auditor with what proves it.

The domain asks for these through ``contract_documents()``; the application that draws up
the PDF and its signatures provides them, named by ``settings.ACCORD_CONTRACT_DOCUMENTS``, so
that the domain never imports it; the same for the annual report, named by
``settings.ACCORD_ANNUAL_REPORTS``, and for an amendment's document,
``settings.ACCORD_AMENDMENT_DOCUMENTS``, and for the committee's minutes,
``settings.ACCORD_COMMITTEE_MINUTES`` (the seal, which needs nothing back, is a reaction to the
history instead: ``settings.ACCORD_REACTIONS``). A port that calls out while a decision runs
(the time-stamping authority) is given the decision's ``Preparations`` and has it drawn up
before the decision's transaction: ``decide_outside``, at the end.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import cache
from typing import Protocol, TypeVar

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from .errors import Conflict
from .history import PreparationNeeded, Preparations
from .models import Amendment, AmendmentParty, Contract, Signatory, Task, User


class SignatureProof(Protocol):
    """What the history keeps of a signature: the certificate and the signed file's hashes."""

    certificate_fingerprint: str
    signed_pdf_sha256: str


class ContractDocuments(Protocol):
    def freeze(self, contract: Contract) -> str:
        """Draw up and freeze the document the parties will sign; returns its SHA-256."""
        ...

    def sign(
        self,
        *,
        task: Task,
        signatory: Signatory,
        ip_address: str,
        user_agent: str,
        preparations: Preparations,
    ) -> SignatureProof:
        """Apply the signing party's signature to the frozen document, timestamped through the
        decision's ``preparations``. Raises ``ServiceUnavailable`` when the authority does not
        answer."""
        ...

    def void(self, contract: Contract, *, reason: str) -> int:
        """The version's document and signatures no longer count; returns how many were."""
        ...

    def evidence_files(self, contract: Contract) -> list[tuple[str, bytes]]:
        """(file name, content) of what proves the signatures, for an auditor's bundle."""
        ...

    def seal_pending(self, contract: Contract) -> bool:
        """Every party has signed and the seal, asked by the last signature, is not drawn up
        yet (the worker draws it up after that signature's commit)."""
        ...


@cache
def contract_documents() -> ContractDocuments:
    """The installation's ``ContractDocuments``."""
    return import_string(settings.ACCORD_CONTRACT_DOCUMENTS)()


class AnnualReports(Protocol):
    """A year's annual report as a document: the domain hands over the report's data (the
    selector's ``annual_report``, JSON-ready) and keeps the bytes and their SHA-256."""

    def render(self, report: dict, *, draft: bool) -> bytes:
        """The report as PDF; ``draft``: marked as a draft (projet), not yet decided."""
        ...


@cache
def annual_reports() -> AnnualReports:
    """The installation's ``AnnualReports`` (``settings.ACCORD_ANNUAL_REPORTS``)."""
    return import_string(settings.ACCORD_ANNUAL_REPORTS)()


class AmendmentDocuments(Protocol):
    """An amendment's document: the domain hands over what it changes
    (``workflows.amending.amendment_document_data``, JSON-ready) and keeps the bytes.

    The amendment's circuit asks it, as it asks ``ContractDocuments`` of a contract, to
    freeze the document when the deliberation is recorded (the same layout, with an empty
    signature field per concerned party and one for the seal), to sign it per party, to seal
    it once every concerned party answered and to void it on a mandatory decline."""

    def render(self, data: dict, *, draft: bool) -> bytes:
        """The amendment as PDF; ``draft``: marked as a draft (projet) on every page."""
        ...

    def freeze(self, amendment: Amendment, data: dict, parties: list[AmendmentParty]) -> str:
        """Draw up and freeze the document the concerned ``parties`` sign; its SHA-256."""
        ...

    def sign(
        self,
        *,
        task: Task,
        party: AmendmentParty,
        ip_address: str,
        user_agent: str,
        preparations: Preparations,
    ) -> dict:
        """Apply the party's signature, timestamped through the decision's ``preparations``;
        returns its evidence (JSON-ready, for the history)."""
        ...

    def seal(self, amendment: Amendment, *, preparations: Preparations) -> str:
        """Accord's seal closes the signed document, timestamped through the decision's
        ``preparations``; returns the sealed file's SHA-256."""
        ...

    def void(self, amendment: Amendment, *, reason: str) -> int:
        """The version's document and signatures no longer count; how many signatures were."""
        ...

    def frozen_pdf(self, amendment: Amendment) -> bytes | None:
        """The frozen document as signed so far (sealed once signed); None before."""
        ...


@cache
def amendment_documents() -> AmendmentDocuments:
    """The installation's ``AmendmentDocuments`` (``settings.ACCORD_AMENDMENT_DOCUMENTS``)."""
    return import_string(settings.ACCORD_AMENDMENT_DOCUMENTS)()


class CommitteeMinutes(Protocol):
    """The minutes (procès-verbal) of a committee's decided vote: the domain hands over the
    round's data (``workflows.reports.committee_minutes_data``, JSON-ready) and keeps the
    bytes, which its history names by SHA-256."""

    def draw_up(self, data: dict, *, chair: User, preparations: Preparations) -> bytes:
        """The minutes as PDF, signed with the chair's key at ``preparations.now`` (the
        round's ``decided_at``), timestamped through the decision's ``preparations``."""
        ...


@cache
def committee_minutes() -> CommitteeMinutes:
    """The installation's ``CommitteeMinutes`` (``settings.ACCORD_COMMITTEE_MINUTES``)."""
    return import_string(settings.ACCORD_COMMITTEE_MINUTES)()


# --- Remote calls prepared outside the decision's transaction ----------------------------
#
# A port that must call out (the time-stamping authority, when remote) while a decision runs
# receives the decision's ``Preparations`` (from its unit of work, ``unit.preparations``) and
# asks ``preparations.prepared(key, prepare)``. In a decision run by ``decide_outside``, the
# first time, the decision's transaction is rolled back (``PreparationNeeded``), ``prepare``
# runs with no transaction open, and the decision runs again with the same ``Preparations``,
# getting the result for the same ``key`` (a digest of everything the result depends on: the
# stored document's revision, the minutes' data...). A key that no longer matches (another
# signature stored in between) asks for a new preparation: the optimistic check.
# ``decide_outside`` bounds the stale preparations, then answers 409.

DOCUMENT_KEPT_CHANGING = gettext_noop(
    "Other signatures kept arriving while yours was being prepared: nothing was signed, try again."
)
# How many preparations over a document that changed in the meantime before the person is
# asked to try later (409).
PREPARATION_ATTEMPTS = 3

T = TypeVar("T")


def preparation_key(purpose: str, *parts: object) -> str:
    """A digest of what a prepared result depends on (JSON-ready parts, or bytes)."""
    digest = hashlib.sha256(purpose.encode())
    for part in parts:
        data = (
            part
            if isinstance(part, bytes)
            else json.dumps(part, sort_keys=True, default=str).encode()
        )
        digest.update(hashlib.sha256(data).digest())
    return f"{purpose}:{digest.hexdigest()}"


def decide_outside(
    decide: Callable[[Preparations], T], *, attempts: int = PREPARATION_ATTEMPTS
) -> T:
    """Run ``decide`` (which opens and commits its own transaction, its unit of work holding
    the ``Preparations`` it is given) so that the remote calls it asks for happen before it,
    outside any transaction; again, with the same ``Preparations``, as long as some are
    missing. A preparation made stale by a change in between counts as an attempt: after
    ``attempts``, ``Conflict`` (409)."""
    preparations = Preparations(outside=True)
    prepared: set[str] = set()
    stale = 0
    while stale < attempts:
        try:
            return decide(preparations)
        except PreparationNeeded as needed:
            if needed.purpose in prepared:
                stale += 1
                if stale >= attempts:
                    break
            prepared.add(needed.purpose)
            preparations.results[needed.key] = needed.prepare()
    raise Conflict(_(DOCUMENT_KEPT_CHANGING))
