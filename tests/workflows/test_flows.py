"""The approval flows enforce workflow.md: who gets which task, when, and what follows."""

import datetime
import itertools
import re

import pytest
from django.utils import timezone, translation

from tests.factories import (
    ActionFactory,
    SignatoryFactory,
    SteeringCommitteeFactory,
    UserFactory,
)
from tests.flows import (
    approve_reviews,
    decide,
    launch,
    open_tasks,
    record_deliberation,
    sign_all,
    vote,
    walk_to_deliberation,
)
from workflows import services
from workflows.errors import ApplicationError, Conflict, NotAllowed
from workflows.models import (
    ActionStatus,
    CommitteeVote,
    ContractStatus,
    HistoryEntry,
    HistoryEvent,
    Process,
    SignatoryKind,
    SignatoryStatus,
    Tally,
    Task,
    TaskDecision,
    TaskKind,
    TaskStatus,
)
from workflows.selectors import contract_flow_chart, history_verify

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _messages_in_english():
    """The refusals below are matched in English, whatever the default language (French)."""
    with translation.override("en"):
        yield


@pytest.fixture
def actions(contract):
    return [ActionFactory(contract=contract) for _ in range(3)]


@pytest.fixture
def committee(contract):
    """Five members (the chair among them), quorum 3."""
    return SteeringCommitteeFactory(
        contract=contract, quorum=3, members=[UserFactory() for _ in range(4)]
    )


def statuses(contract) -> list[str]:
    return list(contract.actions.order_by("pk").values_list("status", flat=True))


def test_launching_the_review_gives_each_lead_one_review_task_per_action(
    contract, coordinator, actions
):
    launch(contract, coordinator)

    tasks = open_tasks(contract, TaskKind.REVIEW)
    expected = {(a.pk, lead.pk) for a in actions for lead in a.working_group.leads.all()}
    assert {(t.action_id, t.owner_id) for t in tasks} == expected
    due_in = tasks[0].due - timezone.now()
    assert datetime.timedelta(days=14, hours=23) < due_in <= datetime.timedelta(days=15)
    assert Process.objects.filter(contract=contract).count() == 1 + len(actions)


def test_an_action_is_approved_when_all_its_leads_approve(contract, coordinator, actions):
    launch(contract, coordinator)
    first, second = [t for t in open_tasks(contract) if t.action == actions[0]]

    decide(first)
    actions[0].refresh_from_db()
    assert actions[0].status == ActionStatus.REVIEW
    decide(second)
    actions[0].refresh_from_db()
    assert actions[0].status == ActionStatus.APPROVED


def test_a_request_for_changes_cancels_the_other_review_and_goes_to_the_pilot(
    contract, coordinator, actions
):
    action = actions[0]
    launch(contract, coordinator)
    first, second = [t for t in open_tasks(contract) if t.action == action]

    with pytest.raises(ApplicationError, match="what must change"):
        decide(first, "request_changes")
    decide(first, "request_changes", comment="Chiffrer le budget de l'action.")

    action.refresh_from_db()
    second.refresh_from_db()
    assert action.status == ActionStatus.CHANGES_REQUESTED
    assert second.status == TaskStatus.CANCELED
    (revision,) = open_tasks(contract, TaskKind.REVISION)
    assert (revision.owner, revision.action) == (action.pilot, action)

    decide(revision, "resubmit", comment="Budget chiffré.")
    action.refresh_from_db()
    assert action.status == ActionStatus.REVIEW
    again = [t for t in open_tasks(contract) if t.action == action]
    assert {t.owner for t in again} == set(action.working_group.leads.all())


def test_the_committee_vote_opens_when_the_last_action_is_approved(
    contract, coordinator, actions, committee
):
    launch(contract, coordinator)
    approve_reviews(contract)

    contract.refresh_from_db()
    assert contract.status == ContractStatus.COMMITTEE
    votes = open_tasks(contract, TaskKind.VOTE)
    assert {t.owner for t in votes} == set(committee.members.all())
    assert CommitteeVote.objects.get(contract=contract).round == 1


def test_the_vote_is_decided_as_soon_as_the_outcome_cannot_change(
    contract, coordinator, actions, committee
):
    launch(contract, coordinator)
    approve_reviews(contract)
    votes = open_tasks(contract, TaskKind.VOTE)

    for task in votes[:3]:  # 3 approvals out of 5: a majority whatever the others vote
        decide(task)

    contract.refresh_from_db()
    assert contract.status == ContractStatus.DELIBERATION
    assert {t.status for t in Task.objects.filter(pk__in=[t.pk for t in votes[3:]])} == {
        TaskStatus.CANCELED
    }
    vote_round = CommitteeVote.objects.get(contract=contract)
    assert (vote_round.outcome, vote_round.approvals, vote_round.rejections) == (
        "validated",
        3,
        0,
    )
    assert statuses(contract) == [ActionStatus.VALIDATED] * 3
    (deliberation,) = open_tasks(contract, TaskKind.DELIBERATION)
    assert deliberation.owner == coordinator


def test_a_rejection_sends_back_only_the_actions_objected_to(
    contract, coordinator, actions, committee
):
    launch(contract, coordinator)
    approve_reviews(contract)
    votes = open_tasks(contract, TaskKind.VOTE)
    objected = actions[1]

    with pytest.raises(ApplicationError, match="comment is required"):
        decide(votes[0], "reject")
    with pytest.raises(ApplicationError, match="Unknown action"):
        decide(votes[0], "reject", comment="Non", actions=["NOPE"])
    for task in votes[:3]:
        decide(
            task,
            "reject",
            comment="Budget irréaliste",
            objections={objected.code: "Le budget est irréaliste."},
        )

    contract.refresh_from_db()
    assert contract.status == ContractStatus.REVIEW
    assert statuses(contract) == [
        ActionStatus.APPROVED,
        ActionStatus.CHANGES_REQUESTED,
        ActionStatus.APPROVED,
    ]
    (revision,) = open_tasks(contract, TaskKind.REVISION)
    assert revision.action == objected

    decide(revision, "resubmit")
    approve_reviews(contract)
    contract.refresh_from_db()
    assert contract.status == ContractStatus.COMMITTEE
    assert CommitteeVote.objects.filter(contract=contract).count() == 2
    vote(contract)
    contract.refresh_from_db()
    assert contract.status == ContractStatus.DELIBERATION


def test_a_rejection_naming_no_action_sends_them_all_back(
    contract, coordinator, actions, committee
):
    launch(contract, coordinator)
    approve_reviews(contract)
    vote(contract, "reject", comment="À revoir entièrement")

    assert statuses(contract) == [ActionStatus.CHANGES_REQUESTED] * 3
    assert len(open_tasks(contract, TaskKind.REVISION)) == 3


def test_a_vote_nobody_cast_cannot_be_closed_even_without_a_quorum(
    contract, coordinator, actions, committee
):
    launch(contract, coordinator)
    approve_reviews(contract)
    # A quorum of 0 does not pass the contract file's rules: given to the vote itself.
    CommitteeVote.objects.filter(contract=contract).update(quorum=0)

    with pytest.raises(Conflict, match="No member has voted yet"):
        services.close_vote(contract=contract, actor=committee.chair)
    contract.refresh_from_db()
    assert contract.status == ContractStatus.COMMITTEE


def test_the_chair_closes_the_vote_once_the_quorum_is_reached(
    contract, coordinator, actions, committee
):
    launch(contract, coordinator)
    approve_reviews(contract)
    votes = {t.owner: t for t in open_tasks(contract, TaskKind.VOTE)}
    others = [member for member in votes if member != committee.chair]

    decide(votes[others[0]])
    with pytest.raises(NotAllowed):
        services.close_vote(contract=contract, actor=others[1])
    with pytest.raises(Conflict, match="quorum is not reached"):
        services.close_vote(contract=contract, actor=committee.chair)
    decide(votes[others[1]])
    decide(votes[others[2]], "reject", comment="Contre")  # 2 for, 1 against: still open
    contract.refresh_from_db()
    assert contract.status == ContractStatus.COMMITTEE

    services.close_vote(contract=contract, actor=committee.chair)

    contract.refresh_from_db()
    assert contract.status == ContractStatus.DELIBERATION
    vote_round = CommitteeVote.objects.get(contract=contract)
    assert (vote_round.closed_by, vote_round.approvals, vote_round.rejections) == (
        committee.chair,
        2,
        1,
    )
    assert not open_tasks(contract, TaskKind.VOTE)


def test_signatures_follow_the_order_and_a_representative_signs_for_the_signer(
    contract, coordinator, actions
):
    representative = UserFactory(username="elue.cd82")
    first = SignatoryFactory(contract=contract, order=1)
    second = SignatoryFactory(contract=contract, order=1, represented_by=representative)
    last = SignatoryFactory(contract=contract, order=2, kind=SignatoryKind.ASSOCIATED)
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)

    tasks = {t.signatory: t for t in open_tasks(contract, TaskKind.SIGNATURE)}
    assert set(tasks) == {first, second}  # order 2 waits
    assert (tasks[second].owner, tasks[second].on_behalf_of) == (representative, second.signer)
    contract.refresh_from_db()
    assert len(contract.document_sha256) == 64

    with pytest.raises(ApplicationError, match="password is incorrect"):
        decide(tasks[second], "sign", password="wrong")
    with pytest.raises(ApplicationError, match="consent"):
        decide(tasks[second], "sign", consent=False)
    decide(tasks[second], "sign")
    decide(tasks[first], "sign")

    (final,) = open_tasks(contract, TaskKind.SIGNATURE)
    assert final.signatory == last
    decide(final, "decline", comment="Pas de budget cette année")  # associated: recorded

    contract.refresh_from_db()
    assert contract.status == ContractStatus.SIGNED
    signature = HistoryEntry.objects.get(event="signature", on_behalf_of=second.signer)
    assert signature.actor == representative
    assert signature.data["document_sha256"] == contract.document_sha256
    assert HistoryEntry.objects.get(event="decline").data["organisation"] == (
        last.organisation.code
    )


def test_a_mandatory_decline_sends_the_contract_back_to_draft_as_a_new_version(
    contract, coordinator, actions
):
    signing = SignatoryFactory(contract=contract)
    declining = SignatoryFactory(contract=contract)
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)
    tasks = {t.signatory: t for t in open_tasks(contract, TaskKind.SIGNATURE)}
    decide(tasks[signing], "sign")

    with pytest.raises(ApplicationError, match="reason is required"):
        decide(tasks[declining], "decline")
    decide(tasks[declining], "decline", comment="Le budget de l'ARS n'est pas voté.")

    contract.refresh_from_db()
    assert (contract.status, contract.version, contract.document_sha256) == ("draft", 2, "")
    assert set(contract.signatories.values_list("status", flat=True)) == {SignatoryStatus.PENDING}
    voided = HistoryEntry.objects.get(event="transition", name="return_to_draft").data[
        "voided_signatures"
    ]
    assert voided == [signing.organisation.code]
    # Who was told of the decline is recorded against the version that was declined.
    told = HistoryEntry.objects.filter(event="notified", name__in=["decision_made", "declined"])
    assert told.filter(name="declined").exists()
    assert set(told.values_list("contract_version", flat=True)) == {1}
    assert not Process.objects.filter(contract=contract, finished__isnull=True).exists()
    assert statuses(contract) == [ActionStatus.DRAFT] * 3

    launch(contract, coordinator)  # version 2 starts over
    assert len(open_tasks(contract, TaskKind.REVIEW)) == 6
    assert history_verify(contract).valid


def test_suspension_holds_the_tasks_and_resuming_moves_their_due_dates(
    contract, coordinator, actions
):
    launch(contract, coordinator)
    task = open_tasks(contract)[0]
    due = task.due
    services.suspend(contract=contract, actor=coordinator, reason="Fusion des communautés")

    task.refresh_from_db()
    assert task.status == TaskStatus.HELD
    with pytest.raises(Conflict, match="on hold"):
        decide(task)
    Task.objects.filter(contract=contract).update(
        held_at=timezone.now() - datetime.timedelta(days=40)
    )

    services.resume(contract=contract, actor=coordinator)

    task.refresh_from_db()
    assert task.status == TaskStatus.ASSIGNED
    assert (
        datetime.timedelta(days=39, hours=23)
        < task.due - due
        < datetime.timedelta(days=40, hours=1)
    )
    decide(task)
    held_and_resumed = HistoryEntry.objects.filter(
        contract=contract, event__in=["task_held", "task_resumed"]
    )
    assert held_and_resumed.filter(event="task_held").count() == 6
    assert held_and_resumed.filter(event="task_resumed").count() == 6


def test_withdrawal_cancels_every_open_task_and_flow(contract, coordinator, actions):
    launch(contract, coordinator)
    services.suspend(contract=contract, actor=coordinator, reason="Pause")

    services.withdraw(contract=contract, actor=coordinator, reason="Projet abandonné")

    assert not Task.objects.filter(
        contract=contract, status__in=[TaskStatus.ASSIGNED, TaskStatus.HELD]
    ).exists()
    assert not Process.objects.filter(contract=contract, finished__isnull=True).exists()
    assert HistoryEntry.objects.filter(contract=contract, event="task_cancelled").count() == 6


def test_a_completed_task_cannot_be_completed_again_nor_by_someone_else(
    contract, coordinator, actions, stranger
):
    launch(contract, coordinator)
    task = open_tasks(contract)[0]

    with pytest.raises(NotAllowed, match="not yours"):
        services.task_decide(task=task, actor=stranger, decision=services.Decision("approve"))
    decide(task)
    with pytest.raises(Conflict, match="already completed"):
        decide(task)
    assert HistoryEntry.objects.filter(event="task_completed").count() == 1


def test_a_decision_must_fit_the_task(contract, coordinator, actions):
    launch(contract, coordinator)
    with pytest.raises(ApplicationError, match="not a decision for this task"):
        decide(open_tasks(contract)[0], "sign")


def test_the_whole_walk_leaves_an_intact_history(contract, coordinator, actions, committee):
    SignatoryFactory(contract=contract)
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)
    sign_all(contract)
    contract.refresh_from_db()
    assert contract.status == ContractStatus.SIGNED
    assert history_verify(contract).valid
    assert not Process.objects.filter(contract=contract, finished__isnull=True).exists()


def test_the_diagram_shows_a_decided_vote_as_done_and_the_waiting_step(
    contract, coordinator, actions, committee
):
    SignatoryFactory(contract=contract)
    walk_to_deliberation(contract, coordinator)  # the last votes were cancelled once decided

    svg = contract_flow_chart(contract)

    assert '<g id="vote" transform' in svg
    assert re.search(r'<g id="vote"[^>]*class="done"', svg)
    assert re.search(r'<g id="deliberation"[^>]*class="assigned"', svg)
    assert not re.search(r'<g id="sign"[^>]*class=', svg)  # not reached yet


# --- Abstentions ----------------------------------------------------------------------------

VOTES = (TaskDecision.APPROVE, TaskDecision.REJECT, TaskDecision.ABSTAIN)


def _tally(decisions) -> Tally:
    return Tally(*(sum(d == kind for d in decisions) for kind in VOTES))


@pytest.mark.parametrize("members", range(1, 6))
def test_a_vote_is_decided_early_exactly_when_no_remaining_vote_can_change_it(members):
    """Every round of up to five members, every quorum, every votes cast so far: decided
    early (with that outcome) if and only if every way the open votes may still go (approve,
    reject or abstain) ends with the same outcome as all votes cast."""
    for quorum in range(1, members + 1):
        vote = CommitteeVote(quorum=quorum, members=members)
        for cast_count in range(members + 1):
            for cast in itertools.product(VOTES, repeat=cast_count):
                open_votes = members - cast_count
                finals = {
                    vote.outcome_when(_tally(cast + rest), open_votes=0)
                    for rest in itertools.product(VOTES, repeat=open_votes)
                }
                expected = finals.pop() if len(finals) == 1 else None
                assert vote.outcome_when(_tally(cast), open_votes=open_votes) == expected, (
                    quorum,
                    cast,
                )


@pytest.mark.parametrize(
    ("tally", "quorum", "outcome"),
    [
        (Tally(1, 0, 2), 3, "validated"),  # the abstentions make the quorum
        (Tally(1, 0, 1), 3, "rejected"),  # no quorum, however favourable
        (Tally(2, 1, 2), 3, "validated"),  # 2 of 5 is a majority of the votes for or against
        (Tally(2, 2, 1), 3, "rejected"),  # a tie is no majority
        (Tally(0, 0, 5), 3, "rejected"),  # everyone abstained: nobody approved
    ],
)
def test_abstentions_count_toward_the_quorum_not_in_the_majority(tally, quorum, outcome):
    vote = CommitteeVote(quorum=quorum, members=5)

    assert vote.outcome_when(tally, open_votes=0) == outcome


def test_a_member_abstains_and_the_chair_closes_the_vote_on_a_quorum_made_by_abstentions(
    contract, coordinator, actions, committee
):
    launch(contract, coordinator)
    approve_reviews(contract)
    votes = {t.owner: t for t in open_tasks(contract, TaskKind.VOTE)}
    others = [member for member in votes if member != committee.chair]

    decide(votes[others[0]])
    decide(votes[others[1]], "abstain")
    with pytest.raises(Conflict, match=re.escape("2 vote(s) cast, 3 needed")):
        services.close_vote(contract=contract, actor=committee.chair)
    decide(votes[others[2]], "abstain", comment="Conflit d'intérêts.")
    contract.refresh_from_db()
    assert contract.status == ContractStatus.COMMITTEE  # 1 for, 2 abstaining, 2 open

    services.close_vote(contract=contract, actor=committee.chair)

    contract.refresh_from_db()
    assert contract.status == ContractStatus.DELIBERATION
    vote_round = CommitteeVote.objects.get(contract=contract)
    assert (vote_round.outcome, vote_round.approvals, vote_round.rejections) == (
        "validated",
        1,
        0,
    )
    assert vote_round.abstentions == 2
    abstained = HistoryEntry.objects.get(
        contract=contract, event=HistoryEvent.TASK_COMPLETED, data__task=votes[others[2]].pk
    )
    assert (abstained.actor, abstained.data["decision"], abstained.comment) == (
        others[2],
        "abstain",
        "Conflit d'intérêts.",
    )
    decided = HistoryEntry.objects.get(contract=contract, event=HistoryEvent.VOTE_DECIDED)
    assert {k: decided.data[k] for k in ("approvals", "rejections", "abstentions")} == {
        "approvals": 1,
        "rejections": 0,
        "abstentions": 2,
    }


def test_abstentions_do_not_decide_early_what_the_open_votes_may_still_change(
    contract, coordinator, actions, committee
):
    launch(contract, coordinator)
    approve_reviews(contract)
    votes = open_tasks(contract, TaskKind.VOTE)

    decide(votes[0])
    decide(votes[1])
    decide(votes[2], "reject", comment="Contre.")
    decide(votes[3], "abstain")
    contract.refresh_from_db()
    assert contract.status == ContractStatus.COMMITTEE  # the last vote could make it a tie

    decide(votes[4], "abstain")

    contract.refresh_from_db()
    assert contract.status == ContractStatus.DELIBERATION  # 2 for, 1 against: a majority
    vote_round = CommitteeVote.objects.get(contract=contract)
    assert (vote_round.approvals, vote_round.rejections, vote_round.abstentions) == (2, 1, 2)


def test_a_committee_that_only_abstains_rejects_the_contract(
    contract, coordinator, actions, committee
):
    launch(contract, coordinator)
    approve_reviews(contract)

    vote(contract, "abstain")

    contract.refresh_from_db()
    assert contract.status == ContractStatus.REVIEW
    vote_round = CommitteeVote.objects.get(contract=contract)
    assert (vote_round.outcome, vote_round.abstentions) == ("rejected", 5)
    assert statuses(contract) == [ActionStatus.CHANGES_REQUESTED] * 3
