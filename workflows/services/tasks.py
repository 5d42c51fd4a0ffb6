"""Deciding a task: exactly once, by whoever holds it, and the flow goes on."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from .. import lockout, transitions, two_factor
from ..documents import (
    PREPARATION_ATTEMPTS,
    Preparations,
    amendment_documents,
    contract_documents,
    decide_outside,
)
from ..errors import ApplicationError, Conflict, NotAllowed
from ..history import UnitOfWork
from ..models import (
    TASK_KIND_DECISIONS,
    Amendment,
    AmendmentParty,
    AmendmentPartyStatus,
    AmendmentStatus,
    HistoryEntry,
    HistoryEvent,
    Signatory,
    SignatoryStatus,
    Task,
    TaskDecision,
    TaskKind,
    TaskStatus,
    User,
)
from ..selectors import undo_refusal
from .consolidation import amendment_consolidate
from .follow_up import report_check, report_record
from .sheets import current_version, latest_version_number

NOT_YOUR_TASK = gettext_noop("This task is not yours: %(person)s holds it.")
TASK_ALREADY_DONE = gettext_noop("This task was already completed on %(date)s by %(person)s.")
TASK_CANCELLED = gettext_noop("This task was cancelled: there is nothing left to decide.")
TASK_ON_HOLD = gettext_noop("The contract is suspended: this task is on hold until it resumes.")
TASK_BEING_COMPLETED = gettext_noop("This task is being completed by someone else.")
TASK_WITH_YOUR_DELEGATE = gettext_noop(
    "While you are away, %(delegate)s handles this task for you. Cancel your absence if you "
    "want to decide it yourself."
)

SIGNING_NEEDS_AUTHENTICATOR = gettext_noop(
    "Signing requires two-factor authentication, and your account has no authenticator app: "
    "set one up on your account security page first."
)
SIGNING_CODE_MISSING = gettext_noop(
    "Enter the code from your authenticator app (or one of your recovery codes) to sign."
)
SIGNING_CODE_REFUSED = gettext_noop("The two-factor authentication code is incorrect.")
# How many times a signature prepared over a revision that another signature replaced in the
# meantime is prepared again before the signer is asked to try later (409).
SIGNING_ATTEMPTS = PREPARATION_ATTEMPTS

VISA_REFUSAL_NEEDS_COMMENT = gettext_noop("Say in a comment why you refuse the visa.")
OPINION_ANSWER_MISSING = gettext_noop("Write your opinion in the comment.")

OPEN_STATUSES = (TaskStatus.ASSIGNED, TaskStatus.HELD)


# --- Decisions ----------------------------------------------------------------------------


@dataclass
class Decision:
    """What a person decides on a task, as the task page or the API sends it."""

    decision: str
    comment: str = ""
    actions: list[str] = field(default_factory=list)
    objections: dict[str, str] = field(default_factory=dict)
    number: str = ""
    date: datetime.date | None = None
    password: str = ""
    otp: str = ""  # signing, when ACCORD_REQUIRE_2FA_FOR_SIGNING is on: the second factor
    consent: bool = False
    progress: str = ""  # a report: in_progress, done or abandoned
    indicators: list[dict[str, str]] = field(default_factory=list)  # a report's values


@dataclass(frozen=True)
class ClientInfo:
    """Where a signature came from, for the evidence."""

    # As long as the evidence keeps it (signatures.SignatureEvidence.user_agent).
    USER_AGENT_MAX_LENGTH: ClassVar[int] = 500

    ip_address: str = ""
    user_agent: str = ""


def _claim(unit: UnitOfWork, task: Task, actor: User) -> tuple[Task, int | None]:
    """Take the open task of the unit's contract for this decision, or say why not (403,
    then 409). Returns the task and, read with it, the number of its action's latest sheet
    version (None without an action, or before the sheet's first version)."""
    claimed = Task.objects.filter(pk=task.pk, owner=actor, status=TaskStatus.ASSIGNED).update(
        status=TaskStatus.STARTED, started=timezone.now()
    )
    # Only what every decision uses is joined: PostgreSQL's planning time grows steeply with
    # the number of joined tables (~5 ms for eight), more than the lazy loads it would save.
    # The sheet's version is a subquery of the same statement (a review records it).
    current = (
        Task.objects.select_related("process", "action")
        .annotate(sheet_version=latest_version_number("action_id"))
        .get(pk=task.pk)
    )
    sheet_version: int | None = current.sheet_version
    current.contract = unit.contract
    unit.drive(current.process)
    if current.action_id and current.action_id == current.process.action_id:
        current.process.action = current.action  # the same row: the flow reads it from here
    if claimed:
        current.owner = actor
        return current, sheet_version
    # Who holds it first, then its state: a stranger learns nothing of the task's progress.
    raise (
        holder_refusal(current, actor)
        or state_refusal(current)
        or Conflict(_(TASK_BEING_COMPLETED), {"status": current.status})
    )


def holder_refusal(task: Task, user: User) -> NotAllowed | None:
    """Why ``user`` may not decide ``task`` because someone else holds it (403); None when
    they hold it."""
    if task.owner_id == user.pk:
        return None
    owner = task.owner
    assert owner is not None  # task_open gives every task its holder
    if task.assignee_id == user.pk and task.delegation_id and task.status == TaskStatus.ASSIGNED:
        return NotAllowed(_(TASK_WITH_YOUR_DELEGATE) % {"delegate": owner.display_name})
    return NotAllowed(_(NOT_YOUR_TASK) % {"person": owner.display_name})


def state_refusal(task: Task) -> Conflict | None:
    """Why ``task`` cannot be decided in its state (409); None while it is open."""
    status = {"status": task.status}
    if task.status == TaskStatus.DONE:
        who = task.completed_by.display_name if task.completed_by else _("someone")
        when = (
            date_format(timezone.localtime(task.finished), "DATETIME_FORMAT")
            if task.finished
            else ""
        )
        return Conflict(_(TASK_ALREADY_DONE) % {"person": who, "date": when}, status)
    if task.status == TaskStatus.CANCELED:
        return Conflict(_(TASK_CANCELLED), status)
    if task.status == TaskStatus.HELD:
        return Conflict(_(TASK_ON_HOLD), status)
    if task.status != TaskStatus.ASSIGNED:
        return Conflict(_(TASK_BEING_COMPLETED), status)
    return None


def _require_comment(decision: Decision, message: str) -> None:
    if not decision.comment.strip():
        raise ApplicationError(message)


def _check_decision(
    task: Task,
    decision: Decision,
    actor: User,
    client: ClientInfo | None = None,
    *,
    password_verified: bool = False,
) -> dict[str, Any]:
    """Refuse a decision that does not fit the task (400); returns what the task keeps.
    ``password_verified``: this request already checked the signer's password (it costs a
    fifth of a second of CPU), to draw the signature up before the transaction."""
    allowed = TASK_KIND_DECISIONS[task.kind]
    if decision.decision not in allowed:
        raise ApplicationError(
            _('"%(decision)s" is not a decision for this task; choose one of: %(allowed)s.')
            % {"decision": decision.decision, "allowed": ", ".join(allowed)}
        )
    kept: dict[str, Any] = {}
    if decision.decision == TaskDecision.REQUEST_CHANGES:
        _require_comment(decision, _("Say in a comment what must change."))
    elif decision.decision == TaskDecision.REJECT:
        _require_comment(decision, _("A comment is required to reject."))
        codes = sorted({*decision.actions, *decision.objections})
        assert task.contract is not None  # the unit's contract (_claim)
        known = set(
            task.contract.actions.in_contract()
            .filter(code__in=codes)
            .values_list("code", flat=True)
        )
        unknown = [code for code in codes if code not in known]
        if unknown:
            raise ApplicationError(
                _("Unknown action(s) in this contract: %(codes)s.") % {"codes": ", ".join(unknown)}
            )
        kept["actions"] = codes
        kept["objections"] = {code: text.strip() for code, text in decision.objections.items()}
    elif decision.decision == TaskDecision.RECORD:
        number = transitions.check_deliberation(decision.number, decision.date)
        assert decision.date is not None  # check_deliberation refuses a missing date
        kept.update(number=number, date=decision.date.isoformat())
    elif decision.decision == TaskDecision.SIGN:
        if not decision.consent:
            raise ApplicationError(_("Tick the consent box to sign."))
        # The lockout first: once locked out, even the right password does not sign.
        attempt = lockout.signing_request(*_client_of(client))
        if not lockout.credential_allowed(actor.username, attempt):
            raise SigningLockedOut(lockout.lockout_message(attempt, {"username": actor.username}))
        needs_code = two_factor.signing_requires_code()
        if needs_code and not two_factor.has_authenticator(actor):
            raise NotAllowed(_(SIGNING_NEEDS_AUTHENTICATOR))
        if needs_code and not two_factor.normalise(decision.otp):
            raise SigningCodeMissing(_(SIGNING_CODE_MISSING))
        if not (password_verified or actor.check_password(decision.password)):
            raise SignaturePasswordRefused(_("The password is incorrect."))
        if needs_code:
            # In the decision's transaction: a recovery code is used up only by a signature.
            device = two_factor.verify(actor, decision.otp)
            if device is None:
                raise SigningCodeRefused(_(SIGNING_CODE_REFUSED))
            kept["second_factor"] = two_factor.factor_of(device)
    elif decision.decision == TaskDecision.DECLINE:
        _require_comment(decision, _("A reason is required to decline."))
    elif decision.decision == TaskDecision.REFUSE:
        _require_comment(decision, _(VISA_REFUSAL_NEEDS_COMMENT))
    elif decision.decision == TaskDecision.ANSWER:
        _require_comment(decision, _(OPINION_ANSWER_MISSING))
    elif decision.decision == TaskDecision.SUBMIT:
        kept.update(
            report_check(
                progress=decision.progress,
                indicators=decision.indicators,
                comment=decision.comment,
            )
        )
    return kept


def _record_signatory_answer(
    unit: UnitOfWork,
    task: Task,
    decision: Decision,
    client: ClientInfo,
    second_factor: str,
) -> None:
    signatory = Signatory.objects.select_related("organisation", "signer").get(pk=task.signatory_id)
    signed = decision.decision == TaskDecision.SIGN
    signatory.status = SignatoryStatus.SIGNED if signed else SignatoryStatus.DECLINED
    signatory.decided_at = timezone.now()
    signatory.save(update_fields=["status", "decided_at"])
    proof = (
        contract_documents().sign(
            task=task,
            signatory=signatory,
            ip_address=client.ip_address,
            user_agent=client.user_agent,
            preparations=unit.preparations,
        )
        if signed
        else None
    )
    unit.record(
        event=HistoryEvent.SIGNATURE if signed else HistoryEvent.DECLINE,
        actor=task.owner,
        on_behalf_of=task.on_behalf_of,
        name=signatory.kind,
        comment=decision.comment,
        data={
            "task": task.pk,
            "organisation": signatory.organisation.code,
            "signer": signatory.signer.username,
            "document_sha256": unit.contract.document_sha256,
            **(
                {
                    "authentication": "password",
                    # totp or recovery_code, when signing asks for a code as well
                    **({"second_factor": second_factor} if second_factor else {}),
                    "ip_address": client.ip_address,
                    "user_agent": client.user_agent,
                    "certificate_sha256": proof.certificate_fingerprint,
                    "signed_pdf_sha256": proof.signed_pdf_sha256,
                }
                if proof is not None
                else {}
            ),
        },
    )


def _record_visa(unit: UnitOfWork, task: Task, decision: Decision) -> None:
    """An internal visa before a signature: given, the circuit goes on (the next visa, or
    the signature); refused, it is the signatory's (or the amendment party's) decline."""
    refused = decision.decision == TaskDecision.REFUSE
    party: Signatory | AmendmentParty
    amendment: dict[str, Any] = {}
    if task.amendment_party_id:
        party = AmendmentParty.objects.select_related("organisation", "signer", "amendment").get(
            pk=task.amendment_party_id
        )
        amendment = {
            "amendment": party.amendment.number,
            "amendment_version": party.amendment_version,
        }
        declined_status: str = AmendmentPartyStatus.DECLINED
    else:
        party = Signatory.objects.select_related("organisation", "signer").get(pk=task.signatory_id)
        declined_status = SignatoryStatus.DECLINED
    if refused:
        party.status = declined_status
        party.decided_at = timezone.now()
        party.save(update_fields=["status", "decided_at"])
    unit.record(
        event=HistoryEvent.VISA_REFUSED if refused else HistoryEvent.VISA,
        actor=task.owner,
        on_behalf_of=task.on_behalf_of,
        name=party.kind,
        comment=decision.comment,
        data={
            "task": task.pk,
            **amendment,
            "organisation": party.organisation.code,
            "signer": party.signer.username,
            "rank": task.data["visa"] + 1,
            "visas": len(task.data["visas"]),
        },
    )


def _client_of(client: ClientInfo | None) -> tuple[str, str]:
    return (client.ip_address, client.user_agent) if client else ("", "")


def _record_party_answer(
    unit: UnitOfWork, task: Task, decision: Decision, client: ClientInfo, second_factor: str
) -> None:
    """An amendment's signature task: the concerned party signs the amendment's document
    (the contract's signing: password and consent, checked before) or declines."""
    party = AmendmentParty.objects.select_related("organisation", "signer", "amendment").get(
        pk=task.amendment_party_id
    )
    party.amendment.contract = unit.contract
    signed = decision.decision == TaskDecision.SIGN
    party.status = AmendmentPartyStatus.SIGNED if signed else AmendmentPartyStatus.DECLINED
    party.decided_at = timezone.now()
    party.save(update_fields=["status", "decided_at"])
    evidence = (
        amendment_documents().sign(
            task=task,
            party=party,
            ip_address=client.ip_address,
            user_agent=client.user_agent,
            preparations=unit.preparations,
        )
        if signed
        else {}
    )
    unit.record(
        event=HistoryEvent.SIGNATURE if signed else HistoryEvent.DECLINE,
        actor=task.owner,
        on_behalf_of=task.on_behalf_of,
        name=party.kind,
        comment=decision.comment,
        data={
            "task": task.pk,
            "amendment": party.amendment.number,
            "amendment_version": party.amendment_version,
            "organisation": party.organisation.code,
            "signer": party.signer.username,
            "document_sha256": party.amendment.document_sha256,
            **(
                {
                    "authentication": "password",
                    # totp or recovery_code, when signing asks for a code as well
                    **({"second_factor": second_factor} if second_factor else {}),
                    "ip_address": client.ip_address,
                    "user_agent": client.user_agent,
                    "certificate_sha256": evidence["certificate_fingerprint"],
                    "signed_pdf_sha256": evidence["signed_pdf_sha256"],
                }
                if signed
                else {}
            ),
        },
    )


class SignaturePasswordRefused(ApplicationError):
    """A signer's password did not match: the attempt is recorded, the signature is not."""


class SigningCodeRefused(SignaturePasswordRefused):
    """A wrong two-factor code to sign: recorded and counted towards the lockout as a wrong
    password is."""


class SigningCodeMissing(ApplicationError):
    """Signing requires a two-factor code and none was given (nothing recorded)."""


class SigningLockedOut(ApplicationError):
    """Too many wrong passwords (to log in or to sign) from this account or address: signing is
    refused, even with the right password, until the cool-off ends (workflows.lockout)."""

    status_code = 429


def task_decide(
    *, task: Task, actor: User, decision: Decision, client: ClientInfo | None = None
) -> Task:
    """Complete a task with a decision: exactly once, by its owner, and let the flow go on."""
    client = client or ClientInfo()
    try:
        return _decide_outside(task=task, actor=actor, decision=decision, client=client)
    except SignaturePasswordRefused as exc:
        # After the decision's transaction rolled back: the failed attempt stays on record,
        # and counts towards the lockout of the account and of the address.
        _record_password_refused(task, actor, client, exc)
        attempt = lockout.signing_request(client.ip_address, client.user_agent)
        if lockout.credential_failed(actor.username, attempt):
            message = lockout.lockout_message(attempt, {"username": actor.username})
            _record_signing_locked(task, actor, client, message, started=True)
            raise SigningLockedOut(message) from None
        raise
    except SigningLockedOut as exc:
        _record_signing_locked(task, actor, client, exc.message, started=False)
        raise


@transaction.atomic
def _record_password_refused(
    task: Task, actor: User, client: ClientInfo, refusal: SignaturePasswordRefused
) -> None:
    """A wrong password, or a wrong two-factor code (the same event, saying which)."""
    wrong_code = isinstance(refusal, SigningCodeRefused)
    with UnitOfWork.lock(task.contract_id) as unit:
        unit.record(
            event=HistoryEvent.SIGNATURE_PASSWORD_REFUSED,
            actor=actor,
            on_behalf_of=task.on_behalf_of,
            name=task.kind,
            comment=refusal.message if wrong_code else "",
            data={
                "task": task.pk,
                **({"credential": "two_factor_code"} if wrong_code else {}),
                "ip_address": client.ip_address,
                "user_agent": client.user_agent,
            },
        )


@transaction.atomic
def _record_signing_locked(
    task: Task, actor: User, client: ClientInfo, message: str, *, started: bool
) -> None:
    """The lockout in the contract's history, like a refused password: after the decision's
    transaction rolled back. ``started``: this attempt's wrong password locked the account
    out; otherwise the attempt came while it was locked out."""
    with UnitOfWork.lock(task.contract_id) as unit:
        unit.record(
            event=HistoryEvent.SIGNATURE_LOCKED,
            actor=actor,
            on_behalf_of=task.on_behalf_of,
            name=task.kind,
            comment=message,
            data={
                "task": task.pk,
                "lockout": "started" if started else "refused",
                "ip_address": client.ip_address,
                "user_agent": client.user_agent,
            },
        )


def _decide_outside(*, task: Task, actor: User, decision: Decision, client: ClientInfo) -> Task:
    """The decision, run by ``documents.decide_outside``: the remote calls it makes (a
    signature's timestamp, the contract's or an amendment's, an amendment's seal, the
    committee's minutes) are drawn up before its transaction, with no lock held while the
    authority answers, through the ``Preparations`` its unit of work holds, and stored only
    over what they cover; over a document changed in between (another signature stored),
    drawn up again, ``SIGNING_ATTEMPTS`` times at most (then 409).

    The decision may run more than once: a signature's password is checked once, here, before
    it (PBKDF2, a fifth of a second of CPU); a wrong one is refused, and counted, by the
    decision's transaction, before anything is drawn up (no key issued, no timestamp asked)."""
    password_verified = (
        task.kind == TaskKind.SIGNATURE
        and decision.decision == TaskDecision.SIGN
        and decision.consent
        and task.owner_id == actor.pk
        and task.status == TaskStatus.ASSIGNED
        and actor.check_password(decision.password)
    )
    return decide_outside(
        lambda preparations: _task_decide(
            task=task,
            actor=actor,
            decision=decision,
            client=client,
            preparations=preparations,
            password_verified=password_verified,
        ),
        attempts=SIGNING_ATTEMPTS,
    )


@transaction.atomic
def _task_decide(
    *,
    task: Task,
    actor: User,
    decision: Decision,
    client: ClientInfo,
    preparations: Preparations,
    password_verified: bool = False,
) -> Task:
    with UnitOfWork.lock(task.contract_id, preparations=preparations) as unit:
        return decide(
            unit,
            task,
            actor=actor,
            decision=decision,
            client=client,
            password_verified=password_verified,
        )


def decide(
    unit: UnitOfWork,
    task: Task,
    *,
    actor: User,
    decision: Decision,
    client: ClientInfo,
    password_verified: bool = False,
) -> Task:
    """The decision inside the unit: the flows change ``unit.contract`` itself, so the task
    comes back with the contract's new status."""
    task, sheet_version = _claim(unit, task, actor)
    kept = _check_decision(task, decision, actor, client, password_verified=password_verified)
    # The signer's second factor, if signing asked for one: in the signature's record.
    second_factor = kept.pop("second_factor", "")
    if task.kind == TaskKind.REVIEW and task.action is not None:
        # Which version of the sheet the lead decided on: what changed since, they are shown.
        kept["sheet_version"] = (
            current_version(task.action).number if sheet_version is None else sheet_version
        )
    elif task.kind == TaskKind.REVIEW and task.amendment_change is not None:
        kept["proposal_version"] = task.amendment_change.version
    task.decision = decision.decision
    task.comment = decision.comment.strip()
    task.completed_by = actor
    task.data = {**task.data, **kept}
    if task.kind == TaskKind.SIGNATURE and task.amendment_party_id:
        _record_party_answer(unit, task, decision, client, second_factor)
    elif task.kind == TaskKind.SIGNATURE:
        _record_signatory_answer(unit, task, decision, client, second_factor)
    elif task.kind == TaskKind.VISA:
        _record_visa(unit, task, decision)
    elif task.kind == TaskKind.REPORT:
        report_record(unit, task, year=task.data["year"], kept=kept)
    unit.record(
        event=HistoryEvent.TASK_COMPLETED,
        actor=actor,
        on_behalf_of=task.on_behalf_of,
        name=task.kind,
        action=task.action,
        comment=task.comment,
        data={"task": task.pk, "decision": task.decision, **kept},
        task=task,
    )
    with task.flow_task.flow_class.lock(task.process_id):
        activation = task.flow_task.activation_class(task)
        activation.complete()
        activation.activate_next()
    if task.kind in (TaskKind.SIGNATURE, TaskKind.VISA) and task.amendment_id:
        # (A refused visa is a decline: it may be the last answer an amendment waited for.)
        amendment = Amendment.objects.get(pk=task.amendment_id)
        if amendment.status == AmendmentStatus.SIGNED:
            # The last answer signed the amendment: the contract in force includes it now.
            amendment.contract = unit.contract
            amendment_consolidate(unit, amendment)
    return task


# --- Changing one's mind ------------------------------------------------------------------


@transaction.atomic
def task_undo(*, task: Task, actor: User) -> Task:
    """Undo one's decision on a review, a revision or a vote while nothing has acted on it
    (``selectors.undo_refusal``, 403 then 409): the task is open again, with its holder and
    its due date, and the history keeps both the decision and its undoing.

    Under the contract's lock, like every decision: an undo and the decision that would act
    on it (the last review of the round, the vote that decides it) are serialised, and the
    second one finds the first done: the decision then counts without the undone one, or
    the undo is refused (409)."""
    with UnitOfWork.lock(task.contract_id) as unit:
        current = Task.objects.select_related("process", "action").get(pk=task.pk)
        current.contract = unit.contract
        refusal = undo_refusal(current, actor)
        if refusal is not None:
            raise refusal
        unit.drive(current.process)
        decision, comment = current.decision, current.comment
        # What the decision added to the task's data, as its history entry says.
        completed = (
            HistoryEntry.objects.filter(
                contract_id=current.contract_id,
                event=HistoryEvent.TASK_COMPLETED,
                data__task=current.pk,
            )
            .order_by("-seq")
            .first()
        )
        kept = [
            key for key in (completed.data if completed else {}) if key not in ("task", "decision")
        ]
        with current.flow_task.flow_class.lock(current.process_id):
            current.flow_task.activation_class(current).reopen(kept)
        unit.record(
            event=HistoryEvent.TASK_UNDONE,
            actor=actor,
            on_behalf_of=current.on_behalf_of,
            name=current.kind,
            action=current.action,
            comment=comment,
            data={"task": current.pk, "decision": decision},
            task=current,
        )
    return current
