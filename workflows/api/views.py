"""REST API views: validate the input, call one service or selector, serialise the result.

Contracts a caller does not take part in answer 404, never 403, so that their existence is not
revealed; the services decide everything else (403 not a coordinator, 409 not possible now).
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    inline_serializer,
)
from rest_framework import parsers, serializers, status
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import NotFound, UnsupportedMediaType, ValidationError
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from workflows import services, transitions
from workflows.contract_file import parse_contract_file
from workflows.errors import ContractFileTooLarge, NotAllowed
from workflows.http import client_info, lockout_response
from workflows.models import (
    COORDINATOR_TRANSITIONS,
    Contract,
    Delegation,
    Task,
    TaskKind,
    TaskStatus,
    User,
)
from workflows.rules import may_fire
from workflows.selectors import (
    contract_with_details,
    contracts_visible_to,
    history_of,
    history_verify,
    inbox_of,
    signatures_held_for,
    task_with_details,
    tasks_visible_to,
    user_may_import_contracts,
)

from .serializers import (
    ChainVerificationOutput,
    ContractDetailOutput,
    ContractImportOutput,
    ContractListOutput,
    DelegationOutput,
    ErrorOutput,
    HistoryEntryOutput,
    OpinionTaskOutput,
    TaskDecisionOutput,
    TaskDetailOutput,
    TaskOutput,
    TaskResultOutput,
    history_context,
)
from .throttling import ScopedRateThrottle

MAY_NOT_IMPORT = gettext_noop("You may not import contracts.")
REQUEST_TOO_LARGE = gettext_noop(
    "The request is too large: %(size)d bytes; a contract file may have at most %(limit)d bytes."
)
# Room for the multipart envelope (boundaries, headers) around a file at the size limit.
MULTIPART_OVERHEAD_BYTES = 64 * 1024

ERRORS = {
    401: OpenApiResponse(ErrorOutput, description="Not authenticated."),
    404: OpenApiResponse(ErrorOutput, description="Unknown, or not visible to the caller."),
}


def _visible_contract(request, pk: int) -> Contract:
    contract = contracts_visible_to(request.user).filter(pk=pk).first()
    if contract is None:
        raise NotFound
    return contract


def contract_for_detail(request, pk: int) -> Contract:
    contract = contract_with_details(contracts_visible_to(request.user)).filter(pk=pk).first()
    if contract is None:
        raise NotFound
    return contract


# --- Authentication -----------------------------------------------------------------------


class TokenObtainApi(ObtainAuthToken):
    """Exchange a username and password for the caller's API token."""

    # No authentication here: a stale token header or a session must not block logging in.
    authentication_classes = ()
    throttle_classes = (ScopedRateThrottle,)
    throttle_scope = "login"

    @extend_schema(
        operation_id="auth_token_create",
        request=AuthTokenSerializer,
        responses={
            200: inline_serializer("TokenOutput", {"token": serializers.CharField()}),
            400: OpenApiResponse(ErrorOutput, description="Wrong username or password."),
            429: OpenApiResponse(ErrorOutput, description="Too many attempts; retry later."),
        },
        auth=[],
    )
    def post(self, request, *args, **kwargs):
        # AuthTokenSerializer authenticates with the request: django-axes counts a wrong
        # password and refuses a locked-out account or address (it marks the request).
        try:
            return super().post(request, *args, **kwargs)
        except ValidationError:
            if getattr(request, "axes_locked_out", False):
                return lockout_response(request, None, getattr(request, "axes_credentials", None))
            raise


# --- Contracts ----------------------------------------------------------------------------


class ContractListApi(APIView):
    @extend_schema(responses={200: ContractListOutput(many=True), 401: ERRORS[401]})
    def get(self, request):
        contracts = contracts_visible_to(request.user)
        return Response(ContractListOutput(contracts, many=True).data)


class ContractDetailApi(APIView):
    @extend_schema(responses={200: ContractDetailOutput, **ERRORS})
    def get(self, request, pk: int):
        contract = contract_for_detail(request, pk)
        return Response(ContractDetailOutput(contract, context={"request": request}).data)


class ContractTransitionApi(APIView):
    """Fire a coordinator transition; the answer is the contract as it now stands."""

    class RecordDeliberationInput(serializers.Serializer):
        number = serializers.CharField(max_length=60)
        date = serializers.DateField()
        comment = serializers.CharField(required=False, allow_blank=True)

    class ReasonInput(serializers.Serializer):
        reason = serializers.CharField()

    class NoInput(serializers.Serializer):
        comment = serializers.CharField(required=False, allow_blank=True)

    class CloseInput(NoInput):
        without_final_review = serializers.CharField(
            required=False,
            allow_blank=True,
            help_text="The reason for closing without the annual review of the last year.",
        )

    INPUTS = {
        "launch_review": NoInput,
        "record_deliberation": RecordDeliberationInput,
        "suspend": ReasonInput,
        "resume": NoInput,
        "withdraw": ReasonInput,
        "close": CloseInput,
    }

    @extend_schema(
        operation_id="contracts_transitions_create",
        parameters=[
            OpenApiParameter(
                "name",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                enum=list(COORDINATOR_TRANSITIONS),
                description="record_deliberation takes number and date; suspend and "
                "withdraw take a reason; the others take no body.",
            )
        ],
        request=PolymorphicProxySerializer(
            component_name="TransitionInput",
            serializers=[RecordDeliberationInput, ReasonInput, CloseInput, NoInput],
            resource_type_field_name=None,
        ),
        responses={
            200: ContractDetailOutput,
            400: OpenApiResponse(ErrorOutput, description="Missing or malformed input."),
            401: ERRORS[401],
            403: OpenApiResponse(ErrorOutput, description="Not a coordinator of the contract."),
            404: ERRORS[404],
            409: OpenApiResponse(
                ErrorOutput, description="Not possible from the current state, or a guard unmet."
            ),
        },
        examples=[
            OpenApiExample(
                "record_deliberation",
                value={"number": "DEL-2024-031", "date": "2024-03-14"},
                request_only=True,
            ),
            OpenApiExample("suspend or withdraw", value={"reason": "..."}, request_only=True),
        ],
    )
    def post(self, request, pk: int, name: str):
        contract = _visible_contract(request, pk)
        if name not in COORDINATOR_TRANSITIONS:
            raise NotFound
        # Who may act is answered before what they sent: a stranger to the role gets 403.
        if not may_fire(contract, name, request.user):
            raise NotAllowed(_(transitions.NOT_A_COORDINATOR))
        serializer = self.INPUTS.get(name, self.NoInput)(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.fire_coordinator_transition(
            contract=contract, name=name, actor=request.user, params=serializer.validated_data
        )
        contract = contract_for_detail(request, pk)
        return Response(ContractDetailOutput(contract, context={"request": request}).data)


class ContractHistoryApi(APIView):
    @extend_schema(responses={200: HistoryEntryOutput(many=True), **ERRORS})
    def get(self, request, pk: int):
        contract = _visible_contract(request, pk)
        entries = list(history_of(contract))
        return Response(
            HistoryEntryOutput(entries, many=True, context=history_context(entries)).data
        )


class ContractHistoryVerifyApi(APIView):
    @extend_schema(responses={200: ChainVerificationOutput, **ERRORS})
    def get(self, request, pk: int):
        contract = _visible_contract(request, pk)
        return Response(ChainVerificationOutput(history_verify(contract)).data)


class ContractImportApi(APIView):
    """Create a contract from a contract file: all or nothing, every problem reported."""

    # The JSON body is never parsed by DRF: its raw bytes go to parse_contract_file, so that
    # size and parsing rules are the same as the import_contract command's.
    parser_classes = (parsers.JSONParser, parsers.MultiPartParser)

    class UploadInput(serializers.Serializer):
        file = serializers.FileField(help_text="The contract file, JSON or YAML.")

    @extend_schema(
        operation_id="contracts_import",
        request={
            "application/json": OpenApiTypes.OBJECT,
            "multipart/form-data": UploadInput,
        },
        responses={
            201: ContractImportOutput,
            400: OpenApiResponse(
                ErrorOutput, description="The file's problems, each with its place in the file."
            ),
            401: ERRORS[401],
            403: OpenApiResponse(ErrorOutput, description="The caller may not import contracts."),
            413: OpenApiResponse(ErrorOutput, description="The file is too large."),
            415: OpenApiResponse(ErrorOutput, description="Neither JSON nor multipart."),
        },
    )
    def post(self, request):
        if not user_may_import_contracts(request.user):
            raise NotAllowed(_(MAY_NOT_IMPORT))
        raw, filename = self._contract_file(request)
        document = parse_contract_file(raw, filename=filename)
        contract = services.contract_import(document=document, actor=request.user)
        return Response(
            ContractImportOutput(contract).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api:contract_detail", kwargs={"pk": contract.pk})},
        )

    def _contract_file(self, request) -> tuple[bytes, str]:
        """The file's name and bytes; an oversized request is refused before it is even read.

        parse_contract_file then applies the exact limit to the file itself.
        """
        limit = settings.ACCORD_IMPORT_MAX_BYTES
        multipart = request.content_type.startswith("multipart/form-data")
        if not multipart and not request.content_type.startswith("application/json"):
            raise UnsupportedMediaType(request.content_type)
        try:
            size = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            size = 0  # Django reads no body without a valid length
        if size > limit + (MULTIPART_OVERHEAD_BYTES if multipart else 0):
            raise ContractFileTooLarge(_(REQUEST_TOO_LARGE) % {"size": size, "limit": limit})
        if not multipart:
            return request.body, ""
        serializer = self.UploadInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        return upload.read(), upload.name or ""


# --- Tasks --------------------------------------------------------------------------------

INBOX_PAGE_SIZE = 50
INBOX_MAX_PAGE_SIZE = 200
REPRESENTED_MAX = 100
NOBODY_WITH_USERNAME = gettext_noop("Nobody has the username “%(username)s”.")


def _visible_task(request, pk: int) -> Task:
    task = tasks_visible_to(request.user).filter(pk=pk).first()
    if task is None:
        raise NotFound
    return task


def task_for_detail(request, pk: int) -> Task:
    task = task_with_details(request.user, pk)
    if task is None:
        raise NotFound
    return task


def _page_links(request, offset: int, limit: int, total: int) -> str:
    url = remove_query_param(request.build_absolute_uri(), "offset")
    links = []
    if offset + limit < total:
        next_url = replace_query_param(url, "offset", offset + limit)
        links.append(f'<{replace_query_param(next_url, "limit", limit)}>; rel="next"')
    if offset > 0:
        previous_url = replace_query_param(url, "offset", max(offset - limit, 0))
        links.append(f'<{replace_query_param(previous_url, "limit", limit)}>; rel="prev"')
    return ", ".join(links)


class InboxApi(APIView):
    """The caller's open tasks, their own and those held for an absent colleague, the most
    urgent first. Paginated by ``limit``/``offset``: the answer stays a list, the total is in
    ``X-Total-Count`` and the neighbouring pages in ``Link``."""

    class FilterInput(serializers.Serializer):
        kind = serializers.ChoiceField(choices=TaskKind.choices, required=False)
        contract = serializers.IntegerField(
            required=False, min_value=1, help_text="Only the tasks of this contract (its id)."
        )
        overdue = serializers.BooleanField(
            required=False, default=False, help_text="Only the tasks past their due date."
        )
        limit = serializers.IntegerField(
            required=False,
            min_value=1,
            max_value=INBOX_MAX_PAGE_SIZE,
            default=INBOX_PAGE_SIZE,
            help_text=f"Tasks per page (default {INBOX_PAGE_SIZE}, at most {INBOX_MAX_PAGE_SIZE}).",
        )
        # Bounded: an offset past the database's integers is a probe, not a page (400).
        offset = serializers.IntegerField(
            required=False, min_value=0, max_value=1_000_000_000, default=0
        )

    @extend_schema(
        operation_id="inbox_list",
        parameters=[FilterInput],
        responses={
            (200, "application/json"): OpenApiResponse(
                TaskOutput(many=True),
                description="The page of tasks; X-Total-Count gives the number of tasks "
                "matching the filters, Link the next and previous pages.",
            ),
            400: OpenApiResponse(ErrorOutput, description="A malformed filter."),
            401: ERRORS[401],
        },
    )
    def get(self, request):
        filters = self.FilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        params = filters.validated_data
        tasks = inbox_of(
            request.user,
            kind=params.get("kind"),
            contract_id=params.get("contract"),
            overdue=params["overdue"],
        )
        offset, limit = params["offset"], params["limit"]
        page = list(tasks[offset : offset + limit])
        # A short first page is the whole inbox: no need to count it.
        total = len(page) if offset == 0 and len(page) < limit else tasks.count()
        headers = {"X-Total-Count": str(total)}
        if links := _page_links(request, offset, limit, total):
            headers["Link"] = links
        data = TaskOutput(page, many=True, context={"request": request}).data
        return Response(data, headers=headers)


class InboxRepresentedApi(APIView):
    """The signatures that the caller's representative holds or held on their behalf: the
    open ones first (soonest due first), then those decided (signed or declined, by whom and
    when), the latest first; at most ``REPRESENTED_MAX`` of them."""

    @extend_schema(
        operation_id="inbox_represented_list",
        responses={200: TaskResultOutput(many=True), 401: ERRORS[401]},
    )
    def get(self, request):
        tasks = signatures_held_for(request.user)[:REPRESENTED_MAX]
        return Response(TaskResultOutput(tasks, many=True, context={"request": request}).data)


class TaskDetailApi(APIView):
    @extend_schema(operation_id="tasks_retrieve", responses={200: TaskDetailOutput, **ERRORS})
    def get(self, request, pk: int):
        task = task_for_detail(request, pk)
        return Response(TaskDetailOutput(task, context={"request": request}).data)


class TaskDecisionApi(APIView):
    """Complete a task with a decision: exactly once, by whoever holds it."""

    class DecisionInput(serializers.Serializer):
        decision = serializers.CharField(
            help_text="review: approve or request_changes; revision: resubmit; vote: approve "
            "or reject; deliberation: record; signature: sign or decline; report: submit."
        )
        comment = serializers.CharField(
            required=False,
            allow_blank=True,
            default="",
            help_text="Required to request changes, to reject and to decline (the reason).",
        )
        actions = serializers.ListField(
            child=serializers.CharField(max_length=20),
            required=False,
            default=list,
            help_text="A rejecting vote: the codes of the actions it objects to (none: the "
            "whole contract).",
        )
        objections = serializers.DictField(
            child=serializers.CharField(allow_blank=True),
            required=False,
            default=dict,
            help_text="A rejecting vote: the objection to each action, by code.",
        )
        number = serializers.CharField(
            required=False,
            allow_blank=True,
            default="",
            max_length=60,
            help_text="Recording a deliberation: its number.",
        )
        date = serializers.DateField(
            required=False,
            allow_null=True,
            default=None,
            help_text="Recording a deliberation: its date (not in the future).",
        )
        password = serializers.CharField(
            required=False,
            allow_blank=True,
            default="",
            trim_whitespace=False,
            write_only=True,
            style={"input_type": "password"},
            help_text="Signing: the signing person's password again.",
        )
        otp = serializers.CharField(
            required=False,
            allow_blank=True,
            default="",
            max_length=32,
            write_only=True,
            help_text="Signing, when the installation requires two-factor authentication to "
            "sign (ACCORD_REQUIRE_2FA_FOR_SIGNING): the current 6-digit code of the signing "
            "person's authenticator app, or one of their unused recovery codes (used up by the "
            "signature). A missing or wrong code is a 400 and nothing is signed; a wrong one "
            "counts towards the lockout as a wrong password does; no authenticator enrolled is "
            "a 403.",
        )
        consent = serializers.BooleanField(
            required=False,
            default=False,
            help_text="Signing: true to consent to sign the document electronically.",
        )
        progress = serializers.CharField(
            required=False,
            allow_blank=True,
            default="",
            help_text="A report (submit): how the action stands, in_progress, done or abandoned "
            "(abandoned: the comment is the reason).",
        )
        indicators = serializers.ListField(
            child=serializers.DictField(child=serializers.CharField(allow_blank=True)),
            required=False,
            default=list,
            help_text='A report (submit): [{"indicator": name, "value": "12,5"}], the year\'s '
            "values of the action's indicators (a blank value is left out).",
        )

    @extend_schema(
        operation_id="tasks_decision_create",
        request=DecisionInput,
        responses={
            200: TaskDecisionOutput,
            400: OpenApiResponse(
                ErrorOutput,
                description="Not a decision for this task, or its input is wrong (signing: "
                "consent missing, wrong password, two-factor code missing or wrong).",
            ),
            401: ERRORS[401],
            403: OpenApiResponse(
                ErrorOutput,
                description="Someone else holds this task; or signing requires two-factor "
                "authentication and the signing person has not enrolled an authenticator app.",
            ),
            404: ERRORS[404],
            409: OpenApiResponse(
                ErrorOutput, description="Already completed, cancelled, or on hold."
            ),
            429: OpenApiResponse(
                ErrorOutput,
                description="Signing: too many wrong passwords or codes from this account or "
                "address; Retry-After says when to try again.",
            ),
        },
        examples=[
            OpenApiExample("approve a review", value={"decision": "approve"}, request_only=True),
            OpenApiExample(
                "reject in a vote",
                value={
                    "decision": "reject",
                    "comment": "The budget of T1-A2 is not secured.",
                    "actions": ["T1-A2"],
                    "objections": {"T1-A2": "Funding of the ARS missing."},
                },
                request_only=True,
            ),
            OpenApiExample(
                "submit an annual report",
                value={
                    "decision": "submit",
                    "progress": "in_progress",
                    "indicators": [{"indicator": "Médecins installés", "value": "2"}],
                    "comment": "Deux cabinets ouverts.",
                },
                request_only=True,
            ),
            OpenApiExample(
                "record the deliberation",
                value={"decision": "record", "number": "DEL-2024-031", "date": "2024-03-14"},
                request_only=True,
            ),
            OpenApiExample(
                "sign",
                value={"decision": "sign", "password": "…", "consent": True},
                request_only=True,
            ),
            OpenApiExample(
                "sign with two-factor authentication",
                value={"decision": "sign", "password": "…", "otp": "123456", "consent": True},
                request_only=True,
            ),
        ],
    )
    def post(self, request, pk: int):
        task = _visible_task(request, pk)
        # Who may decide is answered before what they sent: someone else's task is a 403.
        refusal = services.holder_refusal(task, request.user)
        if refusal is not None:
            raise refusal
        serializer = self.DecisionInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.task_decide(
            task=task,
            actor=request.user,
            decision=services.Decision(**serializer.validated_data),
            client=client_info(request),
        )
        task = tasks_visible_to(request.user).select_related("completed_by").get(pk=pk)
        context = {"request": request}
        return Response(
            TaskDecisionOutput({"task": task, "contract": task.contract}, context=context).data
        )


class OpinionAskApi(APIView):
    """Ask someone who sees the contract for an opinion on one's open task: they get an
    ``opinion`` task (decision ``answer`` with a comment); the task stays with its holder."""

    class OpinionInput(serializers.Serializer):
        person = serializers.CharField(
            max_length=150, help_text="The username of the person asked; must see the contract."
        )
        # Blank allowed here: the service says what is missing (OPINION_QUESTION_MISSING).
        question = serializers.CharField(
            max_length=2000,
            required=False,
            allow_blank=True,
            default="",
            help_text="The question asked (required).",
        )

    @extend_schema(
        operation_id="tasks_opinions_create",
        request=OpinionInput,
        responses={
            201: OpinionTaskOutput,
            400: OpenApiResponse(
                ErrorOutput,
                description="No question; an unknown person, oneself, or someone who does not "
                "see the contract; or the task is itself an opinion.",
            ),
            401: ERRORS[401],
            403: OpenApiResponse(ErrorOutput, description="Someone else holds this task."),
            404: ERRORS[404],
            409: OpenApiResponse(ErrorOutput, description="Completed, cancelled, or on hold."),
        },
        examples=[
            OpenApiExample(
                "ask the pilot",
                value={"person": "pilote.cpam", "question": "Le budget est-il confirmé ?"},
                request_only=True,
            )
        ],
    )
    def post(self, request, pk: int):
        task = _visible_task(request, pk)
        # Who may ask is answered before what they sent: someone else's task is a 403.
        refusal = services.holder_refusal(task, request.user)
        if refusal is not None:
            raise refusal
        serializer = self.OpinionInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        username = serializer.validated_data["person"]
        person = User.objects.filter(username=username).first()
        if person is None:
            raise ValidationError({"person": [_(NOBODY_WITH_USERNAME) % {"username": username}]})
        opinion = services.opinion_ask(
            task=task,
            actor=request.user,
            person=person,
            question=serializer.validated_data["question"],
        )
        data = OpinionTaskOutput(opinion, context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED)


class TaskUndoApi(APIView):
    """Undo one's decision on a review, a revision or a vote while nothing has acted on it:
    the task is open again (the history keeps the decision and its undoing)."""

    @extend_schema(
        operation_id="tasks_undo",
        request=None,
        responses={
            200: TaskDetailOutput,
            401: ERRORS[401],
            403: OpenApiResponse(ErrorOutput, description="Someone else completed this task."),
            404: ERRORS[404],
            409: OpenApiResponse(
                ErrorOutput,
                description="Not completed; a signature, a visa, a deliberation or a report "
                "(never undone); the contract is suspended; or something has acted on the "
                "decision already (the round decided, the action or the contract moved on, "
                "a revision resubmitted).",
            ),
        },
    )
    def post(self, request, pk: int):
        task = _visible_task(request, pk)
        services.task_undo(task=task, actor=request.user)
        task = task_for_detail(request, pk)
        return Response(TaskDetailOutput(task, context={"request": request}).data)


# --- Committee vote -----------------------------------------------------------------------


class ContractVoteCloseApi(APIView):
    """The chair of the steering committee closes the vote once the quorum is reached; the
    outcome is decided on the votes cast and the remaining vote tasks are cancelled."""

    @extend_schema(
        operation_id="contracts_vote_close",
        request=None,
        responses={
            200: ContractDetailOutput,
            401: ERRORS[401],
            403: OpenApiResponse(ErrorOutput, description="Not the chair of the committee."),
            404: ERRORS[404],
            409: OpenApiResponse(
                ErrorOutput, description="No vote in progress, or the quorum is not reached."
            ),
        },
    )
    def post(self, request, pk: int):
        contract = _visible_contract(request, pk)
        services.close_vote(contract=contract, actor=request.user)
        contract = contract_for_detail(request, pk)
        return Response(ContractDetailOutput(contract, context={"request": request}).data)


# --- Absences -----------------------------------------------------------------------------


def _delegations_of(user: User) -> QuerySet[Delegation]:
    return (
        Delegation.objects.filter(user=user)
        .select_related("user", "delegate")
        .annotate(
            open_tasks=Count(
                "tasks", filter=Q(tasks__status__in=[TaskStatus.ASSIGNED, TaskStatus.HELD])
            )
        )
        .order_by("-start", "-pk")
    )


class DelegationListApi(APIView):
    """The caller's absences: "my tasks go to DELEGATE from START to END"."""

    class DelegationInput(serializers.Serializer):
        delegate = serializers.CharField(max_length=150, help_text="The delegate's username.")
        start = serializers.DateField(help_text="First day of the absence.")
        end = serializers.DateField(help_text="Last day of the absence (inclusive).")

        def validate_delegate(self, username: str) -> User:
            delegate = User.objects.filter(username=username).first()
            if delegate is None:
                raise serializers.ValidationError(_(NOBODY_WITH_USERNAME) % {"username": username})
            return delegate

    @extend_schema(
        operation_id="delegations_list",
        responses={200: DelegationOutput(many=True), 401: ERRORS[401]},
    )
    def get(self, request):
        return Response(DelegationOutput(_delegations_of(request.user), many=True).data)

    @extend_schema(
        operation_id="delegations_create",
        request=DelegationInput,
        responses={
            201: DelegationOutput,
            400: OpenApiResponse(
                ErrorOutput,
                description="Unknown delegate, oneself, dates in the wrong order or past, or "
                "an absence overlapping another.",
            ),
            401: ERRORS[401],
        },
        examples=[
            OpenApiExample(
                "absence",
                value={"delegate": "tech2.ars", "start": "2024-07-29", "end": "2024-08-16"},
                request_only=True,
            )
        ],
    )
    def post(self, request):
        serializer = self.DelegationInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        delegation = services.delegation_declare(user=request.user, **serializer.validated_data)
        delegation = _delegations_of(request.user).get(pk=delegation.pk)
        return Response(DelegationOutput(delegation).data, status=status.HTTP_201_CREATED)


class DelegationCancelApi(APIView):
    """End an absence early, or call off one to come: the tasks go back to the caller."""

    @extend_schema(
        operation_id="delegations_cancel",
        request=None,
        responses={200: DelegationOutput, **ERRORS},
    )
    def post(self, request, pk: int):
        delegation = Delegation.objects.filter(pk=pk, user=request.user).first()
        if delegation is None:
            raise NotFound
        services.delegation_cancel(delegation=delegation, user=request.user)
        delegation = _delegations_of(request.user).get(pk=pk)
        return Response(DelegationOutput(delegation).data)
