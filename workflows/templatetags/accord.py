"""Presentation helpers for Accord's pages: amounts, statuses and history lines in words."""

from __future__ import annotations

import json
from decimal import Decimal

from django import template
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from workflows.analytics.selectors import MenuRights
from workflows.analytics.selectors import menu_rights as _menu_rights
from workflows.flows import DECISION_LABELS
from workflows.models import (
    ActionStatus,
    ContractStatus,
    HistoryEntry,
    Task,
    User,
    status_label,
)
from workflows.selectors import HISTORY_PERSON_KEYS, inbox_of, user_may_import_contracts

register = template.Library()


@register.filter
def euros(value) -> str:
    """An amount the French way: ``22 500,00 €`` (grouping and decimal mark follow the language)."""
    if value in (None, ""):
        return ""
    amount = formats.number_format(
        Decimal(value), decimal_pos=2, use_l10n=True, force_grouping=True
    )
    return f"{amount}\xa0€"


@register.filter
def grouped(value) -> str:
    """A whole number with thousands grouped: ``42 000``."""
    if value in (None, ""):
        return ""
    return formats.number_format(value, use_l10n=True, force_grouping=True)


@register.filter
def contract_status_label(value: str) -> str:
    return status_label(ContractStatus, value)


@register.filter
def action_status_label(value: str) -> str:
    return status_label(ActionStatus, value)


@register.filter
def history_what(entry: HistoryEntry) -> str:
    return entry.what


@register.filter
def history_state_label(entry: HistoryEntry, which: str) -> str:
    return entry.state_label(which)


# The details of a history entry an auditor reads, in words; other keys are shown as they are.
DETAIL_LABELS = {
    "task": _("Task no."),
    "owner": _("Held by"),
    "on_behalf_of": _("On behalf of"),
    "due": _("Due"),
    "decision": _("Decision"),
    "organisation": _("Organisation"),
    "signer": _("Signer"),
    "document_sha256": _("Document fingerprint"),
    "authentication": _("Authentication"),
    "ip_address": _("IP address"),
    "number": _("Deliberation number"),
    "date": _("Date"),
    "from": _("From"),
    "to": _("To"),
    "declined_by": _("Declined by"),
    "voided_signatures": _("Signatures voided"),
    "round": _("Round"),
    "approvals": _("Approvals"),
    "rejections": _("Rejections"),
    "quorum": _("Quorum"),
    "actions": _("Actions"),
    "before": _("Before"),
    "after": _("After"),
    "rank": _("Visa no."),
    "visas": _("Visas in the circuit"),
}


def _detail_value(value) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "" if value is None else str(value)


def _person_value(value, people: dict[str, User]) -> str:
    """Usernames as recorded, each after the person's name when known: "Claire Martin
    (tech1.ars)"."""
    names = value if isinstance(value, list) else [value]
    if not all(isinstance(name, str) for name in names):
        return _detail_value(value)
    shown = []
    for username in names:
        person = people.get(username)
        if person is None or person.display_name == username:
            shown.append(username)
        else:
            shown.append(f"{person.display_name} ({username})")
    return ", ".join(shown)


@register.simple_tag
def history_details(
    entry: HistoryEntry, people: dict[str, User] | None = None
) -> list[tuple[str, str]]:
    """The entry's recorded details as (label, value) pairs, empty values left out; the
    people named by username with their names when ``people`` (``history_people``) has them."""
    return [
        (
            str(DETAIL_LABELS.get(key, key)),
            _person_value(value, people or {})
            if key in HISTORY_PERSON_KEYS
            else _detail_value(value),
        )
        for key, value in entry.data.items()
        if value not in (None, "", [], {})
    ]


@register.simple_tag
def may_import_contracts(user) -> bool:
    return user_may_import_contracts(user)


@register.simple_tag
def menu_rights(user) -> MenuRights:
    """Whether the menu offers importing a contract and the analytics (one query)."""
    return _menu_rights(user)


@register.simple_tag(takes_context=True)
def open_task_count(context, user) -> int:
    """How many tasks wait for this person (the header's "My tasks" counter); the inbox page,
    which counts them anyway, passes its count as ``open_task_total``."""
    if not user.is_authenticated:
        return 0
    if "open_task_total" in context:
        return context["open_task_total"]
    return inbox_of(user).count()


@register.filter
def decision_label(value: str) -> str:
    if not value:
        return ""
    return str(DECISION_LABELS.get(value, value))


@register.filter
def fingerprint(value: str) -> str:
    """A SHA-256 in groups of eight characters, easier to read aloud and compare."""
    if not value:
        return ""
    return " ".join(value[i : i + 8] for i in range(0, len(value), 8))


# The two cells of a task line, written here rather than as included templates: an inbox page
# shows 50 lines, and an include costs a template render per cell.


@register.filter
def task_due(task: Task) -> str:
    """The due date as a <time>, flagged when overdue."""
    if not task.due:
        return format_html('<span class="muted">{}</span>', _("No due date"))
    due = timezone.localtime(task.due)
    html = format_html(
        '<time datetime="{}">{}</time>', due.isoformat(), formats.date_format(due, "j F Y")
    )
    if task.is_overdue:
        html += format_html(' <strong class="badge badge--overdue">{}</strong>', _("Overdue"))
    return html


@register.filter
def task_holder(task: Task) -> str:
    """Whom the holder acts for ("Y for X") and why, when they act for someone else."""
    if not task.acts_for_someone or task.owner is None or task.on_behalf_of is None:
        return mark_safe('<span class="muted">—</span>')
    return format_html(
        '{}<br><span class="muted">{}</span>',
        _("%(actor)s for %(principal)s")
        % {"actor": task.owner.display_name, "principal": task.on_behalf_of.display_name},
        _("during their absence") if task.delegation_id else _("as their representative"),
    )
