"""A signed amendment consolidated into the contract in force, in the unit of work that
completed its signing: what the contract's parties signed in the amendment becomes the
contract's own rows, and every earlier version stays readable.

- a sheet added becomes an action (``create_actions``, its version 1), validated as the
  contract's validated actions are;
- a sheet modified gets version base + 1 and its action's fields from the proposal
  (refused, 409, if the base is no longer the sheet's current version);
- a sheet removed goes to ``removed`` by the action's ``amendment_remove`` transition
  (fired through ``transitions.fire``), its row and versions kept;
- a signatory added becomes a signatory of the contract, signed (it signed the amendment);
- the period's end is the amendment's.

The contract's own signed document stays as it was signed (``document/``); the amendment's
document, signed and sealed, is served on its own route.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from .. import transitions
from ..contract_file.amounts import amount_of
from ..errors import Conflict
from ..history import UnitOfWork
from ..models import (
    Action,
    ActionStatus,
    ActionVersion,
    Amendment,
    AmendmentChangeKind,
    FundingLine,
    HistoryEvent,
    Indicator,
    Organisation,
    Signatory,
    SignatoryStatus,
    User,
    WorkingGroup,
    content_sha256,
    sheet_content,
)
from .imports import _date, _indicator, create_actions, write_first_versions
from .sheets import current_version


def _parties(sheets: list[dict[str, Any]]) -> tuple[dict[str, Organisation], dict[str, User]]:
    codes = {code for sheet in sheets for code in sheet.get("partners") or []}
    codes |= {line["funder"] for sheet in sheets for line in sheet.get("funding") or []}
    usernames = {sheet["pilot"] for sheet in sheets if sheet.get("pilot")}
    organisations = {o.code: o for o in Organisation.objects.filter(code__in=codes)}
    people = {u.username: u for u in User.objects.filter(username__in=usernames)}
    return organisations, people


def _modify(
    action: Action,
    sheet: dict[str, Any],
    organisations: dict[str, Organisation],
    people: dict[str, User],
    groups: dict[str, WorkingGroup],
) -> None:
    schedule = sheet.get("schedule") or {}
    action.title, action.objective = sheet["title"], sheet["objective"]
    action.operational_objectives = sheet.get("operational_objectives") or []
    action.description = sheet.get("description") or ""
    action.target_public = sheet.get("target_public") or ""
    action.place = sheet.get("place") or ""
    action.starts_on, action.ends_on = _date(schedule.get("start")), _date(schedule.get("end"))
    action.milestones = schedule.get("milestones") or []
    if sheet.get("pilot") in people:
        action.pilot = people[sheet["pilot"]]
    if sheet.get("working_group") in groups:
        action.working_group = groups[sheet["working_group"]]
    action.save()
    action.partners.set([organisations[code] for code in dict.fromkeys(sheet["partners"])])
    action.funding_lines.all().delete()
    FundingLine.objects.bulk_create(
        FundingLine(
            action=action,
            funder=organisations[line["funder"]],
            amount=amount_of(line["amount"]),
            year=line.get("year"),
            status=line.get("status") or "",
        )
        for line in sheet["funding"]
    )
    action.indicators.all().delete()
    Indicator.objects.bulk_create(
        _indicator(action, item, position) for position, item in enumerate(sheet["indicators"])
    )


def amendment_consolidate(unit: UnitOfWork, amendment: Amendment) -> dict[str, Any]:
    """Write the signed amendment into the contract (see the module); returns what was
    consolidated, also recorded in the history (``amendment_consolidated``)."""
    contract = unit.contract
    changes = list(amendment.changes.order_by("pk"))
    sheets = [c.content for c in changes if c.kind != AmendmentChangeKind.REMOVED]
    organisations, people = _parties(sheets)
    contract.organisations.add(*organisations.values())
    groups = {group.code: group for group in contract.working_groups.all()}
    done: dict[str, Any] = {"added": [], "modified": [], "removed": [], "signatories": []}
    added = [c for c in changes if c.kind == AmendmentChangeKind.ADDED]
    if added:
        last = contract.actions.order_by("-position").values_list("position", flat=True).first()
        themes = {theme.code: theme for theme in contract.themes.all()}
        created = create_actions(
            contract,
            [(themes[c.theme_code], c.content) for c in added],
            organisations,
            people,
            groups,
            first_position=(last or 0) + 1,
        )
        pks = [action.pk for action in created.values()]
        contract.actions.filter(pk__in=pks).update(status=ActionStatus.VALIDATED)
        write_first_versions(contract.actions.filter(pk__in=pks), author=amendment.opened_by)
        done["added"] = sorted(created)
    for change in changes:
        if change.kind == AmendmentChangeKind.ADDED:
            continue
        action = contract.actions.select_for_update().get(code=change.code)
        current = current_version(action).number
        if current != change.base_version:
            raise Conflict(
                _(
                    "The sheet %(code)s changed since the amendment was written (version "
                    "%(current)d, the amendment's base %(base)d): it cannot be consolidated."
                )
                % {"code": change.code, "current": current, "base": change.base_version}
            )
        if change.kind == AmendmentChangeKind.REMOVED:
            transitions.fire(
                unit,
                action,
                "amendment_remove",
                actor=None,
                data={"amendment": amendment.number},
            )
            done["removed"].append(change.code)
            continue
        _modify(action, change.content, organisations, people, groups)
        action.refresh_from_db()
        content = sheet_content(action)
        ActionVersion.objects.create(
            action=action,
            number=current + 1,
            content=content,
            sha256=content_sha256(content),
            author=change.author,
        )
        done["modified"].append({"code": change.code, "version": current + 1})
    now = timezone.now()
    for entry in amendment.added_signatories.select_related("organisation").order_by("pk"):
        contract.organisations.add(entry.organisation)
        Signatory.objects.create(
            contract=contract,
            organisation=entry.organisation,
            kind=entry.kind,
            signer_id=entry.signer_id,
            represented_by_id=entry.represented_by_id,
            order=entry.order,
            mandate_reference=entry.mandate_reference,
            mandate_date=entry.mandate_date,
            status=SignatoryStatus.SIGNED,
            decided_at=now,
        )
        done["signatories"].append(entry.organisation.code)
    if amendment.period_end is not None:
        done["period_end"] = amendment.period_end.isoformat()
        contract.period_end = amendment.period_end
        contract.save(update_fields=["period_end"])
    unit.record(
        event=HistoryEvent.AMENDMENT_CONSOLIDATED,
        name="consolidated",
        data={"amendment": amendment.number, "version": amendment.version, **done},
    )
    return done
