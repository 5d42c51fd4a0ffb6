"""The inbox and a task's page: what to decide, the buttons to decide it, or why not."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Sum, prefetch_related_objects
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from .. import services, two_factor
from ..amending import amendment_summary
from ..errors import ApplicationError, NotAllowed
from ..flows import DECISION_LABELS
from ..forms import (
    CommentForm,
    DeclineDecisionForm,
    DeliberationDecisionForm,
    InboxFilterForm,
    OpinionAskForm,
    OpinionDecisionForm,
    ReportDecisionForm,
    ReviewDecisionForm,
    RevisionDecisionForm,
    SignDecisionForm,
    TaskDecisionForm,
    VisaDecisionForm,
    VoteDecisionForm,
)
from ..http import AuthenticatedHttpRequest, client_info
from ..models import (
    SHEET_EDITABLE_STATES,
    Action,
    AmendmentParty,
    AmendmentStatus,
    Contract,
    ContractStatus,
    FundingLine,
    Signatory,
    SignatoryKind,
    SteeringCommittee,
    Task,
    TaskDecision,
    TaskKind,
    TaskStatus,
    User,
)
from ..rules import may_edit_sheet
from ..selectors import (
    contract_progress,
    inbox_of,
    last_reviewed_version,
    may_undo,
    opinions_of,
    other_reviews,
    people_seeing,
    report_form_options,
    sheet_changes_between,
    sheet_comments,
    signatures_held_for,
    task_with_details,
    visas_given,
)
from ..services import Decision

# --- Inbox --------------------------------------------------------------------------------

INBOX_PAGE_SIZE = 50
# The signatures a representative holds for the person, open and decided: the latest only.
REPRESENTED_SHOWN = 20


@login_required
def inbox(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The person's open tasks, the most urgent first, with filters and pages."""
    user = request.user
    # The filter offers each contract's reference (django-fsm reads the status of any
    # contract built): DISTINCT over three columns, not over the convention's text.
    contracts = (
        Contract.objects.filter(tasks__owner=user, tasks__status=TaskStatus.ASSIGNED)
        .only("reference", "status")
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
            "held_for_me": list(signatures_held_for(user)[:REPRESENTED_SHOWN]),
            "nav_section": "tasks",
        },
    )


# --- Task pages ---------------------------------------------------------------------------

# What the person is told once their decision is recorded.
DECISION_DONE: dict[str, dict[str, str]] = {
    TaskDecision.APPROVE: {
        TaskKind.REVIEW: gettext_noop("You approved the action sheet %(code)s."),
        TaskKind.VOTE: gettext_noop(
            "Your vote is recorded: you approved the contract %(reference)s."
        ),
    },
    TaskDecision.REQUEST_CHANGES: {
        TaskKind.REVIEW: gettext_noop(
            "You requested changes on the action sheet %(code)s: its pilot now has a revision task."
        ),
    },
    TaskDecision.RESUBMIT: {
        TaskKind.REVISION: gettext_noop("The action sheet %(code)s is sent back for review."),
    },
    TaskDecision.REJECT: {
        TaskKind.VOTE: gettext_noop(
            "Your vote is recorded: you rejected the contract %(reference)s."
        ),
    },
    TaskDecision.ABSTAIN: {
        TaskKind.VOTE: gettext_noop(
            "Your vote is recorded: you abstained on the contract %(reference)s."
        ),
    },
    TaskDecision.RECORD: {
        TaskKind.DELIBERATION: gettext_noop(
            "The deliberation is recorded: the signatories can now sign the contract %(reference)s."
        ),
    },
    TaskDecision.SIGN: {TaskKind.SIGNATURE: gettext_noop("You signed the contract %(reference)s.")},
    TaskDecision.DECLINE: {
        TaskKind.SIGNATURE: gettext_noop("You declined to sign the contract %(reference)s.")
    },
}
DECISION_DONE[TaskDecision.APPROVE][TaskKind.VISA] = gettext_noop(
    "Your visa is given: the next visa, or the signature, comes next."
)
DECISION_DONE[TaskDecision.ANSWER] = {
    TaskKind.OPINION: gettext_noop(
        "Your opinion is recorded: whoever asked for it reads it on their task's page."
    )
}
DECISION_DONE[TaskDecision.REFUSE] = {
    TaskKind.VISA: gettext_noop(
        "You refused the visa: your organisation declines to sign %(reference)s."
    )
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
        contract.actions.in_contract()
        .select_related("theme", "working_group", "pilot__organisation")
        .prefetch_related("funding_lines__funder")
        .order_by("theme__position", "position", "pk")
    )


def _amendment_consent_label(task: Task) -> str:
    party, amendment = task.amendment_party, task.amendment
    assert party is not None
    assert amendment is not None
    return _(
        "I sign amendment no. %(number)d to the contract %(reference)s for %(organisation)s. "
        "The document I sign has the fingerprint %(sha256)s."
    ) % {
        "number": amendment.number,
        "reference": _contract_of(task).reference,
        "organisation": party.organisation.name,
        "sha256": amendment.document_sha256,
    }


def _consent_label(task: Task) -> str:
    if task.amendment_party_id:
        return _amendment_consent_label(task)
    contract, signatory = _contract_of(task), task.signatory
    values = {
        "reference": contract.reference,
        "title": contract.title,
        "organisation": signatory.organisation.name if signatory else "",
        "sha256": contract.document_sha256,
    }
    if signatory is not None and signatory.represented_by_id:
        values["signer"] = signatory.signer.formal_name
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


def _needs_authenticator(task: Task, user: User) -> bool:
    """Signing asks for a code and this person has no authenticator app: they are told to
    set one up (and the service refuses to sign, 403) rather than asked for a code."""
    return (
        task.kind == TaskKind.SIGNATURE
        and two_factor.signing_requires_code()
        and not two_factor.has_authenticator(user)
    )


def _task_forms(task: Task, user: User, data=None) -> list[TaskDecisionForm]:
    """The decision forms of the task's page; with ``data``, the one whose decision was
    pressed is bound (the first one when no known decision was sent)."""
    kinds: list[tuple[type[TaskDecisionForm], dict[str, Any]]]
    if task.kind == TaskKind.REVIEW:
        kinds = [(ReviewDecisionForm, {})]
    elif task.kind == TaskKind.REVISION:
        kinds = [(RevisionDecisionForm, {})]
    elif task.kind == TaskKind.VOTE and task.amendment_id:
        kinds = [(VoteDecisionForm, {"actions": []})]
    elif task.kind == TaskKind.VOTE:
        kinds = [(VoteDecisionForm, {"actions": _contract_actions(_contract_of(task))})]
    elif task.kind == TaskKind.DELIBERATION:
        kinds = [(DeliberationDecisionForm, {})]
    elif task.kind == TaskKind.SIGNATURE:
        kinds = [
            (
                SignDecisionForm,
                {
                    "consent_label": _consent_label(task),
                    "ask_code": two_factor.signing_requires_code()
                    and not _needs_authenticator(task, user),
                },
            ),
            (DeclineDecisionForm, {}),
        ]
    elif task.kind == TaskKind.VISA:
        kinds = [(VisaDecisionForm, {})]
    elif task.kind == TaskKind.OPINION:
        kinds = [(OpinionDecisionForm, {})]
    elif task.kind == TaskKind.REPORT and task.action is not None:
        kinds = [(ReportDecisionForm, report_form_options(task.action, task.data["year"]))]
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
    if isinstance(form, VoteDecisionForm) and decision.decision == TaskDecision.REJECT:
        decision.objections = form.objections()
        decision.actions = sorted(decision.objections)
    elif isinstance(form, DeliberationDecisionForm):
        decision.number, decision.date = data["number"], data["date"]
    elif isinstance(form, SignDecisionForm):
        decision.password, decision.consent = data["password"], data["consent"]
        decision.otp = data.get("otp", "")
    elif isinstance(form, ReportDecisionForm):
        decision.progress, decision.indicators = data["progress"], form.indicator_values()
    return decision


def _task_context(task: Task, user: User) -> dict:
    """What each kind of task page shows besides its forms."""
    contract = _contract_of(task)
    context: dict[str, Any] = {}
    if task.amendment_id:
        return _amendment_task_context(task, user)
    action = task.action
    if task.kind in (TaskKind.REVIEW, TaskKind.REVISION) and action is not None:
        context["action"] = action
        prefetch_related_objects([action], "working_group__leads")  # the page names them
    if task.kind in (TaskKind.REPORT, TaskKind.OPINION) and action is not None:
        context["action"] = action
    if task.kind == TaskKind.REVIEW and action is not None and task.owner is not None:
        # What changed since the holder last reviewed this sheet (nothing on a first review).
        since = last_reviewed_version(action, task.owner)
        if since is not None:
            changes = sheet_changes_between(action, since)
            if changes.now.number != since:
                context["sheet_changes"] = changes
    if task.kind == TaskKind.REVIEW:
        context["other_reviews"] = other_reviews(task)
    if task.kind in (TaskKind.REVIEW, TaskKind.REVISION) and action is not None:
        # The sheet's comments, for everyone who sees the contract, and the form to add one.
        context["comments"] = sheet_comments(action)
        context["comment_form"] = CommentForm()
        context["next"] = reverse("workflows:task_detail", args=[task.pk])
    if action is not None:
        context["may_edit_sheet"] = action.status in SHEET_EDITABLE_STATES and may_edit_sheet(
            action, user
        )
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
    if task.kind in (TaskKind.VOTE, TaskKind.DELIBERATION, TaskKind.SIGNATURE, TaskKind.VISA):
        context["contract_funding"] = FundingLine.objects.filter(
            action__contract=contract
        ).aggregate(total=Sum("amount"))["total"]
        context["progress"] = contract_progress(contract)
    if task.kind == TaskKind.VOTE:
        if "actions" not in context:
            context["actions"] = _contract_actions(contract)
        context.update(
            _vote_context(task, user, in_progress=contract.status == ContractStatus.COMMITTEE)
        )
    if task.kind in (TaskKind.SIGNATURE, TaskKind.VISA) and task.signatory_id:
        context["signatory"] = Signatory.objects.select_related(
            "organisation", "signer", "represented_by"
        ).get(pk=task.signatory_id)
        context["is_mandatory"] = context["signatory"].kind == SignatoryKind.MANDATORY
    if task.kind == TaskKind.VISA:
        context["visa_circuit"] = _visa_circuit(task, signatory=context.get("signatory"))
    return context


def _visa_circuit(
    task: Task, *, signatory: Signatory | None = None, party: AmendmentParty | None = None
) -> list[dict[str, Any]]:
    """The visa task's circuit, in order: who gave theirs (when), whose turn it is, who
    comes next."""
    holder_ids = task.data.get("visas", [])
    holders = User.objects.in_bulk(holder_ids)
    rank = task.data.get("visa", 0)
    given = visas_given(signatory=signatory, party=party, version=task.process.contract_version)
    return [
        {
            "person": holders.get(pk),
            "given": given[index] if index < rank and index < len(given) else None,
            "current": index == rank,
        }
        for index, pk in enumerate(holder_ids)
    ]


def _vote_context(task: Task, user: User, *, in_progress: bool) -> dict[str, Any]:
    """A vote's standing, and whether the holder, as chair, may close it now."""
    vote = task.committee_vote
    if vote is None:
        return {}
    committee = SteeringCommittee.objects.filter(contract_id=task.contract_id).first()
    is_chair = committee is not None and committee.chair_id == user.pk
    # Open, the split so far too: the committee votes openly, as by a show of hands.
    tally = None if vote.outcome else vote.tally()
    cast = vote.cast if tally is None else sum(tally)
    return {
        "vote": vote,
        "vote_cast": cast,
        "vote_tally": tally,
        "is_chair": is_chair,
        "may_close_vote": is_chair and not vote.outcome and in_progress and cast >= vote.quorum,
    }


def _amendment_task_context(task: Task, user: User) -> dict[str, Any]:
    """An amendment's task: the amendment, the proposal (before → after) a review or a
    revision is about, the party a signature is asked of; the amendment's PDF is linked."""
    amendment = task.amendment
    assert amendment is not None
    context: dict[str, Any] = {"amendment": amendment}
    change = task.amendment_change
    if task.kind in (TaskKind.VOTE, TaskKind.SIGNATURE, TaskKind.VISA):
        # What the member votes on, what the party signs: every change, the funding.
        context["amendment_summary"] = amendment_summary(amendment)
    if change is not None:
        summary = amendment_summary(amendment)
        context["proposal"] = change
        context["proposal_sheet"] = next(
            (
                sheet
                for sheet in (*summary.added, *summary.modified)
                if sheet["code"] == change.code
            ),
            None,
        )
    if task.kind == TaskKind.VOTE:
        context.update(
            _vote_context(task, user, in_progress=amendment.status == AmendmentStatus.COMMITTEE)
        )
    if task.amendment_party_id:
        party = task.amendment_party
        assert party is not None
        context["party"] = party
        context["is_mandatory"] = party.kind == SignatoryKind.MANDATORY
        if task.kind == TaskKind.VISA:
            context["visa_circuit"] = _visa_circuit(task, party=party)
    return context


def _render_task(
    request: AuthenticatedHttpRequest,
    task: Task,
    forms: list[TaskDecisionForm],
    *,
    refusal: str = "",
    status: int = 200,
    undo_refused: bool = False,
    opinion_form: OpinionAskForm | None = None,
) -> HttpResponse:
    reason = _read_only_reason(task, request.user)
    asking = opinion_form is not None and opinion_form.is_bound  # the question was not sent
    if opinion_form is None and reason is None and task.kind != TaskKind.OPINION:
        opinion_form = _opinion_form(task, request.user)
    context = {
        "opinions": opinions_of(task),
        "opinion_form": opinion_form if reason is None else None,
        "asked_by": _asked_by(task),
        "may_undo": may_undo(task, request.user),
        "undo_refused": undo_refused,
        "task": task,
        "title": task.headline,
        "read_only_reason": reason[0] if reason else "",
        "may_decide": reason is None,
        "forms": forms if reason is None else [],
        "form": forms[0] if forms and reason is None else None,
        "has_errors": bool(refusal)
        or any(form.errors for form in forms)
        or bool(opinion_form is not None and opinion_form.errors),
        "error_forms": [opinion_form] if asking else forms,
        "opinion_refused": asking,
        "refusal": refusal,
        "decision_labels": {key: str(label) for key, label in DECISION_LABELS.items()},
        "nav_section": "tasks",
        "needs_authenticator": _needs_authenticator(task, request.user),
        "next_review": NEXT_REVIEW,
        **_task_context(task, request.user),
    }
    return render(request, "workflows/task_detail.html", context, status=status)


def _opinion_form(task: Task, user: User, data=None) -> OpinionAskForm:
    """« Ask for an opinion »: whom (the people who see the contract, but oneself), what."""
    people = people_seeing(_contract_of(task)).exclude(pk=user.pk)
    return OpinionAskForm(data, people=people)


def _asked_by(task: Task) -> Task | None:
    """An opinion task: the task it was asked on, with its holder and its action."""
    if task.kind != TaskKind.OPINION or task.asked_by_task_id is None:
        return None
    return Task.objects.select_related("owner", "action", "contract").get(pk=task.asked_by_task_id)


def _visible_task(request: AuthenticatedHttpRequest, pk: int) -> Task:
    task = task_with_details(request.user, pk)
    if task is None:
        raise Http404
    return task


# The query parameter of « Approve and open the next one » (the button's formaction).
NEXT_REVIEW = "next-review"


# A signer's password and code never reach an error report.
@sensitive_post_parameters("password", "otp")
@login_required
def task_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """One task: what to decide and the buttons to decide it; read-only when it is not (or no
    longer) this person's to decide, with the reason. 404 when the task is not theirs to see."""
    task = _visible_task(request, pk)
    if request.method != "POST":
        return _render_task(request, task, _task_forms(task, request.user))
    reason = _read_only_reason(task, request.user)
    if reason is not None:
        return _render_task(request, task, [], refusal=reason[0], status=reason[1])
    forms = _task_forms(task, request.user, request.POST)
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
        code_problem = (services.SigningCodeRefused, services.SigningCodeMissing)
        if isinstance(exc, code_problem) and "otp" in form.fields:
            form.add_error("otp", exc.message)
        elif isinstance(exc, services.SignaturePasswordRefused) and "password" in form.fields:
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
    if task.kind == TaskKind.REVIEW and request.GET.get("then") == NEXT_REVIEW:
        # « Approve and open the next one »: the lead's next open review, as the inbox orders them.
        following = inbox_of(request.user, kind=TaskKind.REVIEW).first()
        if following is not None:
            return redirect("workflows:task_detail", pk=following.pk)
    return redirect("workflows:inbox")


@require_POST
@login_required
def task_undo(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Undo one's decision on the task (the task page's button, shown while ``may_undo``);
    the task page again, open, or saying why it cannot be undone."""
    task = _visible_task(request, pk)
    try:
        services.task_undo(task=task, actor=request.user)
    except ApplicationError as exc:
        task = _visible_task(request, pk)
        return _render_task(
            request,
            task,
            _task_forms(task, request.user),
            refusal=exc.message,
            status=exc.status_code,
            undo_refused=True,
        )
    messages.success(request, _("Your decision is undone: the task is open again."))
    return redirect("workflows:task_detail", pk)


@require_POST
@login_required
def task_opinion_ask(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """« Ask for an opinion » on the task's page: the person asked gets an opinion task; the
    task page again, with the opinion listed, or saying why it was not asked."""
    task = _visible_task(request, pk)
    form = _opinion_form(task, request.user, request.POST)
    forms = _task_forms(task, request.user)
    if not form.is_valid():
        return _render_task(request, task, forms, status=400, opinion_form=form)
    try:
        opinion = services.opinion_ask(
            task=task,
            actor=request.user,
            person=form.cleaned_data["person"],
            question=form.cleaned_data["question"],
        )
    except ApplicationError as exc:
        task = _visible_task(request, pk)
        return _render_task(
            request, task, forms, refusal=exc.message, status=exc.status_code, opinion_form=form
        )
    assert opinion.owner is not None  # task_open gives every task its holder
    messages.success(
        request,
        _("Your question is sent: %(person)s has an opinion task.")
        % {"person": opinion.owner.display_name},
    )
    return redirect("workflows:task_detail", pk)
