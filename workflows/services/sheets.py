"""Writing an action sheet: its pilot or a coordinator saves it while it is being written or
revised; every save is a new version, recorded in the history, and a save made on an older
version than the current one is refused rather than silently overwriting it."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from ..contract_file.amounts import amount_of, amount_problem
from ..errors import ApplicationError, Conflict, NotAllowed
from ..history import UnitOfWork
from ..models import (
    SHEET_EDITABLE_STATES,
    Action,
    ActionVersion,
    FundingLine,
    FundingStatus,
    HistoryEvent,
    Indicator,
    User,
    content_sha256,
    sheet_content,
)
from ..rules import may_edit_sheet

SHEET_CHANGED_MEANWHILE = gettext_noop(
    "%(person)s saved version %(version)d of this sheet meanwhile: reload it, then make your "
    "changes again."
)
# What a save writes on the action's own row.
SHEET_TEXT_FIELDS = [
    "title",
    "objective",
    "operational_objectives",
    "description",
    "target_public",
    "place",
    "starts_on",
    "ends_on",
    "milestones",
]
TITLE_MAX_LENGTH = Action._meta.get_field("title").max_length
PLACE_MAX_LENGTH = Action._meta.get_field("place").max_length
# An indicator's parts, their words and the length of their columns (models.Indicator).
INDICATOR_PARTS = {
    "name": (gettext_lazy("label"), 500),
    "unit": (gettext_lazy("unit"), 50),
    "baseline": (gettext_lazy("baseline"), 100),
    "target": (gettext_lazy("target"), 100),
    "source": (gettext_lazy("source"), 300),
}


@dataclass(frozen=True)
class FundingEntry:
    funder: str  # the organisation's code
    amount: str  # euros, as typed: "12000", "12 000,50"...
    year: int | None = None
    status: str = ""  # FundingStatus, or "" when not said


@dataclass(frozen=True)
class IndicatorEntry:
    name: str
    unit: str = ""
    baseline: str = ""
    target: str = ""
    source: str = ""


@dataclass(frozen=True)
class Milestone:
    date: datetime.date
    label: str


@dataclass(frozen=True)
class SheetEdit:
    """An action sheet as its pilot or a coordinator writes it (page form or API), in the
    words of ``life.md``."""

    title: str
    objective: str = ""
    operational_objectives: list[str] = field(default_factory=list)
    description: str = ""
    target_public: str = ""
    place: str = ""
    starts_on: datetime.date | None = None
    ends_on: datetime.date | None = None
    milestones: list[Milestone] = field(default_factory=list)
    partners: list[str] = field(default_factory=list)  # organisations' codes
    funding: list[FundingEntry] = field(default_factory=list)
    indicators: list[IndicatorEntry] = field(default_factory=list)


def latest_version_number(action_field: str) -> Subquery:
    """The number of the sheet's latest version, as a subquery on the outer query's
    ``action_field`` (None before its first version: ``current_version`` writes it)."""
    return Subquery(
        ActionVersion.objects.filter(action=OuterRef(action_field))
        .order_by("-number")
        .values("number")[:1]
    )


def current_version(action: Action) -> ActionVersion:
    """The sheet's latest version; a sheet older than versions (written before they existed)
    gets its version 1 from what it holds now."""
    version = action.versions.order_by("-number").first()
    if version is None:
        content = sheet_content(action)
        version = ActionVersion.objects.create(
            action=action, number=1, content=content, sha256=content_sha256(content)
        )
    return version


def _amount(text: str) -> Decimal | None:
    """An amount as a person types it ("12 500,50"), checked by the contract file's own rules
    for amounts (not negative, at most two decimals, within the column); None when it is not
    one."""
    cleaned = str(text).replace("\u00a0", "").replace("\u202f", "").replace(" ", "")
    cleaned = cleaned.replace(",", ".")
    return None if amount_problem(cleaned) is not None else amount_of(cleaned)


def _checked(action: Action, edit: SheetEdit) -> tuple[str, list[tuple[FundingEntry, Decimal]]]:
    """Refuse (400) a sheet that cannot be saved, naming each problem; returns the title and
    the funding lines as amounts."""
    problems = []
    title = edit.title.strip()
    if not title:
        problems.append(_("The title is required."))
    elif len(title) > TITLE_MAX_LENGTH:
        problems.append(
            _("The title is too long (%(max)d characters at most).") % {"max": TITLE_MAX_LENGTH}
        )
    known = set(action.contract.organisations.values_list("code", flat=True))
    unknown = sorted({*edit.partners, *(line.funder for line in edit.funding)} - known)
    if unknown:
        problems.append(
            _("Not a partner organisation of this contract: %(codes)s.")
            % {"codes": ", ".join(unknown)}
        )
    funding = []
    for line in edit.funding:
        amount = _amount(line.amount)
        if amount is None:
            problems.append(
                _("“%(amount)s” is not an amount in euros (at most two decimals, not negative).")
                % {"amount": line.amount}
            )
        else:
            funding.append((line, amount))
    for line in edit.funding:
        if line.year is not None and not 1900 <= line.year <= 2200:
            problems.append(_("“%(year)s” is not a year.") % {"year": line.year})
        if line.status and line.status not in FundingStatus.values:
            problems.append(
                _("A funding line is secured or requested, not “%(status)s”.")
                % {"status": line.status}
            )
    if any(not indicator.name.strip() for indicator in edit.indicators):
        problems.append(_("An indicator needs a label."))
    for indicator in edit.indicators:
        for part, (word, limit) in INDICATOR_PARTS.items():
            if len(getattr(indicator, part).strip()) > limit:
                problems.append(
                    _("An indicator's %(part)s is too long (%(max)d characters at most).")
                    % {"part": word, "max": limit}
                )
    if edit.starts_on and edit.ends_on and edit.ends_on < edit.starts_on:
        problems.append(_("The action ends before it starts."))
    if any(not step.label.strip() for step in edit.milestones):
        problems.append(_("A milestone needs a label."))
    if len(edit.place.strip()) > PLACE_MAX_LENGTH:
        problems.append(
            _("The place is too long (%(max)d characters at most).") % {"max": PLACE_MAX_LENGTH}
        )
    if problems:
        raise ApplicationError(" ".join(problems), {"errors": problems})
    return title, funding


@transaction.atomic
def action_sheet_save(
    *, action: Action, actor: User, base_version: int, edit: SheetEdit
) -> ActionVersion:
    """Save the sheet as ``edit`` writes it, on top of version ``base_version`` (the one the
    writer started from): version ``base_version + 1``, or a conflict when someone saved
    another version meanwhile."""
    with UnitOfWork.lock(action.contract_id) as unit:
        action = unit.contract.actions.select_for_update().get(pk=action.pk)
        action.contract = unit.contract
        if not may_edit_sheet(action, actor):
            raise NotAllowed(_("Only the action's pilot or a coordinator may edit its sheet."))
        if action.status not in SHEET_EDITABLE_STATES:
            raise Conflict(
                _("The sheet cannot change while the action is “%(state)s”.")
                % {"state": action.get_status_display()},
                {"state": action.status},
            )
        current = current_version(action)
        if base_version != current.number:
            author = current.author.display_name if current.author else _("the import")
            raise Conflict(
                _(SHEET_CHANGED_MEANWHILE) % {"person": author, "version": current.number},
                {"version": current.number},
            )
        title, funding = _checked(action, edit)
        action.title, action.objective = title, edit.objective.strip()
        action.operational_objectives = [
            text.strip() for text in edit.operational_objectives if text.strip()
        ]
        action.description = edit.description.strip()
        action.target_public = edit.target_public.strip()
        action.place = edit.place.strip()
        action.starts_on, action.ends_on = edit.starts_on, edit.ends_on
        action.milestones = [
            {"date": step.date.isoformat(), "label": step.label.strip()}
            for step in sorted(edit.milestones, key=lambda step: step.date)
        ]
        action.save(update_fields=SHEET_TEXT_FIELDS)
        organisations = dict(unit.contract.organisations.values_list("code", "pk"))
        action.partners.set([organisations[code] for code in edit.partners])
        action.funding_lines.all().delete()
        FundingLine.objects.bulk_create(
            FundingLine(
                action=action,
                funder_id=organisations[line.funder],
                amount=amount,
                year=line.year,
                status=line.status,
            )
            for line, amount in funding
        )
        action.indicators.all().delete()
        Indicator.objects.bulk_create(
            Indicator(
                action=action,
                label=indicator.name.strip(),
                unit=indicator.unit.strip(),
                baseline=indicator.baseline.strip(),
                target=indicator.target.strip(),
                source=indicator.source.strip(),
                position=n,
            )
            for n, indicator in enumerate(edit.indicators)
        )
        content = sheet_content(action)
        version = ActionVersion.objects.create(
            action=action,
            number=current.number + 1,
            content=content,
            sha256=content_sha256(content),
            author=actor,
        )
        unit.record(
            event=HistoryEvent.ACTION_SHEET_SAVED,
            actor=actor,
            action=action,
            name=f"v{version.number}",
            data={"version": version.number, "sha256": version.sha256},
        )
    return version
