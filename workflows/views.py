"""Accord's pages. Thin: they check who may see and do what, then call selectors and services."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from . import approvals, services
from .contract_file import parse_contract_file
from .errors import ApplicationError, InvalidContractFile
from .forms import TRANSITION_FORMS, ContractImportForm
from .models import (
    Action,
    ActionStatus,
    Contract,
    SignatoryStatus,
    SteeringCommittee,
    WorkingGroup,
    is_coordinator,
)
from .selectors import (
    contract_is_visible_to,
    contracts_visible_to,
    history_of,
    history_verify,
    transition_blockers,
    user_may_import_contracts,
)


@login_required
def contract_list(request: HttpRequest) -> HttpResponse:
    contracts = contracts_visible_to(request.user).order_by("-created_at", "reference")
    return render(
        request,
        "workflows/contract_list.html",
        {
            "contracts": contracts,
            "may_import": user_may_import_contracts(request.user),
        },
    )


def _visible_contract(request: HttpRequest, pk: int) -> Contract:
    """The contract if the user takes part in it; 404 otherwise, so as not to reveal it."""
    return get_object_or_404(
        contracts_visible_to(request.user).select_related("diagnosis_author"), pk=pk
    )


@login_required
def contract_detail(request: HttpRequest, pk: int) -> HttpResponse:
    contract = _visible_contract(request, pk)
    return _render_detail(request, contract)


@dataclass
class Control:
    """One coordinator transition offered on the contract page."""

    name: str
    form: Form
    url: str


@dataclass
class BlockedTransition:
    """A coordinator transition that exists from the current state but whose guard fails."""

    name: str
    reasons: list[str] = field(default_factory=list)


def _coordinator_controls(
    contract: Contract, bound_form: Form | None, bound_name: str
) -> tuple[list[Control], list[BlockedTransition]]:
    controls, blocked = [], []
    for name in services.COORDINATOR_TRANSITIONS:
        blockers = transition_blockers(contract, name)
        if blockers is None:
            continue
        if blockers:
            blocked.append(BlockedTransition(name, blockers))
            continue
        form = bound_form if name == bound_name and bound_form else None
        url = reverse("workflows:contract_transition", args=[contract.pk, name])
        controls.append(Control(name, form or TRANSITION_FORMS[name](prefix=name), url))
    return controls, blocked


def _render_detail(
    request: HttpRequest,
    contract: Contract,
    *,
    bound_form: Form | None = None,
    bound_name: str = "",
    status: int = 200,
) -> HttpResponse:
    actions = Action.objects.select_related(
        "pilot__organisation", "working_group"
    ).prefetch_related("partners", "funding_lines__funder", "indicators")
    themes = contract.themes.prefetch_related(Prefetch("actions", queryset=actions))
    counts = dict(contract.actions.order_by().values_list("status").annotate(n=Count("pk")))
    action_progress = [
        {"status": status_, "label": status_.label, "count": counts[status_.value]}
        for status_ in ActionStatus
        if counts.get(status_.value)
    ]
    signatories = list(
        contract.signatories.select_related("organisation", "signer", "represented_by")
    )
    committee = (
        SteeringCommittee.objects.filter(contract=contract)
        .select_related("chair__organisation")
        .prefetch_related("members__organisation")
        .first()
    )
    coordinator = is_coordinator(contract, request.user)
    controls, blocked = (
        _coordinator_controls(contract, bound_form, bound_name) if coordinator else ([], [])
    )
    context = {
        "contract": contract,
        "themes": themes,
        "action_total": sum(counts.values()),
        "action_progress": action_progress,
        "signatories": signatories,
        "signatures_signed": sum(s.status == SignatoryStatus.SIGNED for s in signatories),
        "signatures_declined": sum(s.status == SignatoryStatus.DECLINED for s in signatories),
        "working_groups": sorted(
            WorkingGroup.objects.filter(contract=contract).prefetch_related(
                "leads__organisation", "members__organisation"
            ),
            key=lambda group: _natural_key(group.code),
        ),
        "committee": committee,
        "coordinators": contract.coordinators.select_related("organisation"),
        "history": history_of(contract).select_related("action"),
        "verification": history_verify(contract),
        "is_coordinator": coordinator,
        "controls": controls,
        "blocked_transitions": blocked,
        "nav_section": "contracts",
    }
    return render(request, "workflows/contract_detail.html", context, status=status)


@login_required
def contract_transition(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    """Fire one coordinator transition from the contract page's controls."""
    contract = _visible_contract(request, pk)
    if name not in services.COORDINATOR_TRANSITIONS:
        raise Http404
    if request.method != "POST":
        # A bookmarked or log-in-redirected address: the controls live on the contract page.
        return redirect("workflows:contract_detail", pk=contract.pk)
    if not is_coordinator(contract, request.user):
        raise PermissionDenied(_(services.NOT_A_COORDINATOR))
    form = TRANSITION_FORMS[name](request.POST, prefix=name)
    if not form.is_valid():
        messages.error(request, _("The form has errors: please correct them below."))
        return _render_detail(request, contract, bound_form=form, bound_name=name, status=400)
    try:
        contract = approvals.fire_coordinator_transition(
            contract=contract, name=name, actor=request.user, params=form.cleaned_data
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        contract.refresh_from_db()
        return _render_detail(request, contract, status=exc.status_code)
    messages.success(
        request,
        _("Done: the contract is now “%(status)s”.") % {"status": contract.get_status_display()},
    )
    return redirect("workflows:contract_detail", pk=contract.pk)


@login_required
def contract_import(request: HttpRequest) -> HttpResponse:
    """Upload a contract file; every problem is listed with its place, nothing is created."""
    if not user_may_import_contracts(request.user):
        raise PermissionDenied(_("Only coordinators may import contracts."))
    summary, file_errors, status = "", [], 200
    if request.method == "POST":
        form = ContractImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                document = parse_contract_file(form.read(), filename=upload.name)
                contract = services.contract_import(document=document, actor=request.user)
            except InvalidContractFile as exc:
                summary, file_errors = exc.message, [_split_place(e) for e in exc.errors]
            except ApplicationError as exc:
                summary = exc.message
            else:
                messages.success(
                    request,
                    _("The contract %(reference)s was imported.")
                    % {"reference": contract.reference},
                )
                if contract_is_visible_to(contract, request.user):
                    return redirect("workflows:contract_detail", pk=contract.pk)
                return redirect("workflows:contract_list")
        status = 400
    else:
        form = ContractImportForm()
    return render(
        request,
        "workflows/contract_import.html",
        {"form": form, "summary": summary, "file_errors": file_errors},
        status=status,
    )


def _natural_key(code: str) -> list:
    """GT2 before GT10: digits compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", code)]


def _split_place(error: str) -> dict[str, str]:
    """Split a "place: message" error of the contract file into its two parts."""
    place, sep, message = str(error).partition(": ")
    if not sep:
        return {"place": "", "message": str(error)}
    return {"place": place, "message": message}
