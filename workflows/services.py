"""The only door to a contract's or an action's state.

Every function here runs in one transaction that locks the contract row, fires the FSM
transition(s), applies their cascades and appends the history, so that a change and its record
commit together or not at all. Pages, the API, commands and (later) flow nodes call these.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext
from django_fsm import ConcurrentTransition

from notifications import services as notifications
from signatures import services as signature_services

from .contract_file import (
    amount_of,
    contract_file_digest,
    reference_taken_error,
    validate_contract_file,
)
from .errors import ApplicationError, Conflict, InvalidContractFile, NotAllowed
from .models import (
    GENESIS_HASH,
    Action,
    ActionStatus,
    CommitteeVote,
    Contract,
    FundingLine,
    HistoryEntry,
    HistoryEvent,
    Indicator,
    Organisation,
    Signatory,
    SignatoryStatus,
    SteeringCommittee,
    TaskStatus,
    Theme,
    User,
    WorkingGroup,
    is_coordinator,
    transition_label,
)
from .selectors import transition_blockers

# Stable messages, so that tests and API clients can rely on them.
NOT_A_COORDINATOR = gettext_noop("Only a coordinator of this contract may do this.")
CONTRACT_TRANSITION_NOT_ALLOWED = gettext_noop(
    '"%(transition)s" is not possible while the contract is "%(state)s".'
)
ACTION_TRANSITION_NOT_ALLOWED = gettext_noop(
    '"%(transition)s" is not possible while the action is "%(state)s".'
)
CHANGED_MEANWHILE = gettext_noop("Someone else changed this meanwhile; reload and try again.")

# Contract transitions a coordinator fires by hand (the others follow from decisions).
COORDINATOR_TRANSITIONS = (
    "launch_review",
    "record_deliberation",
    "suspend",
    "resume",
    "withdraw",
    "close",
)


# --- History ------------------------------------------------------------------------------


def history_append(
    *,
    contract: Contract,
    event: str,
    actor: User | None = None,
    on_behalf_of: User | None = None,
    name: str = "",
    action: Action | None = None,
    from_state: str = "",
    to_state: str = "",
    comment: str = "",
    data: dict[str, Any] | None = None,
    contract_version: int | None = None,
) -> HistoryEntry:
    """Append one entry to the contract's chain; the caller holds the contract's row lock."""
    (entry,) = history_append_many(
        contract=contract,
        entries=[
            {
                "event": event,
                "actor": actor,
                "on_behalf_of": on_behalf_of,
                "name": name,
                "action": action,
                "from_state": from_state,
                "to_state": to_state,
                "comment": comment,
                "data": data,
                "contract_version": contract_version,
            }
        ],
    )
    return entry


def history_append_many(*, contract: Contract, entries: list[dict[str, Any]]) -> list[HistoryEntry]:
    """Append entries to the contract's chain, in order, reading its head once and writing
    them in one INSERT (a cascade over every action is three statements, not three per
    action). Each entry takes ``history_append``'s keyword arguments but the contract; the
    caller holds the contract's row lock."""
    if not entries:
        return []
    held = _held.get()
    if held is not None and held.contract.pk != contract.pk:
        held = None
    seq, prev_hash = history_head(contract) or (0, GENESIS_HASH)
    chained = []
    for fields in entries:
        seq += 1
        entry = _history_entry(contract, seq=seq, prev_hash=prev_hash, **fields)
        prev_hash = entry.hash
        chained.append(entry)
    if held is None:
        HistoryEntry.objects.bulk_create(chained)
    else:
        # Written with the rest of the block's entries when it ends: one INSERT per decision.
        held.unwritten.extend(chained)
        held.history_head = (seq, prev_hash)
    return chained


def history_head(contract: Contract) -> tuple[int, str] | None:
    """The (seq, hash) of the contract's last entry, including those of the current
    ``holding_contract`` block that are not written yet."""
    held = _held.get()
    if held is not None and held.contract.pk == contract.pk and held.history_head is not None:
        return held.history_head
    return (
        HistoryEntry.objects.filter(contract=contract)
        .order_by("-seq")
        .values_list("seq", "hash")
        .first()
    )


def _history_entry(
    contract: Contract,
    *,
    seq: int,
    prev_hash: str,
    event: str,
    actor: User | None = None,
    on_behalf_of: User | None = None,
    name: str = "",
    action: Action | None = None,
    from_state: str = "",
    to_state: str = "",
    comment: str = "",
    data: dict[str, Any] | None = None,
    contract_version: int | None = None,
) -> HistoryEntry:
    entry = HistoryEntry(
        contract=contract,
        seq=seq,
        at=timezone.now(),
        actor=actor,
        actor_username=actor.username if actor else "",
        on_behalf_of=on_behalf_of,
        on_behalf_of_username=on_behalf_of.username if on_behalf_of else "",
        event=event,
        name=name,
        action=action,
        action_code=action.code if action else "",
        from_state=from_state,
        to_state=to_state,
        comment=comment,
        # Stored as it will read back from the database, so the hash recomputes identically.
        data=json.loads(json.dumps(data or {}, cls=DjangoJSONEncoder)),
        # The version the entry is about: the contract's, unless recorded later on its behalf.
        contract_version=contract.version if contract_version is None else contract_version,
        prev_hash=prev_hash,
    )
    entry.hash = entry.compute_hash()
    return entry


# --- Transitions --------------------------------------------------------------------------


def lock_contract(contract_id: int) -> Contract:
    """Re-read the contract under its row lock: concurrent changes to it, its flows and its
    tasks queue up here. Taken first, before any flow or task of the contract."""
    held = _held.get()
    if held is not None and held.contract.pk == contract_id:
        return held.contract
    return Contract.objects.select_for_update().get(pk=contract_id)


@dataclass
class _HeldContract:
    contract: Contract
    history_head: tuple[int, str] | None = None  # (seq, hash) of the chain's last entry
    unwritten: list[HistoryEntry] = field(default_factory=list)  # chained, not yet INSERTed
    memo: dict[Any, Any] = field(default_factory=dict)  # what cannot change within the block


_held: ContextVar[_HeldContract | None] = ContextVar("held_contract", default=None)


@contextmanager
def holding_contract(contract: Contract) -> Iterator[Contract]:
    """Drive the flows of ``contract``, which the caller has just locked.

    Inside the block the row lock is known to be held, so the flows' locks and the services'
    ``lock_contract`` do not ask the database again, and they all change this one instance
    (no reload afterwards). The history's head is remembered from one entry to the next, and
    the block's history entries and notifications are written together when it ends (one
    INSERT each, one delivery after commit) instead of one statement per entry. This holds
    because nothing in the block survives an error: every error leaves the block and rolls
    back the transaction (or savepoint) that took the lock, and with it all the block wrote.
    """
    outer = _held.get()
    if outer is not None and outer.contract.pk == contract.pk:
        yield outer.contract  # already held: the outer block writes everything
        return
    held = _HeldContract(contract)
    token = _held.set(held)
    try:
        with notifications.written_together():
            yield contract
        # The notifications' own entries ("who was told") come last, then all are written.
        HistoryEntry.objects.bulk_create(held.unwritten)
    finally:
        _held.reset(token)


def held_memo() -> dict[Any, Any] | None:
    """A cache for the current ``holding_contract`` block (None outside one), for answers
    that do not change while the contract is locked: usernames, absences, working groups'
    leads (a launch opens a task per lead and action, the same few people many times)."""
    held = _held.get()
    return held.memo if held is not None else None


def held_once(key: Any, ask: Callable[[], Any]) -> Any:
    """``ask()``, asked once per ``holding_contract`` block (each time outside one)."""
    memo = held_memo()
    if memo is None:
        return ask()
    if key not in memo:
        memo[key] = ask()
    return memo[key]


def held_instance(contract: Contract) -> Contract:
    """The instance the current ``holding_contract`` block changes, if it holds this row
    (a flow's process may carry a copy read before the block's transitions), else
    ``contract`` itself."""
    held = _held.get()
    return held.contract if held is not None and held.contract.pk == contract.pk else contract


def contract_lock_held(contract_id: int | None = None) -> bool:
    """Whether a ``holding_contract`` block is open (for this contract, when given)."""
    held = _held.get()
    return held is not None and (contract_id is None or held.contract.pk == contract_id)


def _lock(contract: Contract) -> Contract:
    return lock_contract(contract.pk)


def _fire(obj: Contract | Action, name: str, **kwargs: Any) -> tuple[str, str]:
    """Fire FSM transition `name` on `obj` and save it; refuse with a clear 409 otherwise."""
    source, target = _apply(obj, name, **kwargs)
    try:
        if isinstance(obj, Action):
            # Its transitions change its status only: writing just that column keeps
            # whatever else someone changed in the row meanwhile (an edit of its sheet).
            obj.save(update_fields=["status"])
        else:
            obj.save()
    except ConcurrentTransition as exc:
        raise Conflict(_(CHANGED_MEANWHILE)) from exc
    return source, target


def _apply(obj: Contract | Action, name: str, **kwargs: Any) -> tuple[str, str]:
    """Fire FSM transition `name` on `obj` in memory, or refuse with a clear 409."""
    source = obj.status
    blockers = transition_blockers(obj, name)
    if blockers is None:
        refusal = (
            CONTRACT_TRANSITION_NOT_ALLOWED
            if isinstance(obj, Contract)
            else ACTION_TRANSITION_NOT_ALLOWED
        )
        raise Conflict(
            _(refusal)
            % {
                "transition": transition_label(type(obj), name),
                "state": obj.get_status_display(),
            },
            {"transition": name, "state": source},
        )
    if blockers:
        raise Conflict(blockers[0], {"transition": name, "state": source})
    getattr(obj, name)(**kwargs)
    return source, obj.status


def require_coordinator(contract: Contract, actor: User) -> None:
    if not is_coordinator(contract, actor):
        raise NotAllowed(_(NOT_A_COORDINATOR))


def _contract_transition(
    contract: Contract,
    name: str,
    *,
    actor: User | None,
    on_behalf_of: User | None = None,
    comment: str = "",
    data: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Contract:
    source, target = _fire(contract, name, **kwargs)
    history_append(
        contract=contract,
        event=HistoryEvent.TRANSITION,
        actor=actor,
        on_behalf_of=on_behalf_of,
        name=name,
        from_state=source,
        to_state=target,
        comment=comment,
        data=data,
    )
    notifications.notify_contract_status_changed(
        contract, source=source, target=target, actor=actor
    )
    return contract


def _action_transition(
    action: Action,
    name: str,
    *,
    contract: Contract,
    actor: User | None,
    on_behalf_of: User | None = None,
    comment: str = "",
    data: dict[str, Any] | None = None,
) -> Action:
    action.contract = contract  # the locked instance, for guards that look at the contract
    source, target = _fire(action, name)
    history_append(
        contract=contract,
        event=HistoryEvent.ACTION_TRANSITION,
        actor=actor,
        on_behalf_of=on_behalf_of,
        name=name,
        action=action,
        from_state=source,
        to_state=target,
        comment=comment,
        data=data,
    )
    return action


def _actions_in(contract: Contract, *statuses: str) -> Iterable[Action]:
    return contract.actions.filter(status__in=statuses).select_for_update().order_by("position")


def _actions_transition(
    actions: Iterable[Action], name: str, *, contract: Contract, actor: User | None
) -> list[Action]:
    """Fire transition `name` on every action, each checked as `_fire` checks it, written in
    one UPDATE per source state and recorded in one history INSERT: a cascade over the
    contract's actions costs the same few statements for 38 actions or 400."""
    moved = []
    for action in actions:
        action.contract = contract  # the locked instance, for guards that look at the contract
        moved.append((action, *_apply(action, name)))
    for source, target in {(source, target) for _action, source, target in moved}:
        pks = [action.pk for action, from_, to in moved if (from_, to) == (source, target)]
        # The same check as django-fsm's on save: no row changed state since it was read.
        if Action.objects.filter(pk__in=pks, status=source).update(status=target) != len(pks):
            raise Conflict(_(CHANGED_MEANWHILE))
    for action, _source, _target in moved:
        action._update_initial_state()  # saved: a later save() checks against the new state
    history_append_many(
        contract=contract,
        entries=[
            {
                "event": HistoryEvent.ACTION_TRANSITION,
                "actor": actor,
                "name": name,
                "action": action,
                "from_state": source,
                "to_state": target,
            }
            for action, source, target in moved
        ],
    )
    return [action for action, _source, _target in moved]


# --- Coordinator transitions --------------------------------------------------------------


@transaction.atomic
def contract_launch_review(*, contract: Contract, actor: User) -> Contract:
    """Open the working groups' review: every draft action goes to review."""
    contract = _lock(contract)
    require_coordinator(contract, actor)
    _contract_transition(contract, "launch_review", actor=actor)
    _actions_transition(
        _actions_in(contract, ActionStatus.DRAFT),
        "submit_for_review",
        contract=contract,
        actor=actor,
    )
    return contract


def check_deliberation(number: str, date: datetime.date | None) -> str:
    """Refuse an incomplete deliberation (400); returns the number as recorded."""
    number = (number or "").strip()
    if not number:
        raise ApplicationError(_("The deliberation number is required."))
    if date is None:
        raise ApplicationError(_("The deliberation date is required."))
    if date > timezone.localdate():
        raise ApplicationError(_("The deliberation date cannot be in the future."))
    return number


@transaction.atomic
def contract_record_deliberation(
    *,
    contract: Contract,
    actor: User,
    number: str,
    date: datetime.date | str,
    on_behalf_of: User | None = None,
    comment: str = "",
) -> Contract:
    """Record the council's approval: the document is frozen and signing opens.

    Called by the deliberation task of the contract's flow, which has checked who decides.
    """
    contract = _lock(contract)
    if isinstance(date, str):
        date = datetime.date.fromisoformat(date)
    number = check_deliberation(number, date)
    contract.deliberation_number, contract.deliberation_date = number, date
    # The contract document is generated and frozen here; signers consent to its SHA-256.
    document_sha256 = signature_services.document_freeze(contract).sha256
    return _contract_transition(
        contract,
        "record_deliberation",
        actor=actor,
        on_behalf_of=on_behalf_of,
        comment=comment,
        data={"number": number, "date": date, "document_sha256": document_sha256},
        number=number,
        date=date,
        document_sha256=document_sha256,
    )


@transaction.atomic
def contract_suspend(*, contract: Contract, actor: User, reason: str) -> Contract:
    """Pause the contract's work (open tasks are put on hold, not cancelled)."""
    contract = _lock(contract)
    require_coordinator(contract, actor)
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(_("A reason is required to suspend a contract."))
    return _contract_transition(contract, "suspend", actor=actor, comment=reason, reason=reason)


@transaction.atomic
def contract_resume(*, contract: Contract, actor: User, comment: str = "") -> Contract:
    """Return to the state the contract was suspended in."""
    contract = _lock(contract)
    require_coordinator(contract, actor)
    # Recorded so that held tasks' due dates can move by the time spent suspended.
    suspended_for = timezone.now() - contract.suspended_at if contract.suspended_at else None
    data = {"suspended_for_seconds": int(suspended_for.total_seconds())} if suspended_for else {}
    _contract_transition(contract, "resume", actor=actor, comment=comment, data=data)
    return contract


@transaction.atomic
def contract_withdraw(*, contract: Contract, actor: User, reason: str) -> Contract:
    """End the contract before signature, for good."""
    contract = _lock(contract)
    require_coordinator(contract, actor)
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(_("A reason is required to withdraw a contract."))
    return _contract_transition(contract, "withdraw", actor=actor, comment=reason, reason=reason)


@transaction.atomic
def contract_close(*, contract: Contract, actor: User, comment: str = "") -> Contract:
    """Close a signed contract once its period is over."""
    contract = _lock(contract)
    require_coordinator(contract, actor)
    return _contract_transition(contract, "close", actor=actor, comment=comment)


# --- Transitions that follow from decisions -----------------------------------------------


@transaction.atomic
def contract_open_committee(*, contract: Contract) -> Contract:
    """Every action is approved: the steering committee takes over."""
    contract = _lock(contract)
    return _contract_transition(contract, "open_committee", actor=None)


@transaction.atomic
def contract_committee_validate(*, contract: Contract, comment: str = "") -> Contract:
    """The committee validated the content: actions become validated, deliberation opens."""
    contract = _lock(contract)
    _contract_transition(contract, "committee_validate", actor=None, comment=comment)
    _actions_transition(
        _actions_in(contract, ActionStatus.APPROVED), "validate", contract=contract, actor=None
    )
    return contract


@transaction.atomic
def contract_committee_reject(
    *, contract: Contract, action_codes: Iterable[str] = (), comment: str = ""
) -> list[Action]:
    """The committee rejected: the named actions (all when none is named) go back to revision.

    Returns the actions sent back, whose pilots get a revision task.
    """
    contract = _lock(contract)
    codes = sorted(set(action_codes))
    _contract_transition(
        contract, "committee_reject", actor=None, comment=comment, data={"actions": codes}
    )
    targets = _actions_in(contract, ActionStatus.APPROVED)
    if codes:
        targets = targets.filter(code__in=codes)
    return _actions_transition(targets, "request_changes", contract=contract, actor=None)


@transaction.atomic
def contract_complete_signing(*, contract: Contract) -> Contract:
    """Every mandatory signatory signed and every associated one answered: in force."""
    contract = _lock(contract)
    _contract_transition(contract, "complete_signing", actor=None)
    signature_services.document_seal(contract)
    return contract


@transaction.atomic
def contract_return_to_draft(
    *, contract: Contract, signatory: Signatory, actor: User, reason: str
) -> Contract:
    """A mandatory signatory declined: back to draft as version + 1, signatures voided."""
    contract = _lock(contract)
    voided = list(
        contract.signatories.filter(status=SignatoryStatus.SIGNED).values_list(
            "organisation__code", flat=True
        )
    )
    signature_services.signatures_void(contract, reason=reason)
    _contract_transition(
        contract,
        "return_to_draft",
        actor=actor,
        on_behalf_of=signatory.signer if signatory.represented_by_id else None,
        comment=reason,
        data={"declined_by": signatory.organisation.code, "voided_signatures": voided},
    )
    declined_by = signatory.organisation.code
    # Each signature given on the old version is voided by name, not only counted.
    voided_signatures = contract.signatories.filter(status=SignatoryStatus.SIGNED).order_by(
        "order", "pk"
    )
    history_append_many(
        contract=contract,
        entries=[
            {
                "event": HistoryEvent.SIGNATURE_VOIDED,
                "name": kind,
                "data": {"organisation": code, "signer": signer, "declined_by": declined_by},
            }
            for code, kind, signer in voided_signatures.values_list(
                "organisation__code", "kind", "signer__username"
            )
        ],
    )
    contract.signatories.update(status=SignatoryStatus.PENDING)
    returned = _actions_in(
        contract,
        ActionStatus.REVIEW,
        ActionStatus.CHANGES_REQUESTED,
        ActionStatus.APPROVED,
        ActionStatus.VALIDATED,
    )
    _actions_transition(returned, "return_to_draft", contract=contract, actor=None)
    return contract


# --- Committee vote ---------------------------------------------------------------------


def committee_vote_current(process) -> CommitteeVote:
    return CommitteeVote.objects.get(pk=process.data["vote"])


def committee_vote_count(vote: CommitteeVote) -> tuple[int, int]:
    """(approvals, rejections) cast so far in this round."""
    counts = vote.tasks.filter(status=TaskStatus.DONE).aggregate(
        approvals=Count("pk", filter=Q(decision="approve")),
        rejections=Count("pk", filter=Q(decision="reject")),
    )
    return counts["approvals"], counts["rejections"]


@transaction.atomic
def committee_vote_conclude(*, vote: CommitteeVote) -> CommitteeVote:
    """Record the vote's outcome and send the contract on: deliberation, or back to review.

    A rejection returns the actions its votes object to; a rejection naming none returns them
    all.
    """
    contract = _lock(vote.contract)
    approvals, rejections = committee_vote_count(vote)
    open_votes = vote.tasks.filter(status__in=[TaskStatus.ASSIGNED, TaskStatus.HELD]).count()
    vote.outcome = vote.outcome_when(approvals, rejections, open_votes=open_votes)
    vote.approvals, vote.rejections = approvals, rejections
    vote.decided_at = timezone.now()
    vote.save(update_fields=["outcome", "approvals", "rejections", "decided_at"])
    objected: set[str] = set()
    whole_contract = False
    for data in vote.tasks.filter(status=TaskStatus.DONE, decision="reject").values_list(
        "data", flat=True
    ):
        codes = data.get("actions") or []
        whole_contract = whole_contract or not codes
        objected.update(codes)
    history_append(
        contract=contract,
        event=HistoryEvent.VOTE_DECIDED,
        actor=vote.closed_by,
        name=vote.outcome,
        data={
            "round": vote.round,
            "approvals": approvals,
            "rejections": rejections,
            "quorum": vote.quorum,
            "members": vote.members,
            "closed_by_chair": vote.closed_by_id is not None,
            "actions": [] if whole_contract else sorted(objected),
        },
    )
    notifications.notify_vote_decided(vote, contract=contract)
    if vote.outcome == CommitteeVote.Outcome.VALIDATED:
        contract_committee_validate(contract=contract)
    else:
        contract_committee_reject(
            contract=contract, action_codes=() if whole_contract else sorted(objected)
        )
    return vote


# --- Action transitions -------------------------------------------------------------------


def _action_step(
    action: Action, name: str, *, actor: User | None, on_behalf_of: User | None, comment: str
) -> Action:
    contract = lock_contract(action.contract_id)
    if not contract_lock_held(action.contract_id):
        action = contract.actions.select_for_update().get(pk=action.pk)
    # Within a decision the flow's action was read under the contract's lock; a status
    # changed meanwhile fails the conditional UPDATE, and only the status is written.
    return _action_transition(
        action, name, contract=contract, actor=actor, on_behalf_of=on_behalf_of, comment=comment
    )


@transaction.atomic
def action_approve(
    *, action: Action, actor: User | None, on_behalf_of: User | None = None, comment: str = ""
) -> Action:
    """All leads of the action's working group approved it."""
    return _action_step(action, "approve", actor=actor, on_behalf_of=on_behalf_of, comment=comment)


@transaction.atomic
def action_request_changes(
    *, action: Action, actor: User, comment: str, on_behalf_of: User | None = None
) -> Action:
    """A lead asks the pilot for changes; a comment says which."""
    if not (comment or "").strip():
        raise ApplicationError(_("A comment is required to request changes."))
    return _action_step(
        action, "request_changes", actor=actor, on_behalf_of=on_behalf_of, comment=comment
    )


@transaction.atomic
def action_resubmit(
    *, action: Action, actor: User, on_behalf_of: User | None = None, comment: str = ""
) -> Action:
    """The pilot sends the revised sheet back to review."""
    return _action_step(action, "resubmit", actor=actor, on_behalf_of=on_behalf_of, comment=comment)


FOLLOW_UP_TRANSITIONS = ("start", "complete", "abandon")


@transaction.atomic
def action_follow_up(*, action: Action, name: str, actor: User, comment: str = "") -> Action:
    """Follow-up of a signed contract's action, by its pilot or a coordinator."""
    if name not in FOLLOW_UP_TRANSITIONS:
        raise Conflict(_('Unknown follow-up step "%(name)s".') % {"name": name})
    if actor.pk != action.pilot_id and not is_coordinator(action.contract, actor):
        raise NotAllowed(_("Only the action's pilot or a coordinator may do this."))
    if name == "abandon" and not (comment or "").strip():
        raise ApplicationError(_("A reason is required to abandon an action."))
    return _action_step(action, name, actor=actor, on_behalf_of=None, comment=comment)


# --- Contract import ----------------------------------------------------------------------


def _import_refused(count: int) -> str:
    return ngettext(
        "The contract file has %(count)d problem; nothing was imported.",
        "The contract file has %(count)d problems; nothing was imported.",
        count,
    ) % {"count": count}


def _date(value: str | None) -> datetime.date | None:
    return datetime.date.fromisoformat(value) if value else None


@transaction.atomic
def contract_import(*, document: dict, actor: User | None) -> Contract:
    """Create a contract and everything it names from a contract file, all or nothing.

    The whole file is checked first, so that a refusal lists every problem at once; the
    transaction then guarantees that a failure half-way leaves nothing behind. Organisations
    and people already known (by code, by username) are reused as they are.
    """
    errors = validate_contract_file(document)
    if errors:
        raise InvalidContractFile(_import_refused(len(errors)), errors)

    organisations = _import_organisations(document["organisations"])
    people = _import_people(document["people"], organisations)
    contract = _import_contract_row(document, organisations)
    contract.organisations.add(*organisations.values())
    contract.participants.add(*people.values())
    contract.coordinators.add(*(people[username] for username in document["coordinators"]))
    groups = _import_working_groups(contract, document["working_groups"], people)
    actions = _import_themes(contract, document["themes"], organisations, people, groups)
    _import_steering_committee(contract, document["steering_committee"], people)
    signatories = _import_signatories(contract, document["signatories"], organisations, people)

    history_append(
        contract=contract,
        event=HistoryEvent.IMPORTED,
        actor=actor,
        to_state=contract.status,
        data={
            "format": document["format"],
            "actions": actions,
            "working_groups": len(groups),
            "signatories": signatories,
            "sha256": contract_file_digest(document),
        },
    )
    return contract


def _import_organisations(entries: list[dict]) -> dict[str, Organisation]:
    """code -> Organisation, creating the missing ones."""
    codes = [entry["code"] for entry in entries]
    existing = Organisation.objects.in_bulk(codes, field_name="code")
    # ignore_conflicts: another import creating the same organisation meanwhile is no error.
    Organisation.objects.bulk_create(
        [
            Organisation(code=entry["code"], name=entry["name"], category=entry["category"])
            for entry in entries
            if entry["code"] not in existing
        ],
        ignore_conflicts=True,
    )
    return Organisation.objects.in_bulk(codes, field_name="code")


def _import_people(entries: list[dict], organisations: dict[str, Organisation]) -> dict[str, User]:
    """username -> User; new accounts get no usable password (an invitation sets one)."""
    usernames = [entry["username"] for entry in entries]
    existing = User.objects.in_bulk(usernames, field_name="username")
    new_people = []
    for entry in entries:
        if entry["username"] in existing:
            continue
        person = User(
            username=entry["username"],
            full_name=entry["full_name"],
            email=entry["email"],
            organisation=organisations[entry["organisation"]],
            title=entry["title"],
        )
        person.set_unusable_password()
        new_people.append(person)
    User.objects.bulk_create(new_people, ignore_conflicts=True)
    return User.objects.in_bulk(usernames, field_name="username")


def _import_contract_row(document: dict, organisations: dict[str, Organisation]) -> Contract:
    diagnosis = document.get("diagnosis") or {}
    reference = document["reference"]
    try:
        # Checked in validation, but a concurrent import of the same file may win the race:
        # the unique index decides, and the loser is told as if validation had seen it.
        with transaction.atomic():
            return Contract.objects.create(
                reference=reference,
                title=document["title"],
                kind=document["kind"],
                territory_name=document["territory"]["name"],
                territory_communes=document["territory"]["communes"],
                territory_population=document["territory"]["population"],
                period_start=_date(document["period"]["start"]),
                period_end=_date(document["period"]["end"]),
                diagnosis_author=organisations.get(diagnosis.get("author")),
                diagnosis_finalised_on=_date(diagnosis.get("finalised_on")),
                diagnosis_summary=diagnosis.get("summary") or "",
            )
    except IntegrityError as exc:
        raise InvalidContractFile(_import_refused(1), [reference_taken_error(reference)]) from exc


def _import_working_groups(
    contract: Contract, entries: list[dict], people: dict[str, User]
) -> dict[str, WorkingGroup]:
    WorkingGroup.objects.bulk_create(
        [
            WorkingGroup(contract=contract, code=entry["code"], title=entry["title"])
            for entry in entries
        ]
    )
    # Read back rather than trust bulk_create to have set primary keys on every backend.
    groups = {group.code: group for group in contract.working_groups.all()}
    leads, members = WorkingGroup.leads.through, WorkingGroup.members.through
    leads.objects.bulk_create(
        [
            leads(workinggroup=groups[entry["code"]], user=people[username])
            for entry in entries
            for username in dict.fromkeys(entry["leads"])
        ]
    )
    # A lead is a member of their group too, as everywhere else in Accord.
    members.objects.bulk_create(
        [
            members(workinggroup=groups[entry["code"]], user=people[username])
            for entry in entries
            for username in dict.fromkeys([*entry["leads"], *entry["members"]])
        ]
    )
    return groups


def _import_themes(
    contract: Contract,
    entries: list[dict],
    organisations: dict[str, Organisation],
    people: dict[str, User],
    groups: dict[str, WorkingGroup],
) -> int:
    """Themes and their actions in file order; returns the number of actions."""
    Theme.objects.bulk_create(
        [
            Theme(contract=contract, code=entry["code"], title=entry["title"], position=position)
            for position, entry in enumerate(entries)
        ]
    )
    themes = {theme.code: theme for theme in contract.themes.all()}
    sheets = [(themes[entry["code"]], sheet) for entry in entries for sheet in entry["actions"]]
    Action.objects.bulk_create(
        [
            Action(
                contract=contract,
                theme=theme,
                code=sheet["code"],
                title=sheet["title"],
                objective=sheet["objective"],
                pilot=people[sheet["pilot"]],
                working_group=groups[sheet["working_group"]],
                position=position,
            )
            for position, (theme, sheet) in enumerate(sheets)
        ]
    )
    actions = {action.code: action for action in contract.actions.all()}
    partners = Action.partners.through
    partners.objects.bulk_create(
        [
            partners(action=actions[sheet["code"]], organisation=organisations[code])
            for _theme, sheet in sheets
            for code in dict.fromkeys(sheet["partners"])
        ]
    )
    FundingLine.objects.bulk_create(
        [
            FundingLine(
                action=actions[sheet["code"]],
                funder=organisations[line["funder"]],
                amount=amount_of(line["amount"]),
            )
            for _theme, sheet in sheets
            for line in sheet["funding"]
        ]
    )
    Indicator.objects.bulk_create(
        [
            Indicator(action=actions[sheet["code"]], label=label, position=position)
            for _theme, sheet in sheets
            for position, label in enumerate(sheet["indicators"])
        ]
    )
    return len(sheets)


def _import_steering_committee(
    contract: Contract, entry: dict, people: dict[str, User]
) -> SteeringCommittee:
    committee = SteeringCommittee.objects.create(
        contract=contract, chair=people[entry["chair"]], quorum=entry["quorum"]
    )
    committee.members.add(*(people[username] for username in entry["members"]))
    return committee


def _import_signatories(
    contract: Contract,
    entries: list[dict],
    organisations: dict[str, Organisation],
    people: dict[str, User],
) -> int:
    signatories = []
    for entry in entries:
        mandate = entry.get("mandate") or {}
        signatories.append(
            Signatory(
                contract=contract,
                organisation=organisations[entry["organisation"]],
                kind=entry["kind"],
                signer=people[entry["signer"]],
                represented_by=people.get(entry.get("represented_by")),
                order=entry.get("order") or 1,
                mandate_reference=mandate.get("reference") or "",
                mandate_date=_date(mandate.get("date")),
            )
        )
    Signatory.objects.bulk_create(signatories)
    return len(signatories)
