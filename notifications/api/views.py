"""GET /api/v1/notifications/ and POST /api/v1/notifications/read/ (api.md)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from workflows.http import AuthenticatedRequest

from .. import selectors, services
from ..models import Notification, NotificationEvent

MAX_PAGE = 200


class NotificationErrorOutput(serializers.Serializer):
    """The API's error shape (api.md), as every API error."""

    detail = serializers.CharField()
    errors = serializers.ListField(child=serializers.CharField())  # type: ignore[assignment]


ERRORS = {
    400: OpenApiResponse(NotificationErrorOutput, description="A malformed parameter."),
    401: OpenApiResponse(NotificationErrorOutput, description="Not authenticated."),
}


class NotificationOutput(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "event", "contract", "task", "title", "url", "created_at", "read_at"]


class NotificationListApi(APIView):
    """The caller's notifications, newest first, with the ``unread`` count. ``after=<id>``
    returns those created after that id, oldest first: what a page that reconnects missed."""

    class FilterInput(serializers.Serializer):
        after = serializers.IntegerField(required=False, min_value=0)
        unread = serializers.BooleanField(required=False, default=False)
        event = serializers.ChoiceField(choices=NotificationEvent.choices, required=False)
        limit = serializers.IntegerField(
            required=False, min_value=1, max_value=MAX_PAGE, default=50
        )

    @extend_schema(
        operation_id="notifications_list",
        parameters=[FilterInput],
        responses={
            200: inline_serializer(
                "NotificationList",
                {"unread": serializers.IntegerField(), "results": NotificationOutput(many=True)},
            ),
            **ERRORS,
        },
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        filters = self.FilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        params = filters.validated_data
        if "after" in params:
            rows = selectors.notifications_after(
                request.user, params["after"], limit=params["limit"]
            )
        else:
            rows = selectors.notifications_of(
                request.user, unread=params["unread"], event=params.get("event", "")
            ).order_by("-pk")[: params["limit"]]
        return Response(
            {
                "unread": selectors.unread_count(request.user),
                "results": NotificationOutput(rows, many=True).data,
            }
        )


class NotificationReadApi(APIView):
    """Mark the given notifications read (``{"ids": [...]}``), or all of them (``{}``)."""

    class ReadInput(serializers.Serializer):
        ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False)

    @extend_schema(
        operation_id="notifications_read",
        request=ReadInput,
        responses={
            200: inline_serializer(
                "NotificationRead",
                {"marked": serializers.IntegerField(), "unread": serializers.IntegerField()},
            ),
            **ERRORS,
        },
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = self.ReadInput(data=request.data)
        data.is_valid(raise_exception=True)
        marked = services.notifications_mark_read(
            user=request.user, ids=data.validated_data.get("ids")
        )
        return Response({"marked": marked, "unread": selectors.unread_count(request.user)})
