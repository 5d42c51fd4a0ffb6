"""The auditor's API: search the history across contracts, export a search, download a
contract's verification bundle. Same rules as the pages: a caller reads the history of the
contracts they see (staff: all), and every export is recorded."""

from __future__ import annotations

from django.http import HttpResponse, StreamingHttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import MethodNotAllowed, NotFound
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from workflows.api.serializers import ErrorOutput, HistoryEntryOutput, history_context
from workflows.http import AuthenticatedRequest
from workflows.models import HistoryEvent
from workflows.selectors import contracts_visible_to

from . import services
from .archive import archive_name, archive_zip_chunks, contract_archive
from .forms import HistorySearchForm
from .selectors import HistorySearch, bundle_folder, history_search
from .views import EXPORT_IS_POST, export_response

API_PAGE_SIZE = 50
API_MAX_PAGE_SIZE = 500
SEARCH_PARAMETERS = [
    OpenApiParameter(
        "person",
        str,
        description="A username or a name (400 when several people share it): as actor or on"
        " whose behalf.",
    ),
    OpenApiParameter("organisation", str, description="An organisation's code."),
    OpenApiParameter("event", str, enum=HistoryEvent.values),
    OpenApiParameter("since", OpenApiTypes.DATE, description="From this day (included)."),
    OpenApiParameter("until", OpenApiTypes.DATE, description="To this day (included)."),
    OpenApiParameter("contract", str, description="A contract's reference."),
]
ERRORS = {
    400: OpenApiResponse(ErrorOutput, description="A malformed or unknown criterion."),
    401: OpenApiResponse(ErrorOutput, description="Not authenticated."),
}


class AuditEntryOutput(HistoryEntryOutput):
    contract = serializers.CharField(source="contract.reference")


def _search(request: AuthenticatedRequest) -> HistorySearch:
    form = HistorySearchForm(
        request.query_params, contracts=contracts_visible_to(request.user), user=request.user
    )
    if not form.is_valid():
        # An ErrorList iterates as its messages, which DRF reads; django-stubs types its items
        # as ValidationError, which DRF's stubs do not accept.
        raise serializers.ValidationError(form.errors)  # type: ignore[arg-type]
    return form.search()


class AnyAccept(BaseContentNegotiation):
    """A file download answers in its own format whatever the client accepts."""

    # Left unannotated: DRF passes lists, but its stubs type them as any iterable (no [0]).
    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class HistorySearchApi(APIView):
    """History entries of the contracts the caller may read, newest first, by ``limit`` and
    ``offset``; the next page is in ``Link`` (no total: counting a million entries would cost
    more than the page)."""

    class PageInput(serializers.Serializer):
        limit = serializers.IntegerField(
            required=False, min_value=1, max_value=API_MAX_PAGE_SIZE, default=API_PAGE_SIZE
        )
        offset = serializers.IntegerField(
            required=False, min_value=0, max_value=1_000_000_000, default=0
        )

    @extend_schema(
        operation_id="history_search",
        parameters=[*SEARCH_PARAMETERS, PageInput],
        responses={200: AuditEntryOutput(many=True), **ERRORS},
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        page_input = self.PageInput(data=request.query_params)
        page_input.is_valid(raise_exception=True)
        offset, limit = page_input.validated_data["offset"], page_input.validated_data["limit"]
        entries = history_search(request.user, _search(request))
        rows = list(entries[offset : offset + limit + 1])
        headers: dict[str, str] = {}
        url = remove_query_param(request.build_absolute_uri(), "offset")
        links = []
        if len(rows) > limit:
            links.append(f'<{replace_query_param(url, "offset", offset + limit)}>; rel="next"')
        if offset:
            links.append(
                f'<{replace_query_param(url, "offset", max(offset - limit, 0))}>; rel="prev"'
            )
        if links:
            headers["Link"] = ", ".join(links)
        rows = rows[:limit]
        return Response(
            AuditEntryOutput(rows, many=True, context=history_context(rows)).data, headers=headers
        )


class HistoryExportApi(APIView):
    """The search's entries as a file (CSV for a French spreadsheet, or JSON); recorded."""

    content_negotiation_class = AnyAccept

    @extend_schema(
        operation_id="history_export",
        description="The search (criteria in the query string) as a file: CSV for a French "
        "spreadsheet (`export.csv`) or JSON (`export.json`). A POST, since every export is "
        "recorded in the history (a GET answers 405).",
        parameters=[
            OpenApiParameter(
                "file_format",
                str,
                OpenApiParameter.PATH,
                enum=["csv", "json"],
                description="The file.",
            ),
            *SEARCH_PARAMETERS,
        ],
        request=None,
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.BINARY, description="export.csv: the entries, one a line."
            ),
            (200, "application/json"): OpenApiResponse(
                OpenApiTypes.OBJECT, description="export.json: the search and its entries."
            ),
            **ERRORS,
            404: OpenApiResponse(ErrorOutput, description="Neither csv nor json."),
            405: OpenApiResponse(ErrorOutput, description="Not a POST."),
        },
    )
    def post(self, request: AuthenticatedRequest, file_format: str) -> StreamingHttpResponse:
        if file_format not in ("csv", "json"):
            raise NotFound
        return export_response(request.user, _search(request), file_format)

    def http_method_not_allowed(self, request, *args, **kwargs):
        # An export writes a record: a link (a GET) must not, so say how to ask for one.
        raise MethodNotAllowed(request.method, detail=_(EXPORT_IS_POST))


class ContractHistoryBundleApi(APIView):
    """The contract's verification bundle (ZIP); its download goes into the history."""

    content_negotiation_class = AnyAccept

    @extend_schema(
        operation_id="contracts_history_bundle",
        request=None,
        responses={
            (200, "application/zip"): OpenApiTypes.BINARY,
            **ERRORS,
            404: OpenApiResponse(ErrorOutput, description="Unknown, or not visible to the caller."),
        },
    )
    def post(self, request: AuthenticatedRequest, pk: int) -> HttpResponse:
        contract = contracts_visible_to(request.user).filter(pk=pk).first()
        if contract is None:
            raise NotFound
        content = services.contract_verification_bundle(contract=contract, user=request.user)
        response = HttpResponse(content, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{bundle_folder(contract)}.zip"'
        return response


class ContractArchiveApi(APIView):
    """The signed contract's package for the public archives (ZIP): ``manifest.xml``, a SEDA
    2.2 ``ArchiveTransfer``, and every file it lists with its SHA-512 (docs/api.md)."""

    content_negotiation_class = AnyAccept

    @extend_schema(
        operation_id="contracts_archive",
        responses={
            (200, "application/zip"): OpenApiTypes.BINARY,
            401: ERRORS[401],
            403: OpenApiResponse(
                ErrorOutput, description="Not a coordinator, an auditor or staff."
            ),
            404: OpenApiResponse(ErrorOutput, description="Unknown, or not visible to the caller."),
            409: OpenApiResponse(ErrorOutput, description="The contract is not signed."),
        },
    )
    def get(self, request: AuthenticatedRequest, pk: int) -> StreamingHttpResponse:
        contract = contracts_visible_to(request.user).filter(pk=pk).first()
        if contract is None:
            raise NotFound
        files, manifest = contract_archive(contract=contract, user=request.user)
        response = StreamingHttpResponse(
            archive_zip_chunks(files, manifest), content_type="application/zip"
        )
        response["Content-Disposition"] = f'attachment; filename="{archive_name(contract)}"'
        return response
