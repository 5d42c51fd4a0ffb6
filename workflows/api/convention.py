"""The contract as a convention through the API: read its preamble and articles, or (a
coordinator, while it is a draft) save them or put back its kind's default."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from workflows import services
from workflows.conventions import (
    PLACEHOLDERS,
    TEXT_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Article,
    default_convention,
    stored_convention,
)
from workflows.models import Contract, ContractStatus, User, is_coordinator
from workflows.selectors import contracts_visible_to

from .serializers import ErrorOutput
from .views import ERRORS


def _visible_contract(request, pk: int) -> Contract:
    contract = contracts_visible_to(request.user).filter(pk=pk).first()
    if contract is None:
        raise NotFound
    return contract


class ArticleIO(serializers.Serializer):
    # The answer's field, not Field.label (the stubs see it redefined).
    title = serializers.CharField(max_length=TITLE_MAX_LENGTH)
    text = serializers.CharField(max_length=TEXT_MAX_LENGTH)


class PlaceholderOutput(serializers.Serializer):
    token = serializers.CharField(help_text="As written in a text: {territoire}.")
    description = serializers.CharField()
    is_list = serializers.BooleanField(
        help_text="Alone in its paragraph, it becomes a list in the document."
    )


class ConventionOutput(serializers.Serializer):
    preamble = serializers.CharField()
    articles = ArticleIO(many=True)
    sha256 = serializers.CharField(help_text="The text's fingerprint; send it back to save.")
    is_default = serializers.BooleanField(help_text="The contract has no text of its own yet.")
    editable = serializers.BooleanField(help_text="Whether the caller may save it now.")
    placeholders = PlaceholderOutput(many=True)


class ConventionInput(serializers.Serializer):
    preamble = serializers.CharField(
        max_length=TEXT_MAX_LENGTH, allow_blank=True, required=False, default=""
    )
    articles = ArticleIO(many=True, required=False, default=list)
    sha256 = serializers.CharField(
        required=False,
        allow_null=True,
        default=None,
        help_text="The fingerprint of the text the edit starts from: a conflict (409) when "
        "someone saved another text meanwhile.",
    )
    reset = serializers.BooleanField(
        required=False, default=False, help_text="Put back the kind's default text."
    )


def _output(contract: Contract, user: User) -> dict[str, Any]:
    stored = stored_convention(contract)
    text = stored or default_convention(contract.kind)
    return ConventionOutput(
        {
            **text.as_data(),
            "sha256": text.sha256,
            "is_default": stored is None,
            "editable": contract.status == ContractStatus.DRAFT and is_coordinator(contract, user),
            "placeholders": [
                {"token": p.token, "description": str(p.description), "is_list": p.is_list}
                for p in PLACEHOLDERS.values()
            ],
        }
    ).data


class ContractConventionApi(APIView):
    @extend_schema(responses={200: ConventionOutput, **ERRORS})
    def get(self, request, pk: int):
        """The contract's convention text, placeholders as written."""
        return Response(_output(_visible_contract(request, pk), request.user))

    @extend_schema(
        request=ConventionInput,
        responses={
            200: ConventionOutput,
            400: OpenApiResponse(ErrorOutput, description="A problem in the text, each named."),
            403: OpenApiResponse(ErrorOutput, description="Not a coordinator of the contract."),
            409: OpenApiResponse(
                ErrorOutput,
                description="Not a draft any more, or someone saved another text meanwhile.",
            ),
            **ERRORS,
        },
    )
    def put(self, request, pk: int):
        """Save the convention's text (a coordinator, while the contract is a draft)."""
        contract = _visible_contract(request, pk)
        serializer = ConventionInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = serializer.validated_data
        services.convention_update(
            contract=contract,
            actor=request.user,
            preamble=data["preamble"],
            articles=[Article(a["title"], a["text"]) for a in data["articles"]],
            reset=data["reset"],
            base_sha256=data["sha256"],
        )
        contract.refresh_from_db()
        return Response(_output(contract, request.user))
