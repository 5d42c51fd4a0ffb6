"""A signed contract's annual review through the API: launched by a coordinator, its
collection of reports closed, the committee's vote on it closed by the chair, and the year's
report read as JSON (its PDF is served by ``signatures.api``). The pilots' reports are task
decisions (``POST tasks/{id}/decision/`` with ``submit``)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from workflows import services
from workflows.models import AnnualReview
from workflows.selectors import annual_report_data, annual_review_of

from .serializers import ErrorOutput
from .views import ERRORS, _visible_contract

REPORT = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="The annual report: the review (year, status, dates, report_sha256 once "
    "decided), the committee's vote, and per action its code, title, pilot, status, the "
    "report (progress, comment) and each indicator's unit, baseline, target and values by "
    "year.",
)


class LaunchInput(serializers.Serializer):
    year = serializers.IntegerField(min_value=1900, max_value=2200)


def _report(review: AnnualReview) -> Response:
    return Response(annual_report_data(review))


class AnnualReviewLaunchApi(APIView):
    @extend_schema(
        operation_id="contracts_transitions_launch_annual_review_create",
        request=LaunchInput,
        responses={
            201: REPORT,
            400: OpenApiResponse(ErrorOutput, description="The year is outside the period."),
            403: OpenApiResponse(ErrorOutput, description="Not a coordinator of the contract."),
            409: OpenApiResponse(
                ErrorOutput,
                description="Not signed, that year already launched, or no action running.",
            ),
            **ERRORS,
        },
        examples=[OpenApiExample("2025", value={"year": 2025}, request_only=True)],
    )
    def post(self, request, pk: int):
        """Launch the annual review of a year: a ``report`` task for each running action's
        pilot, due in 30 days."""
        contract = _visible_contract(request, pk)
        # Who may act is answered before what they sent: a stranger to the role gets 403.
        services.require_coordinator(contract, request.user)
        serializer = LaunchInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        review = services.launch_annual_review(
            contract=contract, year=serializer.validated_data["year"], actor=request.user
        )
        return Response(annual_report_data(review), status=status.HTTP_201_CREATED)


def _review(request, pk: int, year: int) -> AnnualReview:
    review = annual_review_of(_visible_contract(request, pk), year)
    if review is None:
        raise NotFound
    return review


class AnnualReportApi(APIView):
    @extend_schema(responses={200: REPORT, **ERRORS})
    def get(self, request, pk: int, year: int):
        """The year's annual report as JSON (a draft until the committee decided)."""
        return _report(_review(request, pk, year))


class ReportCollectionCloseApi(APIView):
    @extend_schema(
        request=None,
        responses={
            200: REPORT,
            403: OpenApiResponse(ErrorOutput, description="Not a coordinator of the contract."),
            409: OpenApiResponse(
                ErrorOutput, description="Not collecting any more, or no report in yet."
            ),
            **ERRORS,
        },
    )
    def post(self, request, pk: int, year: int):
        """Close the collection of the reports: the missing ones are cancelled and the
        steering committee votes on the annual report."""
        review = _review(request, pk, year)
        review = services.close_report_collection(
            contract=review.contract, year=year, actor=request.user
        )
        return _report(review)


class ReportVoteCloseApi(APIView):
    @extend_schema(
        request=None,
        responses={
            200: REPORT,
            403: OpenApiResponse(ErrorOutput, description="Not the committee's chair."),
            409: OpenApiResponse(
                ErrorOutput, description="No vote in progress, or the quorum not reached."
            ),
            **ERRORS,
        },
    )
    def post(self, request, pk: int, year: int):
        """The chair closes the committee's vote on the annual report (quorum reached)."""
        review = _review(request, pk, year)
        review = services.close_report_vote(contract=review.contract, year=year, actor=request.user)
        return _report(review)
