from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .audit.selectors import contract_people
from .audit.services import contract_people_change_record
from .models import (
    Action,
    ActionVersion,
    Attachment,
    CommitteeVote,
    Contract,
    ContractAuditor,
    Delegation,
    FundingLine,
    HistoryCheckpoint,
    HistoryEntry,
    HistoryExport,
    Indicator,
    IndicatorValue,
    Meeting,
    Organisation,
    OrganisationVisa,
    Signatory,
    SignatoryVisa,
    SteeringCommittee,
    Task,
    Theme,
    User,
    WorkingGroup,
)


class OrganisationVisaInline(admin.TabularInline):
    """The organisation's internal visa circuit, in order: its signatories' default."""

    model = OrganisationVisa
    extra = 0
    autocomplete_fields = ["person"]
    fields = ["order", "person"]


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "category"]
    search_fields = ["code", "name"]
    list_filter = ["category"]
    inlines = [OrganisationVisaInline]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = [
        "username",
        "last_name",
        "first_name",
        "organisation",
        "position",
        "email",
        "is_staff",
    ]
    list_filter = ["organisation", "is_staff", "is_active"]
    search_fields = [
        "username",
        "first_name",
        "last_name",
        "position",
        "email",
        "organisation__code",
    ]
    # Django's "personal info" with the civility before the name.
    fieldsets = [
        (
            fields_name,
            {**options, "fields": ["civility", *options["fields"]]}
            if "first_name" in options.get("fields", ())
            else options,
        )
        for fields_name, options in DjangoUserAdmin.fieldsets or ()
    ] + [(_("Organisation"), {"fields": ["organisation", "position"]})]


class ThemeInline(admin.TabularInline):
    model = Theme
    extra = 0


class WorkingGroupInline(admin.TabularInline):
    model = WorkingGroup
    extra = 0
    filter_horizontal = ["leads", "members"]


class SignatoryInline(admin.TabularInline):
    model = Signatory
    extra = 0
    readonly_fields = ["status"]
    autocomplete_fields = ["signer", "represented_by", "organisation"]


class SteeringCommitteeInline(admin.StackedInline):
    model = SteeringCommittee
    filter_horizontal = ["members"]


class ContractAuditorInline(admin.TabularInline):
    """People granted read access to this contract and its history (and nothing more)."""

    model = ContractAuditor
    extra = 0
    autocomplete_fields = ["user"]
    readonly_fields = ["granted_at"]


class RecordsPeopleChanges(admin.ModelAdmin):
    """An administrator's change to a contract's people or signatories (roles, working
    groups, committee, signatories, auditors, pilots) goes into the contract's history, with
    what changed before and after. The change form's transaction holds both."""

    def contract_of(self, obj) -> Contract:
        raise NotImplementedError

    def save_model(self, request, obj, form, change):
        contract = self.contract_of(obj)
        # A contract being created has nobody yet; a new action joins an existing contract.
        request.accord_people_before = contract_people(contract) if contract.pk else {}
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        contract = self.contract_of(form.instance)
        contract_people_change_record(
            contract=contract,
            actor=request.user,
            before=request.accord_people_before,
            after=contract_people(contract),
        )


class SignatoryVisaInline(admin.TabularInline):
    """The signatory's own internal visa circuit for this contract (with ``own_visas``)."""

    model = SignatoryVisa
    extra = 0
    autocomplete_fields = ["person"]
    fields = ["order", "person"]


@admin.register(Signatory)
class SignatoryAdmin(RecordsPeopleChanges):
    """A signatory, with its own visa circuit; signatories are added on their contract's page."""

    list_display = ["contract", "organisation", "kind", "signer", "order", "own_visas", "status"]
    list_filter = ["kind", "status", "own_visas"]
    search_fields = ["contract__reference", "organisation__code", "organisation__name"]
    readonly_fields = ["contract", "status", "decided_at"]
    autocomplete_fields = ["signer", "represented_by", "organisation"]
    inlines = [SignatoryVisaInline]

    def contract_of(self, obj) -> Contract:
        return obj.contract

    def has_add_permission(self, request):
        return False


@admin.register(Contract)
class ContractAdmin(RecordsPeopleChanges):
    list_display = ["reference", "title", "kind", "status", "version", "period_start", "period_end"]
    list_filter = ["kind", "status"]
    search_fields = ["reference", "title", "territory_name"]
    # Statuses change only through the workflow services, never by editing a form.
    readonly_fields = [
        "status",
        "version",
        "suspended_from",
        "suspended_at",
        "suspension_reason",
        "withdrawal_reason",
        "deliberation_number",
        "deliberation_date",
        "document_sha256",
        "created_at",
    ]
    filter_horizontal = ["organisations", "participants", "coordinators"]
    inlines = [
        ThemeInline,
        WorkingGroupInline,
        SteeringCommitteeInline,
        SignatoryInline,
        ContractAuditorInline,
    ]

    def contract_of(self, obj) -> Contract:
        return obj


class FundingLineInline(admin.TabularInline):
    model = FundingLine
    extra = 0


class IndicatorInline(admin.TabularInline):
    model = Indicator
    extra = 0


@admin.register(Action)
class ActionAdmin(RecordsPeopleChanges):
    list_display = ["code", "title", "contract", "working_group", "pilot", "status"]
    list_filter = ["status", "contract"]
    search_fields = ["code", "title", "contract__reference"]
    readonly_fields = ["status"]
    filter_horizontal = ["partners"]
    inlines = [FundingLineInline, IndicatorInline]

    def contract_of(self, obj) -> Contract:
        return obj.contract


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written by the flows: administrators read them, only the flows change them."""

    def get_readonly_fields(self, request, obj=None):
        hidden = set(self.exclude or ())
        return [field.name for field in self.model._meta.fields if field.name not in hidden]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(HistoryEntry)
class HistoryEntryAdmin(ReadOnlyAdmin):
    """The approval history: readable by administrators, never editable."""

    list_display = [
        "contract",
        "seq",
        "at",
        "event",
        "name",
        "action_code",
        "actor_username",
        "on_behalf_of_username",
        "from_state",
        "to_state",
    ]
    list_filter = ["event", "contract"]
    search_fields = ["actor_username", "on_behalf_of_username", "action_code", "comment"]
    date_hierarchy = "at"


@admin.register(Task)
class TaskAdmin(ReadOnlyAdmin):
    list_display = [
        "number",
        "kind",
        "contract",
        "action",
        "owner",
        "on_behalf_of",
        "status",
        "due",
        "decision",
    ]
    list_filter = ["kind", "status", "contract"]
    search_fields = ["owner__username", "assignee__username", "action__code"]
    list_select_related = ["contract", "action", "owner", "on_behalf_of"]
    date_hierarchy = "created"

    @admin.display(description=pgettext_lazy("number column", "No."), ordering="pk")
    def number(self, task: Task) -> int:
        return task.pk


@admin.register(CommitteeVote)
class CommitteeVoteAdmin(ReadOnlyAdmin):
    list_display = [
        "contract",
        "round",
        "outcome",
        "approvals",
        "rejections",
        "abstentions",
        "quorum",
    ]
    list_filter = ["outcome"]


@admin.register(Delegation)
class DelegationAdmin(ReadOnlyAdmin):
    """Absences are declared by the people themselves (page or API), which hands tasks over."""

    list_display = ["user", "delegate", "start", "end", "cancelled_at"]
    search_fields = ["user__username", "delegate__username"]


@admin.register(HistoryExport)
class HistoryExportAdmin(ReadOnlyAdmin):
    """Who exported which history, when: read-only, like the history itself."""

    list_display = ["at", "username", "format", "entries", "filters"]
    list_filter = ["format"]
    search_fields = ["username"]
    date_hierarchy = "at"


@admin.register(HistoryCheckpoint)
class HistoryCheckpointAdmin(ReadOnlyAdmin):
    """The chain heads the nightly check found intact."""

    list_display = ["contract", "seq", "hash", "at"]
    list_filter = ["contract"]


@admin.register(Meeting)
class MeetingAdmin(admin.ModelAdmin):
    list_display = ["contract", "starts_at", "status", "sequence"]
    list_filter = ["status"]
    readonly_fields = ["uid", "sequence", "status"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(ActionVersion)
class ActionVersionAdmin(ReadOnlyAdmin):
    """An action sheet's versions: written by their pilot or a coordinator, never edited."""

    list_display = ["action", "number", "author", "created_at", "sha256"]
    list_filter = ["action__contract"]
    search_fields = ["action__code", "sha256"]


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdmin):
    """A contract's attachments: uploaded in the app, their SHA-256 recorded in the history."""

    list_display = ["name", "kind", "contract", "action", "size", "uploaded_by", "uploaded_at"]
    list_filter = ["kind", "contract"]
    search_fields = ["name", "sha256"]


@admin.register(IndicatorValue)
class IndicatorValueAdmin(ReadOnlyAdmin):
    """Indicators' values by year: recorded by pilots in the app, each in the history."""

    list_display = ["indicator", "year", "value", "action", "recorded_by", "recorded_at"]
    list_filter = ["action__contract", "year"]
    search_fields = ["indicator", "action__code"]
