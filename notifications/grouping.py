"""Similar notifications told as one: "12 fiches approuvées sur CLS-TDC-2019".

A coordinator approving nothing still hears of every approval of every sheet of a contract
(79 unread in a morning of reviews). Each notification written carries a ``group_key`` naming
its kind ("decided:review:approve"); the notification centre, the badge and the e-mail digest
show the notifications of one key, one contract and one day as a single line, in the reader's
language, with the detail one click away. Kinds that each deserve their own line (a status
change, a mention, a meeting, a refusal after your approval) carry no key.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import ngettext_lazy

from .models import NotificationEvent

# (event, task kind, decision) -> the group's line, its plural chosen by %(count)d, with
# %(reference)s. A key missing here is told with the event's own label (``group_title``).
_TITLES: dict[str, Promise] = {
    "decided:review:approve": ngettext_lazy(
        "%(count)d action sheet approved on %(reference)s",
        "%(count)d action sheets approved on %(reference)s",
        "count",
    ),
    "decided:review:request_changes": ngettext_lazy(
        "%(count)d request for changes on %(reference)s",
        "%(count)d requests for changes on %(reference)s",
        "count",
    ),
    "decided:revision:resubmit": ngettext_lazy(
        "%(count)d action sheet sent back for review on %(reference)s",
        "%(count)d action sheets sent back for review on %(reference)s",
        "count",
    ),
    "decided:vote:approve": ngettext_lazy(
        "%(count)d vote for on %(reference)s",
        "%(count)d votes for on %(reference)s",
        "count",
    ),
    "decided:vote:reject": ngettext_lazy(
        "%(count)d vote against on %(reference)s",
        "%(count)d votes against on %(reference)s",
        "count",
    ),
    "decided:vote:abstain": ngettext_lazy(
        "%(count)d abstention on %(reference)s",
        "%(count)d abstentions on %(reference)s",
        "count",
    ),
    "decided:visa:approve": ngettext_lazy(
        "%(count)d internal visa given on %(reference)s",
        "%(count)d internal visas given on %(reference)s",
        "count",
    ),
    "decided:report:submit": ngettext_lazy(
        "%(count)d annual report of an action submitted on %(reference)s",
        "%(count)d annual reports of actions submitted on %(reference)s",
        "count",
    ),
    "decided:opinion:answer": ngettext_lazy(
        "%(count)d opinion given on %(reference)s",
        "%(count)d opinions given on %(reference)s",
        "count",
    ),
    "document_signed:signature:sign": ngettext_lazy(
        "%(count)d signature on %(reference)s",
        "%(count)d signatures on %(reference)s",
        "count",
    ),
    "assigned:review": ngettext_lazy(
        "%(count)d new action sheet to review on %(reference)s",
        "%(count)d new action sheets to review on %(reference)s",
        "count",
    ),
    "assigned:revision": ngettext_lazy(
        "%(count)d action sheet to revise on %(reference)s",
        "%(count)d action sheets to revise on %(reference)s",
        "count",
    ),
    "assigned:report": ngettext_lazy(
        "%(count)d annual report to write on %(reference)s",
        "%(count)d annual reports to write on %(reference)s",
        "count",
    ),
    "assigned": ngettext_lazy(
        "%(count)d new task on %(reference)s",
        "%(count)d new tasks on %(reference)s",
        "count",
    ),
    "due_soon": ngettext_lazy(
        "%(count)d task due soon on %(reference)s",
        "%(count)d tasks due soon on %(reference)s",
        "count",
    ),
    "overdue": ngettext_lazy(
        "%(count)d overdue task on %(reference)s",
        "%(count)d overdue tasks on %(reference)s",
        "count",
    ),
    "overdue_alert": ngettext_lazy(
        "%(count)d overdue task held by partners on %(reference)s",
        "%(count)d overdue tasks held by partners on %(reference)s",
        "count",
    ),
}

# Event -> the first part of its keys.
_PREFIXES: dict[str, str] = {
    NotificationEvent.DECISION_MADE: "decided",
    NotificationEvent.DOCUMENT_SIGNED: "document_signed",
    NotificationEvent.TASK_ASSIGNED: "assigned",
    NotificationEvent.TASK_DUE_SOON: "due_soon",
    NotificationEvent.TASK_OVERDUE: "overdue",
    NotificationEvent.OVERDUE_ALERT: "overdue_alert",
}


def group_key(event: str, *parts: str) -> str:
    """The key of a notification of ``event`` about a task of this kind (and decision)."""
    return ":".join([_PREFIXES[event], *parts])[:80]


def group_title(key: str, count: int, reference: str, event_label: str) -> str:
    """The line telling ``count`` notifications of one group, in the active language."""
    values = {"count": count, "reference": reference}
    for candidate in (key, key.split(":", 1)[0]):
        if candidate in _TITLES:
            return str(_TITLES[candidate] % values)
    return _("%(count)d notifications “%(event)s” on %(reference)s") % {
        **values,
        "event": event_label,
    }
