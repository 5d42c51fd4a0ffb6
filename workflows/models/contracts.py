"""A contract and its action sheets, with their state machines.

Statuses are django-fsm-2 fields with ``protected=True``: they change only through the
transition methods below, called only by ``workflows.transitions.fire``, inside a verb of
``workflows.services`` that checks the transition's declared ``permission`` first.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, cast

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


from .people import (
    Organisation,
    User,
    VisaStep,
    organisation_visa_holders,
)

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
    return contract.actions.in_contract().exists()


@guard(_("The contract has no steering committee to validate it."))
def has_steering_committee(contract: Contract) -> bool:
    return SteeringCommittee.objects.filter(contract=contract).exists()


@guard(_("The contract has no mandatory signatory."))
def has_mandatory_signatory(contract: Contract) -> bool:
    return contract.signatories.filter(kind=SignatoryKind.MANDATORY).exists()


@guard(_("Every action must be approved by its working group first."))
def all_actions_approved(contract: Contract) -> bool:
    return not contract.actions.in_contract().exclude(status=ActionStatus.APPROVED).exists()


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


class Suspendable:
    """What a suspension writes on a row whose circuit may be paused (a contract, an
    amendment): where it stopped, since when, why; resuming clears them and says where to go
    back to. The FSM transitions, which differ by their states and permission, call these."""

    status: str
    suspended_from: str
    suspended_at: datetime.datetime | None
    suspension_reason: str

    def pause(self, reason: str) -> None:
        self.suspended_from = self.status
        self.suspended_at = timezone.now()
        self.suspension_reason = reason

    def unpause(self) -> str:
        state = self.suspended_from
        self.suspended_from = ""
        self.suspended_at = None
        self.suspension_reason = ""
        return state


class Contract(Suspendable, ConcurrentTransitionMixin, models.Model):
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
    # The contract as a convention (workflows.conventions): its preamble and its articles
    # ({"title", "text"} each), copied from its kind's default when it is created and
    # adjusted by a coordinator while it is a draft; no articles: the kind's default.
    convention_preamble = models.TextField(_("convention preamble"), blank=True)
    convention_articles = models.JSONField(_("convention articles"), default=list, blank=True)
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

    # The transitions change fields only; workflows.transitions adds cascades and history.

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
        self.pause(reason)

    @transition(
        field=status,
        source=ContractStatus.SUSPENDED,
        target=RETURN_VALUE(*SUSPENDABLE_STATES),
        permission=coordinator_permission,
        custom={"label": _("Resume the work")},
    )
    def resume(self) -> str:
        return self.unpause()

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

    contract = models.ForeignKey(
        Contract, verbose_name=_("contract"), on_delete=models.CASCADE, related_name="themes"
    )
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

    contract = models.ForeignKey(
        Contract,
        verbose_name=_("contract"),
        on_delete=models.CASCADE,
        related_name="working_groups",
    )
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
    # Taken out of a draft contract: the row stays for the history that names it, and the
    # contract no longer holds it (ActionQuerySet.in_contract).
    REMOVED = "removed", _("Removed")


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


@guard(_("A sheet is removed only while its contract is a draft."))
def contract_is_draft(action: Action) -> bool:
    return action.contract.status == ContractStatus.DRAFT


class ActionQuerySet(models.QuerySet["Action"]):
    def in_contract(self) -> ActionQuerySet:
        """The actions their contract holds: all but the sheets removed from its draft."""
        return self.exclude(status=ActionStatus.REMOVED)


class Action(ConcurrentTransitionMixin, models.Model):
    """An action sheet (fiche action): what will be done, by whom, funded how."""

    contract = models.ForeignKey(
        Contract, verbose_name=_("contract"), on_delete=models.CASCADE, related_name="actions"
    )
    theme = models.ForeignKey(
        Theme, verbose_name=_("theme"), on_delete=models.CASCADE, related_name="actions"
    )
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
    operational_objectives = models.JSONField(
        _("operational objectives"), default=list, blank=True, help_text=_("One per line.")
    )
    description = models.TextField(_("description"), blank=True)
    target_public = models.TextField(_("target public"), blank=True)
    place = models.CharField(_("place"), max_length=300, blank=True)
    starts_on = models.DateField(_("start"), null=True, blank=True)
    ends_on = models.DateField(_("end"), null=True, blank=True)
    # [{"date": "2020-06-30", "label": "..."}], in the order of their dates.
    milestones = models.JSONField(_("milestones"), default=list, blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    status = FSMField(
        _("status"),
        max_length=20,
        choices=ActionStatus.choices,
        default=ActionStatus.DRAFT,
        protected=True,
        db_index=True,
    )

    objects = ActionQuerySet.as_manager()

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
    def milestone_steps(self) -> list[tuple[datetime.date, str]]:
        """The milestones as (date, label), for display."""
        return [
            (datetime.date.fromisoformat(step["date"]), step["label"]) for step in self.milestones
        ]

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

    @transition(
        field=status,
        source=ActionStatus.DRAFT,
        target=ActionStatus.REMOVED,
        conditions=[contract_is_draft],
        permission=pilot_or_coordinator_permission,
        custom={"label": _("Remove the sheet")},
    )
    def remove(self) -> None:
        pass

    @transition(
        field=status,
        source=[
            ActionStatus.VALIDATED,
            ActionStatus.IN_PROGRESS,
            ActionStatus.DONE,
            ActionStatus.ABANDONED,
        ],
        target=ActionStatus.REMOVED,
        conditions=[contract_is_signed],
        custom={"label": _("Removed by an amendment")},
    )
    def amendment_remove(self) -> None:
        """Fired only by a signed amendment's consolidation (``workflows.consolidation``)."""


# An action sheet may be edited, by its pilot or a coordinator, only while it is being written
# or revised: what a lead approved stays what they approved.
SHEET_EDITABLE_STATES = (ActionStatus.DRAFT, ActionStatus.CHANGES_REQUESTED)


class ActionVersion(models.Model):
    """One saved state of an action sheet: what its leads reviewed, what the contract
    document names. Its content is the sheet as ``sheet_content`` writes it (canonical JSON,
    whose SHA-256 is recorded here and in the history)."""

    action = models.ForeignKey(
        Action, verbose_name=_("action"), on_delete=models.CASCADE, related_name="versions"
    )
    number = models.PositiveIntegerField(_("version"))
    content = models.JSONField(_("content"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        help_text=_("Empty for the version the contract file brought."),
    )
    created_at = models.DateTimeField(_("saved at"), default=timezone.now)

    class Meta:
        ordering = ["action", "number"]
        verbose_name = _("action sheet version")
        verbose_name_plural = _("action sheet versions")
        constraints = [
            models.UniqueConstraint(fields=["action", "number"], name="one_sheet_version_number")
        ]

    def __str__(self) -> str:
        return f"{self.action.code} v{self.number}"


def sheet_content(action: Action) -> dict[str, Any]:
    """The action sheet as a version keeps it: what its pilot and the coordinators write, in
    the contract file's words. Read through the relations' ``all()``, so that a prefetch serves
    a whole contract."""
    return {
        "code": action.code,
        "title": action.title,
        "objective": action.objective,
        "operational_objectives": list(action.operational_objectives),
        "description": action.description,
        "target_public": action.target_public,
        "place": action.place,
        "schedule": {
            "start": action.starts_on.isoformat() if action.starts_on else None,
            "end": action.ends_on.isoformat() if action.ends_on else None,
            "milestones": list(action.milestones),
        },
        "partners": sorted(partner.code for partner in action.partners.all()),
        "funding": [
            {
                "funder": line.funder.code,
                "amount": f"{line.amount:.2f}",
                "year": line.year,
                "status": line.status or None,
            }
            for line in sorted(action.funding_lines.all(), key=lambda line: line.pk)
        ],
        "indicators": [
            {
                "name": indicator.label,
                "unit": indicator.unit,
                "baseline": indicator.baseline,
                "target": indicator.target,
                "source": indicator.source,
            }
            for indicator in action.indicators.all()
        ],
    }


# The words for each part of a sheet, in the order a reader goes through it.
SHEET_FIELDS = {
    "title": _("Title"),
    "objective": _("Objective"),
    "operational_objectives": _("Operational objectives"),
    "description": _("Description"),
    "target_public": _("Target public"),
    "place": _("Place"),
    "schedule": _("Schedule"),
    "partners": _("Partners"),
    "funding": _("Funding"),
    "indicators": _("Indicators"),
}


def _sheet_items(field: str, value: Any) -> list[str]:
    """A list part of a sheet as lines a reader compares."""
    if field == "funding":
        return [
            " — ".join(
                str(part)
                for part in (
                    line["funder"],
                    f"{line['amount']} €",
                    line.get("year"),
                    line.get("status") and str(FundingStatus(line["status"]).label),
                )
                if part
            )
            for line in value
        ]
    if field == "indicators":
        return [
            " — ".join(
                str(part)
                for part in (
                    item["name"],
                    item.get("unit"),
                    item.get("baseline") and f"{_('baseline')} {item['baseline']}",
                    item.get("target") and f"{_('target')} {item['target']}",
                    item.get("source"),
                )
                if part
            )
            if isinstance(item, dict)
            else str(item)
            for item in value
        ]
    if field == "schedule":
        value = value or {}
        lines = [
            f"{_('start')}: {value.get('start') or '—'}",
            f"{_('end')}: {value.get('end') or '—'}",
        ]
        return lines + [f"{step['date']}: {step['label']}" for step in value.get("milestones", [])]
    return [str(item) for item in value]


def _blank(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_blank(part) for part in value.values())
    return not value


def sheet_changes(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """What changed from one version of a sheet to another, part by part: a text's before and
    after; a list's items removed and added (a funding line by funder and amount)."""
    changes = []
    for field, label in SHEET_FIELDS.items():
        old, new = before.get(field), after.get(field)
        if old == new or (_blank(old) and _blank(new)):
            continue  # a version older than a part has it blank
        change: dict[str, Any] = {"field": field, "label": str(label)}
        if isinstance(new, list | dict) or isinstance(old, list | dict):
            old_items, new_items = _sheet_items(field, old or []), _sheet_items(field, new or [])
            change["removed"] = [item for item in old_items if item not in new_items]
            change["added"] = [item for item in new_items if item not in old_items]
            if not (change["removed"] or change["added"]):
                continue  # the same lines, written the way an older version wrote them
        else:
            change["before"], change["after"] = old or "", new or ""
        changes.append(change)
    return changes


def content_sha256(content: dict[str, Any]) -> str:
    """The SHA-256 of a sheet's canonical JSON (sorted keys, no spaces, UTF-8)."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class FundingStatus(models.TextChoices):
    SECURED = "secured", _("Secured")
    REQUESTED = "requested", _("Requested")


class FundingLine(models.Model):
    """Who pays how much for an action, in exact euros."""

    action = models.ForeignKey(
        Action, verbose_name=_("action"), on_delete=models.CASCADE, related_name="funding_lines"
    )
    funder = models.ForeignKey(
        Organisation, verbose_name=_("funder"), on_delete=models.PROTECT, related_name="+"
    )
    amount = models.DecimalField(
        _("amount (€)"),
        max_digits=14,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.00"))],
    )
    year = models.PositiveSmallIntegerField(_("year"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=FundingStatus.choices, blank=True)

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
    action = models.ForeignKey(
        Action, verbose_name=_("action"), on_delete=models.CASCADE, related_name="indicators"
    )
    label = models.CharField(_("label"), max_length=500)
    unit = models.CharField(_("unit"), max_length=50, blank=True)
    baseline = models.CharField(_("baseline"), max_length=100, blank=True)
    target = models.CharField(_("target"), max_length=100, blank=True)
    source = models.CharField(_("source"), max_length=300, blank=True)
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
        Contract,
        verbose_name=_("contract"),
        on_delete=models.CASCADE,
        related_name="steering_committee",
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

    contract = models.ForeignKey(
        Contract, verbose_name=_("contract"), on_delete=models.CASCADE, related_name="signatories"
    )
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
    own_visas = models.BooleanField(
        _("own visa circuit"),
        default=False,
        help_text=_(
            "Its own circuit of internal visas (possibly none) rather than its organisation's."
        ),
    )

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

    def visa_holders(self) -> list[int]:
        """Who gives an internal visa before it signs, in order: its own circuit, else its
        organisation's."""
        if not self.own_visas:
            return organisation_visa_holders(self.organisation_id)
        return list(self.visas.order_by("order", "pk").values_list("person_id", flat=True))


class SignatoryVisa(VisaStep):
    """A signatory's own visa circuit for this contract, in place of its organisation's."""

    signatory = models.ForeignKey(
        Signatory, verbose_name=_("signatory"), on_delete=models.CASCADE, related_name="visas"
    )

    class Meta(VisaStep.Meta):
        verbose_name = _("internal visa of the signatory")
        verbose_name_plural = _("internal visas of the signatory")

    def clean(self) -> None:
        if (
            self.person_id
            and self.signatory_id
            and self.person.organisation_id != self.signatory.organisation_id
        ):
            raise ValidationError(
                {"person": _("Only a person of the organisation gives its internal visa.")}
            )
