"""An amendment's pages: opened from the signed contract's page, then written on its own page
(``/contrats/<id>/avenants/<n>/``) with the draft's forms: its period and reason, a sheet
added (the draft's add-sheet form), a sheet modified (the sheet's own form, on
``.../fiches/<code>/``), removed (after a confirmation), a signatory added (the draft's
signatory row), the amendment withdrawn. What it changes and who is concerned are read by
``workflows.amending``; every write is a verb of ``workflows.services``, whose problems are
shown beside their fields."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .. import services
from ..amending import amended_file, amendment_summary, entry_content, open_amendment, sheet_of
from ..authoring_forms import DATE_WIDGET, Options, SheetAddForm, SignatoryForm
from ..contract_file import contract_file_of
from ..errors import ApplicationError, InvalidContractFile
from ..http import AuthenticatedHttpRequest
from ..models import (
    AMENDMENT_SUSPENDABLE_STATES,
    Amendment,
    AmendmentChangeKind,
    AmendmentParty,
    AmendmentStatus,
    Contract,
    ContractStatus,
    TaskStatus,
    is_coordinator,
)
from ..selectors import contracts_visible_to
from ..services.sheets import SheetEdit, current_version
from .sheets import sheet_edit_of, sheet_forms


class AmendmentOpenForm(forms.Form):
    summary = forms.CharField(
        label=gettext_lazy("Reason for the amendment"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Why the contract is amended, in a few lines."),
    )


class AmendmentEditForm(forms.Form):
    period_end = forms.DateField(
        label=gettext_lazy("New end of the period"),
        required=False,
        widget=DATE_WIDGET,
        help_text=gettext_lazy("Empty: the period does not change."),
    )
    summary = forms.CharField(
        label=gettext_lazy("Reason for the amendment"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class AmendmentWithdrawForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason for withdrawing"), widget=forms.Textarea(attrs={"rows": 2})
    )


class AmendmentSuspendForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason for the suspension"),
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("The tasks under way are put on hold, not cancelled."),
    )


class AmendmentResumeForm(forms.Form):
    comment = forms.CharField(
        label=gettext_lazy("Comment"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class AmendmentLaunchForm(forms.Form):
    """Launching the amendment's circuit: nothing to write."""


class AmendmentDeliberationForm(forms.Form):
    number = forms.CharField(label=gettext_lazy("Deliberation number"), max_length=50)
    date = forms.DateField(label=gettext_lazy("Deliberation date"), widget=DATE_WIDGET)


# The circuit's steps, in order, as the amendment's page shows its progress.
CIRCUIT = (
    AmendmentStatus.DRAFT,
    AmendmentStatus.REVIEW,
    AmendmentStatus.COMMITTEE,
    AmendmentStatus.DELIBERATION,
    AmendmentStatus.SIGNING,
    AmendmentStatus.SIGNED,
)


def circuit_context(amendment: Amendment) -> dict[str, Any]:
    """Where the amendment stands in its circuit: each step (done, current, to come), its
    proposals' reviews, the concerned parties frozen at the deliberation and their answers,
    its open tasks."""
    # Suspended, it shows where it stopped.
    at = amendment.suspended_from or amendment.status
    index = CIRCUIT.index(at) if at in CIRCUIT else -1
    steps = [
        {
            "label": AmendmentStatus(status).label,
            "state": "done" if n < index else "current" if n == index else "todo",
        }
        for n, status in enumerate(CIRCUIT)
    ]
    return {
        "circuit_steps": steps,
        "proposals": list(amendment.changes.order_by("pk")),
        "parties": list(
            AmendmentParty.objects.filter(
                amendment=amendment, amendment_version=amendment.version
            ).select_related("organisation", "signer")
        ),
        "amendment_tasks": list(
            amendment.tasks.filter(status__in=[TaskStatus.ASSIGNED, TaskStatus.HELD])
            .select_related("owner", "amendment_change")
            .order_by("pk")
        ),
    }


def amendments_context(contract: Contract, coordinates: bool) -> dict[str, Any]:
    """The signed contract page's amendments: the list, the open one, the opening form."""
    return {
        "amendments": list(contract.amendments.order_by("number")),
        "open_amendment": open_amendment(contract),
        "amendment_open_form": AmendmentOpenForm(prefix="amendment")
        if coordinates and contract.status == ContractStatus.SIGNED
        else None,
    }


def _contract(request: AuthenticatedHttpRequest, pk: int) -> Contract:
    return get_object_or_404(contracts_visible_to(request.user), pk=pk)


def _amendment(request: AuthenticatedHttpRequest, pk: int, number: int) -> Amendment:
    contract = _contract(request, pk)
    amendment = get_object_or_404(
        Amendment.objects.select_related("opened_by"), contract=contract, number=number
    )
    amendment.contract = contract
    return amendment


def _writer(request: AuthenticatedHttpRequest, amendment: Amendment) -> None:
    if not is_coordinator(amendment.contract, request.user):
        raise PermissionDenied(_("Only a coordinator of the contract may amend it."))


def amendment_url(amendment: Amendment) -> str:
    return reverse("workflows:amendment_detail", args=[amendment.contract_id, amendment.number])


@login_required
def amendment_open(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Open an amendment from the signed contract's page."""
    contract = _contract(request, pk)
    if request.method != "POST":
        return redirect("workflows:contract_detail", pk=contract.pk)
    if not is_coordinator(contract, request.user):
        raise PermissionDenied(_("Only a coordinator of the contract may amend it."))
    form = AmendmentOpenForm(request.POST, prefix="amendment")
    form.is_valid()
    try:
        amendment = services.amendment_open(
            contract=contract, actor=request.user, summary=form.cleaned_data.get("summary", "")
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("workflows:contract_detail", pk=contract.pk)
    messages.success(
        request,
        _("Amendment no. %(number)d is open: write its changes here.")
        % {"number": amendment.number},
    )
    return redirect(amendment_url(amendment))


@login_required
def amendment_close_vote(request: AuthenticatedHttpRequest, pk: int, number: int) -> HttpResponse:
    """The chair ends the committee's vote on the amendment once the quorum is reached."""
    amendment = _amendment(request, pk, number)
    if request.method != "POST":
        return redirect(amendment_url(amendment))
    try:
        amendment = services.amendment_close_vote(amendment=amendment, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(amendment_url(amendment))
    messages.success(
        request,
        _("The vote is closed: the steering committee validated the amendment.")
        if amendment.status == AmendmentStatus.DELIBERATION
        else _("The vote is closed: the steering committee rejected the amendment."),
    )
    return redirect(amendment_url(amendment))


def _forms(amendment: Amendment, data: Any = None, part: str = "") -> dict[str, Any]:
    """The amendment page's forms, ``part``'s bound to ``data``."""
    document = amended_file(amendment).document
    choices = Options(document)

    def bound(name: str) -> Any:
        return data if part == name else None

    return {
        "edit_form": AmendmentEditForm(
            bound("edit"),
            prefix="edit",
            initial={"period_end": amendment.period_end, "summary": amendment.summary},
        ),
        "sheet_form": SheetAddForm(bound("sheet"), prefix="sheet", choices=choices),
        "signatory_form": SignatoryForm(
            bound("signatory"), prefix="signatory", choices=choices, initial={"order": 1}
        ),
        "withdraw_form": AmendmentWithdrawForm(bound("withdraw"), prefix="withdraw"),
        "launch_form": AmendmentLaunchForm(bound("launch"), prefix="launch"),
        "suspend_form": AmendmentSuspendForm(bound("suspend"), prefix="suspend"),
        "resume_form": AmendmentResumeForm(bound("resume"), prefix="resume"),
        "deliberation_form": AmendmentDeliberationForm(
            bound("deliberation"), prefix="deliberation"
        ),
        "document": document,
    }


@login_required
def amendment_detail(request: AuthenticatedHttpRequest, pk: int, number: int) -> HttpResponse:
    """The amendment: what it changes, who signs it, and (a coordinator, while a draft) its
    forms; a form posted names its ``part``."""
    amendment = _amendment(request, pk, number)
    part = request.POST.get("part", "") if request.method == "POST" else ""
    context = _forms(amendment, request.POST or None, part)
    refusal, status = "", 200
    if request.method == "POST":
        _writer(request, amendment)
        status = 400
        form = context.get(f"{part}_form")
        if form is None:
            raise Http404
        if form.is_valid():
            try:
                _write(request, amendment, part, form)
            except InvalidContractFile as exc:
                _show_places(form, exc.places, context["document"])
                refusal = exc.message
            except ApplicationError as exc:
                refusal, status = exc.message, exc.status_code
            else:
                return redirect(amendment_url(amendment))
    return _render(request, amendment, context, refusal=refusal, bound=part, status=status)


def _show_places(form: Any, places: list, document: dict[str, Any]) -> None:
    """Each problem beside its field (the form's ``keys``: a place -> its field)."""
    if isinstance(form, SheetAddForm):
        form.show(places, document)
        return
    keys = getattr(form, "keys", {})
    for path, message in places:
        path = tuple(path)
        field = next(
            (keys[path[:n]] for n in range(len(path), 0, -1) if path[:n] in keys),
            str(path[0]) if path and str(path[0]) in form.fields else None,
        )
        form.add_error(field, message)


def _write(request: AuthenticatedHttpRequest, amendment: Amendment, part: str, form: Any) -> None:
    data = form.cleaned_data
    if part == "edit":
        services.amendment_edit(
            amendment=amendment,
            actor=request.user,
            changes={"period_end": data["period_end"], "summary": data["summary"]},
        )
        messages.success(request, _("Saved."))
    elif part == "sheet":
        change = services.amendment_action_add(
            amendment=amendment,
            actor=request.user,
            theme=data["theme"],
            sheet=form.sheet(),
        )
        messages.success(
            request,
            _("The sheet %(code)s is added to the amendment: write the rest of it on its page.")
            % {"code": change.code},
        )
    elif part == "signatory":
        services.amendment_signatory_add(
            amendment=amendment, actor=request.user, entry=form.entry()
        )
        messages.success(request, _("The signatory is added to the amendment."))
    elif part == "withdraw":
        services.amendment_withdraw(amendment=amendment, actor=request.user, reason=data["reason"])
        messages.success(request, _("The amendment is withdrawn."))
    elif part == "suspend":
        services.amendment_suspend(amendment=amendment, actor=request.user, reason=data["reason"])
        messages.success(request, _("The amendment's circuit is suspended: its tasks are on hold."))
    elif part == "resume":
        services.amendment_resume(amendment=amendment, actor=request.user, comment=data["comment"])
        messages.success(
            request, _("The amendment's circuit resumes: its tasks are open again, due later.")
        )
    elif part == "launch":
        services.amendment_launch_review(amendment=amendment, actor=request.user)
        messages.success(
            request,
            _("The review is launched: the leads of the sheets it adds or modifies review them."),
        )
    elif part == "deliberation":
        services.amendment_record_deliberation(
            amendment=amendment, actor=request.user, number=data["number"], date=data["date"]
        )
        messages.success(
            request,
            _("The deliberation is recorded: the amendment's document is frozen, to be signed."),
        )


def _render(
    request: AuthenticatedHttpRequest,
    amendment: Amendment,
    context: dict[str, Any],
    *,
    refusal: str = "",
    bound: str = "",
    status: int = 200,
) -> HttpResponse:
    summary = amendment_summary(amendment)
    coordinates = is_coordinator(amendment.contract, request.user)
    writable = (
        coordinates
        and amendment.status == AmendmentStatus.DRAFT
        and amendment.contract.status == ContractStatus.SIGNED
    )
    added = {change["code"] for change in summary.added}
    modified = {change["code"] for change in summary.modified}
    removed = {change["code"] for change in summary.removed}
    sheets = [
        {
            "code": sheet["code"],
            "title": sheet.get("title", ""),
            "theme": theme["code"],
            "changed": sheet["code"] in added | modified,
            "added": sheet["code"] in added,
        }
        for theme in summary.after["themes"]
        for sheet in theme["actions"]
    ]
    bound_form = context.get(f"{bound}_form")
    return render(
        request,
        "workflows/amendment_detail.html",
        {
            "contract": amendment.contract,
            "amendment": amendment,
            "summary": summary,
            "sheets": sheets,
            "removed_codes": removed,
            "writable": writable,
            "coordinates": coordinates,
            **circuit_context(amendment),
            "suspendable_states": AMENDMENT_SUSPENDABLE_STATES,
            "refusal": refusal,
            "bound": bound,
            "has_errors": status >= 400,
            "error_forms": [bound_form] if bound_form is not None else [],
            "nav_section": "contracts",
            **context,
        },
        status=status,
    )


# --- A proposed sheet -----------------------------------------------------------------------


def _entry_of(edit: SheetEdit, base: dict[str, Any]) -> dict[str, Any]:
    """The sheet as the form writes it, in the contract file's words (``base`` gives what the
    form does not write: code, pilot, working group)."""
    entry: dict[str, Any] = {
        "code": base["code"],
        "title": edit.title.strip(),
        "objective": edit.objective.strip(),
    }
    texts = {
        "operational_objectives": [t.strip() for t in edit.operational_objectives if t.strip()],
        "description": edit.description.strip(),
        "target_public": edit.target_public.strip(),
        "place": edit.place.strip(),
    }
    entry |= {key: value for key, value in texts.items() if value}
    schedule: dict[str, Any] = {}
    if edit.starts_on:
        schedule["start"] = edit.starts_on.isoformat()
    if edit.ends_on:
        schedule["end"] = edit.ends_on.isoformat()
    if edit.milestones:
        schedule["milestones"] = [
            {"date": step.date.isoformat(), "label": step.label.strip()}
            for step in sorted(edit.milestones, key=lambda step: step.date)
        ]
    if schedule:
        entry["schedule"] = schedule
    entry |= {
        "pilot": base.get("pilot"),
        "working_group": base.get("working_group"),
        "partners": list(edit.partners),
        "funding": [_funding(line) for line in edit.funding],
        "indicators": [
            {
                key: value.strip()
                for key, value in (
                    ("name", item.name),
                    ("unit", item.unit),
                    ("baseline", item.baseline),
                    ("target", item.target),
                    ("source", item.source),
                )
                if value.strip()
            }
            for item in edit.indicators
        ],
    }
    return entry


def _funding(line: Any) -> dict[str, Any]:
    """A funding line as typed ("12 500,50") in the contract file's words ("12500.50"); an
    amount that is none stays as typed, for the file's rules to name."""
    typed = str(line.amount)
    cleaned = "".join(typed.replace(",", ".").split()).replace("\u202f", "")
    try:
        amount: str = f"{Decimal(cleaned):.2f}" if cleaned else typed
    except ArithmeticError:
        amount = typed
    entry: dict[str, Any] = {"funder": line.funder, "amount": amount}
    if line.year:
        entry["year"] = line.year
    if line.status:
        entry["status"] = line.status
    return entry


# A problem's place in a sheet -> the form (or formset) field that shows it.
SHEET_FIELDS_OF = {
    "title": "title",
    "objective": "objective",
    "operational_objectives": "operational_objectives",
    "description": "description",
    "target_public": "target_public",
    "place": "place",
    "partners": "partners",
}


def _show(exc: InvalidContractFile, sheet: Any, milestones: Any, funding: Any, indicators: Any):
    """Each problem of the proposed sheet beside its field; what has no field, in the
    summary above the form."""
    lists = {"milestones": milestones, "funding": funding, "indicators": indicators}
    rest = []
    for path, message in exc.places:
        head = str(path[0]) if path else ""
        if head in SHEET_FIELDS_OF:
            sheet.add_error(SHEET_FIELDS_OF[head], message)
        elif head == "schedule" and len(path) > 1 and path[1] in ("start", "end"):
            sheet.add_error("starts_on" if path[1] == "start" else "ends_on", message)
        elif head in lists and len(path) > 1 and isinstance(path[1], int):
            formset = lists[head]
            kept = [f for f in formset.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
            field = {"name": "label"}.get(str(path[2]), str(path[2])) if len(path) > 2 else None
            if path[1] < len(kept) and field in kept[path[1]].fields:
                kept[path[1]].add_error(field, message)
            else:
                rest.append(f"{head}: {message}")
        else:
            rest.append(f"{'.'.join(str(p) for p in path)}: {message}" if path else message)
    return rest


@login_required
def amendment_sheet(
    request: AuthenticatedHttpRequest, pk: int, number: int, code: str
) -> HttpResponse:
    """A sheet as the amendment proposes it, written with the sheet's own form."""
    amendment = _amendment(request, pk, number)
    _writer(request, amendment)
    change = amendment.changes.filter(code=code).first()
    if change is not None and change.kind == AmendmentChangeKind.REMOVED:
        raise Http404
    if change is not None:
        base, version = change.content, change.version
    else:
        located = sheet_of(contract_file_of(amendment.contract), code)
        action = amendment.contract.actions.filter(code=code).first()
        if located is None or action is None:
            raise Http404
        base, version = located[1], current_version(action).number
    editable = amendment.status == AmendmentStatus.DRAFT
    data = request.POST if request.method == "POST" and editable else None
    document = amended_file(amendment).document
    organisations = [(e["code"], f"{e['name']} ({e['code']})") for e in document["organisations"]]
    sheet, milestones, funding, indicators = sheet_forms(
        sorted(organisations, key=lambda item: item[1]), version, entry_content(base), data
    )
    formsets = (milestones, funding, indicators)
    refusal, status, problems = "", 200 if editable else 409, []
    if data is not None and sheet.is_valid() and all(f.is_valid() for f in formsets):
        edit = sheet_edit_of(sheet, milestones, funding, indicators)
        try:
            services.amendment_action_change(
                amendment=amendment,
                actor=request.user,
                code=code,
                base_version=sheet.cleaned_data["base_version"],
                sheet=_entry_of(edit, base),
            )
        except InvalidContractFile as exc:
            problems = _show(exc, sheet, milestones, funding, indicators)
            refusal, status = exc.message, 400
        except ApplicationError as exc:
            refusal, status = exc.message, exc.status_code
        else:
            messages.success(
                request, _("The sheet %(code)s is saved in the amendment.") % {"code": code}
            )
            return redirect(amendment_url(amendment))
    elif data is not None:
        status = 400
    return render(
        request,
        "workflows/amendment_sheet.html",
        {
            "contract": amendment.contract,
            "amendment": amendment,
            "code": code,
            "title": base.get("title", ""),
            "change": change,
            "version": version,
            "editable": editable,
            "sheet": sheet,
            "milestones": milestones,
            "funding": funding,
            "indicators": indicators,
            "error_forms": [sheet, *(form for formset in formsets for form in formset.forms)],
            "has_errors": status >= 400,
            "refusal": refusal,
            "problems": problems,
            "nav_section": "contracts",
        },
        status=status,
    )


@login_required
def amendment_sheet_remove(
    request: AuthenticatedHttpRequest, pk: int, number: int, code: str
) -> HttpResponse:
    """Remove a sheet by the amendment (or take back what it proposes for it), after a
    confirmation."""
    amendment = _amendment(request, pk, number)
    _writer(request, amendment)
    change = amendment.changes.filter(code=code).first()
    discard = request.GET.get("annuler") == "1" or request.POST.get("discard") == "1"
    located = sheet_of(amended_file(amendment).document, code)
    if located is None and change is None:
        raise Http404
    if request.method == "POST":
        try:
            if discard:
                services.amendment_change_discard(
                    amendment=amendment, actor=request.user, code=code
                )
            else:
                services.amendment_action_remove(amendment=amendment, actor=request.user, code=code)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Saved."))
        return redirect(amendment_url(amendment))
    return render(
        request,
        "workflows/amendment_sheet_remove.html",
        {
            "contract": amendment.contract,
            "amendment": amendment,
            "code": code,
            "title": located[1].get("title", "") if located else code,
            "change": change,
            "discard": discard,
            "nav_section": "contracts",
        },
    )
