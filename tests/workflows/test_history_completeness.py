"""The demo contract walked through its real flows, and its history checked against what
happened: every task created, delegated, held, resumed, completed or cancelled, every state
change, signature, decline and voided signature, every notification, a wrong password at
signing, the import and the export, in one chain."""

from __future__ import annotations

from collections import Counter

import pytest
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from notifications.models import Notification
from tests.factories import PASSWORD, UserFactory
from tests.flows import (
    approve_reviews,
    decide,
    launch,
    open_tasks,
    record_deliberation,
    sign_all,
    vote,
)
from workflows import services
from workflows.audit.services import contract_verification_bundle
from workflows.models import SignatoryStatus, Task, TaskKind, TaskStatus, User
from workflows.selectors import history_verify

pytestmark = pytest.mark.django_db


def entries_for_task(history, event: str) -> Counter:
    return Counter(e.data["task"] for e in history if e.event == event)


def test_the_demo_contracts_history_holds_everything_that_happened(scenario):
    importer = UserFactory(is_staff=True)
    contract = services.contract_import(document=scenario, actor=importer)
    User.objects.update(password=make_password(PASSWORD))
    coordinator = contract.coordinators.first()

    # Review: a lead asks for changes, the pilot revises; another lead goes on leave.
    launch(contract, coordinator)
    first = open_tasks(contract, TaskKind.REVIEW)[0]
    decide(first, "request_changes", comment="Préciser le public visé.")
    (revision,) = open_tasks(contract, TaskKind.REVISION)
    decide(revision, "resubmit")
    absent = open_tasks(contract, TaskKind.REVIEW)[-1].owner
    delegate = next(p for p in contract.participants.all() if p.pk != absent.pk)
    today = timezone.localdate()
    services.delegation_declare(user=absent, delegate=delegate, start=today, end=today)
    held_at_suspension = {t.pk for t in open_tasks(contract)}
    services.suspend(contract=contract, actor=coordinator, reason="Réforme territoriale")
    services.resume(contract=contract, actor=coordinator)
    approve_reviews(contract)
    vote(contract)
    record_deliberation(contract, "2019-117")

    # A mandatory signatory signs, the other declines: back to draft, the signature voided.
    signed_first = open_tasks(contract, TaskKind.SIGNATURE)[0]
    refused = Task.objects.get(pk=open_tasks(contract, TaskKind.SIGNATURE)[0].pk)
    with pytest.raises(services.SignaturePasswordRefused):
        decide(refused, "sign", password="pas le bon")
    decide(signed_first, "sign")
    declining = open_tasks(contract, TaskKind.SIGNATURE)[0]
    decide(declining, "decline", comment="Le volet santé mentale doit être revu.")
    contract.refresh_from_db()
    assert (contract.status, contract.version) == ("draft", 2)

    # Version 2, to the end.
    launch(contract, coordinator)
    approve_reviews(contract)
    vote(contract)
    record_deliberation(contract, "2019-142")
    sign_all(contract)
    contract.refresh_from_db()
    assert contract.status == "signed"
    contract_verification_bundle(contract=contract, user=importer)

    history = list(contract.history.order_by("seq"))
    events = Counter(e.event for e in history)
    tasks = Task.objects.filter(contract=contract).exclude(kind="")

    assert history[0].event == "imported"
    assert history[0].actor == importer
    assert [e.name for e in history if e.event == "transition"] == [
        "launch_review",
        "suspend",
        "resume",
        "open_committee",
        "committee_validate",
        "record_deliberation",
        "return_to_draft",
        "launch_review",
        "open_committee",
        "committee_validate",
        "record_deliberation",
        "complete_signing",
    ]
    # Every task: created once; completed once if done; cancelled once if cancelled.
    assert entries_for_task(history, "task_created") == Counter(tasks.values_list("pk", flat=True))
    done = tasks.filter(status=TaskStatus.DONE).values_list("pk", flat=True)
    assert entries_for_task(history, "task_completed") == Counter(done)
    cancelled = tasks.filter(status=TaskStatus.CANCELED).values_list("pk", flat=True)
    assert cancelled  # the other lead's review, the votes left once decided...
    assert entries_for_task(history, "task_cancelled") == Counter(cancelled)
    # Held and resumed: exactly the tasks open at the suspension.
    assert set(entries_for_task(history, "task_held")) == held_at_suspension
    assert set(entries_for_task(history, "task_resumed")) == held_at_suspension
    # Handed to the delegate: each of the absent lead's open tasks, and marked for whom.
    delegated = [e for e in history if e.event == "task_delegated"]
    assert delegated
    assert all(e.data["from"] == absent.username for e in delegated[:1])
    # Signatures: every "sign" decision, every decline, and the voided one.
    signature_tasks = tasks.filter(kind=TaskKind.SIGNATURE, status=TaskStatus.DONE)
    assert events["signature"] == signature_tasks.filter(decision="sign").count()
    assert events["decline"] == signature_tasks.filter(decision="decline").count() == 1
    (voided,) = [e for e in history if e.event == "signature_voided"]
    assert voided.data["signer"] == signed_first.signatory.signer.username
    assert voided.seq > next(e.seq for e in history if e.name == "return_to_draft")
    assert not contract.signatories.filter(status=SignatoryStatus.PENDING).exists()
    # The action sheets' own steps, and the committee's decisions.
    assert events["action_transition"] > 2 * contract.actions.count()
    assert events["vote_decided"] == 2
    # Who was told of what: every notification of the contract, recipient by recipient.
    notified = Counter(
        (e.name, username)
        for e in history
        if e.event == "notified"
        for username in e.data["recipients"]
    )
    sent = Counter(
        Notification.objects.filter(contract=contract).values_list("event", "recipient__username")
    )
    assert sent
    assert notified == sent
    # The wrong password at a signature page, with who tried.
    (wrong,) = [e for e in history if e.event == "signature_password_refused"]
    assert (wrong.actor, wrong.data["task"]) == (refused.owner, refused.pk)
    assert history[-1].event == "history_exported"
    assert history_verify(contract).valid
