"""Following a contract through the API: its observers (a coordinator adds and removes
them) and the comments on its action sheets (whoever sees the contract)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from workflows import services
from workflows.models import Action, ActionStatus, ContractObserver, SheetComment
from workflows.selectors import actions_visible_to, contract_observers, sheet_comments

from .serializers import ErrorOutput
from .views import ERRORS, _visible_contract


class ObserverInput(serializers.Serializer):
    person = serializers.CharField(max_length=150, help_text="The person's username.")


class ObserverOutput(serializers.ModelSerializer):
    person = serializers.CharField(source="user.username", read_only=True)
    name = serializers.CharField(source="user.display_name", read_only=True)
    added_by = serializers.CharField(source="added_by.username", read_only=True)

    class Meta:
        model = ContractObserver
        fields = ["person", "name", "added_by", "added_at"]


class ContractObserversApi(APIView):
    @extend_schema(responses={200: ObserverOutput(many=True), **ERRORS})
    def get(self, request, pk: int):
        """The contract's observers, in the order they were added."""
        contract = _visible_contract(request, pk)
        return Response(ObserverOutput(contract_observers(contract), many=True).data)

    @extend_schema(
        request=ObserverInput,
        responses={
            201: ObserverOutput,
            400: OpenApiResponse(ErrorOutput, description="No active person has this username."),
            403: OpenApiResponse(ErrorOutput, description="Not a coordinator of the contract."),
            409: OpenApiResponse(ErrorOutput, description="Already an observer."),
            **ERRORS,
        },
    )
    def post(self, request, pk: int):
        """Add an observer: they see the contract, its history and documents, get its
        notifications and may comment, but decide nothing (a coordinator)."""
        contract = _visible_contract(request, pk)
        serializer = ObserverInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        observer = services.observer_add(
            contract=contract, actor=request.user, person=serializer.validated_data["person"]
        )
        return Response(ObserverOutput(observer).data, status=status.HTTP_201_CREATED)


class ContractObserverApi(APIView):
    @extend_schema(
        request=None,
        responses={
            204: None,
            400: OpenApiResponse(ErrorOutput, description="Not an observer of the contract."),
            403: OpenApiResponse(ErrorOutput, description="Not a coordinator of the contract."),
            **ERRORS,
        },
    )
    def delete(self, request, pk: int, username: str):
        """Remove an observer (a coordinator)."""
        contract = _visible_contract(request, pk)
        services.observer_remove(contract=contract, actor=request.user, person=username)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CommentInput(serializers.Serializer):
    text = serializers.CharField(
        allow_blank=True,
        help_text="The comment; @username tells that person, if they see the contract.",
    )


class CommentOutput(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True)
    at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = SheetComment
        fields = ["id", "author", "at", "text"]


def _visible_action(request, pk: int, code: str) -> Action:
    action = (
        actions_visible_to(request.user)
        .exclude(status=ActionStatus.REMOVED)
        .select_related("contract")
        .filter(contract_id=pk, code=code)
        .first()
    )
    if action is None:
        raise NotFound
    return action


class SheetCommentsApi(APIView):
    @extend_schema(responses={200: CommentOutput(many=True), **ERRORS})
    def get(self, request, pk: int, code: str):
        """The comments on the action's sheet, the oldest first."""
        action = _visible_action(request, pk, code)
        return Response(CommentOutput(sheet_comments(action), many=True).data)

    @extend_schema(
        request=CommentInput,
        responses={
            201: CommentOutput,
            400: OpenApiResponse(ErrorOutput, description="No text, or too long."),
            **ERRORS,
        },
    )
    def post(self, request, pk: int, code: str):
        """Comment on the action's sheet (whoever sees the contract, observers included)."""
        action = _visible_action(request, pk, code)
        serializer = CommentInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        comment = services.comment_add(
            action=action, actor=request.user, text=serializer.validated_data["text"]
        )
        return Response(CommentOutput(comment).data, status=status.HTTP_201_CREATED)
