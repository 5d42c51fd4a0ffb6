"""A signed contract's follow-up through the API: an action moved on (started, done,
abandoned), its indicators' values recorded year by year and read back."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from workflows import services
from workflows.models import FOLLOW_UP_TRANSITIONS, Action, IndicatorValue
from workflows.selectors import actions_visible_to, indicators_followed

from .serializers import ErrorOutput
from .views import ERRORS


def _visible_action(request, pk: int, code: str) -> Action:
    action = (
        actions_visible_to(request.user)
        .select_related("contract")
        .filter(contract_id=pk, code=code)
        .first()
    )
    if action is None:
        raise NotFound
    return action


class FollowUpInput(serializers.Serializer):
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Required to abandon."
    )
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class ActionStateOutput(serializers.Serializer):
    code = serializers.CharField()
    status = serializers.CharField()


class ActionFollowUpApi(APIView):
    @extend_schema(
        operation_id="contracts_actions_transitions_create",
        parameters=[
            OpenApiParameter(
                "name", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(FOLLOW_UP_TRANSITIONS)
            )
        ],
        request=FollowUpInput,
        responses={
            200: ActionStateOutput,
            400: OpenApiResponse(ErrorOutput, description="Abandoning needs a reason."),
            403: OpenApiResponse(ErrorOutput, description="Not the pilot nor a coordinator."),
            409: OpenApiResponse(
                ErrorOutput, description="Not from the action's state, or before the signature."
            ),
            **ERRORS,
        },
    )
    def post(self, request, pk: int, code: str, name: str):
        """Move a signed contract's action on: ``start``, ``complete``, ``abandon``."""
        action = _visible_action(request, pk, code)
        if name not in FOLLOW_UP_TRANSITIONS:
            raise NotFound
        serializer = FollowUpInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = serializer.validated_data
        action = services.action_follow_up(
            action=action,
            name=name,
            actor=request.user,
            comment=data["reason"] or data["comment"],
        )
        return Response(ActionStateOutput(action).data)


class IndicatorValueIO(serializers.ModelSerializer):
    recorded_by: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    value = serializers.CharField(help_text='A number: "12", "12.5".')

    class Meta:
        model = IndicatorValue
        fields = [
            "indicator",
            "year",
            "value",
            "measured_on",
            "source",
            "comment",
            "recorded_by",
            "recorded_at",
        ]
        read_only_fields = ["recorded_by", "recorded_at"]
        extra_kwargs = {"year": {"min_value": 1900, "max_value": 2200}}
        # The unique (action, indicator, year) is the service's to answer: a second value
        # for a year corrects the first.
        validators: list = []

    def to_representation(self, instance: IndicatorValue) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["value"] = format(instance.value.normalize(), "f")
        return data


class IndicatorOutput(serializers.Serializer):
    name = serializers.CharField()
    unit = serializers.CharField()
    baseline = serializers.CharField()
    target = serializers.CharField()
    # The answer's field, not Field.source (the stubs see it redefined).
    source = serializers.CharField()  # type: ignore[assignment]
    values = IndicatorValueIO(many=True)


class IndicatorsApi(APIView):
    @extend_schema(responses={200: IndicatorOutput(many=True), **ERRORS})
    def get(self, request, pk: int, code: str):
        """The sheet's indicators, each with its measure and its values by year."""
        action = _visible_action(request, pk, code)
        return Response(IndicatorOutput(indicators_followed(action), many=True).data)


class IndicatorValuesApi(APIView):
    @extend_schema(
        request=IndicatorValueIO,
        responses={
            201: IndicatorValueIO,
            400: OpenApiResponse(ErrorOutput, description="Each problem named."),
            403: OpenApiResponse(ErrorOutput, description="Not the pilot nor a coordinator."),
            409: OpenApiResponse(ErrorOutput, description="The contract is not signed."),
            **ERRORS,
        },
    )
    def post(self, request, pk: int, code: str):
        """Record an indicator's value for a year (a second one for the same year corrects
        it); pilot or coordinators, on a signed contract."""
        action = _visible_action(request, pk, code)
        serializer = IndicatorValueIO(data=request.data)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = serializer.validated_data
        recorded = services.indicator_value_record(
            action=action,
            actor=request.user,
            measure=services.Measure(
                indicator=data["indicator"],
                year=data["year"],
                value=data["value"],
                measured_on=data.get("measured_on"),
                source=data.get("source", ""),
                comment=data.get("comment", ""),
            ),
        )
        return Response(IndicatorValueIO(recorded).data, status=status.HTTP_201_CREATED)
