"""The contract state machine of workflow.md: every allowed transition, every refused one."""

import datetime
import threading

import pytest
from django.db import connection
from django.utils import timezone, translation

from tests.factories import (
    ActionFactory,
    ContractFactory,
    SignatoryFactory,
    SteeringCommitteeFactory,
    UserFactory,
)
from tests.flows import ensure_committee_and_signatory, unit_on, walk_to_deliberation
from workflows import services, transitions
from workflows.errors import ApplicationError, Conflict, NotAllowed
from workflows.models import (
    COORDINATOR_TRANSITIONS,
    Action,
    ActionStatus,
    Contract,
    ContractStatus,
    HistoryEntry,
    Signatory,
    SignatoryKind,
    SignatoryStatus,
    transition_label,
)

pytestmark = pytest.mark.django_db

S = ContractStatus
ALL_STATES = list(S.values)
# Written out, not imported from the models, so that the test states the rule itself.
SUSPENDABLE_STATES = (S.DRAFT, S.REVIEW, S.COMMITTEE, S.DELIBERATION, S.SIGNING)


def put_in_state(contract: Contract, status: str, **fields) -> Contract:
    """Test set-up only: place a contract in a state without walking the whole workflow."""
    Contract.objects.filter(pk=contract.pk).update(status=status, **fields)
    contract.refresh_from_db()
    return contract


def set_actions(contract: Contract, status: str) -> None:
    Action.objects.filter(contract=contract).update(status=status)


# How each transition is fired: a coordinator's through its verb (the one door), the others,
# which follow from decisions, as their step inside a unit of work, as the flows run them.
def fire(name: str, contract: Contract, coordinator) -> None:
    verbs = {
        "launch_review": lambda: services.launch_review(contract=contract, actor=coordinator),
        "record_deliberation": lambda: services.record_deliberation(
            contract=contract,
            actor=coordinator,
            number="DCC-2019-42",
            date=datetime.date(2019, 7, 4),
        ),
        "close": lambda: services.close(
            contract=contract, actor=coordinator, without_final_review="Bilan fait ailleurs"
        ),
        "suspend": lambda: services.suspend(
            contract=contract, actor=coordinator, reason="Fusion des communautés de communes"
        ),
        "resume": lambda: services.resume(contract=contract, actor=coordinator),
        "withdraw": lambda: services.withdraw(
            contract=contract, actor=coordinator, reason="Projet abandonné"
        ),
    }
    if name in verbs:
        verbs[name]()
        return
    signatory = contract.signatories.first()
    steps = {
        "open_committee": lambda unit: transitions.open_committee(unit),
        "committee_validate": lambda unit: transitions.committee_validate(unit),
        "committee_reject": lambda unit: transitions.committee_reject(
            unit, comment="Fiches à retravailler"
        ),
        "complete_signing": lambda unit: transitions.complete_signing(unit),
        "return_to_draft": lambda unit: transitions.return_to_draft(
            unit, signatory=signatory, actor=signatory.signer, on_behalf_of=None, reason="Budget"
        ),
    }
    with unit_on(contract) as unit:
        steps[name](unit)


ALLOWED = {
    "launch_review": {S.DRAFT: S.REVIEW},
    "open_committee": {S.REVIEW: S.COMMITTEE},
    "committee_validate": {S.COMMITTEE: S.DELIBERATION},
    "committee_reject": {S.COMMITTEE: S.REVIEW},
    "record_deliberation": {S.DELIBERATION: S.SIGNING},
    "complete_signing": {S.SIGNING: S.SIGNED},
    "return_to_draft": {S.SIGNING: S.DRAFT},
    "close": {S.SIGNED: S.CLOSED},
    "suspend": dict.fromkeys(SUSPENDABLE_STATES, S.SUSPENDED),
    "resume": {S.SUSPENDED: S.REVIEW},
    "withdraw": dict.fromkeys([*SUSPENDABLE_STATES, S.SUSPENDED], S.WITHDRAWN),
}

# The action status that makes the contract's guards hold in each contract state.
ACTION_STATUS_FOR = {
    S.DRAFT: ActionStatus.DRAFT,
    S.REVIEW: ActionStatus.APPROVED,
    S.COMMITTEE: ActionStatus.APPROVED,
    S.DELIBERATION: ActionStatus.VALIDATED,
    S.SIGNING: ActionStatus.VALIDATED,
    S.SIGNED: ActionStatus.VALIDATED,
    S.CLOSED: ActionStatus.VALIDATED,
    S.SUSPENDED: ActionStatus.APPROVED,
    S.WITHDRAWN: ActionStatus.DRAFT,
}


@pytest.fixture
def ready_contract(contract):
    """A contract whose guards all hold: an action, a signed mandatory signatory, period over."""
    put_in_state(
        contract,
        S.DRAFT,
        period_start=datetime.date(2019, 9, 1),
        period_end=datetime.date(2022, 12, 31),
    )
    ActionFactory(contract=contract)
    SteeringCommitteeFactory(contract=contract)
    SignatoryFactory(contract=contract, status=SignatoryStatus.SIGNED)
    return contract


CASES = [(name, state) for name in ALLOWED for state in ALL_STATES]


@pytest.mark.parametrize(("name", "state"), CASES, ids=[f"{n}-from-{s}" for n, s in CASES])
def test_each_transition_runs_from_its_sources_only(ready_contract, coordinator, name, state):
    if (name, state) == ("record_deliberation", S.DELIBERATION):
        # The coordinator records the deliberation by completing the deliberation task, which
        # only the contract's flow opens: walked there through real decisions.
        ready_contract.signatories.update(status=SignatoryStatus.PENDING)
        contract = walk_to_deliberation(ready_contract, coordinator)
    else:
        suspended = {"suspended_from": S.REVIEW, "suspended_at": timezone.now()}
        contract = put_in_state(
            ready_contract, state, **(suspended if state == S.SUSPENDED else {})
        )
        set_actions(contract, ACTION_STATUS_FOR[state])
    entries_before = HistoryEntry.objects.count()

    if state in ALLOWED[name]:
        fire(name, contract, coordinator)
        contract.refresh_from_db()
        assert contract.status == ALLOWED[name][state]
        entry = contract.history.order_by("-seq").filter(event="transition").first()
        assert (entry.name, entry.from_state, entry.to_state) == (name, state, contract.status)
    else:
        with translation.override("en"):
            label = transition_label(Contract, name)
            with pytest.raises(Conflict) as refused:
                fire(name, contract, coordinator)
        assert f'"{label}" is not possible while the contract is' in refused.value.message
        assert refused.value.extra == {"transition": name, "state": state}
        contract.refresh_from_db()
        assert contract.status == state
        assert HistoryEntry.objects.count() == entries_before


def test_status_cannot_be_written_directly(contract):
    with pytest.raises(AttributeError):
        contract.status = S.SIGNED


# --- Guards -------------------------------------------------------------------------------


def test_launch_review_needs_a_steering_committee(contract, coordinator):
    """Without one, the last approved action would find nobody to vote."""
    ActionFactory(contract=contract)
    SignatoryFactory(contract=contract)
    with translation.override("en"), pytest.raises(Conflict, match="no steering committee"):
        services.launch_review(contract=contract, actor=coordinator)
    contract.refresh_from_db()
    assert contract.status == S.DRAFT
    assert not contract.history.exists()


def test_launch_review_needs_a_mandatory_signatory(contract, coordinator):
    ActionFactory(contract=contract)
    SteeringCommitteeFactory(contract=contract)
    SignatoryFactory(contract=contract, kind=SignatoryKind.ASSOCIATED)
    with translation.override("en"), pytest.raises(Conflict, match="no mandatory signatory"):
        services.launch_review(contract=contract, actor=coordinator)
    contract.refresh_from_db()
    assert contract.status == S.DRAFT


def test_launch_review_needs_at_least_one_action(contract, coordinator):
    with translation.override("en"), pytest.raises(Conflict, match="no action to review"):
        services.launch_review(contract=contract, actor=coordinator)
    contract.refresh_from_db()
    assert contract.status == S.DRAFT
    assert not contract.history.exists()


def test_committee_opens_only_when_every_action_is_approved(contract):
    approved, pending = ActionFactory(contract=contract), ActionFactory(contract=contract)
    put_in_state(contract, S.REVIEW)
    Action.objects.filter(pk=approved.pk).update(status=ActionStatus.APPROVED)
    Action.objects.filter(pk=pending.pk).update(status=ActionStatus.REVIEW)
    with (
        translation.override("en"),
        pytest.raises(Conflict, match="approved by its working"),
        unit_on(contract) as unit,
    ):
        transitions.open_committee(unit)
    Action.objects.filter(pk=pending.pk).update(status=ActionStatus.APPROVED)
    with unit_on(contract) as unit:
        transitions.open_committee(unit)
    contract.refresh_from_db()
    assert contract.status == S.COMMITTEE


@pytest.mark.parametrize(
    ("mandatory", "associated", "complete"),
    [
        (SignatoryStatus.SIGNED, SignatoryStatus.SIGNED, True),
        (SignatoryStatus.SIGNED, SignatoryStatus.DECLINED, True),
        (SignatoryStatus.SIGNED, SignatoryStatus.PENDING, False),
        (SignatoryStatus.PENDING, SignatoryStatus.SIGNED, False),
    ],
)
def test_signing_completes_when_mandatory_signed_and_associated_answered(
    contract, mandatory, associated, complete
):
    put_in_state(contract, S.SIGNING)
    SignatoryFactory(contract=contract, kind=SignatoryKind.MANDATORY, status=mandatory)
    SignatoryFactory(contract=contract, kind=SignatoryKind.ASSOCIATED, status=associated)
    if complete:
        with unit_on(contract) as unit:
            transitions.complete_signing(unit)
    else:
        with pytest.raises(Conflict), unit_on(contract) as unit:
            transitions.complete_signing(unit)
    contract.refresh_from_db()
    assert contract.status == (S.SIGNED if complete else S.SIGNING)


def test_close_is_refused_before_the_end_of_the_period(contract, coordinator):
    today = timezone.localdate()
    put_in_state(contract, S.SIGNED, period_end=today + datetime.timedelta(days=1))
    with translation.override("en"), pytest.raises(Conflict, match="end of its period"):
        services.close(contract=contract, actor=coordinator)
    put_in_state(contract, S.SIGNED, period_end=today)
    services.close(contract=contract, actor=coordinator, without_final_review="Bilan fait ailleurs")
    contract.refresh_from_db()
    assert contract.status == S.CLOSED


def test_a_deliberation_needs_a_number_and_a_past_date(contract, coordinator):
    ActionFactory(contract=contract)
    walk_to_deliberation(contract, coordinator)
    with translation.override("en"), pytest.raises(ApplicationError, match="number is required"):
        services.record_deliberation(
            contract=contract, actor=coordinator, number=" ", date=datetime.date(2019, 7, 4)
        )
    with translation.override("en"), pytest.raises(ApplicationError, match="in the future"):
        services.record_deliberation(
            contract=contract,
            actor=coordinator,
            number="DCC-1",
            date=timezone.localdate() + datetime.timedelta(days=2),
        )
    services.record_deliberation(
        contract=contract, actor=coordinator, number="DCC-1", date=datetime.date(2019, 7, 4)
    )
    contract.refresh_from_db()
    assert (contract.status, contract.deliberation_number) == (S.SIGNING, "DCC-1")
    assert contract.deliberation_date == datetime.date(2019, 7, 4)


@pytest.mark.parametrize("verb", ["suspend", "withdraw"])
def test_suspend_and_withdraw_require_a_reason(contract, coordinator, verb):
    with translation.override("en"), pytest.raises(ApplicationError, match="reason is required"):
        getattr(services, verb)(contract=contract, actor=coordinator, reason="  ")
    contract.refresh_from_db()
    assert contract.status == S.DRAFT


# --- Who may fire -------------------------------------------------------------------------


@pytest.mark.parametrize("name", COORDINATOR_TRANSITIONS)
def test_only_a_coordinator_fires_coordinator_transitions(ready_contract, name):
    lead = UserFactory()
    source = next(iter(ALLOWED[name]))
    contract = put_in_state(ready_contract, source, suspended_from=S.REVIEW)
    set_actions(contract, ACTION_STATUS_FOR[source])
    params = {"number": "DCC-2019-42", "date": datetime.date(2019, 7, 4), "reason": "Absence"}
    with pytest.raises(NotAllowed):
        services.fire_coordinator_transition(
            contract=contract, name=name, actor=lead, params=params
        )
    contract.refresh_from_db()
    assert contract.status == source


def test_a_coordinator_of_another_contract_is_not_a_coordinator_here(ready_contract):
    other_coordinator = ContractFactory().coordinators.get()
    with pytest.raises(NotAllowed):
        services.launch_review(contract=ready_contract, actor=other_coordinator)


# --- Effects ------------------------------------------------------------------------------


def test_launch_review_sends_every_draft_action_to_review(contract, coordinator):
    actions = ActionFactory.create_batch(3, contract=contract)
    ensure_committee_and_signatory(contract)
    services.launch_review(contract=contract, actor=coordinator)
    assert {a.status for a in Action.objects.filter(contract=contract)} == {ActionStatus.REVIEW}
    logged = contract.history.filter(event="action_transition").values_list("action_code", "name")
    assert sorted(logged) == sorted((a.code, "submit_for_review") for a in actions)


def test_committee_validation_validates_every_action(contract):
    ActionFactory.create_batch(2, contract=contract)
    put_in_state(contract, S.COMMITTEE)
    set_actions(contract, ActionStatus.APPROVED)
    with unit_on(contract) as unit:
        transitions.committee_validate(unit)
    contract.refresh_from_db()
    assert contract.status == S.DELIBERATION
    assert set(contract.actions.values_list("status", flat=True)) == {ActionStatus.VALIDATED}


def test_a_rejection_naming_actions_sends_only_those_back(contract):
    named, other = ActionFactory(contract=contract), ActionFactory(contract=contract)
    put_in_state(contract, S.COMMITTEE)
    set_actions(contract, ActionStatus.APPROVED)
    with unit_on(contract) as unit:
        sent_back = transitions.committee_reject(
            unit, action_codes=[named.code], comment="Financement à préciser"
        )
    assert sent_back == [named.code]
    named.refresh_from_db()
    other.refresh_from_db()
    assert (named.status, other.status) == (ActionStatus.CHANGES_REQUESTED, ActionStatus.APPROVED)
    contract.refresh_from_db()
    assert contract.status == S.REVIEW


def test_a_rejection_naming_no_action_sends_them_all_back(contract):
    ActionFactory.create_batch(3, contract=contract)
    put_in_state(contract, S.COMMITTEE)
    set_actions(contract, ActionStatus.APPROVED)
    with unit_on(contract) as unit:
        assert len(transitions.committee_reject(unit, comment="Non")) == 3
    assert set(contract.actions.values_list("status", flat=True)) == {
        ActionStatus.CHANGES_REQUESTED
    }


def test_a_mandatory_decline_sends_the_contract_back_as_a_new_version(contract):
    ActionFactory.create_batch(2, contract=contract)
    put_in_state(contract, S.SIGNING, deliberation_number="DCC-1")
    set_actions(contract, ActionStatus.VALIDATED)
    declining = SignatoryFactory(contract=contract, kind=SignatoryKind.MANDATORY)
    signed = SignatoryFactory(
        contract=contract, kind=SignatoryKind.ASSOCIATED, status=SignatoryStatus.SIGNED
    )

    with unit_on(contract) as unit:
        transitions.return_to_draft(
            unit,
            signatory=declining,
            actor=declining.signer,
            on_behalf_of=None,
            reason="Budget insuffisant",
        )

    contract.refresh_from_db()
    assert (contract.status, contract.version, contract.deliberation_number) == (S.DRAFT, 2, "")
    assert set(Signatory.objects.values_list("status", flat=True)) == {SignatoryStatus.PENDING}
    assert set(contract.actions.values_list("status", flat=True)) == {ActionStatus.DRAFT}
    entry = contract.history.get(name="return_to_draft", event="transition")
    assert entry.data["voided_signatures"] == [signed.organisation.code]
    assert entry.comment == "Budget insuffisant"
    assert entry.actor == declining.signer


@pytest.mark.parametrize("state", [S.DRAFT, S.REVIEW, S.COMMITTEE, S.DELIBERATION, S.SIGNING])
def test_resume_returns_to_the_state_suspended_in(ready_contract, coordinator, state):
    contract = put_in_state(ready_contract, state)
    services.suspend(contract=contract, actor=coordinator, reason="Réforme territoriale")
    contract.refresh_from_db()
    assert (contract.status, contract.suspended_from) == (S.SUSPENDED, state)
    assert contract.suspension_reason == "Réforme territoriale"

    services.resume(contract=contract, actor=coordinator)
    contract.refresh_from_db()
    assert (contract.status, contract.suspended_from, contract.suspended_at) == (state, "", None)
    resumed = contract.history.get(name="resume")
    assert (resumed.from_state, resumed.to_state) == (S.SUSPENDED, state)
    assert resumed.data["suspended_for_seconds"] >= 0


def test_a_second_launch_is_refused_as_a_conflict(contract, coordinator):
    ActionFactory(contract=contract)
    ensure_committee_and_signatory(contract)
    services.launch_review(contract=contract, actor=coordinator)
    with pytest.raises(Conflict):
        services.launch_review(contract=contract, actor=coordinator)
    assert contract.history.filter(name="launch_review").count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need a server database")
def test_two_coordinators_launching_at_once_give_one_success_and_one_conflict():
    first, second = UserFactory(), UserFactory()
    contract = ContractFactory(coordinator=first)
    contract.coordinators.add(second)
    ActionFactory(contract=contract)
    ensure_committee_and_signatory(contract)
    barrier = threading.Barrier(2)
    outcomes = []

    def launch(actor):
        barrier.wait()
        try:
            services.launch_review(contract=Contract.objects.get(pk=contract.pk), actor=actor)
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=launch, args=(user,)) for user in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "ok"]
    assert contract.history.filter(name="launch_review").count() == 1
