"""An action sheet through the API: read it, save a new version of it, list its versions."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from workflows import services
from workflows.errors import ApplicationError
from workflows.models import (
    SHEET_EDITABLE_STATES,
    SHEET_FIELDS,
    Action,
    ActionVersion,
    FundingStatus,
    User,
)
from workflows.rules import may_edit_sheet
from workflows.selectors import (
    actions_visible_to,
    last_reviewed_version,
    sheet_changes_between,
)
from workflows.services.sheets import (
    FundingEntry,
    IndicatorEntry,
    Milestone,
    SheetEdit,
    current_version,
)

from .serializers import ErrorOutput
from .views import ERRORS


def _visible_action(request, pk: int) -> Action:
    action = actions_visible_to(request.user).select_related("contract").filter(pk=pk).first()
    if action is None:
        raise NotFound
    return action


class FundingLineIO(serializers.Serializer):
    funder = serializers.CharField(help_text="The funding organisation's code.")
    amount = serializers.CharField(help_text='Euros, at most two decimals: "12500.00".')
    year = serializers.IntegerField(
        min_value=1900, max_value=2200, required=False, allow_null=True, default=None
    )
    status = serializers.ChoiceField(
        choices=FundingStatus.choices, required=False, allow_null=True, default=None
    )


class IndicatorIO(serializers.Serializer):
    name = serializers.CharField(max_length=500)
    unit = serializers.CharField(max_length=50, allow_blank=True, required=False, default="")
    baseline = serializers.CharField(max_length=100, allow_blank=True, required=False, default="")
    target = serializers.CharField(max_length=100, allow_blank=True, required=False, default="")
    # The answer's fields, not Field.source / Field.label (the stubs see them redefined).
    source = serializers.CharField(  # type: ignore[assignment]
        max_length=300, allow_blank=True, required=False, default=""
    )


class MilestoneIO(serializers.Serializer):
    date = serializers.DateField()
    label = serializers.CharField(max_length=300)  # type: ignore[assignment]


class ScheduleIO(serializers.Serializer):
    start = serializers.DateField(required=False, allow_null=True, default=None)
    end = serializers.DateField(required=False, allow_null=True, default=None)
    milestones = MilestoneIO(many=True, required=False, default=list)


class SheetContentIO(serializers.Serializer):
    """The sheet in the contract file's words (``contract.schema.json``, an action)."""

    title = serializers.CharField(max_length=300)
    objective = serializers.CharField(allow_blank=True, required=False, default="")
    operational_objectives = serializers.ListField(
        child=serializers.CharField(max_length=500), required=False, default=list
    )
    description = serializers.CharField(allow_blank=True, required=False, default="")
    target_public = serializers.CharField(allow_blank=True, required=False, default="")
    place = serializers.CharField(max_length=300, allow_blank=True, required=False, default="")
    schedule = ScheduleIO(required=False, default=dict)
    partners = serializers.ListField(
        child=serializers.CharField(), required=False, default=list, help_text="Organisation codes."
    )
    funding = FundingLineIO(many=True, required=False, default=list)
    indicators = IndicatorIO(many=True, required=False, default=list)


class SheetVersionOutput(serializers.Serializer):
    version = serializers.IntegerField(source="number")
    author = serializers.SerializerMethodField()
    saved_at = serializers.DateTimeField(source="created_at")
    sha256 = serializers.CharField()
    sheet = serializers.JSONField(source="content")

    def get_author(self, version: ActionVersion) -> str | None:
        """The author's username; none for the version the contract file brought."""
        return version.author.username if version.author else None


class SheetOutput(SheetVersionOutput):
    action = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    editable = serializers.SerializerMethodField()

    def get_action(self, version: ActionVersion) -> int:
        return version.action_id

    def get_status(self, version: ActionVersion) -> str:
        return version.action.status

    def get_editable(self, version: ActionVersion) -> bool:
        """Whether the caller may save a new version now."""
        user: User = self.context["request"].user
        action = version.action
        return action.status in SHEET_EDITABLE_STATES and may_edit_sheet(action, user)


def sheet_edit_of(data: dict[str, Any]) -> SheetEdit:
    """A sheet as ``SheetContentIO`` validated it, as the service takes it."""
    schedule = data["schedule"] or {}
    return SheetEdit(
        title=data["title"],
        objective=data["objective"],
        operational_objectives=data["operational_objectives"],
        description=data["description"],
        target_public=data["target_public"],
        place=data["place"],
        starts_on=schedule.get("start"),
        ends_on=schedule.get("end"),
        milestones=[
            Milestone(step["date"], step["label"]) for step in schedule.get("milestones", [])
        ],
        partners=data["partners"],
        funding=[
            FundingEntry(line["funder"], line["amount"], line["year"], line["status"] or "")
            for line in data["funding"]
        ],
        indicators=[IndicatorEntry(**indicator) for indicator in data["indicators"]],
    )


class SheetInput(SheetContentIO):
    version = serializers.IntegerField(
        min_value=1, help_text="The version the edit starts from (the current one)."
    )


class ActionSheetApi(APIView):
    @extend_schema(responses={200: SheetOutput, **ERRORS})
    def get(self, request, pk: int):
        """The sheet's current version."""
        version = current_version(_visible_action(request, pk))
        return Response(SheetOutput(version, context={"request": request}).data)

    @extend_schema(
        request=SheetInput,
        responses={
            200: SheetOutput,
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
    def put(self, request, pk: int):
        """Save a new version of the sheet (pilot or coordinator, while the action is being
        written or revised), on top of the current one."""
        action = _visible_action(request, pk)
        serializer = SheetInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = serializer.validated_data
        version = services.action_sheet_save(
            action=action,
            actor=request.user,
            base_version=data["version"],
            edit=sheet_edit_of(data),
        )
        return Response(SheetOutput(version, context={"request": request}).data)


class ActionSheetVersionsApi(APIView):
    @extend_schema(responses={200: SheetVersionOutput(many=True), **ERRORS})
    def get(self, request, pk: int):
        """Every version of the sheet, the first (the contract file's) first."""
        action = _visible_action(request, pk)
        current_version(action)
        versions = action.versions.select_related("author").order_by("number")
        return Response(SheetVersionOutput(versions, many=True).data)


class SheetChangeOutput(serializers.Serializer):
    field = serializers.ChoiceField(choices=list(SHEET_FIELDS))
    label = serializers.CharField()  # type: ignore[assignment]  # the answer's field, not Field.label
    before = serializers.CharField(required=False, help_text="A text's value before.")
    after = serializers.CharField(required=False, help_text="A text's value now.")
    removed = serializers.ListField(child=serializers.CharField(), required=False)
    added = serializers.ListField(child=serializers.CharField(), required=False)


class SheetDiffOutput(serializers.Serializer):
    since = serializers.IntegerField(source="since.number")
    now = serializers.IntegerField(source="now.number")
    changes = SheetChangeOutput(many=True)


class ActionSheetDiffApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "from",
                int,
                description="The earlier version; by default the one the caller last "
                "reviewed, else the one before the current.",
            ),
            OpenApiParameter("to", int, description="The later version; by default the current."),
        ],
        responses={200: SheetDiffOutput, 400: ErrorOutput, **ERRORS},
    )
    def get(self, request, pk: int):
        """What changed on the sheet between two versions, part by part."""
        action = _visible_action(request, pk)
        latest = current_version(action)
        try:
            # An empty value is no value, as for every filter of the API (workflows.api.schema).
            now = int(request.query_params.get("to") or latest.number)
            default = last_reviewed_version(action, request.user) or max(now - 1, 1)
            since = int(request.query_params.get("from") or default)
            changes = sheet_changes_between(action, since, now)
        except ValueError as exc:
            raise ApplicationError(_("“from” and “to” are version numbers.")) from exc
        except ActionVersion.DoesNotExist as exc:
            raise ApplicationError(
                _("The sheet has versions 1 to %(latest)d.") % {"latest": latest.number}
            ) from exc
        return Response(SheetDiffOutput(changes).data)
