"""Writing an action sheet: its pilot or a coordinator saves it while it is being written or
revised; every save is a new version, recorded in the history, and a save made on an older
version than the current one is refused rather than silently overwriting it."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from ..errors import ApplicationError, Conflict, NotAllowed
from ..history import UnitOfWork
from ..models import (
    SHEET_EDITABLE_STATES,
    Action,
    ActionVersion,
    FundingLine,
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
TITLE_MAX_LENGTH = Action._meta.get_field("title").max_length


@dataclass(frozen=True)
class FundingEntry:
    funder: str  # the organisation's code
    amount: str  # euros, as typed: "12000", "12 000,50"...


@dataclass(frozen=True)
class SheetEdit:
    """An action sheet as its pilot or a coordinator writes it (page form or API)."""

    title: str
    objective: str = ""
    partners: list[str] = field(default_factory=list)  # organisations' codes
    funding: list[FundingEntry] = field(default_factory=list)
    indicators: list[str] = field(default_factory=list)


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
    cleaned = str(text).replace("\u00a0", "").replace("\u202f", "").replace(" ", "")
    try:
        amount = Decimal(cleaned.replace(",", "."))
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        return None
    return amount


def _checked(action: Action, edit: SheetEdit) -> tuple[str, list[tuple[str, Decimal]]]:
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
            funding.append((line.funder, amount))
    if any(not label.strip() for label in edit.indicators):
        problems.append(_("An indicator needs a label."))
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
        action.save(update_fields=["title", "objective"])
        organisations = dict(unit.contract.organisations.values_list("code", "pk"))
        action.partners.set([organisations[code] for code in edit.partners])
        action.funding_lines.all().delete()
        FundingLine.objects.bulk_create(
            FundingLine(action=action, funder_id=organisations[code], amount=amount)
            for code, amount in funding
        )
        action.indicators.all().delete()
        Indicator.objects.bulk_create(
            Indicator(action=action, label=label.strip(), position=n)
            for n, label in enumerate(edit.indicators)
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
