"""A contract as a contract file through the API: ``GET contracts/{id}/export/``."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.views import APIView

from workflows.audit.api import AnyAccept
from workflows.contract_file import EXPORT_FORMATS
from workflows.http import AuthenticatedRequest, contract_file_response
from workflows.selectors import contracts_visible_to

from .serializers import ErrorOutput
from .views import ERRORS


class ContractExportApi(APIView):
    """The contract as a contract file (``accord.contract/1``), importable again: JSON, or
    YAML with ``?format=yaml``. Whoever may see the contract may export it."""

    # ?format= names the file's format here, not a DRF renderer.
    content_negotiation_class = AnyAccept

    @extend_schema(
        operation_id="contracts_export",
        parameters=[
            OpenApiParameter(
                "format", str, enum=list(EXPORT_FORMATS), description="json (default) or yaml."
            )
        ],
        responses={
            (200, "application/json"): OpenApiTypes.OBJECT,
            # The same document in YAML: an object too, as a client reading YAML gets it.
            (200, "application/yaml"): OpenApiTypes.OBJECT,
            400: OpenApiResponse(ErrorOutput, description="An unknown format."),
            **ERRORS,
        },
    )
    def get(self, request: AuthenticatedRequest, pk: int) -> HttpResponse:
        contract = contracts_visible_to(request.user).filter(pk=pk).first()
        if contract is None:
            raise NotFound
        file_format = request.query_params.get("format") or "json"
        if file_format not in EXPORT_FORMATS:
            raise serializers.ValidationError({"format": [_("Unknown format: json or yaml.")]})
        return contract_file_response(contract, file_format)
