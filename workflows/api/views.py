"""REST API views: validate the input, call one service or selector, serialise the result.

Contracts a caller does not take part in answer 404, never 403, so that their existence is not
revealed; the services decide everything else (403 not a coordinator, 409 not possible now).
"""

from __future__ import annotations

from django.conf import settings
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
from rest_framework.exceptions import NotFound, UnsupportedMediaType
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from workflows import approvals, services
from workflows.contract_file import parse_contract_file
from workflows.errors import ContractFileTooLarge, NotAllowed
from workflows.models import Contract, is_coordinator
from workflows.selectors import (
    contract_with_details,
    contracts_visible_to,
    history_of,
    history_verify,
    user_may_import_contracts,
)

from .serializers import (
    ChainVerificationOutput,
    ContractDetailOutput,
    ContractImportOutput,
    ContractListOutput,
    ErrorOutput,
    HistoryEntryOutput,
)

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
        return super().post(request, *args, **kwargs)


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

    INPUTS = {
        "launch_review": NoInput,
        "record_deliberation": RecordDeliberationInput,
        "suspend": ReasonInput,
        "resume": NoInput,
        "withdraw": ReasonInput,
        "close": NoInput,
    }

    @extend_schema(
        operation_id="contracts_transitions_create",
        parameters=[
            OpenApiParameter(
                "name",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                enum=list(services.COORDINATOR_TRANSITIONS),
                description="record_deliberation takes number and date; suspend and "
                "withdraw take a reason; the others take no body.",
            )
        ],
        request=PolymorphicProxySerializer(
            component_name="TransitionInput",
            serializers=[RecordDeliberationInput, ReasonInput, NoInput],
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
        if name not in services.COORDINATOR_TRANSITIONS:
            raise NotFound
        # Who may act is answered before what they sent: a stranger to the role gets 403.
        if not is_coordinator(contract, request.user):
            raise NotAllowed(_(services.NOT_A_COORDINATOR))
        serializer = self.INPUTS.get(name, self.NoInput)(data=request.data)
        serializer.is_valid(raise_exception=True)
        approvals.fire_coordinator_transition(
            contract=contract, name=name, actor=request.user, params=serializer.validated_data
        )
        contract = contract_for_detail(request, pk)
        return Response(ContractDetailOutput(contract, context={"request": request}).data)


class ContractHistoryApi(APIView):
    @extend_schema(responses={200: HistoryEntryOutput(many=True), **ERRORS})
    def get(self, request, pk: int):
        contract = _visible_contract(request, pk)
        return Response(HistoryEntryOutput(history_of(contract), many=True).data)


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
