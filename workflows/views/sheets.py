"""An action sheet's page for writing it: its pilot or a coordinator, while the action is being
written or revised (from the revision task's page, or the contract's)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from .. import services
from ..errors import ApplicationError
from ..forms import FundingLineFormSet, IndicatorFormSet, MilestoneFormSet, SheetForm
from ..http import AuthenticatedHttpRequest
from ..models import SHEET_EDITABLE_STATES, Action, Task, TaskKind, TaskStatus
from ..rules import may_edit_sheet
from ..selectors import actions_visible_to
from ..services.sheets import (
    FundingEntry,
    IndicatorEntry,
    Milestone,
    SheetEdit,
    current_version,
)


def _forms(action: Action, version_number: int, content: dict[str, Any], data=None):
    organisations = [
        (code, f"{name} ({code})")
        for code, name in action.contract.organisations.order_by("name").values_list("code", "name")
    ]
    return sheet_forms(organisations, version_number, content, data)


def sheet_forms(
    organisations: list[tuple[str, str]], version_number: int, content: dict[str, Any], data=None
):
    """The sheet's form and formsets (milestones, funding, indicators), filled with
    ``content`` (a version's, ``sheet_content``'s words): a sheet's page, or an amendment's
    proposed sheet."""
    schedule = content.get("schedule") or {}
    initial = {
        "base_version": version_number,
        "title": content["title"],
        "objective": content["objective"],
        "operational_objectives": "\n".join(content.get("operational_objectives") or []),
        "description": content.get("description", ""),
        "target_public": content.get("target_public", ""),
        "place": content.get("place", ""),
        "starts_on": schedule.get("start"),
        "ends_on": schedule.get("end"),
        "partners": content["partners"],
    }
    sheet = SheetForm(data, initial=initial, organisations=organisations)
    milestones = MilestoneFormSet(
        data, prefix="milestones", initial=schedule.get("milestones") or []
    )
    funding = FundingLineFormSet(
        data,
        prefix="funding",
        initial=[
            {
                "funder": line["funder"],
                "amount": line["amount"].replace(".", ","),
                "year": line.get("year"),
                "status": line.get("status") or "",
            }
            for line in content["funding"]
        ],
        form_kwargs={"organisations": organisations},
    )
    indicators = IndicatorFormSet(
        data,
        prefix="indicators",
        initial=[
            {"label": item, "unit": "", "baseline": "", "target": "", "source": ""}
            if isinstance(item, str)
            else {**item, "label": item["name"]}
            for item in content["indicators"]
        ],
    )
    return sheet, milestones, funding, indicators


def _kept(formset) -> list[dict[str, Any]]:
    """The formset's rows that are filled in (those shown filled and left as they were
    included) and not marked for removal; an empty extra row has no cleaned data."""
    return [
        form.cleaned_data
        for form in formset.forms
        if form.cleaned_data and not form.cleaned_data.get("DELETE")
    ]


def sheet_edit_of(sheet, milestones, funding, indicators) -> SheetEdit:
    """The sheet as its valid form and formsets write it."""
    text = sheet.cleaned_data
    return SheetEdit(
        title=text["title"],
        objective=text["objective"],
        operational_objectives=text["operational_objectives"].splitlines(),
        description=text["description"],
        target_public=text["target_public"],
        place=text["place"],
        starts_on=text["starts_on"],
        ends_on=text["ends_on"],
        milestones=[Milestone(row["date"], row["label"]) for row in _kept(milestones)],
        partners=text["partners"],
        funding=[
            FundingEntry(row["funder"], row["amount"], row["year"], row["status"])
            for row in _kept(funding)
        ],
        indicators=[
            IndicatorEntry(row["label"], row["unit"], row["baseline"], row["target"], row["source"])
            for row in _kept(indicators)
        ],
    )


@login_required
def sheet_edit(request: AuthenticatedHttpRequest, pk: int):
    action = get_object_or_404(
        actions_visible_to(request.user).select_related("contract", "theme", "pilot"), pk=pk
    )
    if not may_edit_sheet(action, request.user):
        raise PermissionDenied(_("Only the action's pilot or a coordinator may edit its sheet."))
    version = current_version(action)
    editable = action.status in SHEET_EDITABLE_STATES
    data = request.POST if request.method == "POST" and editable else None
    sheet, milestones, funding, indicators = _forms(action, version.number, version.content, data)
    formsets = (milestones, funding, indicators)
    refusal, status = "", 200 if editable else 409
    if data is not None and sheet.is_valid() and all(f.is_valid() for f in formsets):
        edit = sheet_edit_of(sheet, milestones, funding, indicators)
        try:
            saved = services.action_sheet_save(
                action=action,
                actor=request.user,
                base_version=sheet.cleaned_data["base_version"],
                edit=edit,
            )
        except ApplicationError as exc:
            refusal, status = exc.message, exc.status_code
        else:
            messages.success(
                request,
                _("The sheet %(code)s is saved as version %(version)d.")
                % {"code": action.code, "version": saved.number},
            )
            revision = Task.objects.filter(
                action=action, kind=TaskKind.REVISION, status=TaskStatus.ASSIGNED
            ).first()
            if revision is not None and revision.owner_id == request.user.pk:
                return redirect("workflows:task_detail", pk=revision.pk)
            return redirect("workflows:contract_detail", pk=action.contract_id)
    elif data is not None:
        status = 400
    return render(
        request,
        "workflows/sheet_edit.html",
        {
            "action": action,
            "version": version,
            "editable": editable,
            "sheet": sheet,
            "milestones": milestones,
            "funding": funding,
            "indicators": indicators,
            "error_forms": [sheet, *(form for formset in formsets for form in formset.forms)],
            "has_errors": status == 400 or bool(refusal),
            "refusal": refusal,
            "nav_section": "contracts",
        },
        status=status,
    )
