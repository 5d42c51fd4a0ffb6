"""The rows of the approval flows: processes, tasks, committee votes, absences."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, ClassVar, NamedTuple

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from viewflow.workflow import status as viewflow_status
from viewflow.workflow.fields import FlowReferenceField
from viewflow.workflow.models import AbstractProcess, AbstractTask

if TYPE_CHECKING:
    from ..history import UnitOfWork

from .amendments import Amendment, AmendmentChange, AmendmentParty
from .annual import AnnualReview
from .contracts import (
    Action,
    Contract,
    Signatory,
)
from .people import (
    User,
)

# --- Flows: processes, tasks, committee votes, absences -----------------------------------


class TaskKind(models.TextChoices):
    REVIEW = "review", _("Review of an action sheet")
    REVISION = "revision", _("Revision of an action sheet")
    VOTE = "vote", _("Committee vote")
    DELIBERATION = "deliberation", _("Council deliberation")
    SIGNATURE = "signature", _("Signature")
    REPORT = "report", _("Annual report of an action")
    VISA = "visa", _("Internal visa")
    OPINION = "opinion", _("Opinion asked")


class TaskDecision(models.TextChoices):
    """What a person decides on a task; ``TaskKind.decisions`` says which fit which task."""

    APPROVE = "approve", _("Approve")
    REQUEST_CHANGES = "request_changes", _("Request changes")
    RESUBMIT = "resubmit", _("Send back for review")
    REJECT = "reject", _("Reject")
    RECORD = "record", _("Record the deliberation")
    SIGN = "sign", _("Sign")
    DECLINE = "decline", _("Decline to sign")
    SUBMIT = "submit", _("Submit the report")
    REFUSE = "refuse", _("Refuse the visa")
    ABSTAIN = "abstain", _("Abstain")
    ANSWER = "answer", _("Give my opinion")


TASK_KIND_DECISIONS: dict[str, tuple[TaskDecision, ...]] = {
    TaskKind.REVIEW: (TaskDecision.APPROVE, TaskDecision.REQUEST_CHANGES),
    TaskKind.REVISION: (TaskDecision.RESUBMIT,),
    TaskKind.VOTE: (TaskDecision.APPROVE, TaskDecision.REJECT, TaskDecision.ABSTAIN),
    TaskKind.DELIBERATION: (TaskDecision.RECORD,),
    TaskKind.SIGNATURE: (TaskDecision.SIGN, TaskDecision.DECLINE),
    TaskKind.REPORT: (TaskDecision.SUBMIT,),
    TaskKind.VISA: (TaskDecision.APPROVE, TaskDecision.REFUSE),
    TaskKind.OPINION: (TaskDecision.ANSWER,),
}


class TaskStatus(models.TextChoices):
    """viewflow's task statuses, plus HELD for the tasks of a suspended contract."""

    NEW = viewflow_status.STATUS.NEW, pgettext_lazy("task", "New")
    ASSIGNED = viewflow_status.STATUS.ASSIGNED, pgettext_lazy("task", "Open")
    STARTED = viewflow_status.STATUS.STARTED, pgettext_lazy("task", "Being completed")
    HELD = "HELD", pgettext_lazy("task", "On hold")
    DONE = viewflow_status.STATUS.DONE, pgettext_lazy("task", "Done")
    CANCELED = viewflow_status.STATUS.CANCELED, pgettext_lazy("task", "Cancelled")
    ERROR = viewflow_status.STATUS.ERROR, pgettext_lazy("task", "Error")
    REVIVED = viewflow_status.STATUS.REVIVED, pgettext_lazy("task", "Revived")
    SCHEDULED = viewflow_status.STATUS.SCHEDULED, pgettext_lazy("task", "Scheduled")


class Process(AbstractProcess):
    """One run of a flow: a contract's approval (per version) or one action's review."""

    # viewflow's columns whose labels its catalogue leaves in English, as viewflow declares
    # them but labelled in Accord's words (the same columns: only their verbose names differ).
    flow_class = FlowReferenceField(_("flow"))
    finished = models.DateTimeField(pgettext_lazy("process", "finished at"), blank=True, null=True)

    contract = models.ForeignKey(
        Contract, verbose_name=_("contract"), on_delete=models.CASCADE, related_name="processes"
    )
    action = models.ForeignKey(
        Action,
        verbose_name=_("action"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="processes",
    )
    contract_version = models.PositiveIntegerField(_("contract version"), default=1)
    data = models.JSONField(_("flow data"), default=dict, blank=True)

    # The unit of work of the decision moving this flow (``UnitOfWork.drive``), through which
    # its nodes record the history; never stored.
    unit: UnitOfWork | None = None

    if TYPE_CHECKING:
        # viewflow is untyped: its ProcessQuerySet manager, as far as the stubs can tell.
        objects: ClassVar[models.Manager[Process]]
        _default_manager: ClassVar[models.Manager[Process]]

    class Meta:
        ordering = ["-created"]
        verbose_name = _("process")
        verbose_name_plural = _("processes")
        indexes = [models.Index(fields=["contract", "status"])]


class Tally(NamedTuple):
    """A round's votes: the majority is among approvals and rejections, the quorum counts
    abstentions too."""

    approvals: int
    rejections: int
    abstentions: int

    @property
    def cast(self) -> int:
        return self.approvals + self.rejections + self.abstentions


class CommitteeVote(models.Model):
    """One round of the steering committee's vote on the whole contract, or on a year's
    annual report (``annual_review``); the rounds of both are numbered together."""

    class Outcome(models.TextChoices):
        VALIDATED = "validated", pgettext_lazy("vote outcome", "Validated")
        REJECTED = "rejected", pgettext_lazy("vote outcome", "Rejected")

    contract = models.ForeignKey(
        Contract, verbose_name=_("contract"), on_delete=models.CASCADE, related_name="votes"
    )
    round = models.PositiveIntegerField(_("round"))
    contract_version = models.PositiveIntegerField(_("contract version"))
    quorum = models.PositiveIntegerField(_("quorum"))
    members = models.PositiveIntegerField(_("members called to vote"))
    opened_at = models.DateTimeField(_("opened at"), default=timezone.now)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=12, choices=Outcome.choices, blank=True)
    approvals = models.PositiveIntegerField(_("approvals"), default=0)
    rejections = models.PositiveIntegerField(_("rejections"), default=0)
    abstentions = models.PositiveIntegerField(_("abstentions"), default=0)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("closed by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The chair, when the chair closed the vote before everyone voted."),
    )
    annual_review = models.ForeignKey(
        AnnualReview,
        verbose_name=_("annual review"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="votes",
        help_text=_("Set for a vote on an annual report rather than on the contract."),
    )
    amendment = models.ForeignKey(
        Amendment,
        verbose_name=_("amendment"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="votes",
        help_text=_("Set for a vote on an amendment rather than on the contract."),
    )
    minutes_pdf = models.BinaryField(
        _("minutes"),
        blank=True,
        editable=False,
        help_text=_("The minutes drawn up when the vote was decided, signed by the chair."),
    )
    minutes_sha256 = models.CharField(_("minutes SHA-256"), max_length=64, blank=True)

    class Meta:
        ordering = ["contract", "round"]
        verbose_name = _("committee vote")
        verbose_name_plural = _("committee votes")
        constraints = [
            models.UniqueConstraint(fields=["contract", "round"], name="one_vote_per_round"),
        ]

    def __str__(self) -> str:
        return str(
            _("Vote %(round)d on %(reference)s")
            % {"round": self.round, "reference": self.contract.reference}
        )

    @property
    def cast(self) -> int:
        """Every vote cast once decided, abstentions included (what the quorum counts)."""
        return self.approvals + self.rejections + self.abstentions

    def tally(self) -> Tally:
        """The votes cast so far in this round."""
        counts = self.tasks.filter(status=TaskStatus.DONE).aggregate(
            approvals=Count("pk", filter=Q(decision=TaskDecision.APPROVE)),
            rejections=Count("pk", filter=Q(decision=TaskDecision.REJECT)),
            abstentions=Count("pk", filter=Q(decision=TaskDecision.ABSTAIN)),
        )
        return Tally(counts["approvals"], counts["rejections"], counts["abstentions"])

    def outcome_when(self, tally: Tally, *, open_votes: int) -> str | None:
        """The outcome once it can no longer change, else None.

        Validated: approvals > rejections, and every vote cast, abstentions included, reaches
        the quorum (an abstention counts toward the quorum, not in the majority). Decided early
        when even the least favourable remaining votes cannot change it (every open vote counts
        toward the quorum however it is cast: all rejecting is the worst case, all approving
        the best); decided on the votes cast when everyone voted or the chair closed the vote.
        """

        def validated(approving: int, rejecting: int, cast: int) -> bool:
            return cast >= self.quorum and approving > rejecting

        approvals, rejections, cast = tally.approvals, tally.rejections, tally.cast
        if open_votes == 0 or self.closed_by_id is not None:
            return (
                self.Outcome.VALIDATED
                if validated(approvals, rejections, cast)
                else self.Outcome.REJECTED
            )
        if validated(approvals, rejections + open_votes, cast + open_votes):  # all open reject
            return self.Outcome.VALIDATED
        if not validated(approvals + open_votes, rejections, cast + open_votes):  # all approve
            return self.Outcome.REJECTED
        return None


class Task(AbstractTask):
    """A human step: who must do it, for whom, by when, and what they decided.

    ``owner`` (viewflow's) is who holds the task now: the assignee, or the assignee's delegate
    during an absence. ``on_behalf_of`` is whose decision it is: the signer when a
    representative signs, the absent person when a delegate acts.
    """

    process: models.ForeignKey[Process] = models.ForeignKey(
        Process, verbose_name=_("process"), on_delete=models.CASCADE
    )
    owner: models.ForeignKey[User | None] = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("held by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tasks",
    )
    # viewflow's columns whose labels its catalogue leaves in English (or has none), as
    # viewflow declares them but labelled in Accord's words: only their verbose names differ.
    flow_task_type = models.CharField(_("step type"), max_length=50)
    assigned = models.DateTimeField(pgettext_lazy("task", "assigned at"), blank=True, null=True)
    started = models.DateTimeField(pgettext_lazy("task", "started at"), blank=True, null=True)
    finished = models.DateTimeField(pgettext_lazy("task", "finished at"), blank=True, null=True)
    external_task_id = models.CharField(  # noqa: DJ001 (viewflow's nullable column)
        _("external task identifier"), max_length=50, blank=True, null=True, db_index=True
    )
    previous = models.ManyToManyField(
        "self", verbose_name=_("previous tasks"), symmetrical=False, related_name="leading"
    )
    owner_permission = models.CharField(  # noqa: DJ001 (viewflow's nullable column)
        _("permission required"), max_length=255, blank=True, null=True
    )
    owner_permission_content_type = models.ForeignKey(
        ContentType,
        verbose_name=_("permission object type"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    owner_permission_obj_pk = models.CharField(  # noqa: DJ001 (viewflow's nullable column)
        _("permission object identifier"), max_length=255, blank=True, null=True
    )
    status = models.CharField(
        _("status"),
        choices=TaskStatus.choices,
        default=TaskStatus.NEW,
        max_length=50,
        db_index=True,
    )
    data = models.JSONField(_("task data"), default=dict, blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=TaskKind.choices, blank=True)
    contract: models.ForeignKey[Contract | None] = models.ForeignKey(
        Contract,
        verbose_name=_("contract"),
        on_delete=models.CASCADE,
        related_name="tasks",
        null=True,
    )
    action: models.ForeignKey[Action | None] = models.ForeignKey(
        Action,
        verbose_name=_("action"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="tasks",
    )
    assignee: models.ForeignKey[User | None] = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Whom the rules designate: a lead, a member, a pilot, a signing person."),
    )
    on_behalf_of: models.ForeignKey[User | None] = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("on behalf of"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    signatory: models.ForeignKey[Signatory | None] = models.ForeignKey(
        Signatory,
        verbose_name=_("signatory"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="tasks",
    )
    # An amendment's task (AmendmentFlow): the amendment, the proposal a review or a revision
    # is about, the party a signature is asked of.
    amendment: models.ForeignKey[Amendment | None] = models.ForeignKey(
        Amendment,
        verbose_name=_("amendment"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="tasks",
    )
    amendment_change: models.ForeignKey[AmendmentChange | None] = models.ForeignKey(
        AmendmentChange,
        verbose_name=_("amendment change"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tasks",
    )
    amendment_party: models.ForeignKey[AmendmentParty | None] = models.ForeignKey(
        AmendmentParty,
        verbose_name=_("party to the amendment"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="tasks",
    )
    committee_vote: models.ForeignKey[CommitteeVote | None] = models.ForeignKey(
        CommitteeVote,
        verbose_name=_("committee vote"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="tasks",
    )
    delegation: models.ForeignKey[Delegation | None] = models.ForeignKey(
        "Delegation",
        verbose_name=_("absence delegation"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tasks",
        help_text=_("Set while the task is with the assignee's delegate."),
    )
    asked_by_task: models.ForeignKey[Task | None] = models.ForeignKey(
        "self",
        verbose_name=_("opinion asked on"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="opinions",
        help_text=_("An opinion task: the task whose holder asked for it."),
    )
    due = models.DateTimeField(_("due"), null=True, blank=True)
    held_at = models.DateTimeField(_("on hold since"), null=True, blank=True)
    decision = models.CharField(
        _("decision"), max_length=20, blank=True, choices=TaskDecision.choices
    )
    comment = models.TextField(_("comment"), blank=True)
    completed_by: models.ForeignKey[User | None] = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("completed by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    if TYPE_CHECKING:
        # viewflow is untyped: its TaskQuerySet manager, as far as the stubs can tell.
        objects: ClassVar[models.Manager[Task]]
        _default_manager: ClassVar[models.Manager[Task]]

    class Meta:
        ordering = ["due", "pk"]
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        indexes = [
            models.Index(fields=["owner", "status", "due"], name="task_inbox"),
            models.Index(fields=["contract", "status"], name="task_contract_status"),
            # The analytics (workflows/analytics/): the tasks done in a period, with every
            # column they group and measure by, read from the index alone (benchmarks/).
            models.Index(
                fields=["finished"],
                name="task_done_finished",
                include=["created", "due", "kind", "assignee", "action", "contract"],
                condition=Q(status="DONE"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    # Cheaper than get_kind_display(), which rebuilds its choices at each call: an inbox
    # page shows fifty of these.
    @property
    def kind_label(self) -> str:
        return str(TaskKind(self.kind).label) if self.kind else ""

    @property
    def headline(self) -> str:
        """One line saying what the task is about, in the active language: the task page's
        heading, the inbox's and the API's ``title`` (viewflow's own ``title`` is its node's)."""
        contract, action = self.contract, self.action
        assert contract is not None  # a flow's task is opened with its contract (task_open)
        names = {
            "contract": contract.reference,
            "code": action.code if action else "",
            "title": action.title if action else "",
        }
        if self.amendment_id:
            return self._amendment_headline(contract.reference)
        if self.kind == TaskKind.REVIEW and self.action_id:
            return _("Review of action %(code)s: %(title)s") % names
        if self.kind == TaskKind.REVISION and self.action_id:
            return _("Revision of action %(code)s: %(title)s") % names
        if self.kind == TaskKind.VOTE and not self.data.get("year"):
            return _("Committee vote on %(contract)s") % names
        if self.kind == TaskKind.DELIBERATION:
            return _("Council deliberation on %(contract)s") % names
        if self.kind == TaskKind.REPORT and self.action_id:
            return _("Annual report %(year)s of action %(code)s: %(title)s") % {
                **names,
                "year": self.data.get("year", ""),
            }
        if self.kind == TaskKind.VOTE and self.data.get("year"):
            return _("Committee vote on the %(year)s annual report of %(contract)s") % {
                **names,
                "year": self.data["year"],
            }
        if self.kind == TaskKind.SIGNATURE and self.signatory:
            return _("Signature of %(contract)s for %(organisation)s") % {
                **names,
                "organisation": self.signatory.organisation.name,
            }
        if self.kind == TaskKind.VISA and self.signatory:
            return _("Internal visa of %(organisation)s before it signs %(contract)s") % {
                **names,
                "organisation": self.signatory.organisation.name,
            }
        if self.kind == TaskKind.OPINION and self.action_id:
            return _("Opinion asked on action %(code)s: %(title)s") % names
        if self.kind == TaskKind.OPINION:
            return _("Opinion asked on %(contract)s") % names
        return f"{self.kind_label} — {contract.reference}"

    def _amendment_headline(self, reference: str) -> str:
        assert self.amendment is not None
        names = {"number": self.amendment.number, "contract": reference}
        change = self.amendment_change
        if self.kind == TaskKind.REVIEW and change is not None:
            return _(
                "Review of sheet %(code)s proposed by amendment no. %(number)d to %(contract)s"
            ) % {
                **names,
                "code": change.code,
            }
        if self.kind == TaskKind.REVISION and change is not None:
            return _(
                "Revision of sheet %(code)s proposed by amendment no. %(number)d to %(contract)s"
            ) % {
                **names,
                "code": change.code,
            }
        if self.kind == TaskKind.VOTE:
            return _("Committee vote on amendment no. %(number)d to %(contract)s") % names
        if self.kind == TaskKind.VISA and self.amendment_party is not None:
            return _(
                "Internal visa of %(organisation)s before it signs amendment no. %(number)d "
                "to %(contract)s"
            ) % {
                **names,
                "organisation": self.amendment_party.organisation.name,
            }
        if self.kind == TaskKind.SIGNATURE and self.amendment_party is not None:
            return _(
                "Signature of amendment no. %(number)d to %(contract)s for %(organisation)s"
            ) % {
                **names,
                "organisation": self.amendment_party.organisation.name,
            }
        return f"{self.kind_label} — {reference}"

    @property
    def status_label(self) -> str:
        return str(TaskStatus(self.status).label)

    @property
    def is_open(self) -> bool:
        return self.status == TaskStatus.ASSIGNED

    @property
    def is_overdue(self) -> bool:
        return self.is_open and self.due is not None and self.due < timezone.now()

    @property
    def acts_for_someone(self) -> bool:
        return self.on_behalf_of_id is not None and self.on_behalf_of_id != self.owner_id


class DelegationState(models.TextChoices):
    UPCOMING = "upcoming", _("Planned")
    CURRENT = "current", _("Current")
    OVER = "over", _("Over")
    CANCELLED = "cancelled", _("Cancelled")


class Delegation(models.Model):
    """An absence: the user's tasks go to the delegate from ``start`` to ``end`` (inclusive)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("absent person"),
        on_delete=models.CASCADE,
        related_name="delegations_given",
    )
    delegate = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("delegate"),
        on_delete=models.PROTECT,
        related_name="delegations_received",
    )
    start = models.DateField(pgettext_lazy("absence", "from"))
    end = models.DateField(pgettext_lazy("absence", "to"))
    created_at = models.DateTimeField(_("declared at"), auto_now_add=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)

    class Meta:
        ordering = ["-start"]
        verbose_name = _("absence delegation")
        verbose_name_plural = _("absence delegations")
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gte=models.F("start")), name="delegation_end_after_start"
            ),
            models.CheckConstraint(
                condition=~Q(delegate=models.F("user")), name="delegation_not_to_oneself"
            ),
        ]
        indexes = [models.Index(fields=["user", "start", "end"])]

    def __str__(self) -> str:
        return str(
            _("%(delegate)s for %(user)s from %(start)s to %(end)s")
            % {"delegate": self.delegate, "user": self.user, "start": self.start, "end": self.end}
        )

    def covers(self, day: datetime.date) -> bool:
        return self.cancelled_at is None and self.start <= day <= self.end

    @property
    def state(self) -> DelegationState:
        """Where the absence stands today."""
        if self.cancelled_at is not None:
            return DelegationState.CANCELLED
        today = timezone.localdate()
        if today < self.start:
            return DelegationState.UPCOMING
        return DelegationState.OVER if self.end < today else DelegationState.CURRENT


class ReminderStep(models.TextChoices):
    DUE_SOON = "due_soon", _("Due date approaching")
    OVERDUE = "overdue", _("Overdue")
    COORDINATOR_ALERT = "coordinator_alert", _("Coordinator alerted of the delay")


class Reminder(models.Model):
    """A reminder sent for a task at one step. The unique (task, step) pair is what makes it
    at most once, even with two schedulers (Celery beat and cron) running at the same time."""

    task = models.ForeignKey(
        Task, verbose_name=_("task"), on_delete=models.CASCADE, related_name="reminders"
    )
    step = models.CharField(_("step"), max_length=20, choices=ReminderStep.choices)
    sent_at = models.DateTimeField(_("sent at"))

    class Meta:
        # Created by the notifications app, which sent reminders before the domain did.
        db_table = "notifications_reminder"
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")
        constraints = [
            models.UniqueConstraint(fields=["task", "step"], name="one_reminder_per_task_and_step")
        ]

    def __str__(self) -> str:
        return f"{self.task_id} {self.step}"
