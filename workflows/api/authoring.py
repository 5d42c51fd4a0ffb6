"""Writing a contract through the API: create a draft, write its parts, add its action sheets,
read and write a sheet by its code, its versions and what changed between two of them."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from workflows import services
from workflows.errors import ApplicationError
from workflows.models import (
    SHEET_EDITABLE_STATES,
    Action,
    ActionVersion,
    ContractStatus,
    User,
    sheet_content,
)
from workflows.rules import may_edit_sheet
from workflows.selectors import actions_visible_to, last_reviewed_version, sheet_changes_between
from workflows.services.sheets import current_version

from . import amendments
from .serializers import ContractDetailOutput, ContractImportOutput, ErrorOutput
from .sheets import SheetContentIO, SheetDiffOutput, SheetInput, sheet_edit_of
from .views import ERRORS, ContractDetailApi, ContractListApi, contract_for_detail

NOT_AN_OBJECT = gettext_noop("The body must be a JSON object with the contract's fields.")


def _object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ApplicationError(_(NOT_AN_OBJECT))
    return dict(data)


def _visible_action(request, pk: int, code: str) -> Action:
    action = (
        actions_visible_to(request.user)
        .select_related("contract", "theme")
        .filter(contract_id=pk, code=code)
        .first()
    )
    if action is None:
        raise NotFound
    return action


class ContractListCreateApi(ContractListApi):
    """``contracts/``: the list (``GET``), and a new draft (``POST``)."""

    @extend_schema(
        operation_id="contracts_create",
        request=OpenApiTypes.OBJECT,
        responses={
            201: ContractImportOutput,
            400: OpenApiResponse(ErrorOutput, description="Each problem with its place."),
            403: OpenApiResponse(ErrorOutput, description="The caller may not create contracts."),
            **{code: ERRORS[code] for code in (401,)},
        },
    )
    def post(self, request):
        """Create a draft contract from the fields of a contract file: its reference, title,
        kind, territory and period at least; the other parts now or later. The caller is its
        first coordinator."""
        contract = services.contract_create(actor=request.user, fields=_object(request.data))
        return Response(
            ContractImportOutput(contract).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api:contract_detail", kwargs={"pk": contract.pk})},
        )


class ContractDetailEditApi(ContractDetailApi):
    """``contracts/{id}/``: the contract (``GET``), and its parts written (``PATCH``)."""

    @extend_schema(
        operation_id="contracts_partial_update",
        request=OpenApiTypes.OBJECT,
        responses={
            200: ContractDetailOutput,
            400: OpenApiResponse(ErrorOutput, description="Each problem with its place."),
            403: OpenApiResponse(ErrorOutput, description="Not a coordinator of the contract."),
            409: OpenApiResponse(ErrorOutput, description="The contract is no longer a draft."),
            **ERRORS,
        },
    )
    def patch(self, request, pk: int):
        """Write some parts of a draft contract (keys of a contract file); themes come
        without their sheets, which have their own paths."""
        contract = contract_for_detail(request, pk)
        services.contract_edit(contract=contract, actor=request.user, changes=_object(request.data))
        contract = contract_for_detail(request, pk)
        return Response(ContractDetailOutput(contract, context={"request": request}).data)


class ActionAddInput(serializers.Serializer):
    theme = serializers.CharField(help_text="The code of the theme the sheet goes in.")


class SheetByCodeOutput(serializers.Serializer):
    """The sheet's current version, its fields at the top (the contract file's words)."""

    def to_representation(self, instance: ActionVersion) -> dict[str, Any]:
        action = instance.action
        user: User = self.context["request"].user
        return {
            **instance.content,
            "theme": action.theme.code,
            "status": action.status,
            "version": instance.number,
            "sha256": instance.sha256,
            "editable": action.status in SHEET_EDITABLE_STATES and may_edit_sheet(action, user),
        }


class ContractActionsApi(APIView):
    @extend_schema(
        parameters=[amendments.AMENDMENT_PARAMETER],
        request=ActionAddInput,
        responses={
            201: OpenApiTypes.OBJECT,
            400: OpenApiResponse(ErrorOutput, description="Each problem with its place."),
            403: OpenApiResponse(ErrorOutput, description="Not a coordinator of the contract."),
            409: OpenApiResponse(ErrorOutput, description="The contract is no longer a draft."),
            **ERRORS,
        },
    )
    def post(self, request, pk: int):
        """Add an action sheet to a draft contract: the fields of a contract file's action,
        and ``theme``; the answer is its version 1. With ``?amendment={n}``: a sheet the
        open amendment n proposes to add."""
        if (number := amendments.amendment_number(request)) is not None:
            return amendments.sheet_add(request, pk, number)
        contract = contract_for_detail(request, pk)
        body = _object(request.data)
        theme = body.pop("theme", None)
        if not isinstance(theme, str) or not theme.strip():
            raise ApplicationError(
                _("The sheet's theme is required."),
                {"errors": [_("theme: this field is required")]},
            )
        action = services.action_add(contract=contract, actor=request.user, theme=theme, sheet=body)
        version = action.versions.get()
        return Response(
            SheetByCodeOutput(version, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
            headers={
                "Location": reverse(
                    "api:contract_action", kwargs={"pk": contract.pk, "code": action.code}
                )
            },
        )


class ContractActionApi(APIView):
    @extend_schema(
        parameters=[amendments.AMENDMENT_PARAMETER],
        responses={
            200: OpenApiTypes.OBJECT,
            400: OpenApiResponse(ErrorOutput, description="A malformed amendment number."),
            **ERRORS,
        },
    )
    def get(self, request, pk: int, code: str):
        """The sheet's current version, with its version number and SHA-256; with
        ``?amendment={n}``, as amendment n proposes it."""
        if (number := amendments.amendment_number(request)) is not None:
            return amendments.sheet_get(request, pk, code, number)
        version = current_version(_visible_action(request, pk, code))
        return Response(SheetByCodeOutput(version, context={"request": request}).data)

    @extend_schema(
        parameters=[amendments.AMENDMENT_PARAMETER],
        request=SheetInput,
        responses={
            200: OpenApiTypes.OBJECT,
            400: OpenApiResponse(ErrorOutput, description="A problem in the sheet, each named."),
            403: OpenApiResponse(ErrorOutput, description="Not the pilot nor a coordinator."),
            409: OpenApiResponse(
                ErrorOutput,
                description="Not while the action is in this state, or someone saved a newer "
                "version meanwhile (reload, then edit again).",
            ),
            **ERRORS,
        },
    )
    def patch(self, request, pk: int, code: str):
        """Write some fields of the sheet, on top of ``version`` (the one the edit starts
        from): a new version; the fields not given stay as they are. With
        ``?amendment={n}``: the sheet as amendment n proposes it (the contract file's words),
        on top of the ``version`` its reading gave."""
        if (number := amendments.amendment_number(request)) is not None:
            return amendments.sheet_patch(request, pk, code, number)
        action = _visible_action(request, pk, code)
        current = {
            key: value
            for key, value in sheet_content(action).items()
            if key in SheetContentIO().fields
        }
        serializer = SheetInput(data={**current, **_object(request.data)})
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = serializer.validated_data
        version = services.action_sheet_save(
            action=action,
            actor=request.user,
            base_version=data["version"],
            edit=sheet_edit_of(data),
        )
        return Response(SheetByCodeOutput(version, context={"request": request}).data)

    @extend_schema(
        parameters=[amendments.AMENDMENT_PARAMETER],
        request=None,
        responses={
            204: None,
            400: OpenApiResponse(ErrorOutput, description="The removal brings a problem."),
            403: OpenApiResponse(ErrorOutput, description="Not the pilot nor a coordinator."),
            409: OpenApiResponse(
                ErrorOutput,
                description="A signed contract's sheet (through an amendment only), or a sheet "
                "that left the draft.",
            ),
            **ERRORS,
        },
    )
    def delete(self, request, pk: int, code: str):
        """Without ``?amendment``: remove the sheet from a draft contract (it stays in the
        history, in state ``removed``, and its code is not given again); a signed contract's
        sheet is refused (409): it goes through an amendment. With ``?amendment={n}``:
        amendment n proposes to remove the sheet."""
        if (number := amendments.amendment_number(request)) is not None:
            return amendments.sheet_delete(request, pk, code, number)
        action = _visible_action(request, pk, code)
        if action.contract.status == ContractStatus.SIGNED:
            raise amendments.signed_sheet_delete_refusal(action.contract)
        services.action_remove(action=action, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class VersionOutput(serializers.Serializer):
    number = serializers.IntegerField()
    at = serializers.DateTimeField(source="created_at")
    author = serializers.SerializerMethodField()
    sha256 = serializers.CharField()

    def get_author(self, version: ActionVersion) -> str | None:
        """The author's username; none for a version a contract file brought."""
        return version.author.username if version.author else None


class ContractActionVersionsApi(APIView):
    @extend_schema(responses={200: VersionOutput(many=True), **ERRORS})
    def get(self, request, pk: int, code: str):
        """Every version of the sheet, oldest first."""
        action = _visible_action(request, pk, code)
        current_version(action)
        versions = action.versions.select_related("author").order_by("number")
        return Response(VersionOutput(versions, many=True).data)


class ContractActionDiffApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "against",
                int,
                description="The earlier version; by default the one the caller last "
                "reviewed, else the one before.",
            )
        ],
        responses={200: SheetDiffOutput, 400: ErrorOutput, **ERRORS},
    )
    def get(self, request, pk: int, code: str, number: int):
        """What changed on the sheet from version ``against`` to version ``number``."""
        action = _visible_action(request, pk, code)
        latest = current_version(action)
        try:
            default = last_reviewed_version(action, request.user) or max(number - 1, 1)
            # An empty value is no value, as for every filter of the API (workflows.api.schema).
            against = int(request.query_params.get("against") or default)
            changes = sheet_changes_between(action, against, number)
        except ValueError as exc:
            raise ApplicationError(_("“against” is a version number.")) from exc
        except ActionVersion.DoesNotExist as exc:
            raise NotFound(
                _("The sheet has versions 1 to %(latest)d.") % {"latest": latest.number}
            ) from exc
        return Response(SheetDiffOutput(changes).data)
