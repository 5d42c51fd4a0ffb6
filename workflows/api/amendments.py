"""Amendments through the API: open one on a signed contract, read it (its changes, who is
concerned), write its period and reason, add or take back a signatory, withdraw it; its sheets
are written on the contract's sheet paths with ``?amendment={n}`` (``sheet_*`` below, called
by ``authoring``'s views); its PDF is served by ``signatures.api``."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from workflows import services
from workflows.amending import NOT_CONCERNED, AmendmentSummary, amendment_summary
from workflows.contract_file.export import action_entry
from workflows.errors import ApplicationError, Conflict
from workflows.models import (
    Amendment,
    AmendmentChangeKind,
    AmendmentParty,
    Contract,
)
from workflows.services.sheets import current_version

from .serializers import ErrorOutput
from .views import ERRORS, contract_for_detail

WRITE_ERRORS = {
    400: OpenApiResponse(ErrorOutput, description="Each problem with its place."),
    403: OpenApiResponse(ErrorOutput, description="Not a coordinator of the contract."),
    409: OpenApiResponse(
        ErrorOutput,
        description="The contract is not signed, or the amendment is no longer a draft.",
    ),
    **ERRORS,
}


def _object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ApplicationError(_("The body must be a JSON object."))
    return dict(data)


# The query parameter of the sheet paths that work on an amendment's proposal instead.
AMENDMENT_PARAMETER = OpenApiParameter(
    "amendment",
    int,
    description="An open amendment's number: the sheet as that amendment proposes it.",
)


def amendment_number(request) -> int | None:
    """The ``?amendment={n}`` of a sheet path, if given."""
    value = request.query_params.get("amendment")
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise ApplicationError(_("“amendment” is an amendment's number.")) from exc


def _amendment(contract: Contract, number: int) -> Amendment:
    amendment = (
        Amendment.objects.select_related("contract", "opened_by")
        .filter(contract=contract, number=number)
        .first()
    )
    if amendment is None:
        raise NotFound
    return amendment


def _signatories(summary: AmendmentSummary) -> list[dict[str, Any]]:
    """Who signs the amendment: once its deliberation froze the concerned parties, theirs
    (with their signing status) and the others as not concerned; before, as it stands."""
    amendment = summary.amendment
    frozen = {
        party.organisation.code: party
        for party in AmendmentParty.objects.filter(
            amendment=amendment, amendment_version=amendment.version
        ).select_related("organisation")
    }
    if not frozen:
        return [
            {
                "organisation": s.organisation,
                "kind": s.kind,
                "added": s.added,
                "concerned": s.concerned,
                "status": s.status,
            }
            for s in summary.signatories
        ]
    rows = [
        {
            "organisation": code,
            "kind": party.kind,
            "added": party.added_id is not None,
            "concerned": True,
            "status": party.status,
        }
        for code, party in frozen.items()
    ]
    for signatory in amendment.contract.signatories.select_related("organisation").order_by(
        "order", "pk"
    ):
        if signatory.organisation.code not in frozen:
            rows.append(
                {
                    "organisation": signatory.organisation.code,
                    "kind": signatory.kind,
                    "added": False,
                    "concerned": False,
                    "status": NOT_CONCERNED,
                }
            )
    return rows


def amendment_output(summary: AmendmentSummary) -> dict[str, Any]:
    amendment = summary.amendment
    return {
        "number": amendment.number,
        "status": amendment.status,
        "version": amendment.version,
        "summary": amendment.summary,
        "opened_by": amendment.opened_by.username,
        "opened_at": amendment.opened_at.isoformat(),
        "amended_document_sha256": amendment.amended_document_sha256,
        "period": {
            "start": summary.period_start,
            "end": summary.period_end_before.isoformat(),
            "new_end": amendment.period_end.isoformat() if amendment.period_end else None,
        },
        "changes": {
            "added": [sheet["code"] for sheet in summary.added],
            "modified": [
                {"code": sheet["code"], "fields": [c["field"] for c in sheet["changes"]]}
                for sheet in summary.modified
            ],
            "removed": [sheet["code"] for sheet in summary.removed],
        },
        "signatories": _signatories(summary),
        "funding": {
            "before": f"{summary.total_before:.2f}",
            "after": f"{summary.total_after:.2f}",
            "by_funder": [
                {
                    "funder": row["funder"],
                    "before": f"{row['before']:.2f}",
                    "after": f"{row['after']:.2f}",
                }
                for row in summary.funding
            ],
        },
        "withdrawal_reason": amendment.withdrawal_reason,
        "deliberation": {
            "number": amendment.deliberation_number,
            "date": amendment.deliberation_date.isoformat()
            if amendment.deliberation_date
            else None,
        },
        "document_sha256": amendment.document_sha256,
        "proposals": [
            {"code": c.code, "kind": c.kind, "review": c.review_status}
            for c in amendment.changes.order_by("pk")
        ],
    }


class AmendmentOpenInput(serializers.Serializer):
    summary = serializers.CharField(required=False, allow_blank=True, default="")


class AmendmentListItem(serializers.Serializer):
    number = serializers.IntegerField()
    status = serializers.CharField()
    opened_at = serializers.DateTimeField()
    summary = serializers.CharField()


class AmendmentsApi(APIView):
    @extend_schema(responses={200: AmendmentListItem(many=True), **ERRORS})
    def get(self, request, pk: int):
        """The contract's amendments, oldest first."""
        contract = contract_for_detail(request, pk)
        return Response(AmendmentListItem(contract.amendments.order_by("number"), many=True).data)

    @extend_schema(
        request=AmendmentOpenInput,
        responses={201: OpenApiTypes.OBJECT, **WRITE_ERRORS},
    )
    def post(self, request, pk: int):
        """Open an amendment on a signed contract (one at a time): 201 with its number."""
        contract = contract_for_detail(request, pk)
        body = AmendmentOpenInput(data=_object(request.data))
        body.is_valid(raise_exception=True)
        amendment = services.amendment_open(
            contract=contract, actor=request.user, summary=body.validated_data["summary"]
        )
        return Response(
            {"number": amendment.number, "status": amendment.status},
            status=status.HTTP_201_CREATED,
            headers={
                "Location": reverse(
                    "api:contract_amendment", kwargs={"pk": pk, "number": amendment.number}
                )
            },
        )


class AmendmentApi(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def get(self, request, pk: int, number: int):
        """The amendment: its status, its changes, who is concerned, the funding totals."""
        amendment = _amendment(contract_for_detail(request, pk), number)
        return Response(amendment_output(amendment_summary(amendment)))

    @extend_schema(
        request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT, **WRITE_ERRORS}
    )
    def patch(self, request, pk: int, number: int):
        """Write ``period_end`` (the period extended; null: unchanged) and ``summary``."""
        amendment = _amendment(contract_for_detail(request, pk), number)
        amendment = services.amendment_edit(
            amendment=amendment, actor=request.user, changes=_object(request.data)
        )
        return Response(amendment_output(amendment_summary(amendment)))


class AmendmentCommentInput(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class AmendmentReasonInput(serializers.Serializer):
    reason = serializers.CharField()


class AmendmentDeliberationInput(serializers.Serializer):
    number = serializers.CharField(required=False, allow_blank=True, default="")
    date = serializers.DateField(required=False, allow_null=True, default=None)


class AmendmentTransitionApi(APIView):
    @extend_schema(
        request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT, **WRITE_ERRORS}
    )
    def post(self, request, pk: int, number: int, name: str):
        """A coordinator's step: ``launch_review`` (no body), ``record_deliberation``
        (``{"number", "date"}``), ``withdraw`` (``{"reason"}``), ``suspend`` (``{"reason"}``:
        its open tasks held), ``resume`` (``{"comment"}`` optional: back where it was, the
        held tasks due later by the time spent). 409 from another state."""
        amendment = _amendment(contract_for_detail(request, pk), number)
        if name == "withdraw":
            body = AmendmentReasonInput(data=_object(request.data))
            body.is_valid(raise_exception=True)
            amendment = services.amendment_withdraw(
                amendment=amendment, actor=request.user, reason=body.validated_data["reason"]
            )
        elif name == "suspend":
            body = AmendmentReasonInput(data=_object(request.data))
            body.is_valid(raise_exception=True)
            amendment = services.amendment_suspend(
                amendment=amendment, actor=request.user, reason=body.validated_data["reason"]
            )
        elif name == "resume":
            resumed = AmendmentCommentInput(data=_object(request.data))
            resumed.is_valid(raise_exception=True)
            amendment = services.amendment_resume(
                amendment=amendment,
                actor=request.user,
                comment=resumed.validated_data["comment"],
            )
        elif name == "launch_review":
            amendment = services.amendment_launch_review(amendment=amendment, actor=request.user)
        elif name == "record_deliberation":
            deliberation = AmendmentDeliberationInput(data=_object(request.data))
            deliberation.is_valid(raise_exception=True)
            amendment = services.amendment_record_deliberation(
                amendment=amendment,
                actor=request.user,
                number=deliberation.validated_data["number"],
                date=deliberation.validated_data["date"],
            )
        else:
            raise NotFound(_("Unknown transition of an amendment: “%(name)s”.") % {"name": name})
        return Response(amendment_output(amendment_summary(amendment)))


class AmendmentVoteCloseApi(APIView):
    @extend_schema(
        operation_id="contracts_amendments_vote_close",
        request=None,
        responses={
            200: OpenApiTypes.OBJECT,
            403: OpenApiResponse(ErrorOutput, description="Not the chair of the committee."),
            409: OpenApiResponse(
                ErrorOutput,
                description="The amendment is not before the committee, or the quorum is not "
                "reached.",
            ),
            **ERRORS,
        },
    )
    def post(self, request, pk: int, number: int):
        """The chair of the steering committee closes the vote on the amendment once the
        quorum is reached; the answer is the amendment."""
        amendment = _amendment(contract_for_detail(request, pk), number)
        amendment = services.amendment_close_vote(amendment=amendment, actor=request.user)
        return Response(amendment_output(amendment_summary(amendment)))


class AmendmentSignatoriesApi(APIView):
    @extend_schema(
        request=OpenApiTypes.OBJECT, responses={201: OpenApiTypes.OBJECT, **WRITE_ERRORS}
    )
    def post(self, request, pk: int, number: int):
        """Add a signatory, written as a contract file's signatory (``organisation``,
        ``kind``, ``signer``, optional ``represented_by``, ``order``, ``mandate``)."""
        amendment = _amendment(contract_for_detail(request, pk), number)
        services.amendment_signatory_add(
            amendment=amendment, actor=request.user, entry=_object(request.data)
        )
        amendment.refresh_from_db()
        return Response(
            amendment_output(amendment_summary(amendment)), status=status.HTTP_201_CREATED
        )


class AmendmentSignatoryApi(APIView):
    @extend_schema(responses={204: None, **WRITE_ERRORS})
    def delete(self, request, pk: int, number: int, organisation: str):
        """Take back a signatory the amendment adds."""
        amendment = _amendment(contract_for_detail(request, pk), number)
        services.amendment_signatory_remove(
            amendment=amendment, actor=request.user, organisation=organisation
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Its sheets, on the contract's sheet paths with ?amendment={n} -------------------------


def _proposed_sheet(amendment: Amendment, code: str) -> dict[str, Any]:
    """The sheet as the amendment proposes it (or as signed when it does not change it), in
    the contract file's words, with the version a change is written on."""
    change = amendment.changes.filter(code=code).first()
    if change is not None and change.kind != AmendmentChangeKind.REMOVED:
        return {
            **change.content,
            "theme": change.theme_code,
            "amendment": amendment.number,
            "change": change.kind,
            "version": change.version,
            "base_version": change.base_version,
        }
    action = amendment.contract.actions.select_related("theme", "pilot").filter(code=code).first()
    if action is None or change is not None:  # unknown, or removed by the amendment
        raise NotFound
    return {
        **action_entry(action),
        "theme": action.theme.code,
        "amendment": amendment.number,
        "change": None,
        "version": current_version(action).number,
        "base_version": None,
    }


def sheet_add(request, pk: int, number: int) -> Response:
    contract = contract_for_detail(request, pk)
    amendment = _amendment(contract, number)
    body = _object(request.data)
    theme = body.pop("theme", None)
    if not isinstance(theme, str) or not theme.strip():
        raise ApplicationError(
            _("The sheet's theme is required."), {"errors": [_("theme: this field is required")]}
        )
    change = services.amendment_action_add(
        amendment=amendment, actor=request.user, theme=theme, sheet=body
    )
    return Response(
        _proposed_sheet(amendment, change.code),
        status=status.HTTP_201_CREATED,
        headers={
            "Location": reverse("api:contract_action", kwargs={"pk": pk, "code": change.code})
            + f"?amendment={number}"
        },
    )


def sheet_get(request, pk: int, code: str, number: int) -> Response:
    amendment = _amendment(contract_for_detail(request, pk), number)
    return Response(_proposed_sheet(amendment, code))


def sheet_patch(request, pk: int, code: str, number: int) -> Response:
    """Some fields of the sheet as the amendment proposes it, on top of ``version``."""
    amendment = _amendment(contract_for_detail(request, pk), number)
    body = _object(request.data)
    version = body.pop("version", None)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ApplicationError(
            _("The version the change starts from is required."),
            {"errors": [_("version: this field is required")]},
        )
    current = _proposed_sheet(amendment, code)
    for key in ("theme", "amendment", "change", "version", "base_version"):
        current.pop(key, None)
        if key != "version":
            body.pop(key, None)
    services.amendment_action_change(
        amendment=amendment,
        actor=request.user,
        code=code,
        base_version=version,
        sheet={**current, **body},
    )
    return Response(_proposed_sheet(amendment, code))


def sheet_delete(request, pk: int, code: str, number: int) -> Response:
    amendment = _amendment(contract_for_detail(request, pk), number)
    services.amendment_action_remove(amendment=amendment, actor=request.user, code=code)
    return Response(status=status.HTTP_204_NO_CONTENT)


def signed_sheet_delete_refusal(contract: Contract) -> Conflict:
    """A signed contract's sheet goes only through an amendment."""
    return Conflict(
        _(
            "A signed contract's sheets are removed by an amendment: open one, then remove "
            "the sheet with its number as the “amendment” parameter."
        ),
        {"state": contract.status},
    )
