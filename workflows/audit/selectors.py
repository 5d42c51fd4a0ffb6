"""Reads for auditors: who may read which history, the search across contracts, and the
files an export or a verification bundle is made of."""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth.models import AnonymousUser
from django.core.paginator import Page, Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from workflows.anchors import (
    AnchorFiles,
    anchor_bundle_files,
    anchor_files_read,
    contract_anchors,
)
from workflows.models import (
    GENESIS_HASH,
    Contract,
    ContractAuditor,
    HistoryEntry,
    HistoryEvent,
    Organisation,
    SteeringCommittee,
    User,
)
from workflows.selectors import ChainVerification, contracts_visible_to, history_verify

from .labels import (
    Lookups,
    event_sentence,
    french_datetime,
    labelled_details,
    lookups_for,
    name_label,
    who_did_it,
)

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
    return entries.select_related(*SEARCH_JOINED).order_by(*SEARCH_ORDER)


SEARCH_JOINED = ("contract", "actor", "on_behalf_of")  # what a line of the results shows
SEARCH_ORDER = ("-at", "-pk")  # newest first


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
    # The page's entries chosen first, then joined to their contract and people, in one
    # statement. Joined first, PostgreSQL joined each of a person's few hundred entries to
    # the whole table of people before keeping 51: 19 ms against 0.8 ms on a million
    # entries (benchmarks/audit.py, docs/benchmarks.md).
    page = entries.values("pk")[start : start + size + 1]
    rows = list(
        HistoryEntry.objects.filter(pk__in=page)
        .select_related(*SEARCH_JOINED)
        .order_by(*SEARCH_ORDER)
    )
    return SearchPage(rows[:size], number, len(rows) > size)


def contract_auditors(contract: Contract) -> QuerySet[ContractAuditor]:
    return contract.auditors.select_related("user__organisation")


# --- A history in words -------------------------------------------------------------------

HISTORY_PAGE_SIZE = 50
RECENT_HISTORY = 20


@dataclass
class HistoryLine:
    """An entry as a reader sees it: what happened, who did it (for whom), when, its details
    labelled, and the notifications that told of it folded under it."""

    entry: HistoryEntry
    what: str
    kind: str
    who: str
    sentence: str
    when: str
    from_state: str
    to_state: str
    details: list[tuple[str, str, str]]
    notices: list[HistoryLine]

    @property
    def recipients(self) -> int:
        """How many people the folded notifications reached."""
        return sum(len(notice.entry.data.get("recipients") or []) for notice in self.notices)


def history_line(entry: HistoryEntry, lookups: Lookups) -> HistoryLine:
    what = entry.what
    kind = name_label(entry)
    return HistoryLine(
        entry=entry,
        what=what,
        kind="" if kind == what else kind,
        who=who_did_it(entry),
        sentence=event_sentence(entry),
        when=french_datetime(entry.at),
        from_state=entry.state_label("from"),
        to_state=entry.state_label("to"),
        details=labelled_details(entry, lookups),
        notices=[],
    )


# Which changes a kind of notification tells of: to fold each notification of a unit of work
# under its own change, when the unit recorded several (a launch: one task per sheet).
NOTICE_TELLS_OF = {
    "task_assigned": {HistoryEvent.TASK_CREATED, HistoryEvent.TASK_DELEGATED},
    "task_due_soon": {HistoryEvent.REMINDER},
    "task_overdue": {HistoryEvent.REMINDER},
    "overdue_alert": {HistoryEvent.REMINDER},
    "decision_made": {HistoryEvent.TASK_COMPLETED, HistoryEvent.ACTION_TRANSITION},
    "contract_status": {HistoryEvent.TRANSITION},
    "vote_decided": {HistoryEvent.VOTE_DECIDED, HistoryEvent.ANNUAL_REPORT_DECIDED},
    "document_signed": {HistoryEvent.SIGNATURE, HistoryEvent.TRANSITION},
    "declined": {HistoryEvent.DECLINE, HistoryEvent.VISA_REFUSED, HistoryEvent.TASK_COMPLETED},
    "meeting": {
        HistoryEvent.MEETING_SCHEDULED,
        HistoryEvent.MEETING_CHANGED,
        HistoryEvent.MEETING_CANCELLED,
    },
    "mentioned": {HistoryEvent.COMMENT_ADDED},
}


@dataclass(frozen=True)
class _Skeleton:
    pk: int
    seq: int
    event: str
    name: str
    action_code: str
    title: str
    owner: str
    recipients: tuple[str, ...]


def _owner_of(notice: _Skeleton, block: list[_Skeleton]) -> _Skeleton:
    """The change of its unit of work a notification tells of: the one naming the sheet its
    title names, the task of one of its recipients, of its kind; else the unit's last change."""

    def score(change: _Skeleton) -> int:
        names_sheet = bool(change.action_code) and bool(
            re.search(rf"(?<![\w-]){re.escape(change.action_code)}(?![\w-])", notice.title)
        )
        tells_its_holder = bool(change.owner) and change.owner in notice.recipients
        return (
            4 * names_sheet
            + 2 * tells_its_holder
            + (change.event in NOTICE_TELLS_OF.get(notice.name, ()))
        )

    best = max(score(change) for change in block)
    return [change for change in block if score(change) == best][-1]


def _notices_of(entries: list[HistoryEntry]) -> dict[int, list[HistoryEntry]]:
    """entry pk -> the ``notified`` entries that told of it. A unit of work records its
    changes, then the notifications of them all: each is folded under the change of that
    unit it tells of (its kind, the sheet its title names)."""
    changes = [entry for entry in entries if entry.event != HistoryEvent.NOTIFIED]
    notices: dict[int, list[HistoryEntry]] = {entry.pk: [] for entry in changes}
    wanted = set(notices)
    owned: dict[int, int] = {}
    for contract_id in {entry.contract_id for entry in changes}:
        first = min(entry.seq for entry in changes if entry.contract_id == contract_id)
        chain = HistoryEntry.objects.filter(contract_id=contract_id)
        # From the start of the unit of work of the page's oldest change: after the
        # notifications before it.
        start = (
            chain.filter(seq__lt=first, event=HistoryEvent.NOTIFIED)
            .order_by("-seq")
            .values_list("seq", flat=True)
            .first()
            or 0
        )
        rows = (
            chain.filter(seq__gt=start)
            .order_by("seq")
            .values_list(
                "pk",
                "seq",
                "event",
                "name",
                "action_code",
                "data__title",
                "data__owner",
                "data__recipients",
            )
        )
        last = max(entry.seq for entry in changes if entry.contract_id == contract_id)
        block: list[_Skeleton] = []
        for pk, seq, event, name, code, title, owner, recipients in rows.iterator(chunk_size=2000):
            item = _Skeleton(
                pk,
                seq,
                event,
                name,
                code,
                title if isinstance(title, str) else "",
                owner if isinstance(owner, str) else "",
                tuple(recipients) if isinstance(recipients, list) else (),
            )
            if event != HistoryEvent.NOTIFIED:
                if block and block[-1].event == HistoryEvent.NOTIFIED:
                    if seq > last:
                        break  # a unit of work after the page's last change
                    block = []
                block.append(item)
                continue
            changes_of_unit = [change for change in block if change.event != HistoryEvent.NOTIFIED]
            block.append(item)
            if changes_of_unit:
                owner = _owner_of(item, changes_of_unit)
                if owner.pk in wanted:
                    owned[pk] = owner.pk
    for notice in (
        HistoryEntry.objects.filter(pk__in=owned)
        .select_related("contract", "actor", "on_behalf_of")
        .order_by("seq")
    ):
        notices[owned[notice.pk]].append(notice)
    return notices


def history_lines(
    entries: Iterable[HistoryEntry], *, fold_notices: bool = True
) -> list[HistoryLine]:
    """The entries in words, in the order given; with ``fold_notices``, each change carries
    the ``notified`` entries that told of it (a notification listed on its own stays a line)."""
    entries = list(entries)
    notices = _notices_of(entries) if fold_notices else {}
    lookups = lookups_for([*entries, *(n for found in notices.values() for n in found)])
    lines = []
    for entry in entries:
        line = history_line(entry, lookups)
        line.notices = [history_line(notice, lookups) for notice in notices.get(entry.pk, [])]
        lines.append(line)
    return lines


@dataclass(frozen=True)
class HistoryFilter:
    """A reader's view of one contract's history: every criterion optional."""

    event: str = ""
    person: User | None = None
    action: str = ""
    oldest_first: bool = False


def contract_history_entries(contract: Contract, filters: HistoryFilter) -> QuerySet[HistoryEntry]:
    """The contract's entries matching the filters, newest first unless asked otherwise; the
    notifications left out (they are folded under their change) unless they are asked for."""
    entries = contract.history.select_related("contract", "actor", "on_behalf_of", "action")
    if filters.event:
        entries = entries.filter(event=filters.event)
    else:
        entries = entries.exclude(event=HistoryEvent.NOTIFIED)
    if filters.person is not None:
        entries = entries.filter(Q(actor=filters.person) | Q(on_behalf_of=filters.person))
    if filters.action:
        entries = entries.filter(action_code=filters.action)
    return entries.order_by("seq" if filters.oldest_first else "-seq")


@dataclass
class HistoryPage:
    page: Page
    lines: list[HistoryLine]


def contract_history_page(
    contract: Contract, filters: HistoryFilter, number: int | str = 1, size: int = HISTORY_PAGE_SIZE
) -> HistoryPage:
    """One page of the contract's history in words (a contract's history is a few thousand
    entries at most: counting them for "page 3 of 40" is cheap)."""
    page = Paginator(contract_history_entries(contract, filters), size).get_page(number)
    return HistoryPage(page, history_lines(page.object_list))


def contract_history_latest(contract: Contract, limit: int = RECENT_HISTORY) -> list[HistoryLine]:
    """The latest changes of the contract, newest first, their notifications folded: what the
    contract page shows above its link to the whole history. Each entry's contract is this
    one: not read again, a copy per entry (its texts decoded each time)."""
    entries = list(
        contract_history_entries(contract, HistoryFilter())
        .select_related(None)
        .select_related("actor", "on_behalf_of", "action")[:limit]
    )
    for entry in entries:
        entry.contract = contract
    return history_lines(entries)


def contract_history_people(contract: Contract) -> list[User]:
    """Everyone who acted in the contract's history, or was acted for: the person filter's
    choices, by name."""
    pks = {
        pk
        for pair in contract.history.order_by()
        .values_list("actor_id", "on_behalf_of_id")
        .distinct()
        for pk in pair
        if pk is not None
    }
    return sorted(User.objects.filter(pk__in=pks), key=lambda person: person.display_name.lower())


def contract_history_actions(contract: Contract) -> list[tuple[str, str]]:
    """The sheets the history names: (code, "code — title"), for the action filter."""
    return [
        (code, f"{code} — {title}")
        for code, title in contract.actions.order_by("position").values_list("code", "title")
    ]


# --- People by name -----------------------------------------------------------------------


def _folded(text: str) -> str:
    """Lower case without accents: "Conseillère" and "conseillere" match."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def people_matching(user: User, text: str, limit: int = 20) -> list[User]:
    """The people whose username, first name, last name or full name holds every word of
    ``text``, whatever the case and accents, among those the person may know of (staff:
    everyone; others: the people of the contracts they read). An exact username comes alone.

    Matched in Python: neither SQLite nor PostgreSQL (without the unaccent extension) compare
    without accents, and a deployment's people are a few thousand rows of four short names.
    """
    text = text.strip()
    if not text:
        return []
    candidates = User.objects.all()
    if not user.is_staff:
        ids = list(contracts_visible_to(user).values_list("pk", flat=True))
        candidates = candidates.filter(
            Q(
                pk__in=Contract.participants.through.objects.filter(contract_id__in=ids).values(
                    "user"
                )
            )
            | Q(
                pk__in=Contract.coordinators.through.objects.filter(contract_id__in=ids).values(
                    "user"
                )
            )
            | Q(
                organisation__in=Contract.organisations.through.objects.filter(
                    contract_id__in=ids
                ).values("organisation")
            )
        )
    exact = candidates.filter(username=text).first()
    if exact is not None:
        return [exact]
    words = _folded(text).split()
    found = []
    for pk, username, first, last in candidates.values_list(
        "pk", "username", "first_name", "last_name"
    ):
        haystack = _folded(f"{username} {first} {last} {last} {first}")
        if all(word in haystack for word in words):
            found.append(pk)
            if len(found) > limit:
                break
    return sorted(User.objects.filter(pk__in=found), key=lambda person: person.display_name.lower())


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
        _("Kind"),
        _("Action"),
        _("From state"),
        _("To state"),
        _("Comment"),
        _("Details"),
        _("Hash"),
    ]


def csv_row(entry: HistoryEntry, lookups: Lookups | None = None) -> list[str]:
    """The entry in the words of the history page: the event, its kind (a transition, a
    signatory's kind...), states and details labelled in the reader's language."""
    at = timezone.localtime(entry.at)
    details = labelled_details(entry, lookups or lookups_for([entry]))
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
        _cell(name_label(entry)),
        _cell(entry.action_code),
        _cell(entry.state_label("from")),
        _cell(entry.state_label("to")),
        _cell(entry.comment),
        _cell(" | ".join(f"{label}\u00a0: {value}" for _key, label, value in details)),
        entry.hash,
    ]


CSV_LOOKUP_BATCH = 500


def history_csv_lines(entries: Iterable[HistoryEntry]) -> Iterator[str]:
    """A CSV a French spreadsheet opens as it is: UTF-8 with a byte order mark, ``;`` between
    cells, quoted where needed, dates day first, one line per entry (CRLF); the people and
    organisations the details name are looked up a batch of entries at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")

    def line(cells: list[str]) -> str:
        writer.writerow(cells)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield "\ufeff" + line(csv_header())
    batch: list[HistoryEntry] = []
    for entry in entries:
        batch.append(entry)
        if len(batch) == CSV_LOOKUP_BATCH:
            lookups = lookups_for(batch)
            yield "".join(line(csv_row(item, lookups)) for item in batch)
            batch = []
    if batch:
        lookups = lookups_for(batch)
        yield "".join(line(csv_row(item, lookups)) for item in batch)


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
        *(BundleFile(name, content) for name, content in anchor_bundle_files(contract.reference)),
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
