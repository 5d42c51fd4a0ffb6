"""Accord's pages. Thin: they check who may see and do what, then call selectors and services."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q, Sum, prefetch_related_objects
from django.forms import Form
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.debug import sensitive_post_parameters

from . import services, transitions
from .contract_file import parse_contract_file
from .errors import ApplicationError, InvalidContractFile, NotAllowed
from .flows import DECISION_LABELS
from .forms import (
    TRANSITION_FORMS,
    AbsenceForm,
    ContractImportForm,
    DeclineDecisionForm,
    DeliberationDecisionForm,
    InboxFilterForm,
    ReviewDecisionForm,
    RevisionDecisionForm,
    SignDecisionForm,
    TaskDecisionForm,
    VoteDecisionForm,
)
from .http import AuthenticatedHttpRequest, client_info
from .models import (
    COORDINATOR_TRANSITIONS,
    Action,
    CommitteeVote,
    Contract,
    ContractStatus,
    Delegation,
    FundingLine,
    Signatory,
    SignatoryKind,
    SteeringCommittee,
    Task,
    TaskKind,
    TaskStatus,
    User,
    WorkingGroup,
)
from .rules import may_fire, transitions_for
from .selectors import (
    contract_flow_chart,
    contract_is_visible_to,
    contract_page,
    contract_progress,
    contracts_visible_to,
    inbox_of,
    task_with_details,
    user_may_import_contracts,
)
from .services import Decision


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
    status: int = 200,
) -> HttpResponse:
    page = contract_page(contract, request.user)
    controls, blocked = (
        _coordinator_controls(contract, request.user, bound_form, bound_name)
        if page.is_coordinator
        else ([], [])
    )
    context = {
        **{name.name: getattr(page, name.name) for name in fields(page)},
        "controls": controls,
        "blocked_transitions": blocked,
        "nav_section": "contracts",
    }
    return render(request, "workflows/contract_detail.html", context, status=status)


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


@login_required
def contract_flow_chart_svg(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The approval flow's diagram, coloured by where the contract stands (an <img> source)."""
    contract = _visible_contract(request, pk)
    response = HttpResponse(contract_flow_chart(contract), content_type="image/svg+xml")
    response["Cache-Control"] = "private, no-cache"
    return response


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
    vote = contract.votes.order_by("-round").first()
    messages.success(
        request,
        _("The vote is closed: the steering committee validated the contract.")
        if vote and vote.outcome == CommitteeVote.Outcome.VALIDATED
        else _("The vote is closed: the steering committee rejected the contract."),
    )
    return redirect("workflows:contract_detail", pk=contract.pk)


# --- Inbox --------------------------------------------------------------------------------

INBOX_PAGE_SIZE = 50


@login_required
def inbox(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The person's open tasks, the most urgent first, with filters and pages."""
    user = request.user
    contracts = (
        Contract.objects.filter(tasks__owner=user, tasks__status=TaskStatus.ASSIGNED)
        .distinct()
        .order_by("reference")
    )
    form = InboxFilterForm(
        request.GET if ({"kind", "contract", "overdue"} & set(request.GET)) else None,
        kinds=TaskKind.choices,
        contracts=contracts,
    )
    filters = form.filters()
    filtered = any(filters.values())
    page = Paginator(inbox_of(user, **filters), INBOX_PAGE_SIZE).get_page(request.GET.get("page"))
    total_open = inbox_of(user).count() if filtered else page.paginator.count
    return render(
        request,
        "workflows/inbox.html",
        {
            "form": form,
            "page": page,
            "tasks": page.object_list,
            "filtered": filtered,
            "total_open": total_open,
            "open_task_total": total_open,  # the header's counter too
            "nav_section": "tasks",
        },
    )


# --- Task pages ---------------------------------------------------------------------------

# What the person is told once their decision is recorded.
DECISION_DONE: dict[str, dict[str, str]] = {
    "approve": {
        TaskKind.REVIEW: gettext_noop("You approved the action sheet %(code)s."),
        TaskKind.VOTE: gettext_noop(
            "Your vote is recorded: you approved the contract %(reference)s."
        ),
    },
    "request_changes": {
        TaskKind.REVIEW: gettext_noop(
            "You requested changes on the action sheet %(code)s: its pilot now has a revision task."
        ),
    },
    "resubmit": {
        TaskKind.REVISION: gettext_noop("The action sheet %(code)s is sent back for review."),
    },
    "reject": {
        TaskKind.VOTE: gettext_noop(
            "Your vote is recorded: you rejected the contract %(reference)s."
        ),
    },
    "record": {
        TaskKind.DELIBERATION: gettext_noop(
            "The deliberation is recorded: the signatories can now sign the contract %(reference)s."
        ),
    },
    "sign": {TaskKind.SIGNATURE: gettext_noop("You signed the contract %(reference)s.")},
    "decline": {
        TaskKind.SIGNATURE: gettext_noop("You declined to sign the contract %(reference)s.")
    },
}


def _contract_of(task: Task) -> Contract:
    """A person's task always belongs to a contract (only viewflow's own rows do not)."""
    assert task.contract is not None, task.pk
    return task.contract


def _decision_done_message(task: Task) -> str:
    template = DECISION_DONE.get(task.decision, {}).get(task.kind)
    if template is None:
        return _("Your decision is recorded.")
    return _(template) % {
        "code": task.action.code if task.action else "",
        "reference": _contract_of(task).reference,
    }


def _read_only_reason(task: Task, user: User) -> tuple[str, int] | None:
    """Why this person cannot decide the task now, and the HTTP status of a refused POST;
    None when the task is theirs to decide."""
    # Its state first: whoever may see the task may see how it stands.
    refusal = services.state_refusal(task) or services.holder_refusal(task, user)
    if refusal is None:
        return None
    if isinstance(refusal, NotAllowed) and task.owner_id and task.assignee_id != user.pk:
        follow = _("You can follow it here.")
        return f"{refusal.message} {follow}", refusal.status_code
    return refusal.message, refusal.status_code


def _contract_actions(contract: Contract) -> list[Action]:
    return list(
        contract.actions.select_related("theme", "working_group", "pilot__organisation")
        .prefetch_related("funding_lines__funder")
        .order_by("theme__position", "position", "pk")
    )


def _consent_label(task: Task) -> str:
    contract, signatory = _contract_of(task), task.signatory
    values = {
        "reference": contract.reference,
        "title": contract.title,
        "organisation": signatory.organisation.name if signatory else "",
        "sha256": contract.document_sha256,
    }
    if signatory is not None and signatory.represented_by_id:
        values["signer"] = signatory.signer.display_name
        return (
            _(
                "I sign the contract %(reference)s “%(title)s” for %(signer)s, on behalf of "
                "%(organisation)s. The document I sign has the fingerprint %(sha256)s."
            )
            % values
        )
    return (
        _(
            "I sign the contract %(reference)s “%(title)s” on behalf of %(organisation)s. "
            "The document I sign has the fingerprint %(sha256)s."
        )
        % values
    )


def _task_forms(task: Task, data=None) -> list[TaskDecisionForm]:
    """The decision forms of the task's page; with ``data``, the one whose decision was
    pressed is bound (the first one when no known decision was sent)."""
    kinds: list[tuple[type[TaskDecisionForm], dict[str, Any]]]
    if task.kind == TaskKind.REVIEW:
        kinds = [(ReviewDecisionForm, {})]
    elif task.kind == TaskKind.REVISION:
        kinds = [(RevisionDecisionForm, {})]
    elif task.kind == TaskKind.VOTE:
        kinds = [(VoteDecisionForm, {"actions": _contract_actions(_contract_of(task))})]
    elif task.kind == TaskKind.DELIBERATION:
        kinds = [(DeliberationDecisionForm, {})]
    elif task.kind == TaskKind.SIGNATURE:
        kinds = [
            (SignDecisionForm, {"consent_label": _consent_label(task)}),
            (DeclineDecisionForm, {}),
        ]
    else:
        return []
    pressed = data.get("decision") if data is not None else None
    bound_index = next(
        (i for i, (form_class, _kw) in enumerate(kinds) if pressed in form_class.decisions), 0
    )
    return [
        form_class(data if data is not None and i == bound_index else None, **kwargs)
        for i, (form_class, kwargs) in enumerate(kinds)
    ]


def _decision_of(task: Task, form: TaskDecisionForm) -> Decision:
    data = form.cleaned_data
    decision = Decision(data["decision"], comment=data.get("comment", ""))
    if isinstance(form, VoteDecisionForm) and decision.decision == "reject":
        decision.objections = form.objections()
        decision.actions = sorted(decision.objections)
    elif isinstance(form, DeliberationDecisionForm):
        decision.number, decision.date = data["number"], data["date"]
    elif isinstance(form, SignDecisionForm):
        decision.password, decision.consent = data["password"], data["consent"]
    return decision


def _task_context(task: Task, user: User) -> dict:
    """What each kind of task page shows besides its forms."""
    contract = _contract_of(task)
    context: dict[str, Any] = {}
    action = task.action
    if task.kind in (TaskKind.REVIEW, TaskKind.REVISION) and action is not None:
        context["action"] = action
        prefetch_related_objects([action], "working_group__leads")  # the page names them
    if task.kind == TaskKind.REVISION and action is not None:
        # What the revision answers, newest first: the same rule as the API's.
        answered = task.change_requests[::-1]
        context["review_comments"] = [r for r in answered if r.kind == TaskKind.REVIEW]
        context["committee_objections"] = [
            {
                "vote": vote,
                "objection": vote.data.get("objections", {}).get(action.code, ""),
            }
            for vote in answered
            if vote.kind == TaskKind.VOTE
        ]
    if task.kind in (TaskKind.VOTE, TaskKind.DELIBERATION, TaskKind.SIGNATURE):
        context["contract_funding"] = FundingLine.objects.filter(
            action__contract=contract
        ).aggregate(total=Sum("amount"))["total"]
        context["progress"] = contract_progress(contract)
    if task.kind == TaskKind.VOTE:
        if "actions" not in context:
            context["actions"] = _contract_actions(contract)
        vote = task.committee_vote
        committee = SteeringCommittee.objects.filter(contract=contract).first()
        if vote is not None:
            context["vote"] = vote
            context["vote_cast"] = vote.cast if vote.outcome else sum(vote.tally())
            context["may_close_vote"] = (
                committee is not None
                and committee.chair_id == user.pk
                and not vote.outcome
                and contract.status == ContractStatus.COMMITTEE
                and context["vote_cast"] >= vote.quorum
            )
            context["is_chair"] = committee is not None and committee.chair_id == user.pk
    if task.kind == TaskKind.SIGNATURE and task.signatory_id:
        context["signatory"] = Signatory.objects.select_related(
            "organisation", "signer", "represented_by"
        ).get(pk=task.signatory_id)
        context["is_mandatory"] = context["signatory"].kind == SignatoryKind.MANDATORY
    return context


def _render_task(
    request: AuthenticatedHttpRequest,
    task: Task,
    forms: list[TaskDecisionForm],
    *,
    refusal: str = "",
    status: int = 200,
) -> HttpResponse:
    reason = _read_only_reason(task, request.user)
    context = {
        "task": task,
        "title": task.headline,
        "read_only_reason": reason[0] if reason else "",
        "may_decide": reason is None,
        "forms": forms if reason is None else [],
        "form": forms[0] if forms and reason is None else None,
        "has_errors": bool(refusal) or any(form.errors for form in forms),
        "error_forms": forms,
        "refusal": refusal,
        "decision_labels": {key: str(label) for key, label in DECISION_LABELS.items()},
        "nav_section": "tasks",
        **_task_context(task, request.user),
    }
    return render(request, "workflows/task_detail.html", context, status=status)


def _visible_task(request: AuthenticatedHttpRequest, pk: int) -> Task:
    task = task_with_details(request.user, pk)
    if task is None:
        raise Http404
    return task


@sensitive_post_parameters("password")  # a signer's password never reaches an error report
@login_required
def task_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """One task: what to decide and the buttons to decide it; read-only when it is not (or no
    longer) this person's to decide, with the reason. 404 when the task is not theirs to see."""
    task = _visible_task(request, pk)
    if request.method != "POST":
        return _render_task(request, task, _task_forms(task))
    reason = _read_only_reason(task, request.user)
    if reason is not None:
        return _render_task(request, task, [], refusal=reason[0], status=reason[1])
    forms = _task_forms(task, request.POST)
    form = next(form for form in forms if form.is_bound)
    if not form.is_valid():
        return _render_task(request, task, forms, status=400)
    status_before = _contract_of(task).status
    try:
        task = services.task_decide(
            task=task,
            actor=request.user,
            decision=_decision_of(task, form),
            client=client_info(request),
        )
    except ApplicationError as exc:
        if isinstance(exc, services.SignaturePasswordRefused) and "password" in form.fields:
            form.add_error("password", exc.message)
        else:
            form.add_error(None, exc.message)
        task = _visible_task(request, pk)
        return _render_task(request, task, forms, status=exc.status_code)
    messages.success(request, _decision_done_message(task))
    contract = _contract_of(task)
    if contract.status != status_before:
        messages.info(
            request,
            _("The contract %(reference)s is now “%(status)s”.")
            % {"reference": contract.reference, "status": contract.get_status_display()},
        )
    return redirect("workflows:inbox")


# --- Absences -----------------------------------------------------------------------------


def _possible_delegates(user: User):
    """Whom a person may hand their tasks to: the people of their contracts and of their
    organisation (a short list of colleagues, never every account)."""
    contract_ids = list(contracts_visible_to(user).values_list("pk", flat=True))
    people: set[int] = set()
    through_tables = [
        (Contract.participants.through, "contract_id__in"),
        (Contract.coordinators.through, "contract_id__in"),
        (WorkingGroup.leads.through, "workinggroup__contract_id__in"),
        (WorkingGroup.members.through, "workinggroup__contract_id__in"),
        (SteeringCommittee.members.through, "steeringcommittee__contract_id__in"),
    ]
    for through, lookup in through_tables:
        people.update(
            through.objects.filter(**{lookup: contract_ids}).values_list("user_id", flat=True)
        )
    for signer, representative in Signatory.objects.filter(
        contract_id__in=contract_ids
    ).values_list("signer_id", "represented_by_id"):
        people.update(pk for pk in (signer, representative) if pk)
    people.update(
        Action.objects.filter(contract_id__in=contract_ids).values_list("pilot_id", flat=True)
    )
    if user.organisation_id:
        people.update(
            User.objects.filter(organisation_id=user.organisation_id).values_list("pk", flat=True)
        )
    people.discard(user.pk)
    return (
        User.objects.filter(pk__in=people, is_active=True)
        .select_related("organisation")
        .order_by("full_name", "username")
    )


@login_required
def absences(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Declare an absence ("my tasks go to Y from A to B"), list and cancel one's absences."""
    user = request.user
    today = timezone.localdate()
    delegates = _possible_delegates(user)
    status = 200
    if request.method == "POST":
        form = AbsenceForm(request.POST, delegates=delegates)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.delegation_declare(
                    user=user, delegate=data["delegate"], start=data["start"], end=data["end"]
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
                status = exc.status_code
            else:
                messages.success(
                    request,
                    _(
                        "Your absence is recorded: your tasks go to %(delegate)s from %(start)s to "
                        "%(end)s."
                    )
                    % {
                        "delegate": data["delegate"].display_name,
                        "start": date_format(data["start"], "j F Y"),
                        "end": date_format(data["end"], "j F Y"),
                    },
                )
                return redirect("workflows:absences")
        else:
            status = 400
    else:
        form = AbsenceForm(delegates=delegates, initial={"start": today})
    mine = list(
        Delegation.objects.filter(user=user)
        .select_related("delegate__organisation")
        .annotate(
            open_tasks=Count("tasks", filter=Q(tasks__status__in=services.OPEN_STATUSES)),
        )
        .order_by("-start", "-pk")
    )
    for_others = list(
        Delegation.objects.filter(delegate=user, cancelled_at=None, end__gte=today)
        .select_related("user__organisation")
        .order_by("start", "pk")
    )
    return render(
        request,
        "workflows/absences.html",
        {
            "form": form,
            "error_forms": [form],
            "absences": mine,
            "for_others": for_others,
            "has_delegates": delegates.exists(),
            "nav_section": "absences",
        },
        status=status,
    )


@login_required
def absence_cancel(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    delegation = get_object_or_404(Delegation, pk=pk, user=request.user)
    if request.method != "POST":
        return redirect("workflows:absences")
    try:
        services.delegation_cancel(delegation=delegation, user=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("Your absence from %(start)s to %(end)s is cancelled: your tasks are back with you.")
            % {
                "start": date_format(delegation.start, "j F Y"),
                "end": date_format(delegation.end, "j F Y"),
            },
        )
    return redirect("workflows:absences")
