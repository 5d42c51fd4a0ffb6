"""Amendments (avenants): the changes a signed contract goes through while it is in force.

An ``Amendment`` is a draft of changes to a signed contract, numbered 1, 2... per contract;
one at a time is open. Its changes are **proposals**: rows of their own
(``AmendmentChange``: a sheet added, modified or removed; ``AmendmentSignatory``: a
signatory added; the amendment's own ``period_end``: the period extended) that leave the
signed contract's rows (its actions, their versions, its signatories) and its signed document
exactly as they were signed until the amendment itself is signed. So the contract in force
stays what its parties signed while an amendment is written, reviewed and voted, an amendment
withdrawn leaves nothing behind, and what the amendment changes is the difference between
two documents that both exist: the signed contract's contract file and the same file with the
proposals applied (``workflows.services.amendments.amended_file``), which the contract file's
own rules check as they check a draft written in Accord.

A proposed sheet is written in the contract file's words (an ``action`` of
``contract.schema.json``, as ``action_entry`` writes one), so that applying a proposal is
putting it in the file, checking it is running the file's rules, and consolidating it once
signed is what ``action_add`` and ``action_sheet_save`` already do with such a sheet.

The amendment's status is a protected FSM field, as the contract's: ``draft`` while it is
written, then (the circuit, the next step) ``review`` of the added and modified sheets only,
``committee``, ``deliberation``, ``signing``, ``signed``; ``withdrawn`` when a coordinator
gives it up. A mandatory signatory's decline will send the amendment (not the contract) back
to ``draft`` with ``version`` + 1, as a decline does to a contract.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition

from .contracts import (
    Contract,
    Signatory,
    SignatoryKind,
    Suspendable,
    coordinator_permission,
    guard,
)
from .people import Organisation, VisaStep


class AmendmentStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    REVIEW = "review", _("Working-group review")
    COMMITTEE = "committee", _("Steering committee")
    DELIBERATION = "deliberation", _("Council deliberation")
    SIGNING = "signing", _("Signing")
    SIGNED = "signed", _("Signed")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    SUSPENDED = "suspended", _("Suspended")


# An amendment in one of these is over: another may be opened.
CLOSED_AMENDMENT_STATES = (AmendmentStatus.SIGNED, AmendmentStatus.WITHDRAWN)
# Its changes are written while it is a draft only (as a contract's parts).
AMENDMENT_WITHDRAWABLE_STATES = (AmendmentStatus.DRAFT,)
# Its circuit may be paused, as a contract's, while people have tasks on it.
AMENDMENT_SUSPENDABLE_STATES = [
    AmendmentStatus.REVIEW,
    AmendmentStatus.COMMITTEE,
    AmendmentStatus.DELIBERATION,
    AmendmentStatus.SIGNING,
]


@guard(_("The amendment changes nothing yet: propose a change before launching its review."))
def amendment_has_changes(amendment: Amendment) -> bool:
    return (
        amendment.changes.exists()
        or amendment.added_signatories.exists()
        or amendment.period_end is not None
    )


def _is_amendment_coordinator(amendment: Amendment, user: Any) -> bool:
    """Who moves an amendment: the coordinators of its contract."""
    return coordinator_permission(amendment.contract, user)


# As `coordinator_permission`: the amendment transitions' `permission=`.
amendment_coordinator_permission: Callable[[Any, Any], bool] = _is_amendment_coordinator


class Amendment(Suspendable, ConcurrentTransitionMixin, models.Model):
    """An amendment (avenant) to a signed contract: its number, where it stands, and what it
    changes besides its sheets and signatories (the period, the reason)."""

    contract = models.ForeignKey(
        Contract, verbose_name=_("contract"), on_delete=models.CASCADE, related_name="amendments"
    )
    number = models.PositiveIntegerField(_("number"))
    status = FSMField(
        _("status"),
        max_length=20,
        choices=AmendmentStatus.choices,
        default=AmendmentStatus.DRAFT,
        protected=True,
        db_index=True,
    )
    # As a contract's: + 1 each time a mandatory decline sends it back to draft (next step).
    version = models.PositiveIntegerField(_("version"), default=1)
    summary = models.TextField(
        _("reason"), blank=True, help_text=_("Why the contract is amended, in a few lines.")
    )
    # The signed document the amendment amends, named in the amendment's own document.
    amended_document_sha256 = models.CharField(_("amended document fingerprint"), max_length=64)
    period_end = models.DateField(
        _("new period end"),
        null=True,
        blank=True,
        help_text=_("Empty: the period does not change."),
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("opened by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    opened_at = models.DateTimeField(_("opened at"), default=timezone.now)
    withdrawal_reason = models.TextField(_("withdrawal reason"), blank=True)
    # The amendment's own document, frozen when its deliberation is recorded.
    document_sha256 = models.CharField(_("document fingerprint"), max_length=64, blank=True)
    deliberation_number = models.CharField(_("deliberation number"), max_length=50, blank=True)
    deliberation_date = models.DateField(_("deliberation date"), null=True, blank=True)
    # What the amendment changed, as its document said it when frozen (the contract in force
    # includes it once signed, so that it can no longer be read from the difference).
    document_data = models.JSONField(_("frozen document data"), default=dict, blank=True)
    signed_at = models.DateTimeField(_("signed at"), null=True, blank=True)
    # While suspended, as a contract's: where its circuit resumes, since when, why.
    suspended_from = models.CharField(
        _("suspended from"), max_length=20, choices=AmendmentStatus.choices, blank=True
    )
    suspended_at = models.DateTimeField(_("suspended at"), null=True, blank=True)
    suspension_reason = models.TextField(_("suspension reason"), blank=True)

    class Meta:
        ordering = ["contract", "number"]
        verbose_name = _("amendment")
        verbose_name_plural = _("amendments")
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "number"], name="one_amendment_number_per_contract"
            ),
            # One open at a time: the service says so politely (409), the database surely.
            models.UniqueConstraint(
                fields=["contract"],
                condition=~Q(status__in=["signed", "withdrawn"]),
                name="one_open_amendment_per_contract",
            ),
        ]

    def __str__(self) -> str:
        return str(
            _("Amendment no. %(number)d to %(reference)s")
            % {"number": self.number, "reference": self.contract.reference}
        )

    @property
    def is_open(self) -> bool:
        return self.status not in CLOSED_AMENDMENT_STATES

    @transition(
        field=status,
        source=AMENDMENT_WITHDRAWABLE_STATES,
        target=AmendmentStatus.WITHDRAWN,
        permission=amendment_coordinator_permission,
        custom={"label": _("Withdraw the amendment")},
    )
    def withdraw(self, *, reason: str) -> None:
        self.withdrawal_reason = reason

    # --- The circuit (AmendmentFlow drives it; ``workflows.transitions`` fires it) ---------

    @transition(
        field=status,
        source=AMENDMENT_SUSPENDABLE_STATES,
        target=AmendmentStatus.SUSPENDED,
        permission=amendment_coordinator_permission,
        custom={"label": _("Suspend the amendment's circuit")},
    )
    def suspend(self, *, reason: str) -> None:
        self.pause(reason)

    @transition(
        field=status,
        source=AmendmentStatus.SUSPENDED,
        target=RETURN_VALUE(*AMENDMENT_SUSPENDABLE_STATES),
        permission=amendment_coordinator_permission,
        custom={"label": _("Resume the amendment's circuit")},
    )
    def resume(self) -> str:
        return self.unpause()

    @transition(
        field=status,
        source=AmendmentStatus.DRAFT,
        target=AmendmentStatus.REVIEW,
        conditions=[amendment_has_changes],
        permission=amendment_coordinator_permission,
        custom={"label": _("Launch the amendment's review")},
    )
    def launch_review(self) -> None:
        pass

    @transition(
        field=status,
        source=AmendmentStatus.REVIEW,
        target=AmendmentStatus.COMMITTEE,
        custom={"label": _("Send the amendment to the steering committee")},
    )
    def open_committee(self) -> None:
        pass

    @transition(
        field=status,
        source=AmendmentStatus.COMMITTEE,
        target=AmendmentStatus.DELIBERATION,
        custom={"label": _("Validate the amendment (committee)")},
    )
    def committee_validate(self) -> None:
        pass

    @transition(
        field=status,
        source=AmendmentStatus.COMMITTEE,
        target=AmendmentStatus.DRAFT,
        custom={"label": _("Reject the amendment (committee)")},
    )
    def committee_reject(self) -> None:
        self.version += 1

    @transition(
        field=status,
        source=AmendmentStatus.DELIBERATION,
        target=AmendmentStatus.SIGNING,
        permission=amendment_coordinator_permission,
        custom={"label": _("Record the amendment's deliberation")},
    )
    def record_deliberation(
        self, *, number: str, date: datetime.date, document_sha256: str
    ) -> None:
        self.deliberation_number, self.deliberation_date = number, date
        self.document_sha256 = document_sha256

    @transition(
        field=status,
        source=AmendmentStatus.SIGNING,
        target=AmendmentStatus.SIGNED,
        custom={"label": _("Complete the amendment's signing")},
    )
    def complete_signing(self) -> None:
        self.signed_at = timezone.now()

    @transition(
        field=status,
        source=AmendmentStatus.SIGNING,
        target=AmendmentStatus.DRAFT,
        custom={"label": _("Send the amendment back to draft")},
    )
    def return_to_draft(self) -> None:
        self.version += 1
        self.document_sha256 = ""
        self.deliberation_number, self.deliberation_date = "", None
        self.document_data = {}


class AmendmentChangeKind(models.TextChoices):
    ADDED = "added", _("Added")
    MODIFIED = "modified", _("Modified")
    REMOVED = "removed", _("Removed")


class ChangeReview(models.TextChoices):
    PENDING = "pending", _("Not reviewed yet")
    REVIEW = "review", _("Under review")
    CHANGES_REQUESTED = "changes_requested", _("Changes requested")
    APPROVED = "approved", _("Approved")


class AmendmentChange(models.Model):
    """One action sheet the amendment adds, modifies or removes: a proposal, kept apart from
    the signed contract's rows until the amendment is signed.

    ``content``: the sheet as the amendment proposes it, in the contract file's words (an
    ``action`` as ``action_entry`` writes it); empty for a removal. ``base_version``: the
    signed sheet's version it modifies or removes (none for an added sheet), which must still
    be the sheet's current one when the amendment is consolidated. ``version``: the proposal's
    own version number, as a sheet's: a modified sheet's proposal is first its base's
    version + 1, an added one's 1, and every save adds one; a save made on an older one is
    refused (409) rather than overwriting someone else's."""

    amendment = models.ForeignKey(
        Amendment, verbose_name=_("amendment"), on_delete=models.CASCADE, related_name="changes"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=AmendmentChangeKind.choices)
    code = models.CharField(_("action code"), max_length=20)
    theme_code = models.CharField(_("theme code"), max_length=20)
    content = models.JSONField(_("proposed sheet"), default=dict, blank=True)
    base_version = models.PositiveIntegerField(_("base version"), null=True, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("saved at"), default=timezone.now)
    # Where its review by the working group's leads stands (added and modified sheets only).
    review_status = models.CharField(
        _("review"),
        max_length=20,
        choices=ChangeReview.choices,
        default=ChangeReview.PENDING,
    )

    class Meta:
        ordering = ["amendment", "pk"]
        verbose_name = _("amendment change")
        verbose_name_plural = _("amendment changes")
        constraints = [
            models.UniqueConstraint(
                fields=["amendment", "code"], name="one_change_per_action_and_amendment"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amendment}: {self.get_kind_display()} {self.code}"


class AmendmentSignatory(models.Model):
    """A signatory the amendment adds (a new partner joining the contract): a proposal, as
    the contract file writes a signatory, until the amendment is signed."""

    amendment = models.ForeignKey(
        Amendment,
        verbose_name=_("amendment"),
        on_delete=models.CASCADE,
        related_name="added_signatories",
    )
    organisation = models.ForeignKey(
        Organisation, verbose_name=_("organisation"), on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=12, choices=SignatoryKind.choices)
    signer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("signer"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    represented_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("represented by"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    order = models.PositiveIntegerField(_("signing order"), default=1)
    mandate_reference = models.CharField(_("mandate reference"), max_length=120, blank=True)
    mandate_date = models.DateField(_("mandate date"), null=True, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["amendment", "order", "pk"]
        verbose_name = _("signatory added by an amendment")
        verbose_name_plural = _("signatories added by an amendment")
        constraints = [
            models.UniqueConstraint(
                fields=["amendment", "organisation"],
                name="one_added_signatory_per_organisation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amendment}: {self.organisation}"

    def entry(self) -> dict[str, Any]:
        """The signatory as the contract file writes it (``_signatory_entry``'s words)."""
        entry: dict[str, Any] = {
            "organisation": self.organisation.code,
            "kind": self.kind,
            "signer": self.signer.username,
        }
        if self.represented_by is not None:
            entry["represented_by"] = self.represented_by.username
        entry["order"] = self.order
        if self.mandate_reference and self.mandate_date:
            entry["mandate"] = {
                "reference": self.mandate_reference,
                "date": self.mandate_date.isoformat(),
            }
        return entry


class AmendmentPartyStatus(models.TextChoices):
    PENDING = "pending", _("To sign")
    SIGNED = "signed", _("Signed")
    DECLINED = "declined", _("Declined")


class AmendmentParty(models.Model):
    """A party concerned by an amendment round, frozen when its deliberation is recorded: a
    signatory of the contract (mandatory, or associated and concerned) or one the amendment
    adds. Its signature goes on the amendment's document, never on the contract's rows: the
    attributes are those of a ``Signatory``, so the document's signature blocks draw both."""

    amendment = models.ForeignKey(
        Amendment, verbose_name=_("amendment"), on_delete=models.CASCADE, related_name="parties"
    )
    amendment_version = models.PositiveIntegerField(_("amendment version"))
    signatory = models.ForeignKey(
        Signatory,
        verbose_name=_("signatory"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    added = models.ForeignKey(
        AmendmentSignatory,
        verbose_name=_("added signatory"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    organisation = models.ForeignKey(
        Organisation, verbose_name=_("organisation"), on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=12, choices=SignatoryKind.choices)
    signer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("signer"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    represented_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("represented by"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    order = models.PositiveIntegerField(_("signing order"), default=1)
    mandate_reference = models.CharField(_("mandate reference"), max_length=120, blank=True)
    mandate_date = models.DateField(_("mandate date"), null=True, blank=True)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=AmendmentPartyStatus.choices,
        default=AmendmentPartyStatus.PENDING,
    )
    decided_at = models.DateTimeField(_("signed or declined at"), null=True, blank=True)

    class Meta:
        ordering = ["amendment", "amendment_version", "order", "pk"]
        verbose_name = _("party to an amendment")
        verbose_name_plural = _("parties to an amendment")
        constraints = [
            models.UniqueConstraint(
                fields=["amendment", "amendment_version", "organisation"],
                name="one_party_per_organisation_and_amendment_version",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amendment}: {self.organisation}"

    def visa_holders(self) -> list[int]:
        """Who gives an internal visa before it signs, in order (frozen with the party)."""
        return list(self.visas.order_by("order", "pk").values_list("person_id", flat=True))


class AmendmentPartyVisa(VisaStep):
    """The party's visa circuit, frozen with it at the deliberation: the signatory's own, or
    its organisation's."""

    party = models.ForeignKey(
        AmendmentParty,
        verbose_name=_("party to the amendment"),
        on_delete=models.CASCADE,
        related_name="visas",
    )

    class Meta(VisaStep.Meta):
        verbose_name = _("internal visa of a party to an amendment")
        verbose_name_plural = _("internal visas of a party to an amendment")
