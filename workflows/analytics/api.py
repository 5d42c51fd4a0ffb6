"""The analytics API (``analytics/steps/``, ``working-groups/``, ``organisations/``,
``people/``): the page's figures as JSON, for staff, coordinators and auditors on the contracts
they may audit; anyone else gets a 403, a bad parameter a 400 naming it."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from workflows.api.serializers import ErrorOutput
from workflows.http import AuthenticatedRequest
from workflows.models import TaskKind

from .forms import AnalyticsFilterForm
from .selectors import Dimension, may_see_analytics
from .snapshots import Served, served_figures

PARAMETERS = [
    OpenApiParameter(
        "from",
        OpenApiTypes.DATE,
        description="First day of the period (included): tasks finished from then. Default: "
        "364 days before `to`.",
    ),
    OpenApiParameter(
        "to", OpenApiTypes.DATE, description="Last day of the period (included). Default: today."
    ),
    OpenApiParameter("contract", str, description="A contract's reference."),
    OpenApiParameter(
        "organisation", str, description="An organisation's code: the assignees' organisation."
    ),
    OpenApiParameter("step", str, enum=TaskKind.values, description="One kind of task."),
]
ERRORS = {
    400: OpenApiResponse(ErrorOutput, description="A malformed or unknown parameter, named."),
    401: OpenApiResponse(ErrorOutput, description="Not authenticated."),
    403: OpenApiResponse(ErrorOutput, description="Not staff, nor a coordinator or an auditor."),
}
COUNTED = (
    "Counted: the human tasks finished (done) in the period on the contracts the caller may "
    "audit (staff: all; a coordinator: theirs; an auditor: those granted), from creation to "
    "completion; `overdue_share` is the share finished after their due date (0 to 1). The "
    "slowest (highest median) first. `computed_at`: when the figures were computed, the same "
    "on every line (staff's figures over every contract are computed ahead, every ten minutes, "
    "and may be up to fifteen minutes old; the others are computed for the request)."
)


class FiguresOutput(serializers.Serializer):
    tasks = serializers.IntegerField()
    median_hours = serializers.FloatField()
    p90_hours = serializers.FloatField()
    overdue_share = serializers.FloatField()
    computed_at = serializers.DateTimeField(help_text="When the figures were computed.")


class StepOutput(FiguresOutput):
    step = serializers.ChoiceField(choices=TaskKind.choices, source="key")


class WorkingGroupOutput(FiguresOutput):
    working_group = serializers.CharField(source="key", help_text="The group's code.")
    name = serializers.CharField(source="label", help_text="Its code and title.")
    contract = serializers.CharField(source="detail", help_text="The contract's reference.")


class OrganisationOutput(FiguresOutput):
    organisation = serializers.CharField(source="key", help_text="The organisation's code.")
    name = serializers.CharField(source="label")


class PersonOutput(FiguresOutput):
    person = serializers.CharField(source="key", help_text="The username.")
    name = serializers.CharField(source="label")
    organisation = serializers.CharField(source="detail", help_text="The organisation's name.")


class _AnalyticsApi(APIView):
    dimension: ClassVar[str]
    output: ClassVar[type[FiguresOutput]]

    def figures(self, request: AuthenticatedRequest) -> Served:
        if not may_see_analytics(request.user):
            raise PermissionDenied
        form = AnalyticsFilterForm(request.query_params, user=request.user)
        if not form.is_valid():
            # An ErrorList iterates as its messages, which DRF reads; django-stubs types its
            # items as ValidationError, which DRF's stubs do not accept.
            raise serializers.ValidationError(form.errors)  # type: ignore[arg-type]
        return served_figures(request.user, form.filters(), [self.dimension])

    def get(self, request: AuthenticatedRequest) -> Response:
        """The lines as the output serializer names its fields (its ``source`` read from each
        line), without running its fields' ``to_representation`` on every line: they are
        already ints, floats and strings, and 5,000 lines took DRF's serializer 80 ms."""
        served = self.figures(request)
        fields = self.output().fields
        computed_at = fields["computed_at"].to_representation(served.computed_at)
        sources = {
            name: str(field.source) for name, field in fields.items() if name != "computed_at"
        }
        return Response(
            [
                {
                    **{name: getattr(line, source) for name, source in sources.items()},
                    "computed_at": computed_at,
                }
                for line in served.tables[self.dimension]
            ]
        )


def _schema(
    operation_id: str, output: type[FiguresOutput], what: str
) -> Callable[[type[_AnalyticsApi]], type[_AnalyticsApi]]:
    return extend_schema_view(
        get=extend_schema(
            operation_id=operation_id,
            description=f"Time spent on tasks {what}. {COUNTED}",
            parameters=PARAMETERS,
            responses={200: output(many=True), **ERRORS},
        )
    )


@_schema("analytics_steps", StepOutput, "per kind of task")
class StepAnalyticsApi(_AnalyticsApi):
    dimension = Dimension.STEPS
    output = StepOutput


@_schema("analytics_working_groups", WorkingGroupOutput, "per working group (of its action)")
class WorkingGroupAnalyticsApi(_AnalyticsApi):
    dimension = Dimension.WORKING_GROUPS
    output = WorkingGroupOutput


@_schema("analytics_organisations", OrganisationOutput, "per organisation (of the assignee)")
class OrganisationAnalyticsApi(_AnalyticsApi):
    dimension = Dimension.ORGANISATIONS
    output = OrganisationOutput


@_schema("analytics_people", PersonOutput, "per person (the assignee)")
class PersonAnalyticsApi(_AnalyticsApi):
    dimension = Dimension.PEOPLE
    output = PersonOutput
