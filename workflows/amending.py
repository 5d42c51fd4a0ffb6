"""Reading an amendment: the contract as the amendment would leave it, what it changes, who is
concerned by it, and its document's data. Pages, the API, the verbs (which check a proposal on
the amended contract) and the amendment's PDF all read it here.

The signed contract is read as its contract file (``contract_file_of``), and the amendment's
proposals are applied to that file (``amended_file``): the amended contract is a document, so
that the contract file's rules check it and two documents, before and after, say what changes.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

from .contract_file import Path, contract_file_of
from .contract_file.amounts import amount_of, amount_problem
from .documents import amendment_documents
from .models import (
    SHEET_FIELDS,
    Amendment,
    AmendmentChange,
    AmendmentChangeKind,
    AmendmentSignatory,
    AmendmentStatus,
    Contract,
    Organisation,
    SignatoryKind,
    User,
    sheet_changes,
)

# What an amendment's sheet may change beyond the parts of a sheet's version (SHEET_FIELDS).
ENTRY_FIELDS = {"pilot": _("Pilot"), "working_group": _("Working group")}
NOT_CONCERNED = "not_concerned"


def open_amendment(contract: Contract) -> Amendment | None:
    """The contract's amendment being written or in its circuit, if any."""
    return (
        contract.amendments.exclude(status__in=[AmendmentStatus.SIGNED, AmendmentStatus.WITHDRAWN])
        .select_related("opened_by")
        .first()
    )


# --- The amended contract file ------------------------------------------------------------


def _person_entry(person: User) -> dict[str, Any]:
    entry: dict[str, Any] = {"username": person.username}
    if person.civility:
        entry["civility"] = person.civility
    entry |= {
        "first_name": person.first_name,
        "last_name": person.last_name,
        "email": person.email,
    }
    if person.organisation is not None:
        entry["organisation"] = person.organisation.code
    entry["title"] = person.position
    return entry


def _named(document: dict[str, Any]) -> tuple[set[str], set[str]]:
    """The usernames and organisation codes the sheets and signatories name."""
    people: set[str] = set()
    organisations: set[str] = set()
    for theme in document.get("themes") or []:
        for sheet in theme.get("actions") or []:
            if isinstance(sheet.get("pilot"), str):
                people.add(sheet["pilot"])
            organisations.update(p for p in sheet.get("partners") or [] if isinstance(p, str))
            organisations.update(
                line["funder"]
                for line in sheet.get("funding") or []
                if isinstance(line, dict) and isinstance(line.get("funder"), str)
            )
    for signatory in document.get("signatories") or []:
        for key in ("signer", "represented_by"):
            if isinstance(signatory.get(key), str):
                people.add(signatory[key])
        if isinstance(signatory.get("organisation"), str):
            organisations.add(signatory["organisation"])
    return people, organisations


def _with_known_parties(document: dict[str, Any]) -> None:
    """List the people and organisations a proposal names that Accord knows but the contract
    does not yet (a new funder, a pilot from a new partner), as the draft's steps take an
    organisation or an account Accord already knows as it is; an unknown one stays unknown,
    and the file's rules report it."""
    usernames, codes = _named(document)
    listed_people = {entry["username"] for entry in document["people"]}
    for person in User.objects.filter(username__in=usernames - listed_people).select_related(
        "organisation"
    ):
        document["people"].append(_person_entry(person))
        if person.organisation is not None:
            codes.add(person.organisation.code)
    listed = {entry["code"] for entry in document["organisations"]}
    for organisation in Organisation.objects.filter(code__in=codes - listed):
        document["organisations"].append(
            {
                "code": organisation.code,
                "name": organisation.name,
                "category": organisation.category,
            }
        )


@dataclass
class Amended:
    """The contract file with an amendment's proposals applied, and where each one sits in it
    (a problem found there is the proposal's)."""

    document: dict[str, Any]
    places: dict[tuple[str, str], Path] = field(default_factory=dict)


def amended_file(
    amendment: Amendment,
    *,
    before: dict[str, Any] | None = None,
    changes: Iterable[AmendmentChange] | None = None,
    signatories: Iterable[AmendmentSignatory | dict[str, Any]] | None = None,
    period_end: Any = "",
) -> Amended:
    """The signed contract's file (``before``, read when not given) as the amendment would
    leave it: its sheets added, modified and removed, its signatories added, its period
    extended. ``changes``, ``signatories`` and ``period_end`` default to the amendment's own
    (a verb passes them as they would be after the change it checks)."""
    document = copy.deepcopy(before if before is not None else contract_file_of(amendment.contract))
    amended = Amended(document)
    end = amendment.period_end if period_end == "" else period_end
    if end is not None and isinstance(document.get("period"), dict):
        document["period"]["end"] = end.isoformat() if hasattr(end, "isoformat") else end
        amended.places[("period", "end")] = ("period", "end")
    themes = {theme["code"]: index for index, theme in enumerate(document["themes"])}
    for change in amendment.changes.all() if changes is None else changes:
        located = _locate(document, change.code)
        if change.kind == AmendmentChangeKind.REMOVED:
            if located is not None:
                del document["themes"][located[0]]["actions"][located[1]]
            continue
        if change.kind == AmendmentChangeKind.MODIFIED and located is not None:
            document["themes"][located[0]]["actions"][located[1]] = copy.deepcopy(change.content)
        elif change.theme_code in themes:
            document["themes"][themes[change.theme_code]]["actions"].append(
                copy.deepcopy(change.content)
            )
    for index, theme in enumerate(document["themes"]):
        for position, sheet in enumerate(theme["actions"]):
            if isinstance(sheet.get("code"), str):
                amended.places[("action", sheet["code"])] = ("themes", index, "actions", position)
    entries = amendment.added_signatories.select_related("organisation", "signer", "represented_by")
    for entry in entries if signatories is None else signatories:
        data = entry if isinstance(entry, dict) else entry.entry()
        document["signatories"].append(copy.deepcopy(data))
        amended.places[("signatory", str(data.get("organisation")))] = (
            "signatories",
            len(document["signatories"]) - 1,
        )
    _with_known_parties(document)
    return amended


def _locate(document: dict[str, Any], code: str) -> tuple[int, int] | None:
    for index, theme in enumerate(document["themes"]):
        for position, sheet in enumerate(theme["actions"]):
            if sheet.get("code") == code:
                return index, position
    return None


def sheet_of(document: dict[str, Any], code: str) -> tuple[str, dict[str, Any]] | None:
    """(theme code, sheet) of action ``code`` in a contract file."""
    located = _locate(document, code)
    if located is None:
        return None
    theme = document["themes"][located[0]]
    return theme["code"], theme["actions"][located[1]]


# --- What changes -------------------------------------------------------------------------


def _amount(value: Any) -> Decimal:
    return amount_of(value) if amount_problem(value) is None else Decimal("0.00")


def entry_content(entry: dict[str, Any]) -> dict[str, Any]:
    """A sheet in the contract file's words (``action_entry``) as a version keeps it
    (``sheet_content``), so that two of them compare part by part (``sheet_changes``)."""
    schedule = entry.get("schedule") or {}
    return {
        "code": entry.get("code"),
        "title": entry.get("title") or "",
        "objective": entry.get("objective") or "",
        "operational_objectives": list(entry.get("operational_objectives") or []),
        "description": entry.get("description") or "",
        "target_public": entry.get("target_public") or "",
        "place": entry.get("place") or "",
        "schedule": {
            "start": schedule.get("start"),
            "end": schedule.get("end"),
            "milestones": list(schedule.get("milestones") or []),
        },
        "partners": sorted(entry.get("partners") or []),
        "funding": [
            {
                "funder": line.get("funder"),
                "amount": f"{_amount(line.get('amount')):.2f}",
                "year": line.get("year"),
                "status": line.get("status") or None,
            }
            for line in entry.get("funding") or []
        ],
        "indicators": [
            {"name": item, "unit": "", "baseline": "", "target": "", "source": ""}
            if isinstance(item, str)
            else {
                "name": item.get("name", ""),
                "unit": item.get("unit", ""),
                "baseline": item.get("baseline", ""),
                "target": item.get("target", ""),
                "source": item.get("source", ""),
            }
            for item in entry.get("indicators") or []
        ],
    }


def entry_changes(
    before: dict[str, Any], after: dict[str, Any], names: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """What an amendment changes on a sheet, part by part (``sheet_changes``'s changes), its
    pilot and working group included; ``names``: how to print a username or a code."""
    names = names or {}
    changes = []
    for key, label in ENTRY_FIELDS.items():
        old, new = before.get(key), after.get(key)
        if old != new:
            changes.append(
                {
                    "field": key,
                    "label": str(label),
                    "before": names.get(old, old) if old else "",
                    "after": names.get(new, new) if new else "",
                }
            )
    changes += sheet_changes(entry_content(before), entry_content(after))
    order = [*ENTRY_FIELDS, *SHEET_FIELDS]
    return sorted(changes, key=lambda change: order.index(change["field"]))


def funding_by_funder(document: dict[str, Any]) -> dict[str, Decimal]:
    """Every sheet's funding in a contract file, by funder's code."""
    totals: dict[str, Decimal] = {}
    for theme in document.get("themes") or []:
        for sheet in theme.get("actions") or []:
            for line in sheet.get("funding") or []:
                funder = line.get("funder")
                totals[funder] = totals.get(funder, Decimal("0.00")) + _amount(line.get("amount"))
    return totals


def _organisation_of(document: dict[str, Any]) -> dict[str, str | None]:
    return {entry["username"]: entry.get("organisation") for entry in document["people"]}


def _parties(sheet: dict[str, Any], organisation_of: dict[str, str | None]) -> set[str]:
    """The organisations a sheet involves: its pilot's, its partners, its funders."""
    parties = set(sheet.get("partners") or [])
    parties.update(line.get("funder") for line in sheet.get("funding") or [])
    pilot = organisation_of.get(sheet.get("pilot") or "")
    if pilot:
        parties.add(pilot)
    return {party for party in parties if isinstance(party, str)}


@dataclass
class SignatoryConcern:
    organisation: str  # its code
    name: str
    kind: str
    signer: str
    added: bool
    concerned: bool
    status: str


@dataclass
class AmendmentSummary:
    """An amendment read: its changes (before → after), funding totals, who is concerned."""

    amendment: Amendment
    before: dict[str, Any]
    after: dict[str, Any]
    added: list[dict[str, Any]]
    modified: list[dict[str, Any]]
    removed: list[dict[str, Any]]
    signatories: list[SignatoryConcern]
    funding: list[dict[str, Any]]
    total_before: Decimal
    total_after: Decimal
    period_start: str
    period_end_before: datetime.date
    period_end_after: datetime.date
    # Read from the document frozen at its deliberation (a signed amendment): the contract in
    # force includes its changes, so they are no longer the difference between the two.
    frozen: bool = False


def amendment_summary(amendment: Amendment) -> AmendmentSummary:
    """What the amendment changes, read from the signed contract and its proposals; once
    signed, what its frozen document says it changed."""
    if amendment.status == AmendmentStatus.SIGNED and amendment.document_data:
        return _frozen_summary(amendment)
    before = contract_file_of(amendment.contract)
    changes = list(amendment.changes.all())
    added_signatories = list(
        amendment.added_signatories.select_related("organisation", "signer", "represented_by")
    )
    after = amended_file(
        amendment, before=before, changes=changes, signatories=added_signatories
    ).document
    names = {entry["code"]: entry["name"] for entry in after["organisations"]}
    people = {
        entry["username"]: f"{entry['first_name']} {entry['last_name']}".strip()
        for entry in after["people"]
    }
    words = {**names, **people}
    added, modified, removed = [], [], []
    touched: set[str] = set()
    organisation_before, organisation_after = _organisation_of(before), _organisation_of(after)
    for change in changes:
        old = sheet_of(before, change.code)
        new = sheet_of(after, change.code)
        if old is not None:
            touched |= _parties(old[1], organisation_before)
        if new is not None and change.kind != AmendmentChangeKind.REMOVED:
            touched |= _parties(new[1], organisation_after)
        if change.kind == AmendmentChangeKind.ADDED and new is not None:
            added.append(
                {
                    "code": change.code,
                    "title": new[1].get("title", ""),
                    "theme": new[0],
                    "version": change.version,
                    "changes": entry_changes({}, new[1], words),
                }
            )
        elif change.kind == AmendmentChangeKind.MODIFIED and old is not None and new is not None:
            modified.append(
                {
                    "code": change.code,
                    "title": new[1].get("title", ""),
                    "theme": new[0],
                    "base_version": change.base_version,
                    "version": change.version,
                    "changes": entry_changes(old[1], new[1], words),
                }
            )
        elif change.kind == AmendmentChangeKind.REMOVED and old is not None:
            removed.append(
                {
                    "code": change.code,
                    "title": old[1].get("title", ""),
                    "theme": old[0],
                    "base_version": change.base_version,
                }
            )
    signatories = []
    rows = amendment.contract.signatories.select_related("organisation", "signer")
    for row in rows:
        concerned = row.kind == SignatoryKind.MANDATORY or row.organisation.code in touched
        signatories.append(
            SignatoryConcern(
                organisation=row.organisation.code,
                name=row.organisation.name,
                kind=row.kind,
                signer=row.signer.display_name,
                added=False,
                concerned=concerned,
                # The amendment's signatures come with its circuit: pending until then.
                status="pending" if concerned else NOT_CONCERNED,
            )
        )
    for entry in added_signatories:
        signatories.append(
            SignatoryConcern(
                organisation=entry.organisation.code,
                name=entry.organisation.name,
                kind=entry.kind,
                signer=entry.signer.display_name,
                added=True,
                concerned=True,
                status="pending",
            )
        )
    totals_before, totals_after = funding_by_funder(before), funding_by_funder(after)
    funding = [
        {
            "funder": code,
            "name": names.get(code, code),
            "before": totals_before.get(code, Decimal("0.00")),
            "after": totals_after.get(code, Decimal("0.00")),
        }
        for code in sorted({*totals_before, *totals_after}, key=lambda c: names.get(c, c))
    ]
    return AmendmentSummary(
        amendment=amendment,
        before=before,
        after=after,
        added=added,
        modified=modified,
        removed=removed,
        signatories=signatories,
        funding=funding,
        total_before=sum(totals_before.values(), Decimal("0.00")),
        total_after=sum(totals_after.values(), Decimal("0.00")),
        period_start=before["period"]["start"],
        period_end_before=datetime.date.fromisoformat(before["period"]["end"]),
        period_end_after=datetime.date.fromisoformat(after["period"]["end"]),
    )


def _frozen_summary(amendment: Amendment) -> AmendmentSummary:
    """A signed amendment as its frozen document (``amendment_document_data``) says it; the
    contract file it is read beside is the version in force, which includes it."""
    data = amendment.document_data
    in_force = contract_file_of(amendment.contract)
    return AmendmentSummary(
        amendment=amendment,
        before=in_force,
        after=in_force,
        added=data["added"],
        modified=data["modified"],
        removed=data["removed"],
        signatories=[
            SignatoryConcern(**row, status="pending" if row["concerned"] else NOT_CONCERNED)
            for row in data["signatories"]
        ],
        funding=[
            {**row, "before": Decimal(row["before"]), "after": Decimal(row["after"])}
            for row in data["funding"]
        ],
        total_before=Decimal(data["total_before"]),
        total_after=Decimal(data["total_after"]),
        period_start=data["period"]["start"],
        period_end_before=datetime.date.fromisoformat(data["period"]["end_before"]),
        period_end_after=datetime.date.fromisoformat(data["period"]["end_after"]),
        frozen=True,
    )


# --- Its document -------------------------------------------------------------------------


def amendment_document_data(summary: AmendmentSummary) -> dict[str, Any]:
    """The amendment's document as data (JSON-ready), for the documents port to lay out."""
    amendment = summary.amendment
    contract = amendment.contract
    return {
        "number": amendment.number,
        "version": amendment.version,
        "reference": contract.reference,
        "title": contract.title,
        "status": amendment.status,
        "draft": amendment.status != AmendmentStatus.SIGNED,
        "summary": amendment.summary,
        "opened_at": amendment.opened_at.isoformat(),
        "amended_document_sha256": amendment.amended_document_sha256,
        "period": {
            "start": summary.period_start,
            "end_before": summary.period_end_before.isoformat(),
            "end_after": summary.period_end_after.isoformat(),
        },
        "added": summary.added,
        "modified": summary.modified,
        "removed": summary.removed,
        "funding": [
            {**row, "before": f"{row['before']:.2f}", "after": f"{row['after']:.2f}"}
            for row in summary.funding
        ],
        "total_before": f"{summary.total_before:.2f}",
        "total_after": f"{summary.total_after:.2f}",
        "signatories": [
            {
                "organisation": s.organisation,
                "name": s.name,
                "kind": s.kind,
                "signer": s.signer,
                "added": s.added,
                "concerned": s.concerned,
            }
            for s in summary.signatories
        ],
    }


def amendment_pdf(amendment: Amendment) -> bytes:
    """The amendment's document as PDF: once its deliberation is recorded, the frozen one as
    signed so far (sealed once signed); before, drawn from its proposals and marked as a
    draft (projet)."""
    frozen = amendment_documents().frozen_pdf(amendment)
    if frozen is not None and amendment.status in (
        AmendmentStatus.SIGNING,
        AmendmentStatus.SIGNED,
    ):
        return frozen
    data = amendment_document_data(amendment_summary(amendment))
    return amendment_documents().render(data, draft=data["draft"])
