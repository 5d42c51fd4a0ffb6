"""The contract domain: organisations, people, contracts, actions, their roles and history.

Statuses are django-fsm-2 fields with ``protected=True``: they change only through the
transition methods below, and those are called only from ``workflows.services``, which adds
permissions, cascades and the history entry in the same transaction.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, Protocol, cast

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition
from viewflow.workflow import status as viewflow_status
from viewflow.workflow.models import AbstractProcess, AbstractTask

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    from .history import UnitOfWork


class Organisation(models.Model):
    """A partner institution: the local authority, the ARS, the CAF, a hospital..."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=255)
    category = models.CharField(_("category"), max_length=40, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person of a partner organisation; every human step of a contract is theirs."""

    full_name = models.CharField(_("full name"), max_length=255, blank=True)
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisation"),
        on_delete=models.PROTECT,
        related_name="people",
        null=True,
        blank=True,
    )
    title = models.CharField(_("title"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.full_name or self.get_full_name() or self.username


# --- Contracts ----------------------------------------------------------------------------


class ContractKind(models.TextChoices):
    CLS = "CLS", _("Local health contract (CLS)")
    CTG = "CTG", _("Global territorial convention (CTG)")
    CSF = "CSF", _("Health and family convention")
    OTHER = "OTHER", _("Other contract")


class ContractStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    REVIEW = "review", _("Working-group review")
    COMMITTEE = "committee", _("Steering committee")
    DELIBERATION = "deliberation", _("Council deliberation")
    SIGNING = "signing", _("Signing")
    SIGNED = "signed", _("Signed")
    CLOSED = "closed", _("Closed")
    SUSPENDED = "suspended", _("Suspended")
    WITHDRAWN = "withdrawn", _("Withdrawn")


# States from which work may be suspended, and to which `resume` may return.
SUSPENDABLE_STATES = [
    ContractStatus.DRAFT,
    ContractStatus.REVIEW,
    ContractStatus.COMMITTEE,
    ContractStatus.DELIBERATION,
    ContractStatus.SIGNING,
]
WITHDRAWABLE_STATES = [*SUSPENDABLE_STATES, ContractStatus.SUSPENDED]

# Contract transitions a coordinator fires by hand (the others follow from decisions), and an
# action's follow-up, by its pilot or a coordinator.
COORDINATOR_TRANSITIONS = (
    "launch_review",
    "record_deliberation",
    "suspend",
    "resume",
    "withdraw",
    "close",
)
FOLLOW_UP_TRANSITIONS = ("start", "complete", "abandon")


def transition_label(model: type[models.Model], name: str) -> str:
    """The words for FSM transition `name` of `model`, as people read them."""
    field = model._meta.get_field("status")
    assert isinstance(field, FSMField)
    transitions = field.get_all_transitions(model)
    return str(next(t for t in transitions if t.name == name).custom["label"])


class Guard(Protocol):
    """A transition condition that tells why it does not hold.

    django-fsm calls it with the model instance (typed as any Model by django-fsm).
    """

    refusal_message: StrOrPromise

    def __call__(self, instance: Any, /) -> bool: ...


def guard(message: StrOrPromise) -> Callable[[Callable[[Any], bool]], Guard]:
    """Mark a transition condition with the message shown when it does not hold."""

    def decorate(func: Callable[[Any], bool]) -> Guard:
        condition = cast(Guard, func)  # a function given an attribute of its own
        condition.refusal_message = message
        return condition

    return decorate


def is_coordinator(contract: Contract, user: AbstractBaseUser | AnonymousUser | None) -> bool:
    if user is None or not user.is_authenticated:
        return False
    return contract.coordinators.filter(pk=user.pk).exists()


# The transitions' `permission=`: django-fsm types it as taking any Model and any kind of user;
# it calls it with the contract and the person firing the transition.
coordinator_permission: Callable[[Any, Any], bool] = is_coordinator


@guard(_("The contract has no action to review."))
def has_actions(contract: Contract) -> bool:
    return contract.actions.exists()


@guard(_("The contract has no steering committee to validate it."))
def has_steering_committee(contract: Contract) -> bool:
    return SteeringCommittee.objects.filter(contract=contract).exists()


@guard(_("The contract has no mandatory signatory."))
def has_mandatory_signatory(contract: Contract) -> bool:
    return contract.signatories.filter(kind=SignatoryKind.MANDATORY).exists()


@guard(_("Every action must be approved by its working group first."))
def all_actions_approved(contract: Contract) -> bool:
    return not contract.actions.exclude(status=ActionStatus.APPROVED).exists()


@guard(_("Some mandatory signatures, or associated answers, are still missing."))
def signatures_complete(contract: Contract) -> bool:
    signatories = contract.signatories.all()
    return not (
        signatories.filter(kind=SignatoryKind.MANDATORY).exclude(status=SignatoryStatus.SIGNED)
        | signatories.filter(kind=SignatoryKind.ASSOCIATED).exclude(
            status__in=[SignatoryStatus.SIGNED, SignatoryStatus.DECLINED]
        )
    ).exists()


@guard(_("The contract can be closed only at or after the end of its period."))
def period_ended(contract: Contract) -> bool:
    return timezone.localdate() >= contract.period_end


class Contract(ConcurrentTransitionMixin, models.Model):
    """A multi-partner contract (CLS, CTG...) and where it stands in its life."""

    reference = models.CharField(_("reference"), max_length=60, unique=True)
    title = models.CharField(_("title"), max_length=300)
    kind = models.CharField(_("kind"), max_length=8, choices=ContractKind.choices)
    territory_name = models.CharField(_("territory"), max_length=255)
    territory_communes = models.PositiveIntegerField(_("communes"), null=True, blank=True)
    territory_population = models.PositiveIntegerField(_("population"), null=True, blank=True)
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))
    diagnosis_author = models.ForeignKey(
        Organisation,
        verbose_name=_("diagnosis author"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    diagnosis_finalised_on = models.DateField(_("diagnosis finalised on"), null=True, blank=True)
    diagnosis_summary = models.TextField(_("diagnosis summary"), blank=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    status = FSMField(
        _("status"),
        max_length=20,
        choices=ContractStatus.choices,
        default=ContractStatus.DRAFT,
        protected=True,
        db_index=True,
    )
    suspended_from = models.CharField(
        _("suspended in state"), max_length=20, choices=ContractStatus.choices, blank=True
    )
    suspended_at = models.DateTimeField(_("suspended at"), null=True, blank=True)
    suspension_reason = models.TextField(_("suspension reason"), blank=True)
    withdrawal_reason = models.TextField(_("withdrawal reason"), blank=True)
    deliberation_number = models.CharField(_("deliberation number"), max_length=60, blank=True)
    deliberation_date = models.DateField(_("deliberation date"), null=True, blank=True)
    document_sha256 = models.CharField(
        _("document fingerprint"),
        max_length=64,
        blank=True,
        help_text=_("SHA-256 of the contract document frozen when the deliberation is recorded."),
    )
    organisations = models.ManyToManyField(
        Organisation, verbose_name=_("partner organisations"), related_name="contracts"
    )
    participants = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("people"),
        related_name="contracts",
        blank=True,
        help_text=_("The people named in the contract file."),
    )
    coordinators = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("coordinators"),
        related_name="coordinated_contracts",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("contract")
        verbose_name_plural = _("contracts")
        constraints = [
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")),
                name="contract_period_end_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.reference} — {self.title}"

    def clean(self) -> None:
        if self.period_start and self.period_end and self.period_end < self.period_start:
            raise ValidationError({"period_end": _("The period ends before it starts.")})

    # The transitions change fields only; workflows.services adds cascades and history.

    @transition(
        field=status,
        source=ContractStatus.DRAFT,
        target=ContractStatus.REVIEW,
        conditions=[has_actions, has_steering_committee, has_mandatory_signatory],
        permission=coordinator_permission,
        custom={"label": _("Launch the review")},
    )
    def launch_review(self) -> None:
        pass

    @transition(
        field=status,
        source=ContractStatus.REVIEW,
        target=ContractStatus.COMMITTEE,
        conditions=[all_actions_approved],
        custom={"label": _("Open the committee vote")},
    )
    def open_committee(self) -> None:
        pass

    @transition(
        field=status,
        source=ContractStatus.COMMITTEE,
        target=ContractStatus.DELIBERATION,
        custom={"label": _("Validation by the committee")},
    )
    def committee_validate(self) -> None:
        pass

    @transition(
        field=status,
        source=ContractStatus.COMMITTEE,
        target=ContractStatus.REVIEW,
        custom={"label": _("Rejection by the committee")},
    )
    def committee_reject(self) -> None:
        pass

    @transition(
        field=status,
        source=ContractStatus.DELIBERATION,
        target=ContractStatus.SIGNING,
        permission=coordinator_permission,
        custom={"label": _("Record the deliberation")},
    )
    def record_deliberation(
        self, *, number: str, date: datetime.date, document_sha256: str
    ) -> None:
        self.deliberation_number = number
        self.deliberation_date = date
        self.document_sha256 = document_sha256

    @transition(
        field=status,
        source=ContractStatus.SIGNING,
        target=ContractStatus.SIGNED,
        conditions=[signatures_complete],
        custom={"label": _("Complete the signing")},
    )
    def complete_signing(self) -> None:
        pass

    @transition(
        field=status,
        source=ContractStatus.SIGNING,
        target=ContractStatus.DRAFT,
        custom={"label": _("Return to draft")},
    )
    def return_to_draft(self) -> None:
        """A mandatory signatory declined: the contract goes back to revision as a new version."""
        self.version += 1
        self.deliberation_number = ""
        self.deliberation_date = None
        self.document_sha256 = ""

    @transition(
        field=status,
        source=ContractStatus.SIGNED,
        target=ContractStatus.CLOSED,
        conditions=[period_ended],
        permission=coordinator_permission,
        custom={"label": _("Close the contract")},
    )
    def close(self) -> None:
        pass

    @transition(
        field=status,
        source=SUSPENDABLE_STATES,
        target=ContractStatus.SUSPENDED,
        permission=coordinator_permission,
        custom={"label": _("Suspend the work")},
    )
    def suspend(self, *, reason: str) -> None:
        self.suspended_from = self.status
        self.suspended_at = timezone.now()
        self.suspension_reason = reason

    @transition(
        field=status,
        source=ContractStatus.SUSPENDED,
        target=RETURN_VALUE(*SUSPENDABLE_STATES),
        permission=coordinator_permission,
        custom={"label": _("Resume the work")},
    )
    def resume(self) -> str:
        state = self.suspended_from
        self.suspended_from = ""
        self.suspended_at = None
        self.suspension_reason = ""
        return state

    @transition(
        field=status,
        source=WITHDRAWABLE_STATES,
        target=ContractStatus.WITHDRAWN,
        permission=coordinator_permission,
        custom={"label": _("Withdraw the contract")},
    )
    def withdraw(self, *, reason: str) -> None:
        self.withdrawal_reason = reason


class Theme(models.Model):
    """A strategic axis of the contract, holding its actions."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="themes")
    code = models.CharField(_("code"), max_length=20)
    title = models.CharField(_("title"), max_length=300)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["contract", "position"]
        verbose_name = _("theme")
        verbose_name_plural = _("themes")
        constraints = [
            models.UniqueConstraint(fields=["contract", "code"], name="theme_code_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.code} — {self.title}"


class WorkingGroup(models.Model):
    """A working group (groupe de travail) that reviews the actions of its theme."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="working_groups")
    code = models.CharField(_("code"), max_length=20)
    title = models.CharField(_("title"), max_length=300)
    leads = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("leads"), related_name="led_working_groups"
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("members"),
        related_name="working_groups",
        blank=True,
    )

    class Meta:
        ordering = ["contract", "code"]
        verbose_name = _("working group")
        verbose_name_plural = _("working groups")
        constraints = [
            models.UniqueConstraint(fields=["contract", "code"], name="working_group_code_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.code} — {self.title}"


class ActionStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    REVIEW = "review", _("In review")
    CHANGES_REQUESTED = "changes_requested", _("Changes requested")
    APPROVED = "approved", _("Approved")
    VALIDATED = "validated", _("Validated")
    IN_PROGRESS = "in_progress", _("In progress")
    DONE = "done", _("Done")
    ABANDONED = "abandoned", _("Abandoned")


@guard(_("Follow-up starts only once the contract is signed."))
def contract_is_signed(action: Action) -> bool:
    return action.contract.status == ContractStatus.SIGNED


def is_pilot_or_coordinator(action: Action, user) -> bool:
    """Who follows an action up: its pilot, or a coordinator of its contract."""
    return bool(user and user.is_authenticated) and (
        action.pilot_id == user.pk or is_coordinator(action.contract, user)
    )


# As `coordinator_permission`: the follow-up transitions' `permission=`.
pilot_or_coordinator_permission: Callable[[Any, Any], bool] = is_pilot_or_coordinator


class Action(ConcurrentTransitionMixin, models.Model):
    """An action sheet (fiche action): what will be done, by whom, funded how."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="actions")
    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="actions")
    code = models.CharField(_("code"), max_length=20)
    title = models.CharField(_("title"), max_length=300)
    objective = models.TextField(_("objective"), blank=True)
    pilot = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("pilot"),
        on_delete=models.PROTECT,
        related_name="piloted_actions",
    )
    working_group = models.ForeignKey(
        WorkingGroup,
        verbose_name=_("working group"),
        on_delete=models.PROTECT,
        related_name="actions",
    )
    partners = models.ManyToManyField(
        Organisation, verbose_name=_("partners"), related_name="partner_actions", blank=True
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    status = FSMField(
        _("status"),
        max_length=20,
        choices=ActionStatus.choices,
        default=ActionStatus.DRAFT,
        protected=True,
        db_index=True,
    )

    class Meta:
        ordering = ["contract", "position"]
        verbose_name = _("action")
        verbose_name_plural = _("actions")
        constraints = [
            models.UniqueConstraint(fields=["contract", "code"], name="action_code_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.code} — {self.title}"

    @property
    def total_funding(self) -> Decimal:
        return sum((line.amount for line in self.funding_lines.all()), Decimal("0.00"))

    @transition(
        field=status,
        source=ActionStatus.DRAFT,
        target=ActionStatus.REVIEW,
        custom={"label": _("Submit for review")},
    )
    def submit_for_review(self) -> None:
        pass

    @transition(
        field=status,
        source=ActionStatus.REVIEW,
        target=ActionStatus.APPROVED,
        custom={"label": _("Approve")},
    )
    def approve(self) -> None:
        pass

    # From `review`: a working-group lead asks for changes. From `approved`: the committee's
    # rejection named this action.
    @transition(
        field=status,
        source=[ActionStatus.REVIEW, ActionStatus.APPROVED],
        target=ActionStatus.CHANGES_REQUESTED,
        custom={"label": _("Request changes")},
    )
    def request_changes(self) -> None:
        pass

    @transition(
        field=status,
        source=ActionStatus.CHANGES_REQUESTED,
        target=ActionStatus.REVIEW,
        custom={"label": _("Resubmit")},
    )
    def resubmit(self) -> None:
        pass

    @transition(
        field=status,
        source=ActionStatus.APPROVED,
        target=ActionStatus.VALIDATED,
        custom={"label": _("Validate")},
    )
    def validate(self) -> None:
        pass

    # A mandatory signatory declined: the whole contract goes back to draft for a new version.
    @transition(
        field=status,
        source=[
            ActionStatus.REVIEW,
            ActionStatus.CHANGES_REQUESTED,
            ActionStatus.APPROVED,
            ActionStatus.VALIDATED,
        ],
        target=ActionStatus.DRAFT,
        custom={"label": _("Return to draft")},
    )
    def return_to_draft(self) -> None:
        pass

    @transition(
        field=status,
        source=ActionStatus.VALIDATED,
        target=ActionStatus.IN_PROGRESS,
        conditions=[contract_is_signed],
        permission=pilot_or_coordinator_permission,
        custom={"label": _("Start")},
    )
    def start(self) -> None:
        pass

    @transition(
        field=status,
        source=ActionStatus.IN_PROGRESS,
        target=ActionStatus.DONE,
        conditions=[contract_is_signed],
        permission=pilot_or_coordinator_permission,
        custom={"label": _("Mark as done")},
    )
    def complete(self) -> None:
        pass

    @transition(
        field=status,
        source=[ActionStatus.VALIDATED, ActionStatus.IN_PROGRESS],
        target=ActionStatus.ABANDONED,
        conditions=[contract_is_signed],
        permission=pilot_or_coordinator_permission,
        custom={"label": _("Abandon")},
    )
    def abandon(self) -> None:
        pass


class FundingLine(models.Model):
    """Who pays how much for an action, in exact euros."""

    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="funding_lines")
    funder = models.ForeignKey(
        Organisation, verbose_name=_("funder"), on_delete=models.PROTECT, related_name="+"
    )
    amount = models.DecimalField(
        _("amount (€)"),
        max_digits=14,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.00"))],
    )

    class Meta:
        ordering = ["action", "pk"]
        verbose_name = _("funding line")
        verbose_name_plural = _("funding lines")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="funding_amount_not_negative")
        ]

    def __str__(self) -> str:
        return f"{self.funder.code}: {self.amount} €"


class Indicator(models.Model):
    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="indicators")
    label = models.CharField(_("label"), max_length=500)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["action", "position"]
        verbose_name = _("indicator")
        verbose_name_plural = _("indicators")

    def __str__(self) -> str:
        return self.label


class SteeringCommittee(models.Model):
    """The comité de pilotage that validates the contract's content by vote."""

    contract = models.OneToOneField(
        Contract, on_delete=models.CASCADE, related_name="steering_committee"
    )
    chair = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("chair"),
        on_delete=models.PROTECT,
        related_name="chaired_committees",
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("members"), related_name="committees"
    )
    quorum = models.PositiveIntegerField(_("quorum"), validators=[MinValueValidator(1)])

    class Meta:
        verbose_name = _("steering committee")
        verbose_name_plural = _("steering committees")

    def __str__(self) -> str:
        return str(
            _("Steering committee of %(reference)s") % {"reference": self.contract.reference}
        )


class SignatoryKind(models.TextChoices):
    MANDATORY = "mandatory", _("Mandatory")
    ASSOCIATED = "associated", _("Associated")


class SignatoryStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting signature")
    SIGNED = "signed", _("Signed")
    DECLINED = "declined", _("Declined")


class Signatory(models.Model):
    """An organisation that signs the contract, through its signer or a representative."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="signatories")
    organisation = models.ForeignKey(
        Organisation, verbose_name=_("organisation"), on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=12, choices=SignatoryKind.choices)
    signer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("signer"),
        on_delete=models.PROTECT,
        related_name="signatory_roles",
    )
    represented_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("represented by"),
        on_delete=models.PROTECT,
        related_name="representations",
        null=True,
        blank=True,
    )
    order = models.PositiveIntegerField(_("signing order"), default=1)
    mandate_reference = models.CharField(_("mandate reference"), max_length=120, blank=True)
    mandate_date = models.DateField(_("mandate date"), null=True, blank=True)
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=SignatoryStatus.choices,
        default=SignatoryStatus.PENDING,
    )
    decided_at = models.DateTimeField(_("signed or declined at"), null=True, blank=True)

    class Meta:
        ordering = ["contract", "order", "pk"]
        verbose_name = _("signatory")
        verbose_name_plural = _("signatories")
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "organisation"], name="one_signatory_per_organisation"
            ),
        ]

    def __str__(self) -> str:
        if self.represented_by_id:
            return str(
                _("%(organisation)s: %(representative)s for %(signer)s")
                % {
                    "organisation": self.organisation,
                    "representative": self.represented_by,
                    "signer": self.signer,
                }
            )
        return f"{self.organisation}: {self.signer}"

    @property
    def signing_person(self) -> User:
        """Who actually signs: the representative when there is one."""
        return self.represented_by or self.signer


# --- History ------------------------------------------------------------------------------


class HistoryEvent(models.TextChoices):
    IMPORTED = "imported", _("Contract imported")
    TRANSITION = "transition", _("Contract status changed")
    ACTION_TRANSITION = "action_transition", _("Action status changed")
    TASK_CREATED = "task_created", _("Task created")
    TASK_DELEGATED = "task_delegated", _("Task delegated")
    TASK_COMPLETED = "task_completed", _("Task completed")
    TASK_CANCELLED = "task_cancelled", _("Task cancelled")
    TASK_HELD = "task_held", _("Task put on hold")
    TASK_RESUMED = "task_resumed", _("Task resumed")
    VOTE_DECIDED = "vote_decided", _("Committee vote decided")
    SIGNATURE = "signature", _("Signature")
    DECLINE = "decline", _("Signature declined")
    SIGNATURE_VOIDED = "signature_voided", _("Signature voided")
    PEOPLE_CHANGED = "people_changed", _("People or signatories changed")
    HISTORY_EXPORTED = "history_exported", _("History exported")
    REMINDER = "reminder", _("Reminder sent")
    NOTIFIED = "notified", _("Notification sent")
    SIGNATURE_PASSWORD_REFUSED = "signature_password_refused", _("Signing refused: wrong password")


# What a history line's transition means, in words. Names not listed here (added later by
# other parts of Accord) fall back to the event's label.
CONTRACT_TRANSITION_WORDS = {
    "launch_review": _("Working-group review launched"),
    "open_committee": _("Sent to the steering committee"),
    "committee_validate": _("Validated by the steering committee"),
    "committee_reject": _("Rejected by the steering committee"),
    "record_deliberation": _("Council deliberation recorded"),
    "complete_signing": _("Signing completed: the contract is in force"),
    "return_to_draft": _("Back to draft after a mandatory signatory declined"),
    "close": _("Contract closed"),
    "suspend": _("Work suspended"),
    "resume": _("Work resumed"),
    "withdraw": _("Contract withdrawn"),
}
ACTION_TRANSITION_WORDS = {
    "submit_for_review": _("Action submitted for review"),
    "approve": _("Action approved by its working group"),
    "request_changes": _("Changes requested on the action"),
    "resubmit": _("Revised action resubmitted"),
    "validate": _("Action validated"),
    "return_to_draft": _("Action back to draft"),
    "start": _("Action started"),
    "complete": _("Action completed"),
    "abandon": _("Action abandoned"),
}


def status_label(choices: type[models.TextChoices], value: str) -> str:
    """A stored state in words (as stored when the state is no longer known)."""
    if not value:
        return ""
    try:
        return str(choices(value).label)
    except ValueError:
        return value


class HistoryEntryQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> NoReturn:
        raise TypeError("History entries are never updated.")

    def delete(self) -> NoReturn:
        raise TypeError("History entries are never deleted.")


GENESIS_HASH = "0" * 64


class HistoryEntry(models.Model):
    """One appended, hash-chained line of a contract's approval history.

    People are stored as username snapshots beside the foreign keys so that the chain can be
    recomputed whatever later happens to the accounts.
    """

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="history")
    seq = models.PositiveIntegerField(_("sequence"))
    at = models.DateTimeField(_("time"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_username = models.CharField(_("actor"), max_length=150, blank=True)
    on_behalf_of = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("on behalf of"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    on_behalf_of_username = models.CharField(_("on behalf of"), max_length=150, blank=True)
    event = models.CharField(_("event"), max_length=40, choices=HistoryEvent.choices)
    name = models.CharField(
        _("transition"), max_length=60, blank=True, help_text=_("The transition fired, if any.")
    )
    action = models.ForeignKey(
        Action,
        verbose_name=_("action"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="history",
    )
    action_code = models.CharField(_("action"), max_length=20, blank=True)
    from_state = models.CharField(_("from state"), max_length=20, blank=True)
    to_state = models.CharField(_("to state"), max_length=20, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    contract_version = models.PositiveIntegerField(_("contract version"))
    prev_hash = models.CharField(_("previous hash"), max_length=64)
    hash = models.CharField(_("hash"), max_length=64, unique=True)

    objects = HistoryEntryQuerySet.as_manager()

    class Meta:
        ordering = ["contract", "seq"]
        verbose_name = _("history entry")
        verbose_name_plural = _("history entries")
        constraints = [
            models.UniqueConstraint(fields=["contract", "seq"], name="history_seq_unique"),
        ]
        # The auditors' search filters by contract, event, person and period, newest first
        # (workflows/audit/, benchmarks/audit.py).
        indexes = [
            models.Index(fields=["at"]),
            models.Index(fields=["event", "at"]),
            models.Index(fields=["contract", "at"], name="history_contract_at"),
            models.Index(fields=["actor", "at"], name="history_actor_at"),
            models.Index(fields=["on_behalf_of", "at"], name="history_on_behalf_of_at"),
        ]

    def __str__(self) -> str:
        return f"{self.contract_id}#{self.seq} {self.event} {self.name}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError("History entries are never updated.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("History entries are never deleted.")

    def chained_content(self) -> dict:
        """What the entry's hash covers, besides the previous entry's hash."""
        return {
            "contract": self.contract.reference,
            "seq": self.seq,
            "at": self.at.astimezone(datetime.UTC).isoformat(timespec="microseconds"),
            "actor": self.actor_username,
            "on_behalf_of": self.on_behalf_of_username,
            "event": self.event,
            "name": self.name,
            "action": self.action_code,
            "from_state": self.from_state,
            "to_state": self.to_state,
            "comment": self.comment,
            "data": self.data,
            "contract_version": self.contract_version,
        }

    @property
    def what(self) -> str:
        """What happened, in words: the transition's meaning, else the event's label."""
        if self.event == HistoryEvent.ACTION_TRANSITION:
            words = ACTION_TRANSITION_WORDS.get(self.name)
        elif self.event == HistoryEvent.TRANSITION:
            words = CONTRACT_TRANSITION_WORDS.get(self.name)
        else:
            words = None
        return str(words or self.get_event_display())

    def state_label(self, which: str) -> str:
        """The "from" or "to" state of the entry, labelled as an action's or a contract's."""
        value = self.from_state if which == "from" else self.to_state
        if self.event == HistoryEvent.ACTION_TRANSITION or self.action_code:
            return status_label(ActionStatus, value)
        return status_label(ContractStatus, value)

    def compute_hash(self) -> str:
        payload = json.dumps(
            {**self.chained_content(), "prev_hash": self.prev_hash},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode()).hexdigest()


# --- Flows: processes, tasks, committee votes, absences -----------------------------------


class TaskKind(models.TextChoices):
    REVIEW = "review", _("Review of an action sheet")
    REVISION = "revision", _("Revision of an action sheet")
    VOTE = "vote", _("Committee vote")
    DELIBERATION = "deliberation", _("Council deliberation")
    SIGNATURE = "signature", _("Signature")


class TaskDecision(models.TextChoices):
    """What a person decides on a task; ``TaskKind.decisions`` says which fit which task."""

    APPROVE = "approve", _("Approve")
    REQUEST_CHANGES = "request_changes", _("Request changes")
    RESUBMIT = "resubmit", _("Send back for review")
    REJECT = "reject", _("Reject")
    RECORD = "record", _("Record the deliberation")
    SIGN = "sign", _("Sign")
    DECLINE = "decline", _("Decline to sign")


TASK_KIND_DECISIONS: dict[str, tuple[TaskDecision, ...]] = {
    TaskKind.REVIEW: (TaskDecision.APPROVE, TaskDecision.REQUEST_CHANGES),
    TaskKind.REVISION: (TaskDecision.RESUBMIT,),
    TaskKind.VOTE: (TaskDecision.APPROVE, TaskDecision.REJECT),
    TaskKind.DELIBERATION: (TaskDecision.RECORD,),
    TaskKind.SIGNATURE: (TaskDecision.SIGN, TaskDecision.DECLINE),
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
    data = models.JSONField(default=dict, blank=True)

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


class CommitteeVote(models.Model):
    """One round of the steering committee's vote on the whole contract."""

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
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("closed by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The chair, when the chair closed the vote before everyone voted."),
    )

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
        return self.approvals + self.rejections

    def tally(self) -> tuple[int, int]:
        """(approvals, rejections) cast so far in this round."""
        counts = self.tasks.filter(status=TaskStatus.DONE).aggregate(
            approvals=Count("pk", filter=Q(decision=TaskDecision.APPROVE)),
            rejections=Count("pk", filter=Q(decision=TaskDecision.REJECT)),
        )
        return counts["approvals"], counts["rejections"]

    def outcome_when(self, approvals: int, rejections: int, *, open_votes: int) -> str | None:
        """The outcome once it can no longer change, else None.

        Validated: votes cast >= quorum and approvals > half of the votes cast. Decided early
        when even the least favourable remaining votes cannot change it; decided on the votes
        cast when everyone voted or the chair closed the vote.
        """

        def validated(approving: int, cast: int) -> bool:
            return cast >= self.quorum and 2 * approving > cast

        cast = approvals + rejections
        if open_votes == 0 or self.closed_by_id is not None:
            return self.Outcome.VALIDATED if validated(approvals, cast) else self.Outcome.REJECTED
        if validated(approvals, cast + open_votes):  # even if every open vote rejects
            return self.Outcome.VALIDATED
        if not validated(approvals + open_votes, cast + open_votes):  # even if all approve
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
    owner_permission_content_type = models.ForeignKey(
        ContentType, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        _("status"),
        choices=TaskStatus.choices,
        default=TaskStatus.NEW,
        max_length=50,
        db_index=True,
    )
    data = models.JSONField(default=dict, blank=True)
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
        if self.kind == TaskKind.REVIEW and self.action_id:
            return _("Review of action %(code)s: %(title)s") % names
        if self.kind == TaskKind.REVISION and self.action_id:
            return _("Revision of action %(code)s: %(title)s") % names
        if self.kind == TaskKind.VOTE:
            return _("Committee vote on %(contract)s") % names
        if self.kind == TaskKind.DELIBERATION:
            return _("Council deliberation on %(contract)s") % names
        if self.kind == TaskKind.SIGNATURE and self.signatory:
            return _("Signature of %(contract)s for %(organisation)s") % {
                **names,
                "organisation": self.signatory.organisation.name,
            }
        return f"{self.kind_label} — {contract.reference}"

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


# --- Audit --------------------------------------------------------------------------------


class ContractAuditor(models.Model):
    """Someone outside the contract's roles (the chamber of accounts, a partner in dispute)
    granted read access to one contract and its history, by an administrator."""

    contract = models.ForeignKey(
        Contract, verbose_name=_("contract"), on_delete=models.CASCADE, related_name="auditors"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("auditor"),
        on_delete=models.CASCADE,
        related_name="audited_contracts",
    )
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    granted_at = models.DateTimeField(_("granted at"), auto_now_add=True)

    class Meta:
        ordering = ["contract", "user"]
        verbose_name = _("contract auditor")
        verbose_name_plural = _("contract auditors")
        constraints = [
            models.UniqueConstraint(fields=["contract", "user"], name="one_auditor_grant"),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.contract.reference}"


class HistoryCheckpoint(models.Model):
    """A chain head the nightly check found intact: the end of a chain cannot later be cut
    off, nor the whole chain recomputed after an edit, without verify_history noticing."""

    contract = models.ForeignKey(
        Contract, verbose_name=_("contract"), on_delete=models.PROTECT, related_name="+"
    )
    seq = models.PositiveIntegerField(_("sequence"))
    hash = models.CharField(_("hash"), max_length=64)
    at = models.DateTimeField(_("checked at"), default=timezone.now)

    objects = HistoryEntryQuerySet.as_manager()

    class Meta:
        ordering = ["contract", "seq"]
        verbose_name = _("history checkpoint")
        verbose_name_plural = _("history checkpoints")
        constraints = [
            models.UniqueConstraint(fields=["contract", "seq"], name="one_checkpoint_per_seq"),
        ]

    def __str__(self) -> str:
        return f"{self.contract_id}#{self.seq}"


class HistoryExport(models.Model):
    """Who read which part of the history as a file: every export is recorded here, and a
    contract's verification bundle in that contract's history as well."""

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        JSON = "json", "JSON"
        BUNDLE = "bundle", _("verification bundle")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("read by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    username = models.CharField(_("read by"), max_length=150)
    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    format = models.CharField(_("format"), max_length=8, choices=Format.choices)
    filters = models.JSONField(_("search"), default=dict, blank=True)
    entries = models.PositiveIntegerField(_("entries"))
    contracts = models.JSONField(
        _("contracts"), default=list, blank=True, help_text=_("References of the contracts read.")
    )

    objects = HistoryEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-at"]
        verbose_name = _("history export")
        verbose_name_plural = _("history exports")

    def __str__(self) -> str:
        return f"{self.username} {self.format} {self.at:%Y-%m-%d %H:%M}"
