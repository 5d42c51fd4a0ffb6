"""A contract's history: appended, hash-chained entries, never updated or deleted."""

from __future__ import annotations

import datetime
import hashlib
import json
from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .contracts import (
    Action,
    ActionStatus,
    Contract,
    ContractStatus,
)

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
    ACTION_SHEET_SAVED = "action_sheet_saved", _("Action sheet saved")
    MEETING_SCHEDULED = "meeting_scheduled", _("Committee meeting convened")
    MEETING_CHANGED = "meeting_changed", _("Committee meeting changed")
    MEETING_CANCELLED = "meeting_cancelled", _("Committee meeting cancelled")
    ATTACHMENT_ADDED = "attachment_added", _("Attachment added")
    CREATED = "created", _("Contract created")
    EDITED = "edited", _("Contract edited")
    ACTION_ADDED = "action_added", _("Action sheet added")
    INDICATOR_VALUE = "indicator_value", _("Indicator value recorded")
    CONVENTION_EDITED = "convention_edited", _("Convention text edited")
    ANNUAL_REVIEW_LAUNCHED = "annual_review_launched", _("Annual review launched")
    REPORT_COLLECTION_CLOSED = "report_collection_closed", _("Collection of the reports closed")
    ANNUAL_REPORT_DECIDED = "annual_report_decided", _("Annual report decided by the committee")
    AMENDMENT_OPENED = "amendment_opened", _("Amendment opened")
    AMENDMENT_CHANGED = "amendment_changed", _("Amendment changed")
    AMENDMENT_WITHDRAWN = "amendment_withdrawn", _("Amendment withdrawn")
    SIGNATURE_LOCKED = "signature_locked", _("Signing refused: too many wrong passwords")
    AMENDMENT_TRANSITION = "amendment_transition", _("Amendment status changed")
    AMENDMENT_CONSOLIDATED = "amendment_consolidated", _("Amendment consolidated into the contract")
    VISA = "visa", _("Internal visa given")
    VISA_REFUSED = "visa_refused", _("Internal visa refused")
    TASK_UNDONE = "task_undone", _("Decision undone")
    OPINION_ASKED = "opinion_asked", _("Opinion asked")
    OBSERVER_ADDED = "observer_added", _("Observer added")
    OBSERVER_REMOVED = "observer_removed", _("Observer removed")
    COMMENT_ADDED = "comment_added", _("Comment on an action sheet")


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
    "remove": _("Action sheet removed from the draft"),
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
# Version 1 hashed the usernames but not the accounts the pages and the search read through the
# foreign keys: an actor switched in the database went unseen. Version 2 covers every column
# the audit displays or searches on; entries written before keep their version and verify.
HASH_VERSION = 2


class HistoryEntry(models.Model):
    """One appended, hash-chained line of a contract's approval history.

    People are stored as username snapshots beside the foreign keys so that the chain can be
    recomputed whatever later happens to the accounts.
    """

    contract = models.ForeignKey(
        Contract, verbose_name=_("contract"), on_delete=models.PROTECT, related_name="history"
    )
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
    hash_version = models.PositiveSmallIntegerField(_("hash version"), default=HASH_VERSION)

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
        """What the entry's hash covers, besides the previous entry's hash: in version 2,
        the accounts, action and contract as the pages and the search read them too."""
        content = {
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
        if self.hash_version >= 2:
            content |= {
                "hash_version": self.hash_version,
                "contract_id": self.contract_id,
                "actor_id": self.actor_id,
                "on_behalf_of_id": self.on_behalf_of_id,
                "action_id": self.action_id,
            }
        return content

    @property
    def what(self) -> str:
        """What happened, in words: the transition's meaning, else the event's label."""
        if self.event == HistoryEvent.ACTION_TRANSITION:
            words = ACTION_TRANSITION_WORDS.get(self.name)
        elif self.event == HistoryEvent.TRANSITION:
            words = CONTRACT_TRANSITION_WORDS.get(self.name)
        else:
            words = None
        # Not get_event_display(): it hashes every lazily translated choice at each call,
        # a tenth of the audit page's time with 50 entries (docs/benchmarks.md).
        return str(words or status_label(HistoryEvent, self.event))

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
