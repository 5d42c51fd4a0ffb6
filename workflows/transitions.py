"""The steps that move a contract or an action from one state to another.

Every FSM transition is fired here, by ``fire`` (and ``fire_on_actions`` for a cascade over
the actions), inside a ``UnitOfWork`` that holds the contract's row lock: the transition, its
cascades and their history entries commit together or not at all. The functions below are
the steps of the verbs of ``workflows.services`` (a coordinator's step, a task's decision)
and of the flows those verbs drive; they receive the verb's unit of work and check nothing
about who acts, which the verb has done.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django_fsm import ConcurrentTransition

from .documents import (
    amendment_documents,
    annual_reports,
    committee_minutes,
    contract_documents,
)
from .errors import ApplicationError, Conflict
from .history import UnitOfWork
from .models import (
    Action,
    ActionStatus,
    Amendment,
    AmendmentChangeKind,
    AmendmentParty,
    AmendmentPartyStatus,
    AnnualReview,
    AnnualReviewStatus,
    ChangeReview,
    CommitteeVote,
    Contract,
    HistoryEvent,
    Signatory,
    SignatoryStatus,
    TaskDecision,
    TaskStatus,
    User,
    transition_label,
)
from .reports import annual_report_data, committee_minutes_data
from .rules import transition_blockers

# Stable messages, so that tests and API clients can rely on them.
NOT_A_COORDINATOR = gettext_noop("Only a coordinator of this contract may do this.")
CONTRACT_TRANSITION_NOT_ALLOWED = gettext_noop(
    '"%(transition)s" is not possible while the contract is "%(state)s".'
)
ACTION_TRANSITION_NOT_ALLOWED = gettext_noop(
    '"%(transition)s" is not possible while the action is "%(state)s".'
)
AMENDMENT_TRANSITION_NOT_ALLOWED = gettext_noop(
    '"%(transition)s" is not possible while the amendment is "%(state)s".'
)
CHANGED_MEANWHILE = gettext_noop("Someone else changed this meanwhile; reload and try again.")


# --- Firing transitions -------------------------------------------------------------------


def _apply(obj: Contract | Action | Amendment, name: str, **kwargs: Any) -> tuple[str, str]:
    """Fire FSM transition ``name`` on ``obj`` in memory, or refuse with a clear 409."""
    source = obj.status
    blockers = transition_blockers(obj, name)
    if blockers is None:
        refusal = (
            CONTRACT_TRANSITION_NOT_ALLOWED
            if isinstance(obj, Contract)
            else AMENDMENT_TRANSITION_NOT_ALLOWED
            if isinstance(obj, Amendment)
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


def fire(
    unit: UnitOfWork,
    obj: Contract | Action,
    name: str,
    *,
    actor: User | None,
    on_behalf_of: User | None = None,
    comment: str = "",
    data: dict[str, Any] | None = None,
    **kwargs: Any,
) -> tuple[str, str]:
    """Fire transition ``name`` of the unit's contract or of one of its actions, save it and
    record it; refuse with a clear 409 when it cannot fire. Returns (source, target)."""
    action = obj if isinstance(obj, Action) else None
    if action is not None:
        action.contract = unit.contract  # the locked instance, for guards that look at it
    source, target = _apply(obj, name, **kwargs)
    try:
        if action is not None:
            # Its transitions change its status only: writing just that column keeps
            # whatever else someone changed in the row meanwhile (an edit of its sheet).
            obj.save(update_fields=["status"])
        else:
            obj.save()
    except ConcurrentTransition as exc:
        raise Conflict(_(CHANGED_MEANWHILE)) from exc
    unit.record(
        event=HistoryEvent.ACTION_TRANSITION if action is not None else HistoryEvent.TRANSITION,
        actor=actor,
        on_behalf_of=on_behalf_of,
        name=name,
        action=action,
        from_state=source,
        to_state=target,
        comment=comment,
        data=data,
    )
    return source, target


def fire_on_actions(
    unit: UnitOfWork, actions: Iterable[Action], name: str, *, actor: User | None
) -> list[str]:
    """Fire transition ``name`` on every action, each checked as ``fire`` checks it, written
    in one UPDATE per source state and recorded together: a cascade over the contract's
    actions costs the same few statements for 38 actions or 400. Returns the actions' codes
    (the instances are not to be saved again: their rows were written by the UPDATE)."""
    moved = []
    for action in actions:
        action.contract = unit.contract  # the locked instance, for guards that look at it
        moved.append((action, *_apply(action, name)))
    for source, target in {(source, target) for _action, source, target in moved}:
        pks = [action.pk for action, from_, to in moved if (from_, to) == (source, target)]
        # The same check as django-fsm's on save: no row changed state since it was read.
        if Action.objects.filter(pk__in=pks, status=source).update(status=target) != len(pks):
            raise Conflict(_(CHANGED_MEANWHILE))
    unit.record_many(
        {
            "event": HistoryEvent.ACTION_TRANSITION,
            "actor": actor,
            "name": name,
            "action": action,
            "from_state": source,
            "to_state": target,
        }
        for action, source, target in moved
    )
    return [action.code for action, _source, _target in moved]


def actions_in(unit: UnitOfWork, *statuses: str) -> QuerySet[Action]:
    """The contract's actions in these states, locked, in the contract's order."""
    return (
        unit.contract.actions.filter(status__in=statuses).select_for_update().order_by("position")
    )


# --- A coordinator's steps ----------------------------------------------------------------


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


def launch_review(unit: UnitOfWork, *, actor: User) -> None:
    """The review opens: every draft action goes to review."""
    fire(unit, unit.contract, "launch_review", actor=actor)
    fire_on_actions(unit, actions_in(unit, ActionStatus.DRAFT), "submit_for_review", actor=actor)


def suspend(unit: UnitOfWork, *, actor: User, reason: str) -> None:
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(_("A reason is required to suspend a contract."))
    fire(unit, unit.contract, "suspend", actor=actor, comment=reason, reason=reason)


def resume(unit: UnitOfWork, *, actor: User, comment: str = "") -> None:
    contract = unit.contract
    # Recorded so that held tasks' due dates can move by the time spent suspended.
    suspended_for = timezone.now() - contract.suspended_at if contract.suspended_at else None
    data = {"suspended_for_seconds": int(suspended_for.total_seconds())} if suspended_for else {}
    fire(unit, contract, "resume", actor=actor, comment=comment, data=data)


def withdraw(unit: UnitOfWork, *, actor: User, reason: str) -> None:
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(_("A reason is required to withdraw a contract."))
    fire(unit, unit.contract, "withdraw", actor=actor, comment=reason, reason=reason)


def amendment_suspend(unit: UnitOfWork, amendment: Amendment, *, actor: User, reason: str) -> None:
    """Pause the amendment's circuit, as a contract's (its tasks are held by the verb)."""
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(_("A reason is required to suspend an amendment."))
    amendment_fire(unit, amendment, "suspend", actor=actor, comment=reason, reason=reason)


def amendment_resume(
    unit: UnitOfWork, amendment: Amendment, *, actor: User, comment: str = ""
) -> None:
    """Back to where the amendment's circuit was suspended."""
    suspended_at = amendment.suspended_at
    suspended_for = timezone.now() - suspended_at if suspended_at else None
    data = {"suspended_for_seconds": int(suspended_for.total_seconds())} if suspended_for else {}
    amendment_fire(unit, amendment, "resume", actor=actor, comment=comment, data=data)


def amendment_withdraw(unit: UnitOfWork, amendment: Amendment, *, actor: User, reason: str) -> None:
    """Give up an amendment of the unit's contract: its proposals stay, as what was
    proposed, and the contract stays as signed; another amendment may be opened."""
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(_("A reason is required to withdraw an amendment."))
    source, target = _apply(amendment, "withdraw", reason=reason)
    try:
        amendment.save()
    except ConcurrentTransition as exc:
        raise Conflict(_(CHANGED_MEANWHILE)) from exc
    unit.record(
        event=HistoryEvent.AMENDMENT_WITHDRAWN,
        actor=actor,
        name="withdraw",
        from_state=source,
        to_state=target,
        comment=reason,
        data={"amendment": amendment.number},
    )


def close(
    unit: UnitOfWork, *, actor: User, comment: str = "", data: dict[str, Any] | None = None
) -> None:
    fire(unit, unit.contract, "close", actor=actor, comment=comment, data=data)


# --- What follows from decisions (the flows' steps) ---------------------------------------


def record_deliberation(
    unit: UnitOfWork,
    *,
    actor: User,
    number: str,
    date: datetime.date | str,
    on_behalf_of: User | None = None,
    comment: str = "",
) -> None:
    """The council's approval: the document is frozen and signing opens."""
    contract = unit.contract
    if isinstance(date, str):
        date = datetime.date.fromisoformat(date)
    number = check_deliberation(number, date)
    contract.deliberation_number, contract.deliberation_date = number, date
    # The contract document is generated and frozen here; signers consent to its SHA-256.
    document_sha256 = contract_documents().freeze(contract)
    fire(
        unit,
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


def open_committee(unit: UnitOfWork) -> None:
    """Every action is approved: the steering committee takes over."""
    fire(unit, unit.contract, "open_committee", actor=None)


def committee_validate(unit: UnitOfWork, *, comment: str = "") -> None:
    """The committee validated the content: actions become validated, deliberation opens."""
    fire(unit, unit.contract, "committee_validate", actor=None, comment=comment)
    fire_on_actions(unit, actions_in(unit, ActionStatus.APPROVED), "validate", actor=None)


def committee_reject(
    unit: UnitOfWork, *, action_codes: Iterable[str] = (), comment: str = ""
) -> list[str]:
    """The committee rejected: the named actions (all when none is named) go back to revision.

    Returns the codes of the actions sent back, whose pilots get a revision task.
    """
    codes = sorted(set(action_codes))
    fire(
        unit,
        unit.contract,
        "committee_reject",
        actor=None,
        comment=comment,
        data={"actions": codes},
    )
    targets = actions_in(unit, ActionStatus.APPROVED)
    if codes:
        targets = targets.filter(code__in=codes)
    return fire_on_actions(unit, targets, "request_changes", actor=None)


def complete_signing(unit: UnitOfWork) -> None:
    """Every mandatory signatory signed and every associated one answered: in force (the
    signatures' reaction seals the document)."""
    fire(unit, unit.contract, "complete_signing", actor=None)


def return_to_draft(
    unit: UnitOfWork,
    *,
    signatory: Signatory,
    actor: User,
    on_behalf_of: User | None,
    reason: str,
) -> None:
    """A mandatory signatory declined (or one of its internal visas was refused): back to
    draft as version + 1, signatures voided."""
    contract = unit.contract
    voided = list(
        contract.signatories.filter(status=SignatoryStatus.SIGNED).values_list(
            "organisation__code", flat=True
        )
    )
    contract_documents().void(contract, reason=reason)
    fire(
        unit,
        contract,
        "return_to_draft",
        actor=actor,
        on_behalf_of=on_behalf_of,
        comment=reason,
        data={"declined_by": signatory.organisation.code, "voided_signatures": voided},
    )
    declined_by = signatory.organisation.code
    # Each signature given on the old version is voided by name, not only counted.
    voided_signatures = contract.signatories.filter(status=SignatoryStatus.SIGNED).order_by(
        "order", "pk"
    )
    unit.record_many(
        {
            "event": HistoryEvent.SIGNATURE_VOIDED,
            "name": kind,
            "data": {"organisation": code, "signer": signer, "declined_by": declined_by},
        }
        for code, kind, signer in voided_signatures.values_list(
            "organisation__code", "kind", "signer__username"
        )
    )
    contract.signatories.update(status=SignatoryStatus.PENDING)
    returned = actions_in(
        unit,
        ActionStatus.REVIEW,
        ActionStatus.CHANGES_REQUESTED,
        ActionStatus.APPROVED,
        ActionStatus.VALIDATED,
    )
    fire_on_actions(unit, returned, "return_to_draft", actor=None)


# --- Committee vote ---------------------------------------------------------------------


def _vote_decide(unit: UnitOfWork, vote: CommitteeVote) -> str:
    """Record a round's outcome and counts, and its minutes, drawn up from the votes and
    signed by the chair (through the unit's preparations); returns the outcome.

    Called by the three conclusions (the contract's, an annual report's, an amendment's vote)
    once the round is decided: the flow's vote_is_decided, or the chair's closing."""
    tally = vote.tally()
    open_votes = vote.tasks.filter(status__in=[TaskStatus.ASSIGNED, TaskStatus.HELD]).count()
    outcome = vote.outcome_when(tally, open_votes=open_votes)
    assert outcome is not None
    vote.outcome = outcome
    vote.approvals, vote.rejections, vote.abstentions = tally
    # The same if the decision runs again for the minutes prepared before its transaction.
    vote.decided_at = unit.preparations.now
    vote.minutes_pdf = committee_minutes().draw_up(
        committee_minutes_data(vote),
        chair=vote.contract.steering_committee.chair,
        preparations=unit.preparations,
    )
    vote.minutes_sha256 = hashlib.sha256(vote.minutes_pdf).hexdigest()
    vote.save(
        update_fields=[
            "outcome",
            "approvals",
            "rejections",
            "abstentions",
            "decided_at",
            "minutes_pdf",
            "minutes_sha256",
        ]
    )
    return outcome


def _vote_entry(vote: CommitteeVote) -> dict[str, Any]:
    """What the history keeps of a decided round, its minutes named by their SHA-256."""
    return {
        "round": vote.round,
        "approvals": vote.approvals,
        "rejections": vote.rejections,
        "abstentions": vote.abstentions,
        "quorum": vote.quorum,
        "members": vote.members,
        "closed_by_chair": vote.closed_by_id is not None,
        "minutes_sha256": vote.minutes_sha256,
    }


def committee_vote_conclude(unit: UnitOfWork, *, vote: CommitteeVote) -> CommitteeVote:
    """Record the vote's outcome and send the contract on: deliberation, or back to review.

    A rejection returns the actions its votes object to; a rejection naming none returns them
    all.
    """
    _vote_decide(unit, vote)
    objected: set[str] = set()
    whole_contract = False
    for data in vote.tasks.filter(status=TaskStatus.DONE, decision=TaskDecision.REJECT).values_list(
        "data", flat=True
    ):
        codes = data.get("actions") or []
        whole_contract = whole_contract or not codes
        objected.update(codes)
    unit.record(
        event=HistoryEvent.VOTE_DECIDED,
        actor=vote.closed_by,
        name=vote.outcome,
        data={
            **_vote_entry(vote),
            "actions": [] if whole_contract else sorted(objected),
        },
    )
    if vote.outcome == CommitteeVote.Outcome.VALIDATED:
        committee_validate(unit)
    else:
        committee_reject(unit, action_codes=() if whole_contract else sorted(objected))
    return vote


def annual_report_conclude(
    unit: UnitOfWork, *, review: AnnualReview, vote: CommitteeVote
) -> AnnualReview:
    """The committee decided on the year's annual report: the report is generated as PDF,
    kept on the review, and the decision's history entry names it by its SHA-256."""
    outcome = _vote_decide(unit, vote)
    assert vote.decided_at is not None
    now = vote.decided_at
    review.status = (
        AnnualReviewStatus.ADOPTED
        if outcome == CommitteeVote.Outcome.VALIDATED
        else AnnualReviewStatus.REJECTED
    )
    review.decided_at = now
    pdf = annual_reports().render(annual_report_data(review), draft=False)
    review.report_pdf = pdf
    review.report_sha256 = hashlib.sha256(pdf).hexdigest()
    review.save(update_fields=["status", "decided_at", "report_pdf", "report_sha256"])
    unit.record(
        event=HistoryEvent.ANNUAL_REPORT_DECIDED,
        actor=vote.closed_by,
        name=review.status,
        data={
            "year": review.year,
            "outcome": outcome,
            **_vote_entry(vote),
            "report_sha256": review.report_sha256,
            "report_size": len(pdf),
        },
    )
    return review


# --- An action's review -------------------------------------------------------------------


def action_approve(
    unit: UnitOfWork, action: Action, *, actor: User | None, on_behalf_of: User | None = None
) -> Action:
    """All leads of the action's working group approved it."""
    fire(unit, action, "approve", actor=actor, on_behalf_of=on_behalf_of)
    return action


def action_request_changes(
    unit: UnitOfWork,
    action: Action,
    *,
    actor: User,
    comment: str,
    on_behalf_of: User | None = None,
) -> Action:
    """A lead asks the pilot for changes; a comment says which."""
    if not (comment or "").strip():
        raise ApplicationError(_("A comment is required to request changes."))
    fire(unit, action, "request_changes", actor=actor, on_behalf_of=on_behalf_of, comment=comment)
    return action


def action_resubmit(
    unit: UnitOfWork,
    action: Action,
    *,
    actor: User,
    on_behalf_of: User | None = None,
    comment: str = "",
) -> Action:
    """The pilot sends the revised sheet back to review."""
    fire(unit, action, "resubmit", actor=actor, on_behalf_of=on_behalf_of, comment=comment)
    return action


# --- An amendment's circuit (AmendmentFlow's steps, and the coordinator's) ------------------


def amendment_fire(
    unit: UnitOfWork,
    amendment: Amendment,
    name: str,
    *,
    actor: User | None,
    on_behalf_of: User | None = None,
    comment: str = "",
    data: dict[str, Any] | None = None,
    **kwargs: Any,
) -> tuple[str, str]:
    """Fire transition ``name`` of an amendment of the unit's contract (through ``_apply``,
    as every transition), save it and record it in the contract's history as an
    ``amendment_transition`` naming the amendment. Returns (source, target)."""
    amendment.contract = unit.contract
    source, target = _apply(amendment, name, **kwargs)
    try:
        amendment.save()
    except ConcurrentTransition as exc:
        raise Conflict(_(CHANGED_MEANWHILE)) from exc
    unit.record(
        event=HistoryEvent.AMENDMENT_TRANSITION,
        actor=actor,
        on_behalf_of=on_behalf_of,
        name=name,
        from_state=source,
        to_state=target,
        comment=comment,
        data={"amendment": amendment.number, "version": amendment.version, **(data or {})},
    )
    return source, target


def amendment_launch_review(unit: UnitOfWork, amendment: Amendment, *, actor: User) -> list[str]:
    """The review opens on the sheets the amendment adds or modifies (a removal is the
    committee's to judge); returns their codes, whose leads get a review task."""
    amendment_fire(unit, amendment, "launch_review", actor=actor)
    reviewed = amendment.changes.exclude(kind=AmendmentChangeKind.REMOVED)
    reviewed.update(review_status=ChangeReview.REVIEW)
    amendment.changes.filter(kind=AmendmentChangeKind.REMOVED).update(
        review_status=ChangeReview.APPROVED
    )
    return list(reviewed.order_by("pk").values_list("code", flat=True))


def amendment_open_committee(unit: UnitOfWork, amendment: Amendment) -> None:
    """Every proposal reviewed is approved: the steering committee votes on the amendment."""
    amendment_fire(unit, amendment, "open_committee", actor=None)


def amendment_vote_conclude(
    unit: UnitOfWork, amendment: Amendment, *, vote: CommitteeVote
) -> CommitteeVote:
    """Record the committee's outcome on the amendment: validated, its deliberation opens;
    rejected, the amendment goes back to draft (version + 1) for its coordinators."""
    outcome = _vote_decide(unit, vote)
    unit.record(
        event=HistoryEvent.VOTE_DECIDED,
        actor=vote.closed_by,
        name=vote.outcome,
        data={"amendment": amendment.number, **_vote_entry(vote)},
    )
    if outcome == CommitteeVote.Outcome.VALIDATED:
        amendment_fire(unit, amendment, "committee_validate", actor=None)
    else:
        amendment_fire(unit, amendment, "committee_reject", actor=None)
        amendment.changes.update(review_status=ChangeReview.PENDING)
    return vote


def amendment_record_deliberation(
    unit: UnitOfWork,
    amendment: Amendment,
    *,
    actor: User,
    number: str,
    date: datetime.date,
    document_data: dict[str, Any],
    parties: list[AmendmentParty],
) -> None:
    """The council approved the amendment: its document is frozen with a field per
    concerned party (``parties``, frozen by the caller) and the seal's; signing opens."""
    number = check_deliberation(number, date)
    amendment.document_data = document_data
    document_sha256 = amendment_documents().freeze(amendment, document_data, parties)
    amendment_fire(
        unit,
        amendment,
        "record_deliberation",
        actor=actor,
        data={
            "number": number,
            "date": date,
            "document_sha256": document_sha256,
            "concerned": [party.organisation.code for party in parties],
        },
        number=number,
        date=date,
        document_sha256=document_sha256,
    )


def amendment_complete_signing(unit: UnitOfWork, amendment: Amendment) -> None:
    """Every mandatory concerned party signed and every associated one answered: Accord's
    seal closes the amendment's document, and the amendment is signed (the verb consolidates
    it into the contract in the same unit)."""
    sealed_sha256 = amendment_documents().seal(amendment, preparations=unit.preparations)
    amendment_fire(
        unit,
        amendment,
        "complete_signing",
        actor=None,
        data={"document_sha256": amendment.document_sha256, "sealed_pdf_sha256": sealed_sha256},
    )


def amendment_return_to_draft(
    unit: UnitOfWork,
    amendment: Amendment,
    *,
    party: AmendmentParty,
    actor: User,
    on_behalf_of: User | None,
    reason: str,
) -> None:
    """A mandatory concerned party declined: the amendment (not the contract) goes back to
    draft as version + 1, its document and the signatures on it voided by name."""
    amendment_documents().void(amendment, reason=reason)
    signed = list(
        amendment.parties.filter(
            amendment_version=amendment.version, status=AmendmentPartyStatus.SIGNED
        )
        .order_by("order", "pk")
        .values_list("organisation__code", "kind", "signer__username")
    )
    amendment_fire(
        unit,
        amendment,
        "return_to_draft",
        actor=actor,
        on_behalf_of=on_behalf_of,
        comment=reason,
        data={
            "declined_by": party.organisation.code,
            "voided_signatures": [code for code, _kind, _signer in signed],
        },
    )
    unit.record_many(
        {
            "event": HistoryEvent.SIGNATURE_VOIDED,
            "name": kind,
            "data": {
                "amendment": amendment.number,
                "organisation": code,
                "signer": signer,
                "declined_by": party.organisation.code,
            },
        }
        for code, kind, signer in signed
    )
    amendment.changes.update(review_status=ChangeReview.PENDING)


def amendment_change_reviewed(
    unit: UnitOfWork,
    change: Any,
    outcome: str,
    *,
    actor: User | None,
    on_behalf_of: User | None = None,
    comment: str = "",
) -> None:
    """A proposal's review moves on: ``approved`` by every lead, ``changes_requested`` by
    one (a comment says which), ``review`` again once revised and resubmitted."""
    if outcome == ChangeReview.CHANGES_REQUESTED and not (comment or "").strip():
        raise ApplicationError(_("A comment is required to request changes."))
    source = change.review_status
    change.review_status = outcome
    change.save(update_fields=["review_status"])
    unit.record(
        event=HistoryEvent.AMENDMENT_CHANGED,
        actor=actor,
        on_behalf_of=on_behalf_of,
        name=f"review_{outcome}",
        from_state=source,
        to_state=outcome,
        comment=comment,
        data={
            "amendment": change.amendment.number,
            "change": change.kind,
            "code": change.code,
            "version": change.version,
        },
    )
