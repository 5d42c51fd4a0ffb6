"""The action state machine of workflow.md, through the services that fire it."""

import pytest
from django.utils import translation

from tests.factories import ActionFactory, UserFactory
from workflows import services
from workflows.errors import ApplicationError, Conflict, NotAllowed
from workflows.models import (
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
    lead = action.working_group.leads.first()
    if name == "approve":
        services.action_approve(action=action, actor=lead)
    elif name == "request_changes":
        services.action_request_changes(action=action, actor=lead, comment="Préciser le budget")
    elif name == "resubmit":
        services.action_resubmit(action=action, actor=action.pilot)
    else:
        services.action_follow_up(action=action, name=name, actor=coordinator, comment="Motif")


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
    with translation.override("en"), pytest.raises(ApplicationError, match="is required"):
        services.action_request_changes(
            action=action, actor=action.working_group.leads.first(), comment=" "
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
