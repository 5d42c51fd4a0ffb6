"""The action state machine of workflow.md: the review's steps as the flows run them (inside
a unit of work), the follow-up through its verb."""

import pytest
from django.utils import translation

from tests.factories import ActionFactory, UserFactory
from tests.flows import unit_on
from workflows import services, transitions
from workflows.errors import ApplicationError, Conflict, NotAllowed
from workflows.models import (
    FOLLOW_UP_TRANSITIONS,
    Action,
    ActionStatus,
    Contract,
    ContractStatus,
    HistoryEntry,
    transition_label,
)

pytestmark = pytest.mark.django_db

A = ActionStatus
ALL_STATES = list(A.values)

ALLOWED = {
    "approve": {A.REVIEW: A.APPROVED},
    "request_changes": {A.REVIEW: A.CHANGES_REQUESTED, A.APPROVED: A.CHANGES_REQUESTED},
    "resubmit": {A.CHANGES_REQUESTED: A.REVIEW},
    "start": {A.VALIDATED: A.IN_PROGRESS},
    "complete": {A.IN_PROGRESS: A.DONE},
    "abandon": {A.VALIDATED: A.ABANDONED, A.IN_PROGRESS: A.ABANDONED},
}


@pytest.fixture
def action(contract):
    # A signed contract, so that the follow-up guard holds; each test sets the action's state.
    Contract.objects.filter(pk=contract.pk).update(status=ContractStatus.SIGNED)
    return ActionFactory(contract=contract)


def fire(name: str, action: Action, coordinator) -> None:
    """The review's steps follow from the leads' and the pilot's decisions: fired as the
    action's review flow fires them, inside a unit of work. The follow-up is a verb."""
    if name in FOLLOW_UP_TRANSITIONS:
        services.action_follow_up(action=action, name=name, actor=coordinator, comment="Motif")
        return
    lead = action.working_group.leads.first()
    with unit_on(action.contract) as unit:
        if name == "approve":
            transitions.action_approve(unit, action, actor=lead)
        elif name == "request_changes":
            transitions.action_request_changes(
                unit, action, actor=lead, comment="Préciser le budget"
            )
        else:
            transitions.action_resubmit(unit, action, actor=action.pilot)


CASES = [(name, state) for name in ALLOWED for state in ALL_STATES]


@pytest.mark.parametrize(("name", "state"), CASES, ids=[f"{n}-from-{s}" for n, s in CASES])
def test_each_action_transition_runs_from_its_sources_only(action, coordinator, name, state):
    Action.objects.filter(pk=action.pk).update(status=state)
    action.refresh_from_db()
    entries_before = HistoryEntry.objects.count()

    if state in ALLOWED[name]:
        fire(name, action, coordinator)
        action.refresh_from_db()
        assert action.status == ALLOWED[name][state]
        entry = HistoryEntry.objects.latest("seq")
        assert (entry.action_code, entry.name, entry.from_state, entry.to_state) == (
            action.code,
            name,
            state,
            action.status,
        )
    else:
        with translation.override("en"):
            label = transition_label(Action, name)
            with pytest.raises(Conflict) as refused:
                fire(name, action, coordinator)
        assert f'"{label}" is not possible while the action is' in refused.value.message
        assert refused.value.extra == {"transition": name, "state": state}
        action.refresh_from_db()
        assert action.status == state
        assert HistoryEntry.objects.count() == entries_before


@pytest.mark.parametrize("name", ["start", "complete", "abandon"])
def test_follow_up_waits_for_the_signed_contract(action, coordinator, name):
    Contract.objects.filter(pk=action.contract_id).update(status=ContractStatus.SIGNING)
    source = next(iter(ALLOWED[name]))
    Action.objects.filter(pk=action.pk).update(status=source)
    action.refresh_from_db()
    with translation.override("en"), pytest.raises(Conflict, match="once the contract is signed"):
        services.action_follow_up(action=action, name=name, actor=coordinator, comment="Motif")


def test_only_the_pilot_or_a_coordinator_follows_an_action_up(action, coordinator):
    Action.objects.filter(pk=action.pk).update(status=A.VALIDATED)
    action.refresh_from_db()
    with pytest.raises(NotAllowed):
        services.action_follow_up(action=action, name="start", actor=UserFactory())
    services.action_follow_up(action=action, name="start", actor=action.pilot)
    action.refresh_from_db()
    assert action.status == A.IN_PROGRESS


def test_requesting_changes_needs_a_comment(action):
    Action.objects.filter(pk=action.pk).update(status=A.REVIEW)
    action.refresh_from_db()
    with (
        translation.override("en"),
        pytest.raises(ApplicationError, match="is required"),
        unit_on(action.contract) as unit,
    ):
        transitions.action_request_changes(
            unit, action, actor=action.working_group.leads.first(), comment=" "
        )
    action.refresh_from_db()
    assert action.status == A.REVIEW


def test_abandoning_needs_a_reason(action, coordinator):
    Action.objects.filter(pk=action.pk).update(status=A.IN_PROGRESS)
    action.refresh_from_db()
    with translation.override("en"), pytest.raises(ApplicationError, match="is required"):
        services.action_follow_up(action=action, name="abandon", actor=coordinator, comment="")


def test_action_status_cannot_be_written_directly(action):
    with pytest.raises(AttributeError):
        action.status = A.DONE
