"""Every FSM transition of a contract and of an action is fired through one door.

The verbs of ``workflows.services`` are what pages, the API and commands call; they fire
transitions through ``workflows.transitions``, where ``_apply`` is the only code that calls a
transition method. The life below reaches every transition the models declare, and each
firing is traced back to that one place.
"""

import datetime
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.utils import timezone
from django_fsm.signals import post_transition

from tests.factories import ActionFactory, ContractFactory, SignatoryFactory
from tests.flows import (
    approve_reviews,
    decide,
    launch,
    open_tasks,
    record_deliberation,
    sign_all,
    vote,
)
from workflows import services, transitions
from workflows.models import (
    COORDINATOR_TRANSITIONS,
    FOLLOW_UP_TRANSITIONS,
    Action,
    Amendment,
    Contract,
    ContractStatus,
    TaskKind,
)

pytestmark = pytest.mark.django_db

THE_DOOR = (Path(transitions.__file__).resolve(), "_apply")


def every_transition() -> set[tuple[str, str]]:
    """(model, transition) for every transition the models declare, from any state."""
    return {
        (model.__name__, transition.name)
        for model in (Contract, Action, Amendment)
        for transition in model._meta.get_field("status").get_all_transitions(model)
    }


@contextmanager
def transitions_fired() -> Iterator[list[tuple[str, str, bool]]]:
    """(model, transition, fired through the door?) for each transition fired in the block."""
    fired: list[tuple[str, str, bool]] = []

    def record(sender, instance, name, source, target, **kwargs):
        callers = {
            (Path(frame.filename).resolve(), frame.name) for frame in traceback.extract_stack()
        }
        fired.append((sender.__name__, name, THE_DOOR in callers))

    post_transition.connect(record, dispatch_uid="one-door")
    try:
        yield fired
    finally:
        post_transition.disconnect(dispatch_uid="one-door")


def test_the_tracer_sees_a_transition_fired_behind_the_services_back(contract):
    """The check below can fail: a transition method called directly is caught."""
    with transitions_fired() as fired:
        contract.suspend(reason="fired by hand")
    assert fired == [("Contract", "suspend", False)]


def test_every_transition_is_fired_through_the_one_door(coordinator):
    contract = ContractFactory(coordinator=coordinator)
    first, second, third, dropped, amended = (ActionFactory(contract=contract) for _ in range(5))
    other = ContractFactory(coordinator=coordinator)
    ActionFactory(contract=other)

    with transitions_fired() as fired:
        # A sheet taken out of the draft before the review.
        services.action_remove(action=dropped, actor=coordinator)
        # The review: one lead asks for changes, the pilot resubmits, all approve.
        launch(contract, coordinator)
        decide(open_tasks(contract, TaskKind.REVIEW)[0], "request_changes", comment="Budget ?")
        (revision,) = open_tasks(contract, TaskKind.REVISION)
        decide(revision, "resubmit")
        approve_reviews(contract)
        # The committee rejects one action, then validates once it is revised.
        vote(contract, "reject", comment="Indicateurs flous", actions=[first.code])
        (revision,) = open_tasks(contract, TaskKind.REVISION)
        decide(revision, "resubmit")
        approve_reviews(contract)
        vote(contract)
        record_deliberation(contract)
        # A mandatory signatory declines: back to draft, then the whole way to signed.
        (signature,) = open_tasks(contract, TaskKind.SIGNATURE)
        decide(signature, "decline", comment="Le budget a changé")
        launch(contract, coordinator)
        approve_reviews(contract)
        vote(contract)
        record_deliberation(contract)
        sign_all(contract)
        # An amendment removes a sheet: rejected by the committee once, declined once by the
        # mandatory signatory, then signed; a second one is withdrawn.
        amendment = services.amendment_open(contract=contract, actor=coordinator)
        services.amendment_action_remove(amendment=amendment, actor=coordinator, code=amended.code)
        services.amendment_launch_review(amendment=amendment, actor=coordinator)
        vote(contract, "reject", comment="Pas maintenant")
        for _round in ("declined", "signed"):
            services.amendment_launch_review(amendment=amendment, actor=coordinator)
            if _round == "signed":  # paused a while before the committee votes again
                services.amendment_suspend(amendment=amendment, actor=coordinator, reason="Vote")
                services.amendment_resume(amendment=amendment, actor=coordinator)
            vote(contract)
            services.amendment_record_deliberation(
                amendment=amendment,
                actor=coordinator,
                number="DEL-AV1",
                date=timezone.localdate() - datetime.timedelta(days=1),
            )
            if _round == "declined":
                (signature,) = open_tasks(contract, TaskKind.SIGNATURE)
                decide(signature, "decline", comment="Pas ainsi")
        sign_all(contract)
        amended.refresh_from_db()
        assert amended.status == "removed"
        services.amendment_withdraw(
            amendment=services.amendment_open(contract=contract, actor=coordinator),
            actor=coordinator,
            reason="Plus tard",
        )
        # Follow-up by the pilot, then the contract closed once its period is over.
        for action, steps in ((first, ["start", "complete"]), (second, ["abandon"])):
            for step in steps:
                services.action_follow_up(
                    action=action, name=step, actor=action.pilot, comment="Suivi"
                )
        Contract.objects.filter(pk=contract.pk).update(
            period_end=timezone.localdate() - datetime.timedelta(days=1)
        )
        services.close(
            contract=contract, actor=coordinator, without_final_review="Bilan fait par l'ARS"
        )
        # Another contract: suspended, resumed, withdrawn.
        SignatoryFactory(contract=other)
        launch(other, coordinator)
        services.suspend(contract=other, actor=coordinator, reason="Élections")
        services.resume(contract=other, actor=coordinator)
        services.withdraw(contract=other, actor=coordinator, reason="Abandon du projet")

    contract.refresh_from_db()
    assert contract.status == ContractStatus.CLOSED
    assert third.pk  # an action left validated: its follow-up is not the point
    outside = [(model, name) for model, name, by_the_door in fired if not by_the_door]
    assert outside == [], f"fired outside workflows.transitions: {outside}"
    never_fired = every_transition() - {(model, name) for model, name, _ in fired}
    assert never_fired == set(), f"not reached by this life, so not checked: {never_fired}"


@pytest.mark.parametrize(
    ("model", "names"),
    [(Contract, COORDINATOR_TRANSITIONS), (Action, FOLLOW_UP_TRANSITIONS)],
)
def test_every_transition_fired_by_hand_declares_who_may_fire_it(model, names):
    """django-fsm lets anyone fire a transition without a permission: one a person fires by
    hand (a coordinator's step, an action's follow-up) must say who may."""
    for transition in model._meta.get_field("status").get_all_transitions(model):
        if transition.name in names:
            assert transition.permission is not None, (model.__name__, transition.name)
