"""Presentation helpers for Accord's pages: amounts, statuses and history lines in words."""

from __future__ import annotations

import datetime
import functools
from decimal import Decimal

from django import template
from django.utils import formats, timezone, translation
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from workflows.analytics.selectors import MenuRights
from workflows.analytics.selectors import menu_rights as _menu_rights
from workflows.audit import archive
from workflows.audit.labels import french_datetime
from workflows.flows import DECISION_LABELS
from workflows.models import (
    ActionStatus,
    Contract,
    ContractStatus,
    HistoryEntry,
    Task,
    User,
    status_label,
)
from workflows.selectors import inbox_of, user_may_import_contracts

register = template.Library()


@register.filter
def person_line(person: User | None) -> str:
    """``includes/person.html`` in one call (name, then position and organisation): the
    contract page lists some seventy people, an include each cost a few milliseconds."""
    if person is None:
        return mark_safe('<span class="person"></span>\n')  # as the include renders nobody
    organisation = person.organisation.name if person.organisation else ""
    details = ", ".join(part for part in (person.position, organisation) if part)
    if not details:
        return format_html('<span class="person">{}</span>\n', person.display_name)
    return format_html(
        '<span class="person">{} <span class="muted">({})</span></span>\n',
        person.display_name,
        details,
    )


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


@register.simple_tag
def may_import_contracts(user) -> bool:
    return user_may_import_contracts(user)


@register.simple_tag
def may_archive(contract: Contract, user) -> bool:
    """Whether the contract page offers the archive's download (workflows/audit/archive.py)."""
    return archive.may_archive(contract, user)


@register.simple_tag
def archive_waits_for_seal(contract: Contract) -> bool:
    """Whether the archive waits for the seal, being drawn up (workflows/audit/archive.py)."""
    return archive.archive_waits_for_seal(contract)


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
def moment(value: datetime.datetime) -> str:
    """« 6 décembre 2026 à 2 h 19 », as the history's entries give their time."""
    return french_datetime(value)


@register.filter
def task_due(task: Task) -> str:
    """The due date as a <time>, flagged when overdue."""
    if not task.due:
        return format_html('<span class="muted">{}</span>', _("No due date"))
    due = timezone.localtime(task.due)
    html = format_html(
        '<time datetime="{}">{}</time>',
        due.isoformat(),
        _long_date(due.date(), translation.get_language()),
    )
    if task.is_overdue:
        html += format_html(' <strong class="badge badge--overdue">{}</strong>', _("Overdue"))
    return html


@functools.lru_cache(maxsize=1024)
def _long_date(day: datetime.date, language: str | None) -> str:
    """« 6 décembre 2026 » in the active ``language`` (part of the key: the month's name is
    translated). Kept: an inbox page writes 50 due dates, mostly the same few, and Django's
    date formatting was half of ``task_due``'s time (docs/benchmarks.md)."""
    return formats.date_format(day, "j F Y")


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
