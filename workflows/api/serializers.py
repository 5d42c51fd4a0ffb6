"""Output representations shared by several API views (inputs live beside their view)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from workflows.audit import labels
from workflows.flows import DECISION_LABELS
from workflows.models import (
    COORDINATOR_TRANSITIONS,
    TASK_KIND_DECISIONS,
    Action,
    ActionStatus,
    Contract,
    ContractKind,
    ContractStatus,
    Delegation,
    DelegationState,
    HistoryEntry,
    HistoryEvent,
    SignatoryKind,
    SignatoryStatus,
    Task,
    TaskKind,
    TaskStatus,
)
from workflows.rules import transitions_for
from workflows.selectors import may_undo, opinions_of, other_reviews


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
    # The answer's field, not Serializer.errors (the stubs see the attribute redefined).
    errors = serializers.ListField(child=serializers.CharField())  # type: ignore[assignment]


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
        user = self.context["request"].user
        return [choice.name for choice in transitions_for(contract, user) if choice.possible]


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
    # The entry's field, not Serializer.data (the stubs see the attribute redefined).
    data = serializers.JSONField()  # type: ignore[assignment]
    hash = serializers.CharField()
    prev_hash = serializers.CharField()
    # The same entry in words, beside the machine-readable fields above (which never change):
    # what the history page shows, in the request's language.
    event_label = serializers.SerializerMethodField(help_text="What happened, in words.")
    name_label = serializers.SerializerMethodField(
        help_text="The transition's meaning or the task's, signatory's or notice's kind."
    )
    summary = serializers.SerializerMethodField(
        help_text='Who did what, as a sentence ("X for Y signed.").'
    )
    actor_name = serializers.SerializerMethodField()
    on_behalf_of_name = serializers.SerializerMethodField()
    at_label = serializers.SerializerMethodField(help_text="The time, written out.")
    details = serializers.SerializerMethodField(
        help_text="``data`` in words: each key with its label and its value written out."
    )

    def _lookups(self, entry: HistoryEntry) -> labels.Lookups:
        lookups = self.context.get("lookups")
        return lookups if lookups is not None else labels.lookups_for([entry])

    def get_event_label(self, entry: HistoryEntry) -> str:
        return entry.what

    def get_name_label(self, entry: HistoryEntry) -> str:
        return labels.name_label(entry)

    def get_summary(self, entry: HistoryEntry) -> str:
        return labels.event_sentence(entry)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_actor_name(self, entry: HistoryEntry) -> str | None:
        return labels.person_name(entry.actor_username, entry.actor) or None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_on_behalf_of_name(self, entry: HistoryEntry) -> str | None:
        return labels.person_name(entry.on_behalf_of_username, entry.on_behalf_of) or None

    def get_at_label(self, entry: HistoryEntry) -> str:
        return labels.french_datetime(entry.at)

    @extend_schema_field(
        inline_serializer(
            "HistoryDetailOutput",
            {
                "key": serializers.CharField(),
                "label": serializers.CharField(),
                "value": serializers.CharField(),
            },
            many=True,
        )
    )
    def get_details(self, entry: HistoryEntry) -> list[dict[str, str]]:
        return [
            {"key": key, "label": label, "value": value}
            for key, label, value in labels.labelled_details(entry, self._lookups(entry))
        ]


def history_context(entries: list[HistoryEntry]) -> dict:
    """The serializer's context for a list of entries: the people and organisations their
    details name, looked up once for them all."""
    return {"lookups": labels.lookups_for(entries)}


class ChainVerificationOutput(serializers.Serializer):
    valid = serializers.BooleanField()
    entries = serializers.IntegerField()
    first_bad_seq = serializers.IntegerField(allow_null=True)
    problem = serializers.CharField(
        help_text="What is wrong, as verify_history says it (the entry or range, the anchor)."
    )


# --- Tasks --------------------------------------------------------------------------------

# The task's state in the words of the workflow rules (open, on hold, done, cancelled).
TASK_STATES: dict[str, str] = {
    TaskStatus.ASSIGNED: "open",
    TaskStatus.HELD: "on_hold",
    TaskStatus.STARTED: "being_completed",
    TaskStatus.DONE: "done",
    TaskStatus.CANCELED: "cancelled",
}
TASK_STATE_CHOICES = [*TASK_STATES.values(), "other"]
# What a decision leaves on the task besides decision and comment (see services._check_decision).
TASK_DETAIL_KEYS = ("actions", "objections", "number", "date")


def _inline_enum(values: list[str]) -> dict:
    """An enum kept inline (under allOf, out of reach of drf-spectacular's enum naming): task
    kinds and states share their field names with contracts' and signatories' choice sets."""
    return {"allOf": [{"type": "string", "enum": values}]}


def task_acting_for(task: Task) -> str | None:
    """ "HOLDER for PERSON" when the holder decides on someone else's behalf, else None."""
    if not task.acts_for_someone:
        return None
    holder, person = task.owner, task.on_behalf_of
    # Every task has its holder (task_open); acts_for_someone: it has whom it acts for.
    assert holder is not None
    assert person is not None
    return _("%(holder)s for %(person)s") % {
        "holder": holder.display_name,
        "person": person.display_name,
    }


def decisions_open_to(task: Task, user) -> list[str]:
    """The decisions the user may take on the task now: none unless it is open and theirs."""
    if task.status != TaskStatus.ASSIGNED or task.owner_id != user.pk:
        return []
    return list(TASK_KIND_DECISIONS.get(task.kind, ()))


class TaskOutput(serializers.Serializer):
    """A task as the inbox lists it.

    Needs the request in its context, and tasks from ``selectors.inbox_of`` or
    ``tasks_visible_to``, whose relations come joined: one query whatever their number.
    """

    id = serializers.IntegerField()
    kind = serializers.SerializerMethodField()
    kind_label = serializers.CharField()
    status = serializers.SerializerMethodField()
    status_label = serializers.CharField()
    contract = serializers.IntegerField(source="contract_id", help_text="The contract's id.")
    contract_reference = serializers.CharField(source="contract.reference")
    contract_title = serializers.CharField(source="contract.title")
    action = serializers.CharField(
        source="action.code", allow_null=True, help_text="The action's code, if any."
    )
    action_title = serializers.CharField(source="action.title", allow_null=True)
    title = serializers.SerializerMethodField()
    due = serializers.DateTimeField(allow_null=True)
    overdue = serializers.BooleanField(source="is_overdue")
    assignee = serializers.CharField(
        source="owner.username", help_text="Who holds the task now (a delegate during an absence)."
    )
    assignee_name = serializers.CharField(source="owner.display_name")
    on_behalf_of = serializers.CharField(
        source="on_behalf_of.username",
        allow_null=True,
        help_text="Whose decision it is: the signer a representative signs for, or the absent "
        "person a delegate acts for; null when the holder acts for themselves.",
    )
    on_behalf_of_name = serializers.CharField(source="on_behalf_of.display_name", allow_null=True)
    acting_for = serializers.SerializerMethodField()
    delegated = serializers.SerializerMethodField()
    decisions = serializers.SerializerMethodField()

    @extend_schema_field(_inline_enum(list(TaskKind.values)))
    def get_kind(self, task: Task) -> str:
        return task.kind

    @extend_schema_field(_inline_enum(TASK_STATE_CHOICES))
    def get_status(self, task: Task) -> str:
        return TASK_STATES.get(task.status, "other")

    def get_title(self, task: Task) -> str:
        return task.headline

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_acting_for(self, task: Task) -> str | None:
        """ "HOLDER for PERSON" when the holder acts on someone else's behalf."""
        return task_acting_for(task)

    def get_delegated(self, task: Task) -> bool:
        """Whether the task is with a delegate because its assignee is absent."""
        return task.delegation_id is not None

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_decisions(self, task: Task) -> list[str]:
        """What the caller may decide now (empty unless the task is open and theirs)."""
        return decisions_open_to(task, self.context["request"].user)

    def to_representation(self, instance: Task) -> dict:
        """The fields declared above, in their order, read directly: DRF's walk over them
        (a lookup and a call per field) was a quarter of the inbox API's CPU for a page of 50
        (docs/benchmarks.md). The same answer as the walk, for every kind of task:
        tests/workflows/test_api_tasks.py compares them. Subclasses walk their fields."""
        task = instance
        contract, action = task.contract, task.action
        holder, principal = task.owner, task.on_behalf_of
        assert contract is not None  # a flow's task is opened with its contract (task_open)
        assert holder is not None  # and held by someone
        due = self.fields["due"]
        return {
            "id": task.pk,
            "kind": task.kind,
            "kind_label": task.kind_label,
            "status": self.get_status(task),
            "status_label": task.status_label,
            "contract": task.contract_id,
            "contract_reference": str(contract.reference),
            "contract_title": str(contract.title),
            "action": None if action is None else str(action.code),
            "action_title": None if action is None else str(action.title),
            "title": task.headline,
            "due": None if task.due is None else due.to_representation(task.due),
            "overdue": task.is_overdue,
            "assignee": str(holder.username),
            "assignee_name": str(holder.display_name),
            "on_behalf_of": None if principal is None else str(principal.username),
            "on_behalf_of_name": None if principal is None else str(principal.display_name),
            "acting_for": task_acting_for(task),
            "delegated": self.get_delegated(task),
            "decisions": self.get_decisions(task),
        }


class TaskResultOutput(TaskOutput):
    """A task with what was decided on it."""

    def to_representation(self, instance: Task) -> dict:
        """DRF's walk over every declared field: a task page's one task, at most twenty."""
        return serializers.Serializer.to_representation(self, instance)

    decision = BlankAsNullCharField()
    comment = serializers.CharField()
    completed_by = serializers.CharField(source="completed_by.username", allow_null=True)
    completed_at = serializers.DateTimeField(source="finished", allow_null=True)
    details = serializers.SerializerMethodField()

    @extend_schema_field(serializers.DictField())
    def get_details(self, task: Task) -> dict:
        """What the decision recorded besides its comment: a vote's objected actions and
        objections, a deliberation's number and date."""
        return {key: task.data[key] for key in TASK_DETAIL_KEYS if key in task.data}


class DecisionChoiceOutput(serializers.Serializer):
    code = serializers.CharField()
    # The answer's field, not Field.label (the stubs see the attribute redefined).
    label = serializers.CharField()  # type: ignore[assignment]


class NamedOutput(serializers.Serializer):
    code = serializers.CharField()
    title = serializers.CharField()


class FundingOutput(serializers.Serializer):
    funder = serializers.CharField(source="funder.code")
    funder_name = serializers.CharField(source="funder.name")
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)


class ActionSheetOutput(serializers.Serializer):
    """An action sheet as its reviewers read it (from ``views.task_for_detail``)."""

    code = serializers.CharField()
    title = serializers.CharField()
    status = serializers.ChoiceField(choices=ActionStatus.choices)
    objective = serializers.CharField()
    theme = NamedOutput()
    working_group = NamedOutput()
    pilot = serializers.CharField(source="pilot.username")
    pilot_name = serializers.CharField(source="pilot.display_name")
    partners = serializers.SerializerMethodField(help_text="The partner organisations' codes.")
    funding = FundingOutput(source="funding_lines", many=True)
    total_funding = serializers.DecimalField(max_digits=14, decimal_places=2)
    indicators = serializers.SerializerMethodField()

    def get_partners(self, action: Action) -> list[str]:
        return [organisation.code for organisation in action.partners.all()]

    def get_indicators(self, action: Action) -> list[str]:
        return [indicator.label for indicator in action.indicators.all()]


class ChangeRequestOutput(serializers.Serializer):
    """A request for changes a revision answers: a lead's review or a committee member's
    rejecting vote."""

    kind = serializers.CharField(help_text="review (a lead) or vote (a committee member)")
    by = serializers.CharField(source="completed_by.username")
    by_name = serializers.CharField(source="completed_by.display_name")
    at = serializers.DateTimeField(source="finished")
    comment = serializers.CharField()
    objection = serializers.SerializerMethodField()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_objection(self, task: Task) -> str | None:
        """A rejecting vote's objection to this very action, if it wrote one."""
        code = self.context.get("action_code")
        return (task.data.get("objections") or {}).get(code) or None


class TaskSignatoryOutput(SignatoryOutput):
    organisation_name = serializers.CharField(source="organisation.name")
    signer_name = serializers.CharField(source="signer.display_name")
    represented_by_name = serializers.CharField(
        source="represented_by.display_name", allow_null=True
    )
    mandate_reference = BlankAsNullCharField()
    mandate_date = serializers.DateField(allow_null=True)


class TaskContractOutput(ContractListOutput):
    period = PeriodOutput(source="*")
    deliberation = serializers.SerializerMethodField()
    document_sha256 = BlankAsNullCharField(
        help_text="Fingerprint of the document frozen when the deliberation was recorded."
    )

    @extend_schema_field(DeliberationOutput(allow_null=True))
    def get_deliberation(self, contract: Contract) -> dict | None:
        if not contract.deliberation_number:
            return None
        return DeliberationOutput(contract).data


class TaskVoteOutput(serializers.Serializer):
    round = serializers.IntegerField()
    quorum = serializers.IntegerField()
    members = serializers.IntegerField(help_text="Members called to vote.")
    cast = serializers.IntegerField(
        help_text="Votes cast so far, abstentions included (what the quorum counts)."
    )
    approvals = serializers.IntegerField()
    rejections = serializers.IntegerField()
    abstentions = serializers.IntegerField(
        help_text="Count toward the quorum, not in the majority (approvals > rejections)."
    )
    opened_at = serializers.DateTimeField()
    outcome = BlankAsNullCharField()


class OtherReviewOutput(serializers.Serializer):
    lead = serializers.CharField(source="lead.username")
    lead_name = serializers.CharField(source="lead.display_name")
    decision = BlankAsNullCharField(
        help_text="approve or request_changes; null while the lead has not decided."
    )
    decided_by = serializers.CharField(source="decided_by.username", allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)


class OpinionOutput(serializers.Serializer):
    """An opinion asked on a task, and its answer once given."""

    task = serializers.IntegerField(source="pk", help_text="The opinion task's id.")
    person = serializers.CharField(source="assignee.username", help_text="Who was asked.")
    person_name = serializers.CharField(source="assignee.display_name")
    question = serializers.SerializerMethodField()
    answer = serializers.SerializerMethodField()
    answered_at = serializers.SerializerMethodField()

    def get_question(self, task: Task) -> str:
        return task.data.get("question", "")

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_answer(self, task: Task) -> str | None:
        """The answer (a comment); null while awaited."""
        return task.comment if task.status == TaskStatus.DONE else None

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_answered_at(self, task: Task) -> str | None:
        if task.status != TaskStatus.DONE or task.finished is None:
            return None
        return serializers.DateTimeField().to_representation(task.finished)


class OpinionTaskOutput(TaskResultOutput):
    """An opinion task: what the inbox lists, the question, and the task it was asked on."""

    question = serializers.SerializerMethodField()
    asked_by_task = serializers.IntegerField(
        source="asked_by_task_id", allow_null=True, help_text="The task the opinion is asked on."
    )

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_question(self, task: Task) -> str | None:
        return task.data.get("question") if task.kind == TaskKind.OPINION else None


class TaskActionOutput(serializers.Serializer):
    code = serializers.CharField()
    title = serializers.CharField()
    status = serializers.ChoiceField(choices=ActionStatus.choices)
    working_group = serializers.CharField(source="working_group.code")


class TaskDetailOutput(TaskResultOutput):
    """One task with what its holder needs to decide.

    Needs the request in its context, and a task from ``views.task_for_detail`` (the parts
    its kind needs come prefetched).
    """

    designated = serializers.CharField(
        source="assignee.username",
        allow_null=True,
        help_text="Whom the rules designate (the absent person while a delegate holds it).",
    )
    created = serializers.DateTimeField()
    may_decide = serializers.SerializerMethodField()
    may_undo = serializers.SerializerMethodField()
    decision_choices = serializers.SerializerMethodField()
    contract_summary = TaskContractOutput(source="contract")
    document_sha256 = serializers.SerializerMethodField()
    amendment = serializers.SerializerMethodField()
    action_sheet = serializers.SerializerMethodField()
    changes_requested = serializers.SerializerMethodField()
    actions = serializers.SerializerMethodField()
    vote = serializers.SerializerMethodField()
    signatory = serializers.SerializerMethodField()
    other_reviews = serializers.SerializerMethodField()
    opinions = serializers.SerializerMethodField()
    question = serializers.SerializerMethodField()
    asked_by_task = serializers.IntegerField(
        source="asked_by_task_id",
        allow_null=True,
        help_text="An opinion task: the task whose holder asked for it.",
    )

    @extend_schema_field(OpinionOutput(many=True))
    def get_opinions(self, task: Task) -> list[dict]:
        """The opinions asked on this task (``POST tasks/{id}/opinions/``), with their answers."""
        # many=True makes a ListSerializer, whose data is a list: the stubs do not tell.
        return OpinionOutput(opinions_of(task), many=True).data  # type: ignore[return-value]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_question(self, task: Task) -> str | None:
        """An opinion task: the question asked."""
        return task.data.get("question") if task.kind == TaskKind.OPINION else None

    def get_may_decide(self, task: Task) -> bool:
        return bool(decisions_open_to(task, self.context["request"].user))

    def get_may_undo(self, task: Task) -> bool:
        """Whether the caller may undo their decision now (``POST tasks/{id}/undo/``): they
        completed this review or vote, and nothing has acted on it yet."""
        return may_undo(task, self.context["request"].user)

    @extend_schema_field(DecisionChoiceOutput(many=True))
    def get_decision_choices(self, task: Task) -> list[dict]:
        """The decisions open to the caller now, with their labels."""
        return [
            {"code": code, "label": str(DECISION_LABELS[code])}
            for code in decisions_open_to(task, self.context["request"].user)
        ]

    @extend_schema_field(serializers.CharField(allow_null=True))
    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_amendment(self, task: Task) -> dict | None:
        """An amendment's task: its number, the proposal a review or a revision is about,
        the party a signature is asked of; null for the contract's own tasks."""
        amendment = task.amendment
        if amendment is None:
            return None
        return {
            "number": amendment.number,
            "proposal": task.amendment_change.code if task.amendment_change else None,
            "party": task.amendment_party.organisation.code if task.amendment_party else None,
        }

    def get_document_sha256(self, task: Task) -> str | None:
        """For a signature (or a visa before it): the fingerprint of the frozen document the
        signature binds."""
        if task.kind not in (TaskKind.SIGNATURE, TaskKind.VISA):
            return None
        if task.amendment is not None:
            return task.amendment.document_sha256 or None
        assert task.contract is not None  # a flow's task is opened with its contract
        return task.contract.document_sha256 or None

    @extend_schema_field(ActionSheetOutput(allow_null=True))
    def get_action_sheet(self, task: Task) -> dict | None:
        """For a review or a revision: the action sheet."""
        if task.kind not in (TaskKind.REVIEW, TaskKind.REVISION) or not task.action_id:
            return None
        return ActionSheetOutput(task.action).data

    @extend_schema_field(ChangeRequestOutput(many=True, allow_null=True))
    def get_changes_requested(self, task: Task) -> list[dict] | None:
        """For a revision: the requests for changes it answers."""
        if task.kind != TaskKind.REVISION:
            return None
        context = {"action_code": task.action.code if task.action else None}
        # many=True makes a ListSerializer, whose data is a list: the stubs do not tell.
        return ChangeRequestOutput(  # type: ignore[return-value]
            getattr(task, "change_requests", []), many=True, context=context
        ).data

    @extend_schema_field(TaskActionOutput(many=True, allow_null=True))
    def get_actions(self, task: Task) -> list[dict] | None:
        """For a vote: the contract's actions, which a rejection may name."""
        if task.kind != TaskKind.VOTE:
            return None
        assert task.contract is not None  # a flow's task is opened with its contract
        # many=True makes a ListSerializer, whose data is a list: the stubs do not tell.
        return TaskActionOutput(task.contract.actions.in_contract(), many=True).data  # type: ignore[return-value]

    @extend_schema_field(TaskVoteOutput(allow_null=True))
    def get_vote(self, task: Task) -> dict | None:
        """For a vote: the round, its quorum and how many votes are cast."""
        if task.kind != TaskKind.VOTE or task.committee_vote is None:
            return None
        vote = task.committee_vote
        tally = getattr(task, "vote_tally", None) or vote.tally() if not vote.outcome else None
        counts = (
            tally._asdict()
            if tally is not None
            else {
                "approvals": vote.approvals,
                "rejections": vote.rejections,
                "abstentions": vote.abstentions,
            }
        )
        return TaskVoteOutput(
            {
                "round": vote.round,
                "quorum": vote.quorum,
                "members": vote.members,
                "cast": sum(counts.values()),
                **counts,
                "opened_at": vote.opened_at,
                "outcome": vote.outcome,
            }
        ).data

    @extend_schema_field(OtherReviewOutput(many=True, allow_null=True))
    def get_other_reviews(self, task: Task) -> list[dict] | None:
        """For a review of an action sheet: the other leads' decisions in this round so far."""
        if task.kind != TaskKind.REVIEW or task.amendment_id:
            return None
        # many=True makes a ListSerializer, whose data is a list: the stubs do not tell.
        return OtherReviewOutput(other_reviews(task), many=True).data  # type: ignore[return-value]

    @extend_schema_field(TaskSignatoryOutput(allow_null=True))
    def get_signatory(self, task: Task) -> dict | None:
        """For a signature (or a visa before it): the signatory signed for, its signer and
        representative."""
        if task.kind not in (TaskKind.SIGNATURE, TaskKind.VISA) or task.signatory is None:
            return None
        return TaskSignatoryOutput(task.signatory).data


class TaskDecisionOutput(serializers.Serializer):
    task = TaskResultOutput()
    contract = inline_serializer(
        "DecisionContractOutput",
        {
            "id": serializers.IntegerField(),
            "status": serializers.ChoiceField(choices=ContractStatus.choices),
            "version": serializers.IntegerField(),
        },
    )


# --- Absences -----------------------------------------------------------------------------


class DelegationOutput(serializers.Serializer):
    """An absence: the user's tasks go to the delegate from start to end (inclusive)."""

    id = serializers.IntegerField()
    user = serializers.CharField(source="user.username", help_text="The absent person.")
    delegate = serializers.CharField(source="delegate.username")
    delegate_name = serializers.CharField(source="delegate.display_name")
    start = serializers.DateField()
    end = serializers.DateField()
    state = serializers.SerializerMethodField()
    tasks_with_delegate = serializers.IntegerField(
        source="open_tasks", help_text="Open tasks the delegate holds for this absence now."
    )
    created_at = serializers.DateTimeField()
    cancelled_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(serializers.ChoiceField(choices=DelegationState.values))
    def get_state(self, delegation: Delegation) -> str:
        return delegation.state.value
