"""Output representations shared by several API views (inputs live beside their view)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from workflows.models import (
    ActionStatus,
    Contract,
    ContractKind,
    ContractStatus,
    HistoryEvent,
    SignatoryKind,
    SignatoryStatus,
    is_coordinator,
)
from workflows.services import COORDINATOR_TRANSITIONS


class BlankAsNullCharField(serializers.CharField):
    """A text column where "" means "none": rendered as null, as clients expect."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return value or None


class ErrorOutput(serializers.Serializer):
    """Every error answer: one sentence, and each problem with its place when there are several."""

    detail = serializers.CharField()
    errors = serializers.ListField(child=serializers.CharField())


class ContractListOutput(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    title = serializers.CharField()
    kind = serializers.ChoiceField(choices=ContractKind.choices)
    status = serializers.ChoiceField(choices=ContractStatus.choices)
    version = serializers.IntegerField()


class ContractImportOutput(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    status = serializers.ChoiceField(choices=ContractStatus.choices)


class TerritoryOutput(serializers.Serializer):
    name = serializers.CharField(source="territory_name")
    communes = serializers.IntegerField(source="territory_communes", allow_null=True)
    population = serializers.IntegerField(source="territory_population", allow_null=True)


class PeriodOutput(serializers.Serializer):
    start = serializers.DateField(source="period_start")
    end = serializers.DateField(source="period_end")


class DeliberationOutput(serializers.Serializer):
    number = serializers.CharField(source="deliberation_number")
    date = serializers.DateField(source="deliberation_date")


class ActionOutput(serializers.Serializer):
    code = serializers.CharField()
    title = serializers.CharField()
    status = serializers.ChoiceField(choices=ActionStatus.choices)
    theme = serializers.CharField(source="theme.code")
    working_group = serializers.CharField(source="working_group.code")
    pilot = serializers.CharField(source="pilot.username")


class SignatoryOutput(serializers.Serializer):
    organisation = serializers.CharField(source="organisation.code")
    kind = serializers.ChoiceField(choices=SignatoryKind.choices)
    signer = serializers.CharField(source="signer.username")
    represented_by = serializers.CharField(source="represented_by.username", allow_null=True)
    order = serializers.IntegerField()
    status = serializers.ChoiceField(choices=SignatoryStatus.choices)


class ContractDetailOutput(ContractListOutput):
    """A contract as its participants see it, with what the caller may do with it now."""

    # Needs the request in its context, and a contract from views.contract_for_detail so that
    # actions and signatories come prefetched (two queries whatever their number).

    territory = TerritoryOutput(source="*")
    period = PeriodOutput(source="*")
    actions = ActionOutput(many=True)
    signatories = SignatoryOutput(many=True)
    deliberation = serializers.SerializerMethodField()
    document_sha256 = serializers.SerializerMethodField()
    suspended_from = serializers.SerializerMethodField()
    available_transitions = serializers.SerializerMethodField()

    @extend_schema_field(DeliberationOutput(allow_null=True))
    def get_deliberation(self, contract: Contract) -> dict | None:
        if not contract.deliberation_number:
            return None
        return DeliberationOutput(contract).data

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_document_sha256(self, contract: Contract) -> str | None:
        """Fingerprint of the document frozen when the deliberation was recorded."""
        return contract.document_sha256 or None

    @extend_schema_field(serializers.ChoiceField(choices=ContractStatus.choices, allow_null=True))
    def get_suspended_from(self, contract: Contract) -> str | None:
        return contract.suspended_from or None

    @extend_schema_field(
        serializers.ListField(child=serializers.ChoiceField(choices=COORDINATOR_TRANSITIONS))
    )
    def get_available_transitions(self, contract: Contract) -> list[str]:
        """The coordinator transitions the caller could fire now; none for non-coordinators."""
        request = self.context["request"]
        if not is_coordinator(contract, request.user):
            return []
        # Conditions (guards) are checked here, permissions are the coordinator test above.
        available = {t.name for t in contract.get_available_status_transitions()}
        return [name for name in COORDINATOR_TRANSITIONS if name in available]


class HistoryEntryOutput(serializers.Serializer):
    seq = serializers.IntegerField()
    at = serializers.DateTimeField()
    actor = BlankAsNullCharField(source="actor_username")
    on_behalf_of = BlankAsNullCharField(source="on_behalf_of_username")
    event = serializers.ChoiceField(choices=HistoryEvent.choices)
    name = serializers.CharField(help_text="The transition fired, if any.")
    action = BlankAsNullCharField(source="action_code", help_text="The action's code, if any.")
    from_state = serializers.CharField()
    to_state = serializers.CharField()
    comment = serializers.CharField()
    data = serializers.JSONField()
    hash = serializers.CharField()
    prev_hash = serializers.CharField()


class ChainVerificationOutput(serializers.Serializer):
    valid = serializers.BooleanField()
    entries = serializers.IntegerField()
    first_bad_seq = serializers.IntegerField(allow_null=True)
