"""The contract pages: the list, a contract (its progress, people, history and the coordinator's
controls), a coordinator's step, the import and the export, the flow diagram, the chair's
closing of the vote."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from csp.constants import NONE, UNSAFE_INLINE
from csp.decorators import csp
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import caches
from django.core.exceptions import PermissionDenied
from django.forms import Form
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from .. import services, transitions
from ..audit.selectors import contract_history_latest
from ..contract_file import EXPORT_FORMATS, parse_contract_file
from ..errors import ApplicationError, InvalidContractFile
from ..forms import (
    TRANSITION_FORMS,
    AttachmentForm,
    ContractImportForm,
    ObserverForm,
)
from ..http import AuthenticatedHttpRequest, contract_file_response
from ..models import (
    COORDINATOR_TRANSITIONS,
    Action,
    AttachmentKind,
    CommitteeVote,
    Contract,
    ContractStatus,
    User,
    is_coordinator,
)
from ..rules import may_fire, transitions_for
from ..selectors import (
    ChainVerification,
    attachment_actions,
    contract_flow_chart,
    contract_is_visible_to,
    contract_page,
    contract_themes,
    contracts_visible_to,
    user_may_import_contracts,
)
from .amendments import amendments_context
from .annual import annual_context
from .authoring import problem_links


@login_required
def contract_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    contracts = contracts_visible_to(request.user).order_by("-created_at", "reference")
    return render(
        request,
        "workflows/contract_list.html",
        {
            "contracts": contracts,
            "may_import": user_may_import_contracts(request.user),
        },
    )


def _visible_contract(request: AuthenticatedHttpRequest, pk: int) -> Contract:
    """The contract if the user takes part in it; 404 otherwise, so as not to reveal it."""
    return get_object_or_404(
        contracts_visible_to(request.user).select_related("diagnosis_author"), pk=pk
    )


@login_required
def contract_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    contract = _visible_contract(request, pk)
    return _render_detail(request, contract)


# The steps that cannot be undone: offered last on the page, folded away, each form asking for
# an explicit confirmation (a checkbox the server requires, not a script's dialog).
IRREVERSIBLE_TRANSITIONS = ("withdraw", "close")
# Steps seldom taken, folded away so that the usual next step stands out.
SECONDARY_TRANSITIONS = ("suspend",)


@login_required
def contract_actions(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Every action of the contract by theme, with pilot, partners, funding and indicators: a
    page of its own, since a contract of 150 actions would make the contract page very long
    and slow."""
    contract = _visible_contract(request, pk)
    return render(
        request,
        "workflows/contract_actions.html",
        {"contract": contract, "themes": contract_themes(contract), "nav_section": "contracts"},
    )


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
    contract: Contract, user: User, bound_form: Form | None, bound_name: str
) -> tuple[list[Control], list[BlockedTransition]]:
    controls, blocked = [], []
    for choice in transitions_for(contract, user):
        name = choice.name
        if not choice.possible:
            blocked.append(BlockedTransition(name, list(choice.blockers)))
            continue
        form = bound_form if name == bound_name and bound_form else None
        url = reverse("workflows:contract_transition", args=[contract.pk, name])
        controls.append(Control(name, form or TRANSITION_FORMS[name](prefix=name), url))
    return controls, blocked


def _render_detail(
    request: AuthenticatedHttpRequest,
    contract: Contract,
    *,
    bound_form: Form | None = None,
    bound_name: str = "",
    bound_attachment_form: AttachmentForm | None = None,
    attachment_refusal: str = "",
    status: int = 200,
) -> HttpResponse:
    page = contract_page(contract, request.user)
    may_attach = page.is_coordinator or bool(page.attachment_actions)
    controls, blocked = (
        _coordinator_controls(contract, request.user, bound_form, bound_name)
        if page.is_coordinator
        else ([], [])
    )
    context = {
        **{name.name: getattr(page, name.name) for name in fields(page)},
        "controls": [
            c
            for c in controls
            if c.name not in IRREVERSIBLE_TRANSITIONS and c.name not in SECONDARY_TRANSITIONS
        ],
        "secondary_controls": [c for c in controls if c.name in SECONDARY_TRANSITIONS],
        "irreversible_controls": [c for c in controls if c.name in IRREVERSIBLE_TRANSITIONS],
        # A refused irreversible step comes back unfolded, its errors in view.
        "irreversible_open": bound_name in IRREVERSIBLE_TRANSITIONS,
        "blocked_transitions": blocked,
        # The latest changes in words, newest first (the whole history has its own page).
        "recent_history": _recent_history(contract, page.verification),
        "attachment_form": (
            bound_attachment_form or _attachment_form(page.is_coordinator, page.attachment_actions)
        )
        if may_attach
        else None,
        "attachment_refusal": attachment_refusal,
        "observer_form": ObserverForm(prefix="observer") if page.is_coordinator else None,
        "draft_problems": problem_links(contract, page.draft_problems[:10]),
        "draft_problem_total": len(page.draft_problems),
        "nav_section": "contracts",
        # The follow-up of a signed contract: indicators against targets, annual reviews.
        **(
            annual_context(contract, page.is_coordinator)
            if contract.status in (ContractStatus.SIGNED, ContractStatus.CLOSED)
            else {}
        ),
        # A signed contract's amendments: the open one, the form that opens one.
        **(
            amendments_context(contract, page.is_coordinator)
            if contract.status in (ContractStatus.SIGNED, ContractStatus.CLOSED)
            else {}
        ),
    }
    return render(request, "workflows/contract_detail.html", context, status=status)


def _recent_history(contract: Contract, verification: ChainVerification) -> str:
    """The contract page's latest history lines, rendered. They are the same for everyone
    until the chain grows, and reading and wording them is a fifth of the page's CPU: an
    intact chain's rendering is kept per process under its head (seq and hash) and the
    language, so any new entry shows at once. A broken chain's is rendered each time."""

    def rendered() -> str:
        return render_to_string(
            "workflows/_recent_history_lines.html",
            {"contract": contract, "history_lines": contract_history_latest(contract)},
        )

    if verification.head is None:
        return rendered()
    seq, head_hash = verification.head
    key = f"contract-recent-history:{contract.pk}:{seq}:{head_hash}:{get_language()}"
    fragments = caches["fragments"]
    html: str | None = fragments.get(key)
    if html is None:
        html = rendered()
        fragments.set(key, html)
    return html


def _attachment_form(
    coordinates: bool, actions: list[Action], *args: Any, **kwargs: Any
) -> AttachmentForm:
    kinds = [
        (kind.value, kind.label)
        for kind in AttachmentKind
        if coordinates or kind == AttachmentKind.ACTION_DOCUMENT
    ]
    return AttachmentForm(
        *args,
        kinds=kinds,
        actions=[(action.code, f"{action.code} — {action.title}") for action in actions],
        **kwargs,
    )


def attachment_form(contract: Contract, user: User, *args: Any, **kwargs: Any) -> AttachmentForm:
    """The attachment form as ``user`` may fill it: the kinds and actions offered to them."""
    coordinates = is_coordinator(contract, user)
    actions = attachment_actions(contract, user, coordinates=coordinates)
    return _attachment_form(coordinates, actions, *args, **kwargs)


@login_required
def contract_transition(request: AuthenticatedHttpRequest, pk: int, name: str) -> HttpResponse:
    """Fire one coordinator transition from the contract page's controls."""
    contract = _visible_contract(request, pk)
    if name not in COORDINATOR_TRANSITIONS:
        raise Http404
    if request.method != "POST":
        # A bookmarked or log-in-redirected address: the controls live on the contract page.
        return redirect("workflows:contract_detail", pk=contract.pk)
    if not may_fire(contract, name, request.user):
        raise PermissionDenied(_(transitions.NOT_A_COORDINATOR))
    form = TRANSITION_FORMS[name](request.POST, prefix=name)
    if not form.is_valid():
        messages.error(request, _("The form has errors: please correct them below."))
        return _render_detail(request, contract, bound_form=form, bound_name=name, status=400)
    try:
        contract = services.fire_coordinator_transition(
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
def contract_import(request: AuthenticatedHttpRequest) -> HttpResponse:
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


def _split_place(error: str) -> dict[str, str]:
    """Split a "place: message" error of the contract file into its two parts."""
    place, sep, message = str(error).partition(": ")
    if not sep:
        return {"place": "", "message": str(error)}
    return {"place": place, "message": message}


# An image, not a page: viewflow's SVG carries its own <style>, and nothing else may load or
# run in it when it is opened on its own ("Open the diagram full size").
# (django-csp types a view as taking the request alone, hence the ignore.)
@csp({"default-src": [NONE], "style-src": [UNSAFE_INLINE]})  # type: ignore[arg-type]
@login_required
def contract_flow_chart_svg(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The approval flow's diagram, coloured by where the contract stands (an <img> source)."""
    contract = _visible_contract(request, pk)
    response = HttpResponse(contract_flow_chart(contract), content_type="image/svg+xml")
    response["Cache-Control"] = "private, no-cache"
    return response


@login_required
def contract_export(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The contract as a contract file to download: JSON, or YAML with ``?format=yaml``."""
    contract = _visible_contract(request, pk)
    file_format = request.GET.get("format") or "json"
    if file_format not in EXPORT_FORMATS:
        raise Http404
    return contract_file_response(contract, file_format)


@login_required
def contract_close_vote(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The chair ends the committee vote once the quorum is reached."""
    contract = _visible_contract(request, pk)
    if request.method != "POST":
        return redirect("workflows:contract_detail", pk=contract.pk)
    try:
        contract = services.close_vote(contract=contract, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("workflows:contract_detail", pk=contract.pk)
    vote = contract.votes.filter(annual_review__isnull=True).order_by("-round").first()
    messages.success(
        request,
        _("The vote is closed: the steering committee validated the contract.")
        if vote and vote.outcome == CommitteeVote.Outcome.VALIDATED
        else _("The vote is closed: the steering committee rejected the contract."),
    )
    return redirect("workflows:contract_detail", pk=contract.pk)
