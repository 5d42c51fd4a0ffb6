"""Reads: who may see which contract, and whether a history chain is intact."""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, F, Max, Prefetch, Q, QuerySet, prefetch_related_objects
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from viewflow.workflow import chart

from .anchors import Anchor, contract_anchors
from .contract_file import Problem, contract_file_of, contract_file_problems
from .errors import Conflict, NotAllowed
from .flows import ContractFlow
from .models import (
    GENESIS_HASH,
    HASH_VERSION,
    Action,
    ActionStatus,
    ActionVersion,
    Amendment,
    AmendmentChange,
    AmendmentParty,
    AmendmentStatus,
    AnnualReview,
    Attachment,
    CommitteeVote,
    Contract,
    ContractAuditor,
    ContractObserver,
    ContractStatus,
    FundingLine,
    HistoryEntry,
    HistoryEvent,
    IndicatorValue,
    Process,
    SheetComment,
    Signatory,
    SignatoryKind,
    SignatoryStatus,
    SteeringCommittee,
    Task,
    TaskDecision,
    TaskKind,
    TaskStatus,
    Theme,
    User,
    WorkingGroup,
    is_coordinator,
    sheet_changes,
)
from .nodes import Gather
from .reports import annual_report_data as annual_report_data  # for the pages and the API
from .reports import parse_number
from .rules import may_edit_sheet


def contracts_visible_to(user: User) -> QuerySet[Contract]:
    """Contracts the user takes part in, in any role, imported, audits or observes; staff see
    them all."""
    contracts = Contract.objects.all()
    if not user.is_authenticated:
        return contracts.none()
    if user.is_staff:
        return contracts
    # One subquery per role, each on its own index. Not one filter across the relations: its
    # joins multiply (groups x members x actions x history x tasks...), and on a real contract
    # (38 actions, hundreds of history entries) the query ran for minutes.
    roles = [
        Contract.participants.through.objects.filter(user=user),
        Contract.coordinators.through.objects.filter(user=user),
        WorkingGroup.objects.filter(Q(leads=user) | Q(members=user)),
        SteeringCommittee.objects.filter(Q(members=user) | Q(chair=user)),
        Signatory.objects.filter(Q(signer=user) | Q(represented_by=user)),
        Action.objects.filter(pilot=user),
        # Whoever set the contract up may see it, even if the file does not name them.
        HistoryEntry.objects.filter(event=HistoryEvent.IMPORTED, actor=user),
        # A delegate works on the contracts of the tasks in their hands.
        Task.objects.filter(owner=user),
        # An auditor granted read access to the contract by an administrator.
        ContractAuditor.objects.filter(user=user),
        # An observer a coordinator added: sees, is told and comments, decides nothing.
        ContractObserver.objects.filter(user=user),
    ]
    takes_part = Q()
    for role in roles:
        takes_part |= Q(pk__in=role.values("contract_id"))
    return contracts.filter(takes_part)


def contract_with_details(contracts: QuerySet[Contract]) -> QuerySet[Contract]:
    """Contracts with their actions and signatories, in a fixed number of queries."""
    return contracts.prefetch_related(
        Prefetch(
            "actions",
            queryset=Action.objects.in_contract().select_related("theme", "working_group", "pilot"),
        ),
        Prefetch(
            "signatories",
            queryset=Signatory.objects.select_related("organisation", "signer", "represented_by"),
        ),
    )


def contract_is_visible_to(contract: Contract, user: User) -> bool:
    return contracts_visible_to(user).filter(pk=contract.pk).exists()


@dataclass(frozen=True)
class ChainVerification:
    contract: Contract
    entries: int
    first_bad_seq: int | None
    problem: str = ""
    # The chain's last entry, when it was read whole.
    head: tuple[int, str] | None = None
    # Entries cut off the end: (first, last) missing, and the anchor that remembers them.
    missing: tuple[int, int] | None = None
    # The anchor the chain contradicts (cut or rewritten), for the pages' words.
    anchor: Anchor | None = None
    # When only the entries since a checkpoint were recomputed (the contract page): that
    # checkpoint, up to which the last full check found the chain intact, and how many
    # entries after it were recomputed now. None: the whole chain was recomputed.
    checkpoint: Anchor | None = None
    rechecked: int = 0

    @property
    def valid(self) -> bool:
        return self.first_bad_seq is None


def history_verify(
    contract: Contract, anchors: Sequence[Anchor] | None = None
) -> ChainVerification:
    """Recompute the contract's chain: an edited, inserted or removed entry breaks it, in
    either hash version. Each head remembered outside the chain (``anchors``; by default its
    last checkpoint and the signed head files, ``workflows.anchors``) must still be on it:
    entries cut off the end, or a chain recomputed whole after an edit, are detected too,
    naming the entries and the anchor."""
    if anchors is None:
        anchors = contract_anchors(contract)
    entries = HistoryEntry.objects.filter(contract=contract).select_related("contract")
    count = entries.count()
    return _chain_walk(contract, entries.order_by("seq").iterator(), count=count, anchors=anchors)


def _chain_walk(
    contract: Contract,
    entries: Iterable[HistoryEntry],
    *,
    count: int,
    anchors: Sequence[Anchor],
    start: HistoryEntry | None = None,
) -> ChainVerification:
    """Walk ``entries`` (in ``seq`` order) checking each link, hash and anchor; from the
    genesis, or from ``start``, an entry taken as sound (its own hash is still recomputed)."""
    anchored: dict[int, list[Anchor]] = {}
    for anchor in anchors:
        anchored.setdefault(anchor.seq, []).append(anchor)
    previous_hash = GENESIS_HASH if start is None else start.prev_hash
    previous_version = 1
    first_seq = 1 if start is None else start.seq
    for expected_seq, entry in enumerate(entries, start=first_seq):
        if entry.seq != expected_seq:
            return ChainVerification(
                contract, count, expected_seq, f"entry #{expected_seq} is missing"
            )
        if entry.prev_hash != previous_hash:
            return ChainVerification(
                contract, count, entry.seq, f"entry #{entry.seq} does not follow the previous one"
            )
        # A version older than the previous entry's, or unknown: someone chose the algorithm.
        if (
            not previous_version <= entry.hash_version <= HASH_VERSION
            or entry.compute_hash() != entry.hash
        ):
            return ChainVerification(contract, count, entry.seq, f"entry #{entry.seq} was altered")
        for anchor in anchored.get(entry.seq, ()):
            if entry.hash != anchor.hash:
                # Every link holds, yet this is not the entry anchored: the chain was rewritten.
                return ChainVerification(
                    contract,
                    count,
                    entry.seq,
                    f"entry #{entry.seq} differs from the one checked in the {anchor.label}",
                    anchor=anchor,
                )
        previous_hash, previous_version = entry.hash, entry.hash_version
    beyond = [anchor for anchor in anchors if anchor.seq > count]
    if beyond:
        anchor = max(beyond, key=lambda item: item.seq)
        first, last = count + 1, anchor.seq
        what = f"entry #{first} is" if first == last else f"entries #{first} to #{last} are"
        return ChainVerification(
            contract,
            count,
            first,
            f"{what} missing since the {anchor.label}",
            missing=(first, last),
            anchor=anchor,
        )
    return ChainVerification(contract, count, None, head=(count, previous_hash) if count else None)


def history_verify_since_checkpoint(contract: Contract) -> ChainVerification:
    """The contract page's check: the chain as the last full check left it (its checkpoint,
    written by ``verify_history`` or the nightly check after recomputing every entry), and
    every entry since recomputed now, from the checkpointed entry on. Rehashing thousands of
    entries at each view would make the page slow; an entry edited before the checkpoint
    is the full check's to find (the history page and the command recompute everything).

    The entries must still number the head's ``seq`` (one removed anywhere shows), the
    checkpointed entry must still carry the hash checked then, and every other anchor is
    checked as by the full verification. When any of this fails, or no checkpoint exists
    yet, the whole chain is recomputed, so that a break is named as the full check names
    it."""
    anchors = contract_anchors(contract)
    checkpoint = next((anchor for anchor in anchors if anchor.source == "checkpoint"), None)
    if checkpoint is None:
        return history_verify(contract, anchors)
    count = HistoryEntry.objects.filter(contract=contract).count()
    entries = list(
        HistoryEntry.objects.filter(contract=contract, seq__gte=checkpoint.seq).order_by("seq")
    )
    for entry in entries:
        entry.contract = contract
    sound = (
        bool(entries)
        and entries[0].seq == checkpoint.seq
        and entries[-1].seq == count
        and entries[0].hash == checkpoint.hash
    )
    if sound:
        result = _chain_walk(
            contract,
            entries,
            count=count,
            # The anchors before the checkpoint were the full check's to compare.
            anchors=[anchor for anchor in anchors if anchor.seq >= checkpoint.seq],
            start=entries[0],
        )
        if result.valid:
            return dataclasses.replace(result, checkpoint=checkpoint, rechecked=len(entries) - 1)
    return history_verify(contract, anchors)


def history_of(contract: Contract) -> QuerySet[HistoryEntry]:
    return contract.history.select_related("actor", "on_behalf_of").order_by("seq")


def user_may_import_contracts(user: User) -> bool:
    """Coordinators set contracts up: staff, or people granted the add-contract permission."""
    return user.is_authenticated and (user.is_staff or user.has_perm("workflows.add_contract"))


# --- Tasks and inboxes --------------------------------------------------------------------


def _with_task_details(tasks: QuerySet[Task]) -> QuerySet[Task]:
    return tasks.select_related(
        "contract",
        "action",
        "owner",
        "assignee",
        "on_behalf_of",
        "signatory__organisation",
        "committee_vote",
    )


def inbox_of(
    user: User,
    *,
    kind: str | None = None,
    contract_id: int | None = None,
    overdue: bool = False,
) -> QuerySet[Task]:
    """The user's open tasks (their own, and those they hold for an absent colleague), the
    most urgent first. One query whatever the number of tasks (index ``task_inbox``)."""
    tasks = Task.objects.filter(owner=user, status=TaskStatus.ASSIGNED)
    if kind:
        tasks = tasks.filter(kind=kind)
    if contract_id:
        tasks = tasks.filter(contract_id=contract_id)
    if overdue:
        tasks = tasks.filter(due__lt=timezone.now())
    # Joined: what an inbox line shows, and no more. PostgreSQL's planning time grows steeply
    # with the joined tables: 16-28 ms with the assignee and the vote as well (nine tables),
    # about 4 ms with these (benchmarks/, docs/benchmarks.md). An amendment's task names its
    # amendment, the proposed sheet or the party (``Task.headline``): each read apart in one
    # narrow query for the whole page, and none at all on a page without amendment tasks
    # (Django sends no ``IN`` of no id). Joined, the three made the inbox query's planning
    # five times longer (1.1 to 5.7 ms) for everyone, amendment tasks or not.
    return (
        tasks.select_related(
            "contract", "action", "owner", "on_behalf_of", "signatory__organisation"
        )
        .prefetch_related(
            Prefetch("amendment", queryset=Amendment.objects.only("number", "status")),
            Prefetch("amendment_change", queryset=AmendmentChange.objects.only("code")),
            Prefetch(
                "amendment_party",
                queryset=AmendmentParty.objects.select_related("organisation").only(
                    "organisation__name"
                ),
            ),
        )
        .only(*INBOX_LINE_FIELDS)
        .order_by("due", "pk")
    )


# The columns an inbox line reads (the page's rows, the API's TaskOutput, ``Task.headline``),
# and no others: a page of 50 tasks is built from about 35 columns instead of 130, a sixth
# less CPU per API request (docs/benchmarks.md). A field read but not listed here would cost
# a query per line: tests/workflows/test_api_tasks.py and test_task_pages.py count them.
# The contract's and the action's ``status`` are read by django-fsm whenever one is built
# (the amendment's, prefetched, as well).
INBOX_LINE_FIELDS = (
    *("kind", "status", "due", "data", "delegation_id"),
    *("contract_id", "action_id", "owner_id", "on_behalf_of_id", "signatory_id"),
    *("amendment_id", "amendment_change_id", "amendment_party_id"),
    *("contract__reference", "contract__title", "contract__status"),
    *("action__code", "action__title", "action__status"),
    *("owner__username", "owner__first_name", "owner__last_name"),
    *("on_behalf_of__username", "on_behalf_of__first_name", "on_behalf_of__last_name"),
    *("signatory__organisation__name",),
)


def tasks_visible_to(user: User) -> QuerySet[Task]:
    """Tasks the user holds, held or is represented in, and every task of the contracts they
    coordinate; staff see them all."""
    tasks = _with_task_details(Task.objects.exclude(kind=""))
    if user.is_staff:
        return tasks
    return tasks.filter(
        Q(owner=user)
        | Q(assignee=user)
        | Q(on_behalf_of=user)
        | Q(completed_by=user)
        | Q(contract__coordinators=user)
    ).distinct()


def signatures_held_for(user: User) -> QuerySet[Task]:
    """The signature tasks that someone else holds or held on ``user``'s behalf (their
    representative, or the representative's delegate): the open ones first, the soonest due
    first, then those decided, the latest first. The inbox page and ``GET inbox/represented/``
    alike."""
    return (
        Task.objects.filter(
            kind=TaskKind.SIGNATURE,
            on_behalf_of=user,
            status__in=[TaskStatus.ASSIGNED, TaskStatus.HELD, TaskStatus.DONE],
        )
        .exclude(owner=user)
        .select_related(
            "contract", "action", "owner", "on_behalf_of", "completed_by", "signatory__organisation"
        )
        .order_by(F("finished").desc(nulls_first=True), "due", "pk")
    )


@dataclass(frozen=True)
class OtherReview:
    """Another lead's review in the same round: decided (``decision``, by whom, when) or not
    yet (``decision`` empty)."""

    lead: User
    decision: str
    decided_by: User | None
    decided_at: datetime.datetime | None


def other_reviews(task: Task) -> list[OtherReview]:
    """For a review of an action sheet: the other leads' reviews of the same round (the
    branches of the same ``ForEach``, which share the review's previous task), in the order
    the round gave them. A review cancelled when another lead asked for changes counts as
    not decided."""
    if task.kind != TaskKind.REVIEW or task.amendment_id or task.action_id is None:
        return []
    siblings = (
        Task.objects.filter(
            process_id=task.process_id,
            kind=TaskKind.REVIEW,
            previous__in=Task.objects.filter(leading=task).values("pk"),
        )
        .exclude(pk=task.pk)
        .select_related("assignee", "completed_by")
        .order_by("pk")
    )
    return [
        OtherReview(
            lead=sibling.assignee,
            decision=sibling.decision if sibling.status == TaskStatus.DONE else "",
            decided_by=sibling.completed_by if sibling.status == TaskStatus.DONE else None,
            decided_at=sibling.finished if sibling.status == TaskStatus.DONE else None,
        )
        for sibling in siblings
        if sibling.assignee is not None
    ]


def tasks_of_contract(contract: Contract) -> QuerySet[Task]:
    return _with_task_details(contract.tasks.exclude(kind="")).order_by("-created", "-pk")


def contract_open_tasks(contract: Contract) -> QuerySet[Task]:
    return (
        tasks_of_contract(contract)
        .filter(status__in=[TaskStatus.ASSIGNED, TaskStatus.HELD])
        .order_by("due", "pk")
    )


@dataclass(frozen=True)
class ContractProgress:
    actions_by_status: dict[str, int]
    actions_total: int
    signatures_collected: int
    signatures_expected: int
    mandatory_pending: int

    @property
    def actions_approved(self) -> int:
        return sum(
            self.actions_by_status.get(state, 0)
            for state in ("approved", "validated", "in_progress", "done")
        )


def contract_progress(contract: Contract) -> ContractProgress:
    """Where the contract's actions and signatures stand, in two queries."""
    by_status = Counter(contract.actions.in_contract().values_list("status", flat=True))
    return _progress(by_status, list(contract.signatories.values_list("kind", "status")))


def _progress(
    by_status: Mapping[str, int], signatories: Sequence[tuple[str, str]]
) -> ContractProgress:
    """``contract_progress`` from the actions' numbers by status and the signatories' (kind,
    status): the contract page has read both already."""
    return ContractProgress(
        actions_by_status=dict(by_status),
        actions_total=sum(by_status.values()),
        signatures_collected=sum(
            1 for _, status in signatories if status == SignatoryStatus.SIGNED
        ),
        signatures_expected=len(signatories),
        mandatory_pending=sum(
            1
            for kind, status in signatories
            if kind == SignatoryKind.MANDATORY and status == SignatoryStatus.PENDING
        ),
    )


def contract_current_process(contract: Contract) -> Process | None:
    """The latest run of the contract's approval flow (the current version's)."""
    return (
        Process.objects.filter(contract=contract, flow_class=ContractFlow)
        .order_by("-created", "-pk")
        .first()
    )


def contract_flow_chart(contract: Contract) -> str:
    """The approval flow as SVG, its steps coloured by where this contract stands."""
    grid = chart.calc_layout_data(ContractFlow)
    process = contract_current_process(contract)
    if process is not None:
        for flow_task, status in _step_statuses(process).items():
            if flow_task in grid.nodes:
                grid[flow_task].status = status
    return chart.grid_to_svg(grid)


# A step with many tasks (one vote per member) shows its most telling state: someone still
# has to act, else it was done (even if the remaining votes were cancelled once decided).
_STEP_STATUS_PRIORITY = [
    TaskStatus.ERROR,
    TaskStatus.ASSIGNED,
    TaskStatus.HELD,
    TaskStatus.STARTED,
    TaskStatus.NEW,
    TaskStatus.DONE,
    TaskStatus.CANCELED,
]


def _step_statuses(process: Process) -> dict:
    """The chart's colour of each step of the process, from the statuses of its tasks."""
    statuses: dict = {}
    for flow_task, status in process.task_set.values_list("flow_task", "status"):
        statuses.setdefault(flow_task, set()).add(status)
    shown = {}
    for flow_task, present in statuses.items():
        status = next((s for s in _STEP_STATUS_PRIORITY if s in present), next(iter(present)))
        # The SVG styles viewflow's statuses; a held step is drawn as waiting for someone.
        shown[flow_task] = TaskStatus.ASSIGNED if status == TaskStatus.HELD else status
    return shown


def change_requests(task: Task) -> list[Task]:
    """The decisions a revision answers: the leads' requests for changes on its action, and
    the rejecting votes that named it (or no action at all), since the action's previous
    revision of the same contract version."""
    same_version = Q(process__contract_version=task.process.contract_version)
    previous_revision = Task.objects.filter(
        same_version,
        action_id=task.action_id,
        kind=TaskKind.REVISION,
        status=TaskStatus.DONE,
        finished__lt=task.created,
    ).aggregate(at=Max("finished"))["at"]
    requests = Task.objects.filter(
        same_version,
        Q(kind=TaskKind.REVIEW, action_id=task.action_id, decision=TaskDecision.REQUEST_CHANGES)
        | Q(
            kind=TaskKind.VOTE,
            contract_id=task.contract_id,
            decision=TaskDecision.REJECT,
            committee_vote__outcome="rejected",
        ),
        status=TaskStatus.DONE,
        finished__lte=task.created,
    )
    if previous_revision is not None:
        requests = requests.filter(finished__gt=previous_revision)
    code = task.action.code if task.action else None
    return [
        request
        for request in requests.select_related(
            "completed_by", "on_behalf_of", "committee_vote"
        ).order_by("finished", "pk")
        if request.kind == TaskKind.REVIEW
        or not request.data.get("actions")
        or code in request.data["actions"]
    ]


# --- The contract page ----------------------------------------------------------------------

# The contract's life, as the steps shown beside the flow diagram.
CONTRACT_STAGES: list[str] = [
    ContractStatus.DRAFT,
    ContractStatus.REVIEW,
    ContractStatus.COMMITTEE,
    ContractStatus.DELIBERATION,
    ContractStatus.SIGNING,
    ContractStatus.SIGNED,
    ContractStatus.CLOSED,
]


# The open tasks the contract page lists one by one, the first due; the others are counted.
OPEN_TASKS_LISTED = 50


@dataclass(frozen=True)
class OpenTask:
    """An open task as the contract page counts it: what ``open_task_groups`` reads of a
    ``Task``, from a row."""

    pk: int
    kind: str
    status: str
    due: datetime.datetime | None
    owner: User | None
    on_behalf_of: User | None

    @property
    def kind_label(self) -> str:
        return str(TaskKind(self.kind).label) if self.kind else ""

    @property
    def is_overdue(self) -> bool:
        return (
            self.status == TaskStatus.ASSIGNED
            and self.due is not None
            and self.due < timezone.now()
        )

    @property
    def acts_for_someone(self) -> bool:
        on_behalf_of = self.on_behalf_of.pk if self.on_behalf_of else None
        return on_behalf_of is not None and on_behalf_of != (self.owner.pk if self.owner else None)


@dataclass
class TaskGroup:
    """The open tasks of one kind on a contract: who holds them and by when (the contract
    page's "waiting on whom")."""

    kind: str
    label: str
    tasks: list[Task] | list[OpenTask]
    # (person's name, how many of these tasks they hold, how many of those are overdue)
    holders: list[tuple[str, int, int]]

    @property
    def overdue(self) -> int:
        return sum(task.is_overdue for task in self.tasks)

    # The open task due first (the one to chase).
    next_due: Task | OpenTask | None = None


def open_task_groups(tasks: Iterable[Task] | Iterable[OpenTask]) -> list[TaskGroup]:
    """Open tasks grouped by kind, in the order the kinds' first tasks fall due; within a kind,
    the people who hold them, the most loaded first. Reads only what ``tasks`` carry."""
    by_kind: dict[str, list[Any]] = {}
    for task in tasks:
        by_kind.setdefault(task.kind, []).append(task)
    groups = []
    for kind, members in by_kind.items():
        counts: dict[str, list[int]] = {}
        for task in members:
            if task.owner is None:
                name = _("Nobody yet")
            elif task.acts_for_someone and task.on_behalf_of is not None:
                name = _("%(actor)s for %(principal)s") % {
                    "actor": task.owner.display_name,
                    "principal": task.on_behalf_of.display_name,
                }
            else:
                name = task.owner.display_name
            held = counts.setdefault(str(name), [0, 0])
            held[0] += 1
            held[1] += int(task.is_overdue)
        holders = sorted(
            ((name, n, late) for name, (n, late) in counts.items()), key=lambda h: (-h[1], h[0])
        )
        dated = [task for task in members if task.due is not None]
        first = min(dated, key=lambda task: (task.due, task.pk)) if dated else None
        groups.append(TaskGroup(kind, members[0].kind_label, members, holders, first))
    return groups


@dataclass
class ContractPage:
    """What the contract page shows a person, read in a fixed number of queries."""

    contract: Contract
    themes: QuerySet[Theme]
    action_total: int
    action_progress: list[dict[str, Any]]
    signatories: list[Signatory]
    signatures_signed: int
    signatures_declined: int
    working_groups: list[WorkingGroup]
    committee: SteeringCommittee | None
    coordinators: QuerySet[User]
    observers: list[ContractObserver]
    history_total: int
    verification: ChainVerification
    is_coordinator: bool
    progress: ContractProgress
    # Every open task, counted and grouped; the first ``OPEN_TASKS_LISTED`` due, listed.
    open_tasks: list[OpenTask]
    listed_tasks: list[Task]
    open_tasks_overdue: int
    open_task_groups: list[TaskGroup]
    stages: list[dict[str, Any]]
    current_vote: CommitteeVote | None
    current_vote_cast: int
    past_votes: list[CommitteeVote]
    may_close_vote: bool
    attachments: list[Attachment]
    attachment_actions: list[Action]
    # What still stops the review's launch, shown to a coordinator while the contract is a draft.
    draft_problems: list[Problem]


def draft_problems(contract: Contract) -> list[Problem]:
    """What the contract still lacks, or gets wrong, by the contract file's rules: empty when
    it is complete enough to launch its review."""
    return contract_file_problems(contract_file_of(contract), contract=contract)


def contract_themes(contract: Contract) -> QuerySet[Theme]:
    """The contract's themes, each with its actions and all that their table row shows (pilot,
    working group, partners, funding, indicators): five queries, whatever their number."""
    actions = (
        Action.objects.in_contract()
        .select_related("pilot__organisation", "working_group")
        .prefetch_related("partners", "funding_lines__funder", "indicators")
    )
    return contract.themes.prefetch_related(Prefetch("actions", queryset=actions))


def contract_theme_counts(contract: Contract) -> QuerySet[Theme]:
    """The contract's themes, each with its number of actions (``action_count``): the contract
    page lists them, the table of the actions has a page of its own."""
    return contract.themes.annotate(
        action_count=Count("actions", filter=~Q(actions__status=ActionStatus.REMOVED))
    )


# What the contract page shows of an action (the attachment form's choice, a listed task's
# sheet); the state field too, which django-fsm's concurrency check reads on every instance.
LISTED_ACTION_FIELDS = ("pk", "contract_id", "code", "title", "status")


def contract_page(contract: Contract, user: User) -> ContractPage:
    """Everything the contract page shows ``user`` (who may see the contract)."""
    counts = dict(
        contract.actions.in_contract().order_by().values_list("status").annotate(n=Count("pk"))
    )
    signatories = list(
        contract.signatories.select_related("organisation", "signer", "represented_by")
    )
    with_organisation = User.objects.select_related("organisation")
    committee = (
        SteeringCommittee.objects.filter(contract=contract)
        .select_related("chair__organisation")
        .prefetch_related(Prefetch("members", queryset=with_organisation))
        .first()
    )
    # Every open task counted as a row (300 FSM models would cost 20 ms of CPU), its people
    # read once; only the ones listed are read as models.
    rows = list(
        contract_open_tasks(contract)
        .select_related(None)
        .values_list("pk", "kind", "status", "due", "owner_id", "on_behalf_of_id")
    )
    people = User.objects.in_bulk({pk for row in rows for pk in row[4:] if pk})
    open_tasks = [
        OpenTask(pk, kind, status, due, people.get(owner_id), people.get(on_behalf_of_id))
        for pk, kind, status, due, owner_id, on_behalf_of_id in rows
    ]
    coordinates = is_coordinator(contract, user)
    offered_actions = attachment_actions(contract, user, coordinates=coordinates)
    # Each listed task's contract is this one, and an action has several tasks, a person
    # many: one copy of each, not one per task. Its people are those read above; its action,
    # for a coordinator, one of the form's (every action of the contract).
    listed_tasks = list(
        contract_open_tasks(contract)
        .filter(pk__in=[task.pk for task in open_tasks[:OPEN_TASKS_LISTED]])
        .select_related(None)
        .select_related("signatory__organisation")
    )
    actions = {action.pk: action for action in offered_actions}
    missing = {task.action_id for task in listed_tasks} - set(actions) - {None}
    if missing:
        actions.update(Action.objects.only(*LISTED_ACTION_FIELDS).in_bulk(missing))
    # Links only to the task pages this person may open: their own; every one (the kind-less
    # ones aside, as ``tasks_visible_to``) for a coordinator of the contract or staff.
    if coordinates or user.is_staff:
        openable = {task.pk for task in listed_tasks if task.kind}
    else:
        openable = set(
            tasks_visible_to(user)
            .filter(pk__in=[task.pk for task in listed_tasks])
            .values_list("pk", flat=True)
        )
    for task in listed_tasks:
        task.contract = contract
        task.owner = people.get(task.owner_id) if task.owner_id else None
        task.on_behalf_of = people.get(task.on_behalf_of_id) if task.on_behalf_of_id else None
        task.action = actions.get(task.action_id) if task.action_id else None
        task.openable = task.pk in openable
    votes = list(
        contract.votes.filter(annual_review__isnull=True)
        .select_related("closed_by", "amendment")
        .defer("minutes_pdf")
        .order_by("-round")
    )
    current_vote = next((vote for vote in votes if not vote.outcome), None)
    cast = sum(current_vote.tally()) if current_vote is not None else 0
    verification = history_verify_since_checkpoint(contract)
    return ContractPage(
        contract=contract,
        themes=contract_theme_counts(contract),
        action_total=sum(counts.values()),
        action_progress=[
            {"status": status, "label": status.label, "count": counts[status.value]}
            for status in ActionStatus
            if counts.get(status.value)
        ],
        signatories=signatories,
        signatures_signed=sum(s.status == SignatoryStatus.SIGNED for s in signatories),
        signatures_declined=sum(s.status == SignatoryStatus.DECLINED for s in signatories),
        working_groups=sorted(
            WorkingGroup.objects.filter(contract=contract).prefetch_related(
                Prefetch("leads", queryset=with_organisation),
                Prefetch("members", queryset=with_organisation),
            ),
            key=lambda group: _natural_key(group.code),
        ),
        committee=committee,
        coordinators=contract.coordinators.select_related("organisation"),
        observers=list(contract_observers(contract)),
        history_total=verification.entries,
        verification=verification,
        is_coordinator=coordinates,
        progress=_progress(
            counts, [(signatory.kind, signatory.status) for signatory in signatories]
        ),
        open_tasks=open_tasks,
        listed_tasks=listed_tasks,
        open_tasks_overdue=sum(task.is_overdue for task in open_tasks),
        open_task_groups=open_task_groups(open_tasks),
        stages=contract_stages(contract),
        current_vote=current_vote,
        current_vote_cast=cast,
        past_votes=[vote for vote in votes if vote.outcome],
        may_close_vote=(
            committee is not None
            and committee.chair_id == user.pk
            and current_vote is not None
            and (
                contract.status == ContractStatus.COMMITTEE
                or (
                    current_vote.amendment is not None
                    and current_vote.amendment.status == AmendmentStatus.COMMITTEE
                )
            )
            and cast >= current_vote.quorum
        ),
        attachments=list(contract_attachments(contract)),
        attachment_actions=offered_actions,
        draft_problems=draft_problems(contract)
        if coordinates and contract.status == ContractStatus.DRAFT
        else [],
    )


def contract_observers(contract: Contract) -> QuerySet[ContractObserver]:
    """The contract's observers, in the order they were added."""
    return contract.observers.select_related("user__organisation", "added_by").order_by(
        "added_at", "pk"
    )


def sheet_comments(action: Action) -> QuerySet[SheetComment]:
    """The comments on ``action``'s sheet, the oldest first (the pages and the API alike)."""
    return action.comments.select_related("author__organisation").order_by("created_at", "pk")


def contract_attachments(contract: Contract) -> QuerySet[Attachment]:
    """The files joined to the contract, in the order they were added."""
    return contract.attachments.select_related("action", "uploaded_by").order_by(
        "uploaded_at", "pk"
    )


def attachment_actions(contract: Contract, user: User, *, coordinates: bool) -> list[Action]:
    """The actions whose sheet ``user`` may add a document to (all, for a coordinator). For a
    coordinator, only what the form's choices and the listed tasks show is read: 150 whole
    sheets (their texts, milestones, funding) cost several milliseconds for nothing."""
    actions = contract.actions.order_by("code")
    if coordinates:
        return list(actions.only(*LISTED_ACTION_FIELDS))
    return [action for action in actions.filter(pilot=user) if may_edit_sheet(action, user)]


def actions_visible_to(user: User) -> QuerySet[Action]:
    """The actions of the contracts ``user`` sees (the sheet's page and API alike)."""
    return Action.objects.filter(contract__in=contracts_visible_to(user))


def attachments_visible_to(user: User) -> QuerySet[Attachment]:
    """The attachments of the contracts ``user`` sees."""
    return Attachment.objects.filter(contract__in=contracts_visible_to(user))


def contract_stages(contract: Contract) -> list[dict[str, Any]]:
    """Each stage of the contract's life: done, current or to come (a suspended contract
    stands where it was suspended; a withdrawn one has no current stage)."""
    status = contract.suspended_from or contract.status
    current = CONTRACT_STAGES.index(status) if status in CONTRACT_STAGES else None
    return [
        {
            "status": stage,
            "label": ContractStatus(stage).label,
            "state": (
                "todo"
                if current is None or index > current
                else "current"
                if index == current and stage != ContractStatus.CLOSED
                else "done"
            ),
        }
        for index, stage in enumerate(CONTRACT_STAGES)
    ]


def _natural_key(code: str) -> list[int | str]:
    """GT2 before GT10: digits compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", code)]


# --- The task page ------------------------------------------------------------------------


def task_with_details(user: User, pk: int) -> Task | None:
    """Task ``pk`` if ``user`` may see it, with what its kind needs to decide, in a fixed
    number of queries (the task page and the API's task alike): for a review or a revision the
    action sheet, for a revision the requests for changes it answers (``change_requests``),
    for a vote the contract's actions and the votes cast so far (``vote_tally``)."""
    task = (
        tasks_visible_to(user)
        .select_related(
            "process",
            "completed_by",
            "action__theme",
            "action__working_group",
            "action__pilot__organisation",
            "signatory__signer",
            "signatory__represented_by",
        )
        .filter(pk=pk)
        .first()
    )
    if task is None:
        return None
    if task.kind in (TaskKind.REVIEW, TaskKind.REVISION, TaskKind.OPINION) and task.action:
        prefetch_related_objects(
            [task.action],
            "partners",
            "indicators",
            Prefetch("funding_lines", queryset=FundingLine.objects.select_related("funder")),
        )
    if task.kind == TaskKind.REVISION:
        task.change_requests = change_requests(task)
    if task.kind == TaskKind.VOTE:
        assert task.contract is not None  # a flow's task is opened with its contract
        prefetch_related_objects(
            [task.contract],
            Prefetch("actions", queryset=Action.objects.select_related("working_group")),
        )
        if task.committee_vote is not None:
            task.vote_tally = task.committee_vote.tally()
    return task


# --- What changed on a sheet --------------------------------------------------------------


@dataclass(frozen=True)
class SheetChanges:
    """What changed on an action sheet from one version to another."""

    action: Action
    since: ActionVersion
    now: ActionVersion
    changes: list[dict[str, Any]]


def last_reviewed_version(action: Action, user: User) -> int | None:
    """The version of ``action``'s sheet ``user`` last decided on as a lead (or for one), in
    this version of the contract; None if they have not reviewed it yet."""
    reviewed = (
        Task.objects.filter(
            action=action,
            kind=TaskKind.REVIEW,
            status=TaskStatus.DONE,
            completed_by=user,
            process__contract_version=action.contract.version,
        )
        .order_by("-finished")
        .values_list("data", flat=True)
        .first()
    )
    return reviewed.get("sheet_version") if reviewed else None


def sheet_changes_between(action: Action, since: int, now: int | None = None) -> SheetChanges:
    """What changed on ``action``'s sheet from version ``since`` to ``now`` (the latest when
    not given). Raises ``ActionVersion.DoesNotExist`` for a version the sheet never had."""
    versions = action.versions.select_related("author")
    latest = versions.order_by("-number").first() if now is None else versions.get(number=now)
    if latest is None:
        raise ActionVersion.DoesNotExist
    earlier = versions.get(number=since)
    return SheetChanges(action, earlier, latest, sheet_changes(earlier.content, latest.content))


# --- Follow-up ----------------------------------------------------------------------------


@dataclass(frozen=True)
class IndicatorFollowUp:
    """An indicator of a sheet with its measure and the values recorded, year by year."""

    name: str
    unit: str
    baseline: str
    target: str
    source: str
    values: list[IndicatorValue]


def indicators_followed(action: Action) -> list[IndicatorFollowUp]:
    """The sheet's indicators in its order, each with its values by year; values of an
    indicator the sheet no longer has come last, under their name."""
    values: dict[str, list[IndicatorValue]] = {}
    for value in action.indicator_values.select_related("recorded_by").order_by("year"):
        values.setdefault(value.indicator, []).append(value)
    followed = [
        IndicatorFollowUp(
            name=indicator.label,
            unit=indicator.unit,
            baseline=indicator.baseline,
            target=indicator.target,
            source=indicator.source,
            values=values.pop(indicator.label, []),
        )
        for indicator in action.indicators.order_by("position")
    ]
    followed += [IndicatorFollowUp(name, "", "", "", "", rest) for name, rest in values.items()]
    return followed


# --- Annual reviews ------------------------------------------------------------------------


def annual_reviews_of(contract: Contract) -> list[AnnualReview]:
    """The contract's annual reviews, the latest year first."""
    return list(contract.annual_reviews.select_related("opened_by").order_by("-year"))


def annual_review_of(contract: Contract, year: int) -> AnnualReview | None:
    return (
        AnnualReview.objects.select_related("contract", "opened_by")
        .filter(contract=contract, year=year)
        .first()
    )


@dataclass(frozen=True)
class IndicatorStanding:
    """An indicator against its target, as the contract page shows it: its latest value, and
    how far from the baseline towards the target it is (0 to 100), when both are numbers."""

    action: Action
    name: str
    unit: str
    baseline: str
    target: str
    latest: IndicatorValue | None
    progress: int | None  # per cent of the way from the baseline to the target


def indicator_standings(contract: Contract) -> list[IndicatorStanding]:
    """Every action's indicators with their latest value against their target."""
    standings = []
    actions = (
        contract.actions.select_related("theme")
        .prefetch_related("indicators", "indicator_values")
        .order_by("theme__position", "position", "pk")
    )
    for action in actions:
        latest: dict[str, IndicatorValue] = {}
        for measured in sorted(action.indicator_values.all(), key=lambda v: v.year):
            latest[measured.indicator] = measured
        for indicator in sorted(action.indicators.all(), key=lambda i: i.position):
            value = latest.get(indicator.label)
            baseline, target = parse_number(indicator.baseline), parse_number(indicator.target)
            progress = None
            if value is not None and target is not None:
                start = baseline if baseline is not None else 0.0
                if target != start:
                    share = (float(value.value) - start) / (target - start)
                    progress = max(0, min(100, round(100 * share)))
            standings.append(
                IndicatorStanding(
                    action=action,
                    name=indicator.label,
                    unit=indicator.unit,
                    baseline=indicator.baseline,
                    target=indicator.target,
                    latest=value,
                    progress=progress,
                )
            )
    return standings


def report_form_options(action: Action, year: int) -> dict[str, Any]:
    """What a pilot's annual report form offers: the progress it may report from the action's
    state, and each indicator with its value already recorded for the year."""
    progress = [
        ActionStatus.IN_PROGRESS,
        ActionStatus.DONE,
        ActionStatus.ABANDONED,
    ]
    if action.status in (ActionStatus.DONE, ActionStatus.ABANDONED):
        progress = [ActionStatus(action.status)]
    recorded = {
        value.indicator: format(value.value.normalize(), "f").replace(".", ",")
        for value in action.indicator_values.filter(year=year)
    }
    return {
        "progress_choices": [(choice.value, choice.label) for choice in progress],
        "indicators": [
            (indicator.label, indicator.unit, recorded.get(indicator.label, ""))
            for indicator in action.indicators.order_by("position")
        ],
    }


@dataclass(frozen=True)
class AnnualReviewRow:
    review: AnnualReview
    expected: int
    submitted: int


def annual_review_rows(contract: Contract) -> list[AnnualReviewRow]:
    """The contract's annual reviews, latest year first, with their reports expected and in."""
    counts = {
        row["data__year"]: row
        for row in Task.objects.filter(contract=contract, kind=TaskKind.REPORT)
        .values("data__year")
        .annotate(
            expected=Count("pk"),
            submitted=Count("pk", filter=Q(status=TaskStatus.DONE)),
        )
    }
    return [
        AnnualReviewRow(
            review,
            counts.get(review.year, {}).get("expected", 0),
            counts.get(review.year, {}).get("submitted", 0),
        )
        for review in annual_reviews_of(contract)
    ]


# --- Internal visas -----------------------------------------------------------------------


@dataclass(frozen=True)
class VisaGiven:
    """An internal visa given before a party signed: by whom (for whom, during an absence),
    when."""

    person: User
    on_behalf_of: User | None
    at: datetime.datetime


def visas_given(
    *, signatory: Signatory | None = None, party: AmendmentParty | None = None, version: int = 0
) -> list[VisaGiven]:
    """The visas given, in order, before the contract's ``signatory`` signs its ``version``
    (or before an amendment's ``party`` signs): the signature's stamp, the completion
    certificate and the pages list them."""
    tasks = Task.objects.filter(
        kind=TaskKind.VISA, status=TaskStatus.DONE, decision=TaskDecision.APPROVE
    )
    if party is not None:
        tasks = tasks.filter(amendment_party=party)
    else:
        tasks = tasks.filter(
            signatory=signatory, amendment__isnull=True, process__contract_version=version
        )
    given = []
    for task in tasks.select_related("completed_by", "on_behalf_of").order_by("finished", "pk"):
        assert task.completed_by is not None  # a decided task: who decided it, and when
        assert task.finished is not None
        given.append(
            VisaGiven(person=task.completed_by, on_behalf_of=task.on_behalf_of, at=task.finished)
        )
    return given


# --- Changing one's mind ------------------------------------------------------------------

# Only these may be undone: a signature, a visa, a deliberation and a report never.
UNDOABLE_KINDS = (TaskKind.REVIEW, TaskKind.REVISION, TaskKind.VOTE)

UNDO_NOT_YOURS = gettext_noop("Only whoever completed this task may undo the decision.")
UNDO_NOTHING_DECIDED = gettext_noop("This task is not completed: there is no decision to undo.")
UNDO_NOT_THIS_KIND = gettext_noop(
    "This decision cannot be undone: only a review, a revision or a vote can be."
)
UNDO_ON_HOLD = gettext_noop(
    "The contract is suspended: a decision cannot be undone until it resumes."
)
UNDO_ACTED_ON = gettext_noop(
    "This decision can no longer be undone: the contract or the action has already moved on."
)


def undo_refusal(task: Task, user: User) -> NotAllowed | Conflict | None:
    """Why ``user`` may not undo their decision on ``task`` (403, then 409); None when they
    may: they completed it, it is a review, a revision or a vote, and nothing has acted on it
    yet, which is to say that the round it belongs to still waits (its join, a ``Gather``,
    is still started) and the contract is not suspended. Whatever followed the decision
    otherwise (the round decided, the action approved or sent back, a revision resubmitted,
    the vote decided or closed) completed that join or went past it: refused.

    ``task.contract`` is read: under the contract's lock, the locked row (services.task_undo)."""
    if task.completed_by_id != user.pk and (
        task.status == TaskStatus.DONE or task.owner_id != user.pk
    ):
        return NotAllowed(_(UNDO_NOT_YOURS))
    if task.status != TaskStatus.DONE:
        return Conflict(_(UNDO_NOTHING_DECIDED), {"status": task.status})
    if task.kind not in UNDOABLE_KINDS:
        return Conflict(_(UNDO_NOT_THIS_KIND), {"kind": task.kind})
    contract = task.contract
    assert contract is not None  # a flow's task is opened with its contract (task_open)
    if contract.status == ContractStatus.SUSPENDED:
        return Conflict(_(UNDO_ON_HOLD), {"status": contract.status})
    following = list(task.leading.all())
    waiting = following and all(
        isinstance(join.flow_task, Gather) and join.status == TaskStatus.STARTED
        for join in following
    )
    if not waiting:
        return Conflict(_(UNDO_ACTED_ON))
    return None


def may_undo(task: Task, user: User) -> bool:
    """Whether the task page shows "undo my decision" (the API answers the same)."""
    return task.status == TaskStatus.DONE and undo_refusal(task, user) is None


# --- Opinions -----------------------------------------------------------------------------


def people_seeing(contract: Contract) -> QuerySet[User]:
    """The active people who see the contract by taking part in it (``contracts_visible_to``'s
    roles, staff aside), by name: whom the holder of a task may ask for an opinion."""
    roles = [
        Contract.participants.through.objects.filter(contract=contract).values("user_id"),
        Contract.coordinators.through.objects.filter(contract=contract).values("user_id"),
        WorkingGroup.leads.through.objects.filter(workinggroup__contract=contract).values(
            "user_id"
        ),
        WorkingGroup.members.through.objects.filter(workinggroup__contract=contract).values(
            "user_id"
        ),
        SteeringCommittee.members.through.objects.filter(
            steeringcommittee__contract=contract
        ).values("user_id"),
        SteeringCommittee.objects.filter(contract=contract).values("chair_id"),
        Signatory.objects.filter(contract=contract).values("signer_id"),
        Signatory.objects.filter(contract=contract).values("represented_by_id"),
        Action.objects.filter(contract=contract).values("pilot_id"),
        HistoryEntry.objects.filter(contract=contract, event=HistoryEvent.IMPORTED).values(
            "actor_id"
        ),
        Task.objects.filter(contract=contract).values("owner_id"),
        ContractAuditor.objects.filter(contract=contract).values("user_id"),
    ]
    takes_part = Q()
    for role in roles:
        takes_part |= Q(pk__in=role)
    return (
        User.objects.filter(takes_part, is_active=True)
        .select_related("organisation")
        .order_by("last_name", "first_name", "pk")
    )


def opinions_of(task: Task) -> list[Task]:
    """The opinions the task's holders asked on it, the first asked first: answered
    (``comment``, ``finished``) or not yet."""
    return list(
        Task.objects.filter(asked_by_task=task, kind=TaskKind.OPINION)
        .select_related("assignee", "owner", "completed_by")
        .order_by("pk")
    )
