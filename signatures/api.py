"""The document in the REST API (included under /api/v1/ by config/urls.py)."""

from django.http import HttpResponse
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from workflows.amending import amendment_pdf
from workflows.http import AuthenticatedRequest
from workflows.models import Amendment, Contract
from workflows.selectors import contracts_visible_to

from .forms import DocumentCopyForm
from .selectors import (
    DocumentCheck,
    annual_report_pdf,
    committee_minutes,
    completion_certificate_pdf,
    contract_document,
    contract_document_check,
    contract_document_pdf,
    document_verify,
)
from .views import (
    amendment_filename,
    annual_report_filename,
    document_filename,
    minutes_filename,
    pdf_response,
)


def _visible_contract(request: AuthenticatedRequest, pk: int) -> Contract:
    contract = contracts_visible_to(request.user).filter(pk=pk).first()
    if contract is None:
        raise NotFound
    return contract


PDF = OpenApiResponse(OpenApiTypes.BINARY, description="application/pdf")


class DocumentErrorOutput(serializers.Serializer):
    """The API's JSON error (workflows.api.errors), which this app may not import."""

    detail = serializers.CharField()
    errors = serializers.ListField(child=serializers.CharField())  # type: ignore[assignment]


def pdf_answers(missing: str) -> dict[int, OpenApiResponse]:
    """The PDF, or the API's JSON errors: not authenticated, or ``missing``."""
    return {
        200: PDF,
        401: OpenApiResponse(DocumentErrorOutput, description="Not authenticated."),
        404: OpenApiResponse(DocumentErrorOutput, description=missing),
    }


class PDFRenderer(BaseRenderer):
    """Lets a client ask for ``Accept: application/pdf``; errors still read as JSON."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        return JSONRenderer().render(data)


class _PdfApi(APIView):
    renderer_classes = (JSONRenderer, PDFRenderer)


class ContractDocumentApi(_PdfApi):
    """The contract document: frozen at the deliberation, with the signatures so far."""

    @extend_schema(responses=pdf_answers("No document yet."))
    def get(self, request: AuthenticatedRequest, pk: int) -> HttpResponse:
        contract = _visible_contract(request, pk)
        pdf = contract_document_pdf(contract)
        if pdf is None:
            raise NotFound(_("The contract document does not exist before the deliberation."))
        return pdf_response(pdf, document_filename(contract))


class CompletionCertificateApi(_PdfApi):
    """The one-page summary of a signed contract."""

    @extend_schema(responses=pdf_answers("Not signed and sealed yet."))
    def get(self, request: AuthenticatedRequest, pk: int) -> HttpResponse:
        contract = _visible_contract(request, pk)
        pdf = completion_certificate_pdf(contract)
        if pdf is None:
            raise NotFound(
                _(
                    "The completion certificate exists once every party has signed and Accord has "
                    "sealed the document."
                )
            )
        return pdf_response(pdf, f"{contract.reference}-v{contract.version}-certificate.pdf")


class AnnualReportPdfApi(_PdfApi):
    """A year's annual report as PDF, with a chart per indicator: as the committee's decision
    kept it, or drawn now and marked as a draft (projet) until then."""

    @extend_schema(responses=pdf_answers("No such review."))
    def get(self, request: AuthenticatedRequest, pk: int, year: int) -> HttpResponse:
        contract = _visible_contract(request, pk)
        pdf = annual_report_pdf(contract, year)
        if pdf is None:
            raise NotFound(_("This contract has no annual review of that year."))
        return pdf_response(pdf, annual_report_filename(contract, year))


class AmendmentDocumentApi(_PdfApi):
    """An amendment's document: what it changes, marked as a draft (projet) until signed."""

    @extend_schema(responses=pdf_answers("No such amendment."))
    def get(self, request: AuthenticatedRequest, pk: int, number: int) -> HttpResponse:
        contract = _visible_contract(request, pk)
        amendment = Amendment.objects.filter(contract=contract, number=number).first()
        if amendment is None:
            raise NotFound
        return pdf_response(amendment_pdf(amendment), amendment_filename(amendment))


class CommitteeMinutesApi(_PdfApi):
    """The minutes of the committee's last decided vote (``?round=n`` for an earlier round),
    as PDF signed by the chair: date, members, each vote with its comment, the outcome."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "round",
                int,
                description="The round (the last decided one when omitted or empty); a "
                "number that names no decided round: 404.",
            )
        ],
        responses={
            200: PDF,
            400: OpenApiResponse(description="The round is not a number."),
            404: OpenApiResponse(description="No decided vote (of that round)."),
        },
    )
    def get(self, request: AuthenticatedRequest, pk: int) -> HttpResponse:
        contract = _visible_contract(request, pk)
        raw = request.query_params.get("round", "").strip()
        round_number = None
        if raw:  # empty: no filter, the last round, as every optional parameter (docs/api.md)
            try:
                round_number = int(raw)
            except ValueError:
                raise ValidationError({"round": [_("The round must be a whole number.")]}) from None
        vote = committee_minutes(contract, round_number)
        if vote is None:
            raise NotFound(
                _("This contract has no minutes of that round.")
                if round_number is not None
                else _("No vote of the committee is decided yet.")
            )
        return pdf_response(bytes(vote.minutes_pdf), minutes_filename(contract, vote.round))


class SignatureCheckOutput(serializers.Serializer):
    field = serializers.CharField(source="field_name", help_text="The signature field's name.")
    signer = serializers.CharField(help_text="The certificate's common name.")
    signed_at = serializers.DateTimeField(allow_null=True)
    intact = serializers.BooleanField(source="ok", help_text="Intact, valid and not changed.")
    trusted = serializers.BooleanField(help_text="Issued by this installation's authority.")
    modification_level = serializers.CharField(
        help_text="pyHanko's analysis of what follows it: NONE, LTA_UPDATES, FORM_FILLING, "
        "ANNOTATIONS or OTHER."
    )
    certificate_sha256 = serializers.CharField()
    timestamped_at = serializers.DateTimeField(
        allow_null=True, help_text="The time its RFC 3161 timestamp certifies; null without one."
    )
    timestamp_authority = serializers.CharField(
        help_text="The common name of the time-stamping certificate; empty without a timestamp."
    )
    timestamp_trusted = serializers.BooleanField(
        allow_null=True,
        help_text="The timestamp is valid and issued under a time-stamping root: Accord's "
        "authority's or the outside authority's (ACCORD_TSA_ROOTS); null without a timestamp.",
    )


class ChangeOutput(serializers.Serializer):
    kind = serializers.CharField(
        help_text="content, annotation, form-field, signature, page-added, page-removed, "
        "trailing-bytes or other."
    )
    page = serializers.IntegerField(allow_null=True)
    field = serializers.CharField(source="field_name", help_text="The form field's name.")
    description = serializers.CharField(help_text="In the request's language.")


class MissingOutput(serializers.Serializer):
    kind = serializers.CharField(
        help_text="seal, signature, document-timestamp, validation-data or revisions."
    )
    field = serializers.CharField(source="field_name", help_text="The signature field's name.")
    description = serializers.CharField(help_text="In the request's language.")


class DocumentCheckOutput(serializers.Serializer):
    status = serializers.SerializerMethodField(
        help_text="intact; modified (something was added after the seal, or after the last "
        "signature before it: see changes); incomplete (a copy lacking part of the document "
        "Accord issued, such as its last revisions: see missing); broken (a signature does "
        "not verify); unsigned; unreadable (not a PDF)."
    )
    sha256 = serializers.CharField()
    sealed = serializers.BooleanField()
    frozen_prefix_intact = serializers.BooleanField(allow_null=True)
    changes = ChangeOutput(many=True)
    missing = MissingOutput(many=True)
    signatures = SignatureCheckOutput(many=True)

    def get_status(self, check: DocumentCheck) -> str:
        if not check.readable:
            return "unreadable"
        if check.changes:
            return "modified"
        if check.missing:
            return "incomplete"
        if check.ok:
            return "intact"
        if not check.signatures and check.frozen_prefix_intact is not False:
            return "unsigned"
        return "broken"


class DocumentVerificationApi(APIView):
    """The check of the contract's document (GET), or of a copy someone received (POST,
    multipart ``copy``): each signature, and whatever was added after Accord's seal."""

    parser_classes = (MultiPartParser,)

    @extend_schema(responses={200: DocumentCheckOutput, 404: DocumentErrorOutput})
    def get(self, request: AuthenticatedRequest, pk: int) -> Response:
        check = contract_document_check(_visible_contract(request, pk))
        if check is None:
            raise NotFound(_("The contract document does not exist before the deliberation."))
        return Response(DocumentCheckOutput(check).data)

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"copy": {"type": "string", "format": "binary"}},
            }
        },
        responses={200: DocumentCheckOutput, 400: DocumentErrorOutput, 404: DocumentErrorOutput},
    )
    def post(self, request: AuthenticatedRequest, pk: int) -> Response:
        contract = _visible_contract(request, pk)
        document = contract_document(contract)
        if document is None:
            raise NotFound(_("The contract document does not exist before the deliberation."))
        form = DocumentCopyForm({}, request.FILES)
        if not form.is_valid():
            raise ValidationError(
                {name: [str(error) for error in errors] for name, errors in form.errors.items()}
            )
        check = document_verify(form.cleaned_data["copy"], frozen=document)
        return Response(DocumentCheckOutput(check).data)


app_name = "signatures_api"

urlpatterns = [
    path("contracts/<int:pk>/document/", ContractDocumentApi.as_view(), name="contract_document"),
    path(
        "contracts/<int:pk>/document/verification/",
        DocumentVerificationApi.as_view(),
        name="document_verification",
    ),
    path(
        "contracts/<int:pk>/completion-certificate/",
        CompletionCertificateApi.as_view(),
        name="completion_certificate",
    ),
    path(
        "contracts/<int:pk>/amendments/<int:number>/document/",
        AmendmentDocumentApi.as_view(),
        name="amendment_document",
    ),
    path(
        "contracts/<int:pk>/committee/minutes/",
        CommitteeMinutesApi.as_view(),
        name="committee_minutes",
    ),
    path(
        "contracts/<int:pk>/reports/<int:year>.pdf",
        AnnualReportPdfApi.as_view(),
        name="annual_report",
    ),
]
