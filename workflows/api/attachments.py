"""A contract's attachments through the API: list them, add one (multipart), download one."""

from __future__ import annotations

from django.http import FileResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from workflows import services
from workflows.errors import ApplicationError
from workflows.http import attachment_response, refuse_oversized_attachment
from workflows.models import Attachment, AttachmentKind, Contract
from workflows.selectors import attachments_visible_to, contract_attachments, contracts_visible_to

from .parsers import MultiPartParser as NulSafeMultiPartParser
from .serializers import ErrorOutput
from .views import ERRORS


def _visible_contract(request, pk: int) -> Contract:
    contract = contracts_visible_to(request.user).filter(pk=pk).first()
    if contract is None:
        raise NotFound
    return contract


class AttachmentOutput(serializers.ModelSerializer):
    action = serializers.CharField(source="action.code", read_only=True, allow_null=True)
    uploaded_by = serializers.CharField(source="uploaded_by.username", read_only=True)
    download = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = [
            "id",
            "name",
            "kind",
            "action",
            "content_type",
            "size",
            "sha256",
            "uploaded_by",
            "uploaded_at",
            "download",
        ]

    def get_download(self, attachment: Attachment) -> str:
        """Where to download the file (GET)."""
        return reverse("api:attachment_download", kwargs={"pk": attachment.pk})


class AttachmentInput(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True, help_text="The file, as uploaded.")
    kind = serializers.ChoiceField(choices=AttachmentKind.choices)
    action = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="For an action sheet's document (kind action_document): the action's code.",
    )


class ContractAttachmentsApi(APIView):
    parser_classes = (NulSafeMultiPartParser,)

    @extend_schema(responses={200: AttachmentOutput(many=True), **ERRORS})
    def get(self, request, pk: int):
        """The files joined to the contract, in the order they were added."""
        contract = _visible_contract(request, pk)
        return Response(AttachmentOutput(contract_attachments(contract), many=True).data)

    @extend_schema(
        request={"multipart/form-data": AttachmentInput},
        responses={
            201: AttachmentOutput,
            400: OpenApiResponse(
                ErrorOutput, description="A type not accepted (judged from the content)."
            ),
            403: OpenApiResponse(
                ErrorOutput, description="Neither a coordinator nor the action's pilot."
            ),
            413: OpenApiResponse(ErrorOutput, description="Above ACCORD_ATTACHMENT_MAX_BYTES."),
            **ERRORS,
        },
    )
    def post(self, request, pk: int):
        """Join a file to the contract (a coordinator), or to an action's sheet (its pilot or
        a coordinator); its type is judged from its content, its SHA-256 recorded."""
        contract = _visible_contract(request, pk)
        refuse_oversized_attachment(request)  # before the body is read
        serializer = AttachmentInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        action = None
        if data["action"]:
            action = contract.actions.in_contract().filter(code=data["action"]).first()
            if action is None:
                raise ApplicationError(
                    _("No action of this contract has the code “%(code)s”.")
                    % {"code": data["action"]}
                )
        attachment = services.attachment_add(
            contract=contract,
            actor=request.user,
            kind=data["kind"],
            upload=data["file"],
            action=action,
        )
        return Response(
            AttachmentOutput(attachment).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api:attachment_download", kwargs={"pk": attachment.pk})},
        )


class AttachmentDownloadApi(APIView):
    @extend_schema(responses={(200, "*/*"): OpenApiTypes.BINARY, **ERRORS})
    def get(self, request, pk: int) -> FileResponse:
        """The file, with the type judged from its content, as a download."""
        attachment = attachments_visible_to(request.user).filter(pk=pk).first()
        if attachment is None:
            raise NotFound
        return attachment_response(attachment)
