"""The only door to a contract's or an action's state.

Every function here runs in one transaction that locks the contract row, fires the FSM
transition(s), applies their cascades and appends the history, so that a change and its record
commit together or not at all. Pages, the API, commands and (later) flow nodes call these.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django_fsm import ConcurrentTransition

from .errors import Conflict, NotAllowed
from .models import (
    GENESIS_HASH,
    Action,
    ActionStatus,
    Contract,
    ContractStatus,
    HistoryEntry,
    HistoryEvent,
    Signatory,
    SignatoryStatus,
    User,
    is_coordinator,
)

# Stable messages, so that tests and API clients can rely on them.
NOT_A_COORDINATOR = gettext_noop("Only a coordinator of this contract may do this.")
TRANSITION_NOT_ALLOWED = gettext_noop(
    '"%(transition)s" is not possible while the %(object)s is "%(state)s".'
)
CHANGED_MEANWHILE = gettext_noop("Someone changed this %(object)s meanwhile; reload and try again.")

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
) -> HistoryEntry:
    """Append one entry to the contract's chain; the caller holds the contract's row lock."""
    previous = (
        HistoryEntry.objects.filter(contract=contract).order_by("-seq").only("seq", "hash").first()
    )
    entry = HistoryEntry(
        contract=contract,
        seq=previous.seq + 1 if previous else 1,
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
        contract_version=contract.version,
        prev_hash=previous.hash if previous else GENESIS_HASH,
    )
    entry.hash = entry.compute_hash()
    entry.save(force_insert=True)
    return entry


# --- Transitions --------------------------------------------------------------------------


def _lock(contract: Contract) -> Contract:
    """Re-read the contract under its row lock: concurrent changes to it queue up here."""
    return Contract.objects.select_for_update().get(pk=contract.pk)


def _fire(obj: Contract | Action, name: str, **kwargs: Any) -> tuple[str, str]:
    """Fire FSM transition `name` on `obj` and save it; refuse with a clear 409 otherwise."""
    method = getattr(obj, name)
    source = obj.status
    object_label = _("contract") if isinstance(obj, Contract) else _("action")
    fsm_transition = method._django_fsm.get_transition(source)
    if fsm_transition is None:
        raise Conflict(
            _(TRANSITION_NOT_ALLOWED)
            % {"transition": name, "object": object_label, "state": obj.get_status_display()},
            {"transition": name, "state": source},
        )
    for condition in fsm_transition.conditions:
        if not condition(obj):
            raise Conflict(str(condition.refusal_message), {"transition": name, "state": source})
    method(**kwargs)
    try:
        obj.save()
    except ConcurrentTransition as exc:
        raise Conflict(_(CHANGED_MEANWHILE) % {"object": object_label}) from exc
    return source, obj.status


def _require_coordinator(contract: Contract, actor: User) -> None:
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


# --- Coordinator transitions --------------------------------------------------------------


@transaction.atomic
def contract_launch_review(*, contract: Contract, actor: User) -> Contract:
    """Open the working groups' review: every draft action goes to review."""
    contract = _lock(contract)
    _require_coordinator(contract, actor)
    _contract_transition(contract, "launch_review", actor=actor)
    for action in _actions_in(contract, ActionStatus.DRAFT):
        _action_transition(action, "submit_for_review", contract=contract, actor=actor)
    return contract


@transaction.atomic
def contract_record_deliberation(
    *,
    contract: Contract,
    actor: User,
    number: str,
    date: datetime.date,
    comment: str = "",
) -> Contract:
    """Record the council's approval; signing opens."""
    contract = _lock(contract)
    _require_coordinator(contract, actor)
    number = (number or "").strip()
    if not number:
        raise Conflict(_("The deliberation number is required."))
    if date > timezone.localdate():
        raise Conflict(_("The deliberation date cannot be in the future."))
    return _contract_transition(
        contract,
        "record_deliberation",
        actor=actor,
        comment=comment,
        data={"number": number, "date": date},
        number=number,
        date=date,
    )


@transaction.atomic
def contract_suspend(*, contract: Contract, actor: User, reason: str) -> Contract:
    """Pause the contract's work (open tasks are put on hold, not cancelled)."""
    contract = _lock(contract)
    _require_coordinator(contract, actor)
    reason = (reason or "").strip()
    if not reason:
        raise Conflict(_("A reason is required to suspend a contract."))
    return _contract_transition(contract, "suspend", actor=actor, comment=reason, reason=reason)


@transaction.atomic
def contract_resume(*, contract: Contract, actor: User, comment: str = "") -> Contract:
    """Return to the state the contract was suspended in."""
    contract = _lock(contract)
    _require_coordinator(contract, actor)
    # Recorded so that held tasks' due dates can move by the time spent suspended.
    suspended_for = timezone.now() - contract.suspended_at if contract.suspended_at else None
    data = {"suspended_for_seconds": int(suspended_for.total_seconds())} if suspended_for else {}
    _contract_transition(contract, "resume", actor=actor, comment=comment, data=data)
    return contract


@transaction.atomic
def contract_withdraw(*, contract: Contract, actor: User, reason: str) -> Contract:
    """End the contract before signature, for good."""
    contract = _lock(contract)
    _require_coordinator(contract, actor)
    reason = (reason or "").strip()
    if not reason:
        raise Conflict(_("A reason is required to withdraw a contract."))
    return _contract_transition(contract, "withdraw", actor=actor, comment=reason, reason=reason)


@transaction.atomic
def contract_close(*, contract: Contract, actor: User, comment: str = "") -> Contract:
    """Close a signed contract once its period is over."""
    contract = _lock(contract)
    _require_coordinator(contract, actor)
    return _contract_transition(contract, "close", actor=actor, comment=comment)


def contract_fire_coordinator_transition(
    *, contract: Contract, name: str, actor: User, params: dict[str, Any]
) -> Contract:
    """Dispatch a coordinator transition by name, as the API and the contract page ask."""
    services = {
        "launch_review": lambda: contract_launch_review(contract=contract, actor=actor),
        "record_deliberation": lambda: contract_record_deliberation(
            contract=contract, actor=actor, number=params["number"], date=params["date"]
        ),
        "suspend": lambda: contract_suspend(
            contract=contract, actor=actor, reason=params["reason"]
        ),
        "resume": lambda: contract_resume(contract=contract, actor=actor),
        "withdraw": lambda: contract_withdraw(
            contract=contract, actor=actor, reason=params["reason"]
        ),
        "close": lambda: contract_close(contract=contract, actor=actor),
    }
    return services[name]()


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
    for action in _actions_in(contract, ActionStatus.APPROVED):
        _action_transition(action, "validate", contract=contract, actor=None)
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
    return [
        _action_transition(action, "request_changes", contract=contract, actor=None)
        for action in targets
    ]


@transaction.atomic
def contract_complete_signing(*, contract: Contract) -> Contract:
    """Every mandatory signatory signed and every associated one answered: in force."""
    contract = _lock(contract)
    return _contract_transition(contract, "complete_signing", actor=None)


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
    _contract_transition(
        contract,
        "return_to_draft",
        actor=actor,
        on_behalf_of=signatory.signer if signatory.represented_by_id else None,
        comment=reason,
        data={"declined_by": signatory.organisation.code, "voided_signatures": voided},
    )
    contract.signatories.update(status=SignatoryStatus.PENDING)
    for action in _actions_in(
        contract,
        ActionStatus.REVIEW,
        ActionStatus.CHANGES_REQUESTED,
        ActionStatus.APPROVED,
        ActionStatus.VALIDATED,
    ):
        _action_transition(action, "return_to_draft", contract=contract, actor=None)
    return contract


# --- Action transitions -------------------------------------------------------------------


def _action_step(
    action: Action, name: str, *, actor: User | None, on_behalf_of: User | None, comment: str
) -> Action:
    contract = _lock(action.contract)
    action = contract.actions.select_for_update().get(pk=action.pk)
    return _action_transition(
        action, name, contract=contract, actor=actor, on_behalf_of=on_behalf_of, comment=comment
    )


@transaction.atomic
def action_approve(
    *, action: Action, actor: User | None, on_behalf_of: User | None = None, comment: str = ""
) -> Action:
    """All leads of the action's working group approved it."""
    return _action_step(
        action, "approve", actor=actor, on_behalf_of=on_behalf_of, comment=comment
    )


@transaction.atomic
def action_request_changes(
    *, action: Action, actor: User, comment: str, on_behalf_of: User | None = None
) -> Action:
    """A lead asks the pilot for changes; a comment says which."""
    if not (comment or "").strip():
        raise Conflict(_("A comment is required to request changes."))
    return _action_step(
        action, "request_changes", actor=actor, on_behalf_of=on_behalf_of, comment=comment
    )


@transaction.atomic
def action_resubmit(
    *, action: Action, actor: User, on_behalf_of: User | None = None, comment: str = ""
) -> Action:
    """The pilot sends the revised sheet back to review."""
    return _action_step(
        action, "resubmit", actor=actor, on_behalf_of=on_behalf_of, comment=comment
    )


FOLLOW_UP_TRANSITIONS = ("start", "complete", "abandon")


@transaction.atomic
def action_follow_up(*, action: Action, name: str, actor: User, comment: str = "") -> Action:
    """Follow-up of a signed contract's action, by its pilot or a coordinator."""
    if name not in FOLLOW_UP_TRANSITIONS:
        raise Conflict(_('Unknown follow-up step "%(name)s".') % {"name": name})
    if actor.pk != action.pilot_id and not is_coordinator(action.contract, actor):
        raise NotAllowed(_("Only the action's pilot or a coordinator may do this."))
    if name == "abandon" and not (comment or "").strip():
        raise Conflict(_("A reason is required to abandon an action."))
    return _action_step(action, name, actor=actor, on_behalf_of=None, comment=comment)

