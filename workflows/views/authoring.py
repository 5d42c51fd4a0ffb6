"""The guided writing of a contract by its coordinators: a new draft (step 1), then one page
per part of the contract file, each saved as it is (a draft may be incomplete), then the
verification that lists what still stops the review's launch.

The pages only turn typed text into contract-file parts and show the problems the services
find (``workflows.services.authoring``): one set of rules for a typed and an imported
contract."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.forms import BaseFormSet, Form
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from .. import services
from ..authoring_forms import (
    CommitteeForm,
    ContractForm,
    CoordinatorsForm,
    DiagnosisForm,
    NewContractForm,
    Options,
    OrganisationFormSet,
    PersonFormSet,
    SheetAddForm,
    SignatoryFormSet,
    ThemeFormSet,
    WorkingGroupFormSet,
    problem_text,
)
from ..contract_file import Problem, contract_file_of
from ..errors import ApplicationError, InvalidContractFile
from ..forms import LaunchReviewForm
from ..http import AuthenticatedHttpRequest
from ..models import Action, Contract, ContractStatus, is_coordinator
from ..selectors import contracts_visible_to, draft_problems, user_may_import_contracts


@dataclass(frozen=True)
class Step:
    slug: str
    title: Promise
    form: type[Form] | type[BaseFormSet] | None = None
    help: Promise | str = ""


STEPS = (
    Step("contrat", gettext_lazy("The contract"), ContractForm),
    Step(
        "organismes",
        gettext_lazy("Organisations"),
        OrganisationFormSet,
        gettext_lazy(
            "An organisation Accord already knows (same code) is taken as it is: its name and "
            "category do not change."
        ),
    ),
    Step(
        "diagnostic",
        gettext_lazy("Local health diagnosis"),
        DiagnosisForm,
        gettext_lazy("Optional: choose “No diagnosis” as author to leave it out."),
    ),
    Step(
        "personnes",
        gettext_lazy("People"),
        PersonFormSet,
        gettext_lazy(
            "A person is known by their username: an existing account is reused as it is (its "
            "organisation must be the one given); a new one is created without a password, "
            "and an administrator invites them."
        ),
    ),
    Step(
        "axes",
        gettext_lazy("Themes"),
        ThemeFormSet,
        gettext_lazy("A theme that has action sheets cannot be removed: move its sheets first."),
    ),
    Step(
        "groupes",
        gettext_lazy("Working groups"),
        WorkingGroupFormSet,
        gettext_lazy("Each group has at least one lead; hold Ctrl (or ⌘) to choose several."),
    ),
    Step("comite", gettext_lazy("Steering committee"), CommitteeForm),
    Step("coordination", gettext_lazy("Coordination"), CoordinatorsForm),
    Step(
        "signataires",
        gettext_lazy("Signatories"),
        SignatoryFormSet,
        gettext_lazy(
            "One signatory per organisation, at least one mandatory. A representative and "
            "their mandate are optional."
        ),
    ),
    Step("fiches", gettext_lazy("Action sheets")),
    Step("verification", gettext_lazy("Verification")),
)
STEP_SLUGS = [step.slug for step in STEPS]

# The step where each part of the contract file is written, to send a problem to its page.
STEP_OF_PART = {
    "reference": "contrat",
    "title": "contrat",
    "kind": "contrat",
    "territory": "contrat",
    "period": "contrat",
    "organisations": "organismes",
    "diagnosis": "diagnostic",
    "people": "personnes",
    "themes": "axes",
    "working_groups": "groupes",
    "steering_committee": "comite",
    "coordinators": "coordination",
    "signatories": "signataires",
}


def step_url(contract: Contract, slug: str) -> str:
    return reverse("workflows:contract_write", args=[contract.pk, slug])


def problem_step(path: tuple) -> str:
    """The step that fixes a problem at ``path`` (a sheet's problem: the sheets' step)."""
    if len(path) > 2 and path[0] == "themes" and path[2] == "actions":
        return "fiches"
    return STEP_OF_PART.get(str(path[0]) if path else "", "contrat")


def problem_links(contract: Contract, problems: list[Problem]) -> list[dict[str, str]]:
    """Each problem in words, with the address of the step that fixes it."""
    if not problems:
        return []
    document = contract_file_of(contract)
    return [
        {
            "text": problem_text(problem.path, problem.message, document),
            "url": step_url(contract, problem_step(problem.path)),
        }
        for problem in problems
    ]


@login_required
def contract_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Step 1: a new draft from its reference, title, kind, territory and period."""
    if not user_may_import_contracts(request.user):
        raise PermissionDenied(_("You may not create contracts."))
    form = NewContractForm(request.POST or None)
    refusal, status = "", 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                contract = services.contract_create(actor=request.user, fields=form.value())
            except InvalidContractFile as exc:
                form.show(exc.places, form.value())
                refusal = exc.message
            except ApplicationError as exc:
                refusal, status = exc.message, exc.status_code
            else:
                messages.success(request, _("The draft contract is created."))
                return redirect(step_url(contract, STEPS[1].slug))
    return render(
        request,
        "workflows/authoring/new.html",
        {
            "form": form,
            "error_forms": [form],
            "refusal": refusal,
            "has_errors": status >= 400,
            "nav_section": "contracts",
        },
        status=status,
    )


@login_required
def contract_write(request: AuthenticatedHttpRequest, pk: int, step: str) -> HttpResponse:
    """One step of the guided writing: its form, saved by ``contract_edit``."""
    contract = get_object_or_404(contracts_visible_to(request.user), pk=pk)
    if step not in STEP_SLUGS:
        raise Http404
    if not is_coordinator(contract, request.user):
        raise PermissionDenied(_("Only a coordinator of the contract may change it."))
    current = STEPS[STEP_SLUGS.index(step)]
    editable = contract.status == ContractStatus.DRAFT
    if request.method == "POST" and not editable:
        messages.error(
            request,
            _("The contract can be changed only while it is a draft; it is “%(state)s”.")
            % {"state": contract.get_status_display()},
        )
        return _render(request, contract, current, {"editable": False}, status=409)
    if step == "fiches":
        return _sheets(request, contract, current, editable)
    if step == "verification":
        return _verification(request, contract, current, editable)
    return _part(request, contract, current, editable)


@login_required
@require_POST
def sheet_remove(request: AuthenticatedHttpRequest, pk: int, code: str) -> HttpResponse:
    """Take a sheet out of the draft (the sheets step's "Remove" buttons)."""
    contract = get_object_or_404(contracts_visible_to(request.user), pk=pk)
    action = get_object_or_404(contract.actions.in_contract(), code=code)
    try:
        services.action_remove(action=action, actor=request.user)
    except ApplicationError as exc:
        if exc.status_code == 403:
            raise PermissionDenied(exc.message) from exc
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("The sheet %(code)s is removed from the draft; the history keeps it.")
            % {"code": action.code},
        )
    return redirect(step_url(contract, "fiches"))


def _bound(step: Step, document: dict[str, Any], data: Any = None) -> Any:
    form_class: Any = step.form
    options = Options(document)
    if issubclass(form_class, BaseFormSet):
        return form_class(
            data,
            prefix=form_class.part,
            initial=form_class.initial_of(document),
            form_kwargs={"choices": options},
        )
    return form_class(data, initial=form_class.initial_of(document), choices=options)


def _part(
    request: AuthenticatedHttpRequest, contract: Contract, step: Step, editable: bool
) -> HttpResponse:
    document = contract_file_of(contract)
    data = request.POST if request.method == "POST" else None
    form = _bound(step, document, data)
    refusal, status = "", 200
    if data is not None:
        status = 400
        if form.is_valid():
            try:
                services.contract_edit(contract=contract, actor=request.user, changes=form.value())
            except InvalidContractFile as exc:
                form.show(exc.places, {**document, **form.value()})
                refusal = exc.message
            except ApplicationError as exc:
                refusal, status = exc.message, exc.status_code
            else:
                messages.success(request, _("Saved."))
                return redirect(_next_url(contract, step, request.POST))
    return _render(
        request,
        contract,
        step,
        {"form": form, "editable": editable, "refusal": refusal},
        status=status,
    )


def _next_url(contract: Contract, step: Step, data: Any) -> str:
    index = STEP_SLUGS.index(step.slug)
    if "continue" in data and index + 1 < len(STEPS):
        return step_url(contract, STEPS[index + 1].slug)
    return step_url(contract, step.slug)


def _sheets(
    request: AuthenticatedHttpRequest, contract: Contract, step: Step, editable: bool
) -> HttpResponse:
    """The sheets by theme, and the start of a new one (written further on its own page)."""
    document = contract_file_of(contract)
    form = SheetAddForm(
        request.POST if request.method == "POST" else None, choices=Options(document)
    )
    refusal, status = "", 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                action = services.action_add(
                    contract=contract,
                    actor=request.user,
                    theme=form.cleaned_data["theme"],
                    sheet=form.sheet(),
                )
            except InvalidContractFile as exc:
                form.show(exc.places, document)
                refusal = exc.message
            except ApplicationError as exc:
                refusal, status = exc.message, exc.status_code
            else:
                messages.success(
                    request,
                    _("The sheet %(code)s is added: write the rest of it here.")
                    % {"code": action.code},
                )
                return redirect("workflows:sheet_edit", pk=action.pk)
    themes = contract.themes.order_by("position").prefetch_related(
        Prefetch("actions", queryset=Action.objects.in_contract())
    )
    return _render(
        request,
        contract,
        step,
        {"form": form, "themes": themes, "editable": editable, "refusal": refusal},
        status=status,
    )


def _verification(
    request: AuthenticatedHttpRequest, contract: Contract, step: Step, editable: bool
) -> HttpResponse:
    problems = problem_links(contract, draft_problems(contract))
    # The contract page's own control, posted to the same transition.
    control = {
        "name": "launch_review",
        "form": LaunchReviewForm(prefix="launch_review"),
        "url": reverse("workflows:contract_transition", args=[contract.pk, "launch_review"]),
    }
    return _render(
        request,
        contract,
        step,
        {"problems": problems, "control": control, "editable": editable},
    )


def _render(
    request: AuthenticatedHttpRequest,
    contract: Contract,
    step: Step,
    context: dict[str, Any],
    status: int = 200,
) -> HttpResponse:
    index = STEP_SLUGS.index(step.slug)
    form = context.get("form")
    if isinstance(form, BaseFormSet):
        error_forms, general = list(form.forms), list(form.non_form_errors())
    else:
        error_forms, general = ([form] if form is not None else []), []
    return render(
        request,
        f"workflows/authoring/{step.slug if step.form is None else 'part'}.html",
        {
            "contract": contract,
            "step": step,
            "step_number": index + 1,
            "steps": [(item, step_url(contract, item.slug)) for item in STEPS],
            "next_step": STEPS[index + 1] if index + 1 < len(STEPS) else None,
            "is_formset": isinstance(form, BaseFormSet),
            "error_forms": error_forms,
            "general_errors": general,
            "has_errors": status == 400,
            "nav_section": "contracts",
            **context,
        },
        status=status,
    )
