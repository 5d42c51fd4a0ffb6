"""Reads for auditors: who may read which history, the search across contracts, and the
files an export or a verification bundle is made of."""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth.models import AnonymousUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from workflows.anchors import AnchorFiles, anchor_files_read, contract_anchors
from workflows.models import (
    GENESIS_HASH,
    Contract,
    ContractAuditor,
    HistoryEntry,
    Organisation,
    SteeringCommittee,
    User,
)
from workflows.selectors import ChainVerification, contracts_visible_to, history_verify

VERIFY_SCRIPT = Path(__file__).with_name("verify_bundle.py")
SEARCH_PAGE_SIZE = 50
# What a spreadsheet would run as a formula when a cell starts with it (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class HistorySearch:
    """An auditor's search: every criterion optional, all of them must hold."""

    person: User | None = None
    organisation: Organisation | None = None
    event: str = ""
    since: datetime.date | None = None
    until: datetime.date | None = None
    contract: Contract | None = None

    def as_dict(self) -> dict:
        """The search as it is written in an export and its record."""
        return {
            key: value
            for key, value in {
                "person": getattr(self.person, "username", ""),
                "organisation": getattr(self.organisation, "code", ""),
                "event": self.event,
                "since": self.since.isoformat() if self.since else "",
                "until": self.until.isoformat() if self.until else "",
                "contract": getattr(self.contract, "reference", ""),
            }.items()
            if value
        }


def history_readable_by(user: User | AnonymousUser) -> QuerySet[HistoryEntry]:
    """The history entries this person may read: those of the contracts they see (staff:
    all; a partner: its contracts; an auditor: the contracts they were granted)."""
    entries = HistoryEntry.objects.all()
    if not user.is_authenticated:
        return entries.none()
    if user.is_staff:
        return entries
    # The contracts first, as a list: as a subquery, PostgreSQL cannot tell how few entries
    # it keeps and walks the newest million looking for them (benchmarks/audit.py).
    return entries.filter(
        contract_id__in=list(contracts_visible_to(user).values_list("pk", flat=True))
    )


def _start_of(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def history_search(user: User, search: HistorySearch) -> QuerySet[HistoryEntry]:
    """The entries matching the search among those the person may read, newest first.

    Each criterion has its index (contract, event, actor, on whose behalf, all with the time),
    so that a page stays fast on a million entries (benchmarks/audit.py).
    """
    entries = history_readable_by(user)
    if search.contract is not None:
        entries = entries.filter(contract=search.contract)
    if search.person is not None and search.person.pk is None:
        return entries.none()  # a username nobody has: nothing, as for someone with no entry
    if search.person is not None:
        entries = entries.filter(Q(actor=search.person) | Q(on_behalf_of=search.person))
    if search.organisation is not None:
        people = User.objects.filter(organisation=search.organisation).values("pk")
        entries = entries.filter(Q(actor_id__in=people) | Q(on_behalf_of_id__in=people))
    if search.event:
        entries = entries.filter(event=search.event)
    if search.since:
        entries = entries.filter(at__gte=_start_of(search.since))
    if search.until:
        entries = entries.filter(at__lt=_start_of(search.until + datetime.timedelta(days=1)))
    return entries.select_related("contract", "actor", "on_behalf_of").order_by("-at", "-pk")


@dataclass
class SearchPage:
    """One page of results, without counting them all (a count on a million rows costs more
    than the page itself)."""

    entries: list[HistoryEntry]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def history_search_page(
    entries: QuerySet[HistoryEntry], number: int, size: int = SEARCH_PAGE_SIZE
) -> SearchPage:
    number = max(1, number)
    start = (number - 1) * size
    rows = list(entries[start : start + size + 1])
    return SearchPage(rows[:size], number, len(rows) > size)


def contract_auditors(contract: Contract) -> QuerySet[ContractAuditor]:
    return contract.auditors.select_related("user__organisation")


# --- Exports ------------------------------------------------------------------------------


def entry_record(entry: HistoryEntry) -> dict:
    """An entry as exported: exactly what its hash covers, the hashes, and nothing else, so
    that anyone can recompute the chain from the export."""
    return {**entry.chained_content(), "prev_hash": entry.prev_hash, "hash": entry.hash}


def _cell(value: str) -> str:
    """A text cell a spreadsheet shows as text, never runs as a formula."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def _person(username: str, person: User | None) -> str:
    if not username:
        return ""
    if person is not None and person.display_name != username:
        return f"{person.display_name} ({username})"
    return username


def csv_header() -> list[str]:
    return [
        _("Contract"),
        _("No."),
        _("Date and time"),
        _("Actor"),
        _("On behalf of"),
        _("Event"),
        _("Transition"),
        _("Action"),
        _("From state"),
        _("To state"),
        _("Comment"),
        _("Details"),
        _("Hash"),
    ]


def csv_row(entry: HistoryEntry) -> list[str]:
    at = timezone.localtime(entry.at)
    # Every text cell through _cell: a contract reference or an action code comes from an
    # imported file, and any of them could start a formula.
    return [
        _cell(entry.contract.reference),
        str(entry.seq),
        # Day first, as a French spreadsheet reads a date and time.
        at.strftime("%d/%m/%Y %H:%M:%S"),
        _cell(_person(entry.actor_username, entry.actor)),
        _cell(_person(entry.on_behalf_of_username, entry.on_behalf_of)),
        _cell(entry.what),
        _cell(entry.name),
        _cell(entry.action_code),
        _cell(entry.state_label("from")),
        _cell(entry.state_label("to")),
        _cell(entry.comment),
        _cell(json.dumps(entry.data, ensure_ascii=False, sort_keys=True)) if entry.data else "",
        entry.hash,
    ]


def history_csv_lines(entries: Iterable[HistoryEntry]) -> Iterator[str]:
    """A CSV a French spreadsheet opens as it is: UTF-8 with a byte order mark, ``;`` between
    cells, quoted where needed, dates day first, one line per entry (CRLF)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")

    def line(cells: list[str]) -> str:
        writer.writerow(cells)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield "\ufeff" + line(csv_header())
    for entry in entries:
        yield line(csv_row(entry))


def history_json_chunks(entries: Iterable[HistoryEntry], *, search: dict) -> Iterator[str]:
    """The entries as one JSON document, written as it is read (a million entries never sit
    in memory at once)."""
    head = {
        "format": "accord.history-search/1",
        "exported_at": timezone.now().isoformat(),
        "search": search,
    }
    yield json.dumps(head, ensure_ascii=False)[:-1] + ', "entries": ['
    for position, entry in enumerate(entries):
        separator = ",\n" if position else "\n"
        yield separator + json.dumps(entry_record(entry), ensure_ascii=False, cls=DjangoJSONEncoder)
    yield "\n]}\n"


# --- Verification bundle ------------------------------------------------------------------


@dataclass(frozen=True)
class BundleFile:
    name: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def history_document(contract: Contract) -> dict:
    """The contract's whole history as the bundle's history.json carries it."""
    entries = contract.history.select_related("contract").order_by("seq")
    return {
        "format": "accord.history/1",
        "contract": contract.reference,
        "title": contract.title,
        "version": contract.version,
        "status": contract.status,
        "entries": [entry_record(entry) for entry in entries.iterator()],
    }


def bundle_readme(contract: Contract, head: str) -> str:
    lines = [
        _("Verification bundle of the approval history of %(reference)s")
        % {"reference": contract.reference},
        "",
        _("This folder lets anyone check, offline, that the history was not modified:"),
        _(
            "- history.json: every entry of the history, each chained to the previous one by"
            " SHA-256;"
        ),
        _("- manifest.json: the SHA-256 of every file of the folder, and the history's head;"),
        _("- verify_history.py: the verification program (Python 3, standard library only);"),
        _(
            "- certificate.json and the signed contract, once the contract is signed: the"
            " completion certificate gives the history's head at signature."
        ),
        "",
        _("To verify, with Python 3 installed:"),
        "    python3 verify_history.py",
        _("or, with a head hash you received from elsewhere (a certificate, a letter):"),
        "    python3 verify_history.py --expected-head SHA256",
        "",
        _(
            "The program recomputes each entry's hash, checks each link, compares every file with"
            " the manifest and looks for the certified head in the chain. It ends with VERIFIED,"
            " or names the first modified entry or file and ends with FAILED."
        ),
        "",
        _("History head when this bundle was made: %(head)s") % {"head": head},
    ]
    return "\n".join(lines) + "\n"


def verification_bundle_files(
    contract: Contract, extra_files: Iterable[BundleFile] = ()
) -> list[BundleFile]:
    """Every file of the contract's verification bundle, the manifest last.

    ``extra_files`` are documents that belong with the history (the signed PDF, the
    completion certificate as ``certificate.json`` with its ``history_head_sha256``): they
    are listed in the manifest like the others, and the script checks the certificate's head.
    """
    document = history_document(contract)
    head = document["entries"][-1]["hash"] if document["entries"] else GENESIS_HASH
    files = [
        BundleFile(
            "history.json",
            json.dumps(document, ensure_ascii=False, indent=1, cls=DjangoJSONEncoder).encode(),
        ),
        BundleFile("verify_history.py", VERIFY_SCRIPT.read_bytes()),
        BundleFile("README.txt", bundle_readme(contract, head).encode()),
        *extra_files,
    ]
    manifest = {
        "format": "accord.verification-bundle/1",
        "contract": contract.reference,
        "generated_at": timezone.now().isoformat(),
        "entries": len(document["entries"]),
        "history_head_sha256": head,
        "files": [
            {"name": item.name, "sha256": item.sha256, "bytes": len(item.content)} for item in files
        ],
    }
    manifest_file = BundleFile("manifest.json", json.dumps(manifest, indent=1).encode())
    return [*files, manifest_file]


def bundle_folder(contract: Contract) -> str:
    return f"accord-{contract.reference}-verification"


# --- Checks -------------------------------------------------------------------------------


def history_verify_all(
    contracts: Iterable[Contract] | None = None, *, files: AnchorFiles | None = None
) -> list[ChainVerification]:
    """Every contract's chain (or these contracts'), recomputed and held against every
    anchor: its checkpoint, the signed head files (read once) and its completion
    certificates' seals."""
    if contracts is None:
        contracts = Contract.objects.order_by("reference")
    files = anchor_files_read() if files is None else files
    return [
        history_verify(contract, contract_anchors(contract, files=files, certified=True))
        for contract in contracts
    ]


def contract_people(contract: Contract) -> dict:
    """Who holds which role in the contract, by username and organisation code: what an
    administrative change to its people or signatories is recorded as, before and after."""
    committee = SteeringCommittee.objects.filter(contract=contract).select_related("chair").first()
    return {
        "organisations": sorted(contract.organisations.values_list("code", flat=True)),
        "participants": sorted(contract.participants.values_list("username", flat=True)),
        "coordinators": sorted(contract.coordinators.values_list("username", flat=True)),
        "auditors": sorted(contract.auditors.values_list("user__username", flat=True)),
        "working_groups": {
            group.code: {
                "leads": sorted(person.username for person in group.leads.all()),
                "members": sorted(person.username for person in group.members.all()),
            }
            for group in contract.working_groups.prefetch_related("leads", "members")
        },
        "steering_committee": (
            {
                "chair": committee.chair.username,
                "members": sorted(committee.members.values_list("username", flat=True)),
                "quorum": committee.quorum,
            }
            if committee is not None
            else None
        ),
        "signatories": {
            signatory.organisation.code: {
                "kind": signatory.kind,
                "signer": signatory.signer.username,
                "represented_by": getattr(signatory.represented_by, "username", ""),
                "order": signatory.order,
                "mandate_reference": signatory.mandate_reference,
                "mandate_date": (
                    signatory.mandate_date.isoformat() if signatory.mandate_date else ""
                ),
                # Its own visa circuit; null while it follows its organisation's.
                "visas": (
                    [visa.person.username for visa in signatory.visas.all()]
                    if signatory.own_visas
                    else None
                ),
            }
            for signatory in contract.signatories.select_related(
                "organisation", "signer", "represented_by"
            ).prefetch_related("visas__person")
        },
        "pilots": dict(
            contract.actions.order_by("position").values_list("code", "pilot__username")
        ),
    }


def people_changes(before: dict, after: dict) -> dict:
    """``{"before": ..., "after": ...}`` holding only what changed: a role, a working group,
    a signatory, an action's pilot (``working_groups.GT1``, ``signatories.ARS``...)."""
    changed_before, changed_after = {}, {}
    for key in before.keys() | after.keys():
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict) and key != "steering_committee":
            for sub in old.keys() | new.keys():
                if old.get(sub) != new.get(sub):
                    changed_before[f"{key}.{sub}"] = old.get(sub)
                    changed_after[f"{key}.{sub}"] = new.get(sub)
        else:
            changed_before[key], changed_after[key] = old, new
    return {"before": changed_before, "after": changed_after}
