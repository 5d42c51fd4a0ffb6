"""The approval flows (django-viewflow): who must act, in which order, and what follows.

``ContractFlow`` runs once per contract version, from the launch of the review to the last
signature. It starts one ``ActionReviewFlow`` per action; the last action to be approved wakes
the contract's flow under the contract's lock. Flow nodes change statuses only by calling the
steps of ``workflows.transitions``, which fire the FSM transitions and record the history.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from viewflow import this
from viewflow.workflow import flow
from viewflow.workflow.activation import Activation

from . import transitions
from .assignments import Assignment
from .history import UnitOfWork, unit_of
from .models import (
    Action,
    ActionStatus,
    Amendment,
    AmendmentChange,
    AmendmentParty,
    AmendmentPartyStatus,
    AmendmentStatus,
    AnnualReview,
    AnnualReviewStatus,
    ChangeReview,
    CommitteeVote,
    Contract,
    ContractStatus,
    Process,
    Signatory,
    SignatoryKind,
    SignatoryStatus,
    Task,
    TaskDecision,
    TaskKind,
    TaskStatus,
    User,
    WorkingGroup,
)
from .nodes import Begin, Conclude, Finish, ForEach, Gather, HumanTask, contract_lock


def _contract(activation: Activation) -> Contract:
    return activation.process.contract


def _unit(activation: Activation) -> UnitOfWork:
    return unit_of(activation.process)


def _previous_task(activation: Activation) -> Task:
    """The task that led to this node (for a Function right after a human task or a join)."""
    return activation.task.previous.get()


def _declined_for(task: Task, party: Signatory | AmendmentParty) -> User | None:
    """On whose behalf a decline was given: the signer, when a representative declined;
    whoever the visa holder stood in for, when a visa was refused."""
    if task.kind == TaskKind.VISA:
        return task.on_behalf_of
    return party.signer if party.represented_by_id else None


def _committee_members(activation: Activation, **extra: Any) -> list[dict[str, Any]]:
    """One vote task's data per member of the contract's committee, in the round of the
    process's current vote (``process.data["vote"]``)."""
    committee = _contract(activation).steering_committee
    member_ids = (
        committee.members.through.objects.filter(steeringcommittee_id=committee.pk)
        .order_by("pk")
        .values_list("user_id", flat=True)
    )
    vote_id = activation.process.data["vote"]
    return [{"assignee": member_id, "committee_vote": vote_id, **extra} for member_id in member_ids]


def _vote_is_decided(vote: CommitteeVote, active_tasks) -> bool:
    """The committee's rule: decided once the outcome can no longer change."""
    return vote.outcome_when(vote.tally(), open_votes=len(active_tasks)) is not None


def _new_vote(contract: Contract, **fields: Any) -> CommitteeVote:
    """A new round of the committee's vote (the contract's and its annual reports' rounds are
    numbered together)."""
    committee = contract.steering_committee
    return CommitteeVote.objects.create(
        contract=contract,
        round=contract.votes.count() + 1,
        contract_version=contract.version,
        quorum=committee.quorum,
        members=committee.members.count(),
        **fields,
    )


class ActionReviewFlow(flow.Flow):
    """Review of an action sheet

    Each lead of the action's working group reviews the sheet. All approve: the action is
    approved. One asks for changes: the others' reviews are cancelled and the pilot revises
    the sheet; resubmitting it reopens the review for every lead.
    """

    process_class = Process
    task_class = Task
    lock_impl = contract_lock

    start = Begin(this.begin).Next(this.review_by_leads).Annotation(title=_("Review launched"))
    start_revision = (
        Begin(this.begin).Next(this.revise).Annotation(title=_("Objected to by the committee"))
    )
    review_by_leads = (
        ForEach(this.leads).Next(this.review).Annotation(title=_("One review per lead"))
    )
    review = (
        HumanTask(TaskKind.REVIEW, this.assign_review)
        .Next(this.reviewed)
        .Annotation(title=_("Review by a lead"))
    )
    reviewed = (
        Gather(continue_on_condition=this.changes_requested_in_round)
        .Next(this.conclude_review)
        .Annotation(title=_("Reviews in"))
    )
    conclude_review = (
        Conclude(this.fire_review_outcome)
        .Then(this.end)
        .Else(this.revise)
        .Annotation(title=_("Approved by every lead?"))
    )
    revise = (
        HumanTask(TaskKind.REVISION, this.assign_revision)
        .Next(this.resubmit)
        .Annotation(title=_("Revision by the pilot"))
    )
    resubmit = (
        flow.Function(this.fire_resubmit)
        .Next(this.review_by_leads)
        .Annotation(title=_("Sent back for review"))
    )
    end = Finish().Annotation(title=_("Approved"))

    def begin(self, activation: Activation, *, action: Action, unit: UnitOfWork) -> Process:
        activation.process.contract = unit.contract
        unit.drive(activation.process)
        activation.process.action = action
        activation.process.contract_version = unit.contract.version
        return activation.process

    def leads(self, activation: Activation) -> list[dict[str, Any]]:
        group_id = activation.process.action.working_group_id
        lead_ids = _unit(activation).once(
            ("leads", group_id),
            lambda: list(
                WorkingGroup.leads.through.objects.filter(workinggroup_id=group_id)
                .order_by("pk")
                .values_list("user_id", flat=True)
            ),
        )
        return [{"assignee": lead_id} for lead_id in lead_ids]

    def assign_review(self, activation: Activation, data: dict) -> Assignment:
        return Assignment(assignee_id=data["assignee"])

    def changes_requested_in_round(self, activation: Activation, active_tasks) -> bool:
        """One lead asking for changes decides the round (the others' reviews are cancelled).
        Only the review arriving can be that one: an earlier request would have closed the
        round already."""
        if activation.arrived is not None:
            return activation.arrived.decision == TaskDecision.REQUEST_CHANGES
        return activation.task.previous.filter(
            status=TaskStatus.DONE, decision=TaskDecision.REQUEST_CHANGES
        ).exists()

    def fire_review_outcome(self, activation: Activation) -> bool:
        """Approve the action, or send it back to its pilot; True when approved."""
        arrived = activation.arrived
        if arrived is not None:
            decisive = arrived if arrived.decision == TaskDecision.REQUEST_CHANGES else None
        else:  # the reviews that led to the join that led here
            decisive = (
                Task.objects.filter(
                    leading__leading=activation.task,
                    status=TaskStatus.DONE,
                    decision=TaskDecision.REQUEST_CHANGES,
                )
                .select_related("owner", "on_behalf_of")
                .order_by("finished")
                .first()
            )
        unit = _unit(activation)
        if decisive:
            transitions.action_request_changes(
                unit,
                activation.process.action,
                actor=decisive.owner,
                on_behalf_of=decisive.on_behalf_of,
                comment=decisive.comment,
            )
            return False
        transitions.action_approve(unit, activation.process.action, actor=None)
        self._wake_contract_flow(unit)
        return True

    def assign_revision(self, activation: Activation, data: dict) -> Assignment:
        return Assignment(assignee_id=activation.process.action.pilot_id)

    def fire_resubmit(self, activation: Activation) -> None:
        revision = _previous_task(activation)
        assert revision.owner is not None  # a completed task, held by whoever completed it
        transitions.action_resubmit(
            _unit(activation),
            activation.process.action,
            actor=revision.owner,
            on_behalf_of=revision.on_behalf_of,
            comment=revision.comment,
        )

    def _wake_contract_flow(self, unit: UnitOfWork) -> None:
        """The last action approved moves the contract on to its committee."""
        contract_id = unit.contract.pk
        if (
            Action.objects.in_contract()
            .filter(contract_id=contract_id)
            .exclude(status=ActionStatus.APPROVED)
            .exists()
        ):
            return
        waiting = Task.objects.filter(
            process__contract_id=contract_id,
            process__flow_class=ContractFlow,
            flow_task=ContractFlow.await_reviews,
            status=TaskStatus.NEW,
        ).first()
        if waiting is not None:
            ContractFlow.await_reviews.run(waiting, unit=unit)


class CommitteeVoting:
    """The steering committee's vote, as nodes of a flow: one vote task per member of the
    committee, gathered until the vote is decided (quorum and majority, decided early once
    the outcome cannot change, or closed by the chair: ``services.voting``).

    The contract, its annual reports and its amendments are voted on by the same rules; each
    flow opens the round before ``call_votes`` (``_new_vote``, kept in ``process.data["vote"]``)
    and declares ``count_votes``, what the outcome leads to. Its nodes are copied into each
    flow that lists this class among its bases (viewflow collects a flow's nodes from all of
    its attributes, inherited ones included).
    """

    call_votes = (
        ForEach(this.committee_members).Next(this.vote).Annotation(title=_("One vote per member"))
    )
    vote = (
        HumanTask(TaskKind.VOTE, this.assign_vote)
        .Next(this.votes_in)
        .Annotation(title=_("Vote of a member"))
    )
    votes_in = (
        Gather(continue_on_condition=this.vote_is_decided)
        .Next(this.count_votes)
        .Annotation(title=_("Vote decided"))
    )

    def _current_vote(self, activation: Activation) -> CommitteeVote:
        return CommitteeVote.objects.get(pk=activation.process.data["vote"])

    def committee_members(self, activation: Activation) -> list[dict[str, Any]]:
        return _committee_members(activation)

    def assign_vote(self, activation: Activation, data: dict) -> Assignment:
        return Assignment(assignee_id=data["assignee"], committee_vote_id=data["committee_vote"])

    def vote_is_decided(self, activation: Activation, active_tasks) -> bool:
        return _vote_is_decided(self._current_vote(activation), active_tasks)

    def is_validated(self, activation: Activation) -> bool:
        return self._current_vote(activation).outcome == CommitteeVote.Outcome.VALIDATED


class Signing:
    """The signatures, as nodes of a flow: the signatories of the lowest order still pending
    sign in parallel, order group after order group; a mandatory signatory's decline ends
    the round at once, back to draft.

    The contract's and the amendment's signatures follow the same rules over different rows
    (``Signatory``, ``AmendmentParty``): the flow says who signs next
    (``next_signatories``, ``assign_signature``), whether a mandatory one declined
    (``mandatory_decline``), records the outcome (``fire_signing_outcome``) and says where it
    left things (``returned_to_draft``, ``signatures_pending``).
    """

    call_signatories = (
        ForEach(this.next_signatories)
        .Next(this.visa_or_sign)
        .Annotation(title=_("Next signatories, by order"))
    )
    visa_or_sign = (
        flow.If(this.visa_pending)
        .Then(this.visa, task_data=this.branch_data)
        .Else(this.sign, task_data=this.branch_data)
        .Annotation(title=_("An internal visa still to give?"))
    )
    visa = (
        HumanTask(TaskKind.VISA, this.assign_visa)
        .Next(this.visa_given, task_data=this.after_visa)
        .Annotation(title=_("Internal visa"))
    )
    visa_given = (
        flow.If(this.visa_approved)
        .Then(this.visa_or_sign, task_data=this.branch_data)
        .Else(this.signatures_in)
        .Annotation(title=_("Visa given?"))
    )
    sign = (
        HumanTask(TaskKind.SIGNATURE, this.assign_signature)
        .Next(this.signatures_in)
        .Annotation(title=_("Signature"))
    )
    signatures_in = (
        Gather(continue_on_condition=this.mandatory_decline)
        .Next(this.conclude_signatures)
        .Annotation(title=_("Signatures of the order group in"))
    )
    conclude_signatures = (
        flow.Function(this.fire_signing_outcome)
        .Next(this.signing_outcome)
        .Annotation(title=_("Signatures collected"))
    )
    signing_outcome = (
        flow.Switch()
        .Case(this.back_to_draft, this.returned_to_draft)
        .Case(this.call_signatories, this.signatures_pending)
        .Default(this.signed)
        .Annotation(title=_("Next step of the signing"))
    )
    signed = Finish().Annotation(title=_("Signed"))
    back_to_draft = Finish().Annotation(title=_("Back to draft"))

    # A signatory's branch carries its data from node to node: ``signatory`` (or ``party``),
    # ``visas`` (its circuit, the people's ids in order, read when the branch opens) and
    # ``visa`` (how many of them gave theirs so far).

    def visa_holders(self, activation: Activation, data: dict) -> list[int]:
        """The branch's signatory's visa circuit, in order (each flow reads its own rows)."""
        raise NotImplementedError

    def visa_pending(self, activation: Activation) -> bool:
        data = activation.task.data
        if "visas" not in data:  # the branch opens: its circuit is read once, then carried
            data["visas"] = self.visa_holders(activation, data)
            data["visa"] = 0
        return data["visa"] < len(data["visas"])

    def branch_data(self, activation: Activation) -> dict[str, Any]:
        return dict(activation.task.data)

    def after_visa(self, activation: Activation) -> dict[str, Any]:
        """The visa task's data for the gateway after it: one more visa given, or refused
        (the branch then goes to the join: a refused visa is the signatory's decline)."""
        data = dict(activation.task.data)
        if activation.task.decision == TaskDecision.REFUSE:
            data["refused"] = True
        else:
            data["visa"] = data["visa"] + 1
        return data

    def visa_approved(self, activation: Activation) -> bool:
        return not activation.task.data.get("refused")


class ContractFlow(CommitteeVoting, Signing, flow.Flow):
    """Approval of a contract

    Working-group review of every action, steering-committee vote, council deliberation,
    then the signatures, order group by order group.
    """

    process_class = Process
    task_class = Task
    lock_impl = contract_lock

    start = Begin(this.begin).Next(this.start_action_reviews).Annotation(title=_("Review launched"))
    start_action_reviews = (
        flow.Function(this.launch_action_reviews)
        .Next(this.await_reviews)
        .Annotation(title=_("Reviews of the action sheets"))
    )
    await_reviews = (
        flow.Handle(this.reviews_in)
        .Next(this.open_committee)
        .Annotation(title=_("Every action approved"))
    )
    open_committee = (
        flow.Function(this.fire_open_committee)
        .Next(this.call_votes)
        .Annotation(title=_("Committee vote opened"))
    )
    count_votes = (
        flow.Function(this.fire_vote_outcome)
        .Next(this.validated)
        .Annotation(title=_("Outcome of the vote"))
    )
    validated = (
        flow.If(this.is_validated)
        .Then(this.deliberation)
        .Else(this.start_revisions)
        .Annotation(title=_("Validated by the committee?"))
    )
    start_revisions = (
        flow.Function(this.launch_revisions)
        .Next(this.await_reviews)
        .Annotation(title=_("Revisions of the actions objected to"))
    )
    deliberation = (
        HumanTask(TaskKind.DELIBERATION, this.assign_deliberation)
        .Next(this.record_deliberation)
        .Annotation(title=_("Council deliberation"))
    )
    record_deliberation = (
        flow.Function(this.fire_record_deliberation)
        .Next(this.call_signatories)
        .Annotation(title=_("Document frozen, signing opens"))
    )

    # --- review -----------------------------------------------------------------------

    def begin(self, activation: Activation, *, contract: Contract, unit: UnitOfWork) -> Process:
        activation.process.contract = contract
        unit.drive(activation.process)
        activation.process.contract_version = contract.version
        return activation.process

    def reviews_in(self, activation: Activation, *, unit: UnitOfWork) -> None:
        """Woken by the last action approved, inside that decision's unit of work."""
        unit.drive(activation.process)

    def launch_action_reviews(self, activation: Activation) -> None:
        unit = _unit(activation)
        for action in _contract(activation).actions.filter(status=ActionStatus.REVIEW):
            ActionReviewFlow.start.run(action=action, unit=unit)

    def launch_revisions(self, activation: Activation) -> None:
        unit = _unit(activation)
        for action in _contract(activation).actions.filter(status=ActionStatus.CHANGES_REQUESTED):
            ActionReviewFlow.start_revision.run(action=action, unit=unit)

    # --- committee --------------------------------------------------------------------

    def fire_open_committee(self, activation: Activation) -> None:
        transitions.open_committee(_unit(activation))
        vote = _new_vote(_contract(activation))
        activation.process.data["vote"] = vote.pk
        activation.process.save(update_fields=["data"])

    def fire_vote_outcome(self, activation: Activation) -> None:
        transitions.committee_vote_conclude(_unit(activation), vote=self._current_vote(activation))

    # --- deliberation -----------------------------------------------------------------

    def assign_deliberation(self, activation: Activation, data: dict) -> Assignment:
        contract = _contract(activation)
        first = contract.coordinators.through.objects.filter(contract_id=contract.pk).order_by("pk")
        return Assignment(assignee_id=first.values_list("user_id", flat=True)[0])

    def fire_record_deliberation(self, activation: Activation) -> None:
        task = _previous_task(activation)
        assert task.owner is not None  # a completed task, held by whoever completed it
        transitions.record_deliberation(
            _unit(activation),
            actor=task.owner,
            on_behalf_of=task.on_behalf_of,
            number=task.data["number"],
            date=task.data["date"],
            comment=task.comment,
        )

    # --- signatures -------------------------------------------------------------------

    def next_signatories(self, activation: Activation) -> list[dict[str, Any]]:
        """The pending signatories of the lowest order: they sign in parallel."""
        pending = Signatory.objects.filter(
            contract_id=activation.process.contract_id, status=SignatoryStatus.PENDING
        ).order_by("order", "pk")
        first = pending.first()
        if first is None:
            return []
        return [
            {"signatory": signatory.pk}
            for signatory in pending.filter(order=first.order).only("pk")
        ]

    def assign_signature(self, activation: Activation, data: dict) -> Assignment:
        signatory = Signatory.objects.only("signer_id", "represented_by_id").get(
            pk=data["signatory"]
        )
        if signatory.represented_by_id:
            return Assignment(
                assignee_id=signatory.represented_by_id,
                on_behalf_of_id=signatory.signer_id,
                signatory_id=signatory.pk,
            )
        return Assignment(assignee_id=signatory.signer_id, signatory_id=signatory.pk)

    def visa_holders(self, activation: Activation, data: dict) -> list[int]:
        return Signatory.objects.get(pk=data["signatory"]).visa_holders()

    def assign_visa(self, activation: Activation, data: dict) -> Assignment:
        return Assignment(assignee_id=data["visas"][data["visa"]], signatory_id=data["signatory"])

    def mandatory_decline(self, activation: Activation, active_tasks) -> bool:
        return Signatory.objects.filter(
            contract_id=activation.process.contract_id,
            kind=SignatoryKind.MANDATORY,
            status=SignatoryStatus.DECLINED,
        ).exists()

    def fire_signing_outcome(self, activation: Activation) -> None:
        contract = _contract(activation)
        declined = (
            Task.objects.filter(
                Q(kind=TaskKind.SIGNATURE, decision=TaskDecision.DECLINE)
                | Q(kind=TaskKind.VISA, decision=TaskDecision.REFUSE),
                process=activation.process,
                signatory__kind=SignatoryKind.MANDATORY,
            )
            .select_related("signatory__organisation", "signatory__signer", "owner", "on_behalf_of")
            .order_by("-finished")
            .first()
        )
        if declined is not None:
            # A signature or visa task (its signatory, filtered on), held by whoever declined.
            signatory = declined.signatory
            assert signatory is not None
            assert declined.owner is not None
            transitions.return_to_draft(
                _unit(activation),
                signatory=signatory,
                actor=declined.owner,
                on_behalf_of=_declined_for(declined, signatory),
                reason=declined.comment,
            )
        elif not contract.signatories.filter(status=SignatoryStatus.PENDING).exists():
            transitions.complete_signing(_unit(activation))

    def _status(self, activation: Activation) -> str:
        return Contract.objects.values_list("status", flat=True).get(
            pk=activation.process.contract_id
        )

    def returned_to_draft(self, activation: Activation) -> bool:
        return self._status(activation) == ContractStatus.DRAFT

    def signatures_pending(self, activation: Activation) -> bool:
        return self._status(activation) == ContractStatus.SIGNING


class AnnualReviewFlow(CommitteeVoting, flow.Flow):
    """Annual review of a signed contract

    Each pilot of an action still running reports on its year (progress, indicator values,
    comment); once every report is in, or a coordinator closes the collection, the steering
    committee votes on the annual report as it votes on the contract (same quorum and
    majority, decided early, or closed by the chair); the decision keeps the report as PDF.

    A flow rather than statuses moved by hand: the reports and the votes are the same kind
    of parallel human tasks as the contract's reviews and votes (``ForEach``/``HumanTask``/
    ``Gather``), so they get the same exactly-once completion, absences, suspension and
    reminders for free. ``AnnualReview`` is the row the pages and the API find a year by.
    """

    process_class = Process
    task_class = Task
    lock_impl = contract_lock

    start = Begin(this.begin).Next(this.call_reports).Annotation(title=_("Annual review launched"))
    call_reports = (
        ForEach(this.running_actions)
        .Next(this.report)
        .Annotation(title=_("One report per action running"))
    )
    report = (
        HumanTask(TaskKind.REPORT, this.assign_report)
        .Next(this.reports_in)
        .Annotation(title=_("Report of a pilot"))
    )
    reports_in = (
        Gather(continue_on_condition=this.collection_closed)
        .Next(this.open_vote)
        .Annotation(title=_("Reports in"))
    )
    open_vote = (
        flow.Function(this.fire_open_vote)
        .Next(this.call_votes)
        .Annotation(title=_("Committee vote on the report opened"))
    )
    count_votes = (
        flow.Function(this.fire_vote_outcome)
        .Next(this.end)
        .Annotation(title=_("Report adopted or rejected, its PDF kept"))
    )
    end = Finish().Annotation(title=_("Annual report decided"))

    def begin(self, activation: Activation, *, review: AnnualReview, unit: UnitOfWork) -> Process:
        activation.process.contract = unit.contract
        unit.drive(activation.process)
        activation.process.contract_version = unit.contract.version
        activation.process.data = {"review": review.pk, "year": review.year}
        return activation.process

    def _review(self, activation: Activation) -> AnnualReview:
        return AnnualReview.objects.get(pk=activation.process.data["review"])

    def running_actions(self, activation: Activation) -> list[dict[str, Any]]:
        year = activation.process.data["year"]
        return [
            {"assignee": pilot_id, "action": action_id, "year": year}
            for action_id, pilot_id in _contract(activation)
            .actions.filter(status__in=ANNUAL_REPORT_STATES)
            .order_by("theme__position", "position", "pk")
            .values_list("pk", "pilot_id")
        ]

    def assign_report(self, activation: Activation, data: dict) -> Assignment:
        return Assignment(assignee_id=data["assignee"], action_id=data["action"])

    def collection_closed(self, activation: Activation, active_tasks) -> bool:
        """A coordinator closed the collection: the reports still open are cancelled."""
        return self._review(activation).collection_closed_at is not None

    def fire_open_vote(self, activation: Activation) -> None:
        review = self._review(activation)
        review.status = AnnualReviewStatus.VOTING
        review.save(update_fields=["status"])
        vote = _new_vote(_contract(activation), annual_review=review)
        activation.process.data["vote"] = vote.pk
        activation.process.save(update_fields=["data"])

    def committee_members(self, activation: Activation) -> list[dict[str, Any]]:
        return _committee_members(activation, year=activation.process.data["year"])

    def fire_vote_outcome(self, activation: Activation) -> None:
        transitions.annual_report_conclude(
            _unit(activation),
            review=self._review(activation),
            vote=self._current_vote(activation),
        )


def _amendment(activation: Activation) -> Amendment:
    amendment = Amendment.objects.get(pk=activation.process.data["amendment"])
    amendment.contract = _contract(activation)
    return amendment


class AmendmentChangeReviewFlow(flow.Flow):
    """Review of a sheet an amendment adds or modifies

    As an action sheet's review: each lead of the working group the proposed sheet names
    reviews the proposal; all approve, it is approved; one asks for changes, the others'
    reviews are cancelled and the amendment's pilot of the sheet (else its first coordinator)
    revises it; resubmitting reopens the review for every lead. The last proposal approved
    moves the amendment on to its committee.
    """

    process_class = Process
    task_class = Task
    lock_impl = contract_lock

    start = (
        Begin(this.begin)
        .Next(this.review_by_leads)
        .Annotation(title=_("Review of the proposal launched"))
    )
    review_by_leads = (
        ForEach(this.leads).Next(this.review).Annotation(title=_("One review per lead"))
    )
    review = (
        HumanTask(TaskKind.REVIEW, this.assign_review)
        .Next(this.reviewed)
        .Annotation(title=_("Review by a lead"))
    )
    reviewed = (
        Gather(continue_on_condition=this.changes_requested_in_round)
        .Next(this.conclude_review)
        .Annotation(title=_("Reviews in"))
    )
    conclude_review = (
        Conclude(this.fire_review_outcome)
        .Then(this.end)
        .Else(this.revise)
        .Annotation(title=_("Approved by every lead?"))
    )
    revise = (
        HumanTask(TaskKind.REVISION, this.assign_revision)
        .Next(this.resubmit)
        .Annotation(title=_("Revision of the proposal"))
    )
    resubmit = (
        flow.Function(this.fire_resubmit)
        .Next(this.review_by_leads)
        .Annotation(title=_("Sent back for review"))
    )
    end = Finish().Annotation(title=_("Approved"))

    def begin(
        self, activation: Activation, *, change: AmendmentChange, unit: UnitOfWork
    ) -> Process:
        activation.process.contract = unit.contract
        unit.drive(activation.process)
        activation.process.contract_version = unit.contract.version
        activation.process.data = {"amendment": change.amendment_id, "change": change.pk}
        return activation.process

    def _change(self, activation: Activation) -> AmendmentChange:
        change = AmendmentChange.objects.select_related("amendment").get(
            pk=activation.process.data["change"]
        )
        change.amendment.contract = _contract(activation)
        return change

    def leads(self, activation: Activation) -> list[dict[str, Any]]:
        change = self._change(activation)
        group_code = change.content.get("working_group")
        group = _contract(activation).working_groups.filter(code=group_code).first()
        lead_ids = (
            list(
                WorkingGroup.leads.through.objects.filter(workinggroup_id=group.pk)
                .order_by("pk")
                .values_list("user_id", flat=True)
            )
            if group is not None
            else []
        )
        return [{"assignee": lead_id} for lead_id in lead_ids]

    def _assignment(self, activation: Activation, assignee_id: int) -> Assignment:
        return Assignment(
            assignee_id=assignee_id,
            amendment_id=activation.process.data["amendment"],
            amendment_change_id=activation.process.data["change"],
        )

    def assign_review(self, activation: Activation, data: dict) -> Assignment:
        return self._assignment(activation, data["assignee"])

    def changes_requested_in_round(self, activation: Activation, active_tasks) -> bool:
        if activation.arrived is not None:
            return activation.arrived.decision == TaskDecision.REQUEST_CHANGES
        return activation.task.previous.filter(
            status=TaskStatus.DONE, decision=TaskDecision.REQUEST_CHANGES
        ).exists()

    def fire_review_outcome(self, activation: Activation) -> bool:
        """Approve the proposal, or send it back for revision; True when approved."""
        arrived = activation.arrived
        if arrived is not None:
            decisive = arrived if arrived.decision == TaskDecision.REQUEST_CHANGES else None
        else:
            decisive = (
                Task.objects.filter(
                    leading__leading=activation.task,
                    status=TaskStatus.DONE,
                    decision=TaskDecision.REQUEST_CHANGES,
                )
                .select_related("owner", "on_behalf_of")
                .order_by("finished")
                .first()
            )
        unit = _unit(activation)
        change = self._change(activation)
        if decisive:
            transitions.amendment_change_reviewed(
                unit,
                change,
                ChangeReview.CHANGES_REQUESTED,
                actor=decisive.owner,
                on_behalf_of=decisive.on_behalf_of,
                comment=decisive.comment,
            )
            return False
        transitions.amendment_change_reviewed(unit, change, ChangeReview.APPROVED, actor=None)
        self._wake_amendment_flow(unit, change.amendment)
        return True

    def assign_revision(self, activation: Activation, data: dict) -> Assignment:
        change = self._change(activation)
        contract = _contract(activation)
        pilot = User.objects.filter(username=change.content.get("pilot") or "").first()
        coordinators = contract.coordinators.through.objects.filter(contract_id=contract.pk)
        if pilot is None or not contract.coordinators.filter(pk=pilot.pk).exists():
            # The proposal is the coordinators' to write (only they edit an amendment).
            assignee = coordinators.order_by("pk").values_list("user_id", flat=True)[0]
        else:
            assignee = pilot.pk
        return self._assignment(activation, assignee)

    def fire_resubmit(self, activation: Activation) -> None:
        revision = _previous_task(activation)
        transitions.amendment_change_reviewed(
            _unit(activation),
            self._change(activation),
            ChangeReview.REVIEW,
            actor=revision.owner,
            on_behalf_of=revision.on_behalf_of,
            comment=revision.comment,
        )

    def _wake_amendment_flow(self, unit: UnitOfWork, amendment: Amendment) -> None:
        """The last proposal approved moves the amendment on to its committee."""
        if amendment.changes.exclude(review_status=ChangeReview.APPROVED).exists():
            return
        waiting = Task.objects.filter(
            process__contract_id=unit.contract.pk,
            process__flow_class=AmendmentFlow,
            flow_task=AmendmentFlow.await_reviews,
            status=TaskStatus.NEW,
        ).first()
        if waiting is not None:
            AmendmentFlow.await_reviews.run(waiting, unit=unit)


class AmendmentFlow(CommitteeVoting, Signing, flow.Flow):
    """Approval of an amendment

    One process per amendment round (its version): the sheets it adds or modifies are
    reviewed by their working groups' leads (``AmendmentChangeReviewFlow``), the steering
    committee votes on it (the contract's vote rules: quorum, majority, decided early), a
    coordinator records the council's deliberation (which freezes the amendment's document
    with a field per concerned party), then the concerned parties sign, order group by order
    group. A mandatory decline, or the committee's rejection, ends the round with the
    amendment back to draft; once signed, the verb that decided the last signature
    consolidates the amendment into the contract (``services.consolidation``).

    A flow, as the contract's and the annual review's: the amendment's tasks are the same
    parallel human tasks, and get the same exactly-once completion, absences, suspension and
    reminders; its nodes fire the amendment's transitions through ``workflows.transitions``.
    """

    process_class = Process
    task_class = Task
    lock_impl = contract_lock

    start = (
        Begin(this.begin)
        .Next(this.start_change_reviews)
        .Annotation(title=_("Amendment's review launched"))
    )
    start_change_reviews = (
        flow.Function(this.launch_change_reviews)
        .Next(this.any_review)
        .Annotation(title=_("Reviews of the sheets added or modified"))
    )
    any_review = (
        flow.If(this.has_reviews)
        .Then(this.await_reviews)
        .Else(this.open_committee)
        .Annotation(title=_("Any sheet to review?"))
    )
    await_reviews = (
        flow.Handle(this.reviews_in)
        .Next(this.open_committee)
        .Annotation(title=_("Every proposal approved"))
    )
    open_committee = (
        flow.Function(this.fire_open_committee)
        .Next(this.call_votes)
        .Annotation(title=_("Committee vote opened"))
    )
    count_votes = (
        flow.Function(this.fire_vote_outcome)
        .Next(this.validated)
        .Annotation(title=_("Outcome of the vote"))
    )
    validated = (
        flow.If(this.is_validated)
        .Then(this.await_deliberation)
        .Else(this.rejected)
        .Annotation(title=_("Validated by the committee?"))
    )
    await_deliberation = (
        flow.Handle(this.deliberation_recorded)
        .Next(this.call_signatories)
        .Annotation(title=_("Council deliberation recorded, document frozen"))
    )
    rejected = Finish().Annotation(title=_("Rejected by the committee: back to draft"))

    def begin(self, activation: Activation, *, amendment: Amendment, unit: UnitOfWork) -> Process:
        activation.process.contract = unit.contract
        unit.drive(activation.process)
        activation.process.contract_version = unit.contract.version
        activation.process.data = {"amendment": amendment.pk, "version": amendment.version}
        return activation.process

    def launch_change_reviews(self, activation: Activation) -> None:
        unit = _unit(activation)
        for change in (
            _amendment(activation).changes.filter(review_status=ChangeReview.REVIEW).order_by("pk")
        ):
            AmendmentChangeReviewFlow.start.run(change=change, unit=unit)

    def has_reviews(self, activation: Activation) -> bool:
        return _amendment(activation).changes.exclude(review_status=ChangeReview.APPROVED).exists()

    def reviews_in(self, activation: Activation, *, unit: UnitOfWork) -> None:
        unit.drive(activation.process)

    def fire_open_committee(self, activation: Activation) -> None:
        amendment = _amendment(activation)
        transitions.amendment_open_committee(_unit(activation), amendment)
        vote = _new_vote(_contract(activation), amendment=amendment)
        activation.process.data["vote"] = vote.pk
        activation.process.save(update_fields=["data"])

    def assign_vote(self, activation: Activation, data: dict) -> Assignment:
        return Assignment(
            assignee_id=data["assignee"],
            committee_vote_id=data["committee_vote"],
            amendment_id=activation.process.data["amendment"],
        )

    def fire_vote_outcome(self, activation: Activation) -> None:
        transitions.amendment_vote_conclude(
            _unit(activation), _amendment(activation), vote=self._current_vote(activation)
        )

    def deliberation_recorded(self, activation: Activation, *, unit: UnitOfWork) -> None:
        """Woken by the coordinator's ``record_deliberation``, inside its unit of work."""
        unit.drive(activation.process)

    def _parties(self, activation: Activation):
        return AmendmentParty.objects.filter(
            amendment_id=activation.process.data["amendment"],
            amendment_version=activation.process.data["version"],
        )

    def next_signatories(self, activation: Activation) -> list[dict[str, Any]]:
        """The pending concerned parties of the lowest order: they sign in parallel."""
        pending = self._parties(activation).filter(status=AmendmentPartyStatus.PENDING)
        first = pending.order_by("order", "pk").first()
        if first is None:
            return []
        return [
            {"party": pk} for pk in pending.filter(order=first.order).values_list("pk", flat=True)
        ]

    def assign_signature(self, activation: Activation, data: dict) -> Assignment:
        party = AmendmentParty.objects.only("signer_id", "represented_by_id").get(pk=data["party"])
        amendment_id = activation.process.data["amendment"]
        if party.represented_by_id:
            return Assignment(
                assignee_id=party.represented_by_id,
                on_behalf_of_id=party.signer_id,
                amendment_id=amendment_id,
                amendment_party_id=party.pk,
            )
        return Assignment(
            assignee_id=party.signer_id, amendment_id=amendment_id, amendment_party_id=party.pk
        )

    def visa_holders(self, activation: Activation, data: dict) -> list[int]:
        return AmendmentParty.objects.get(pk=data["party"]).visa_holders()

    def assign_visa(self, activation: Activation, data: dict) -> Assignment:
        return Assignment(
            assignee_id=data["visas"][data["visa"]],
            amendment_id=activation.process.data["amendment"],
            amendment_party_id=data["party"],
        )

    def mandatory_decline(self, activation: Activation, active_tasks) -> bool:
        return (
            self._parties(activation)
            .filter(kind=SignatoryKind.MANDATORY, status=AmendmentPartyStatus.DECLINED)
            .exists()
        )

    def fire_signing_outcome(self, activation: Activation) -> None:
        amendment = _amendment(activation)
        parties = self._parties(activation)
        declined = (
            parties.filter(kind=SignatoryKind.MANDATORY, status=AmendmentPartyStatus.DECLINED)
            .select_related("organisation", "signer")
            .order_by("-decided_at")
            .first()
        )
        unit = _unit(activation)
        if declined is not None:
            task = (
                Task.objects.filter(
                    Q(kind=TaskKind.SIGNATURE, decision=TaskDecision.DECLINE)
                    | Q(kind=TaskKind.VISA, decision=TaskDecision.REFUSE),
                    amendment_party=declined,
                )
                .select_related("owner", "on_behalf_of")
                .order_by("-finished")
                .first()
            )
            assert task is not None  # the decline's (or the refused visa's) own task
            assert task.owner is not None
            transitions.amendment_return_to_draft(
                unit,
                amendment,
                party=declined,
                actor=task.owner,
                on_behalf_of=_declined_for(task, declined),
                reason=task.comment,
            )
        elif not parties.filter(status=AmendmentPartyStatus.PENDING).exists():
            transitions.amendment_complete_signing(unit, amendment)

    def _status(self, activation: Activation) -> str:
        return Amendment.objects.values_list("status", flat=True).get(
            pk=activation.process.data["amendment"]
        )

    def returned_to_draft(self, activation: Activation) -> bool:
        return self._status(activation) == AmendmentStatus.DRAFT

    def signatures_pending(self, activation: Activation) -> bool:
        return self._status(activation) == AmendmentStatus.SIGNING


class OpinionFlow(flow.Flow):
    """An opinion asked

    The holder of a task asks someone who sees the contract for an opinion
    (``services.opinion_ask``): that person gets an ``opinion`` task, answered with a comment
    through ``services.task_decide``; the asking task stays with its holder. A flow of one
    human task so that the opinion gets what every task gets: the inbox, a due date,
    reminders, absences, suspension and notifications.
    """

    process_class = Process
    task_class = Task
    lock_impl = contract_lock

    start = (
        Begin(this.begin)
        .Next(this.opinion, task_data=this.question)
        .Annotation(title=_("Opinion asked"))
    )
    opinion = (
        HumanTask(TaskKind.OPINION, this.assign_opinion)
        .Next(this.end)
        .Annotation(title=_("Opinion given"))
    )
    end = Finish().Annotation(title=_("Opinion given"))

    def begin(
        self,
        activation: Activation,
        *,
        asking: Task,
        person: User,
        question: str,
        unit: UnitOfWork,
    ) -> Process:
        activation.process.contract = unit.contract
        unit.drive(activation.process)
        activation.process.action_id = asking.action_id
        activation.process.contract_version = unit.contract.version
        activation.process.data = {
            "asked_by_task": asking.pk,
            "person": person.pk,
            "question": question,
        }
        return activation.process

    def question(self, activation: Activation) -> dict[str, Any]:
        return {"question": activation.process.data["question"]}

    def assign_opinion(self, activation: Activation, data: dict) -> Assignment:
        process_data = activation.process.data
        return Assignment(
            assignee_id=process_data["person"],
            action_id=activation.process.action_id,
            asked_by_task_id=process_data["asked_by_task"],
        )


# The actions whose pilots report in an annual review: those neither done nor abandoned.
ANNUAL_REPORT_STATES = (ActionStatus.VALIDATED, ActionStatus.IN_PROGRESS)

FLOWS = (
    ContractFlow,
    ActionReviewFlow,
    AnnualReviewFlow,
    AmendmentFlow,
    AmendmentChangeReviewFlow,
    OpinionFlow,
)

# The words of each decision, for the pages and the API.
DECISION_LABELS = {decision.value: decision.label for decision in TaskDecision}
