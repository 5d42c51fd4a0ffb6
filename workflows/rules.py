"""What the state machines allow, and whom: read from the FSM transitions' declarations
(their guards and their ``permission``, the one place who may fire a transition is said)
through django-fsm's public API. The services refuse with these answers; the contract page
and the API offer what they allow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from django_fsm import Transition

from .models import (
    COORDINATOR_TRANSITIONS,
    FOLLOW_UP_TRANSITIONS,
    Action,
    Amendment,
    Contract,
    Guard,
    User,
    transition_label,
)


def _transition_from_here(obj: Contract | Action | Amendment, name: str) -> Transition | None:
    """FSM transition ``name`` of ``obj`` as declared for its current state, if any (read
    through django-fsm's public ``get_all_transitions``, as its own lookup does: the current
    state, then "*" for any state, then "+" for any but the target)."""
    state = obj.status
    declared = [
        transition
        for transition in type(obj)._meta.get_field("status").get_all_transitions(type(obj))
        if transition.name == name
    ]
    for wanted in (state, "*", "+"):
        for transition in declared:
            if transition.source == wanted and not (wanted == "+" and transition.target == state):
                return transition
    return None


def transition_blockers(obj: Contract | Action | Amendment, name: str) -> list[str] | None:
    """Why FSM transition `name` cannot fire now: None when it does not leave the current
    state at all, else the refusal messages of its unmet guards (empty when it may fire)."""
    fsm_transition = _transition_from_here(obj, name)
    if fsm_transition is None:
        return None
    # Every transition condition is declared with `guard`, which gives it its message.
    return [
        str(cast(Guard, condition).refusal_message)
        for condition in fsm_transition.conditions
        if not condition(obj)
    ]


def may_fire(obj: Contract | Action | Amendment, name: str, user: User) -> bool:
    """Whether ``user`` is among those who may fire transition ``name`` of ``obj`` (the
    ``permission`` declared on the transition, the only place it is said), whatever the state."""
    transitions = type(obj)._meta.get_field("status").get_all_transitions(type(obj))
    return any(t.has_perm(obj, user) for t in transitions if t.name == name)


@dataclass(frozen=True)
class TransitionChoice:
    """A step this person may take now, or would, but for the reasons given."""

    name: str
    label: str
    blockers: tuple[str, ...] = ()

    @property
    def possible(self) -> bool:
        return not self.blockers


def transitions_for(obj: Contract | Action, user: User) -> list[TransitionChoice]:
    """The steps ``user`` may take by hand on ``obj`` from its current state (a
    coordinator's on a contract, the follow-up on an action), in their usual order, each
    with what blocks it: the contract page and the API both show these."""
    names = COORDINATOR_TRANSITIONS if isinstance(obj, Contract) else FOLLOW_UP_TRANSITIONS
    choices = []
    for name in names:
        blockers = transition_blockers(obj, name)
        if blockers is None or not may_fire(obj, name, user):
            continue
        choices.append(TransitionChoice(name, transition_label(type(obj), name), tuple(blockers)))
    return choices


def may_edit_sheet(action: Action, user: User) -> bool:
    """Whether ``user`` may write ``action``'s sheet: whoever may follow it up (its pilot, a
    coordinator of its contract: the same declared rule), whatever its state."""
    return may_fire(action, "start", user)
