"""The REST API, included at /api/v1/ by config/urls.py."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from workflows.analytics import api as analytics
from workflows.audit import api as audit

from . import (
    amendments,
    annual,
    attachments,
    authoring,
    comments,
    convention,
    exports,
    follow_up,
    sheets,
    views,
)

app_name = "api"

urlpatterns = [
    path("auth/token/", views.TokenObtainApi.as_view(), name="token"),
    path("contracts/", authoring.ContractListCreateApi.as_view(), name="contract_list"),
    path("contracts/import/", views.ContractImportApi.as_view(), name="contract_import"),
    path("contracts/<int:pk>/", authoring.ContractDetailEditApi.as_view(), name="contract_detail"),
    path(
        "contracts/<int:pk>/actions/",
        authoring.ContractActionsApi.as_view(),
        name="contract_actions",
    ),
    path(
        "contracts/<int:pk>/actions/<str:code>/",
        authoring.ContractActionApi.as_view(),
        name="contract_action",
    ),
    path(
        "contracts/<int:pk>/actions/<str:code>/transitions/<str:name>/",
        follow_up.ActionFollowUpApi.as_view(),
        name="action_follow_up",
    ),
    path(
        "contracts/<int:pk>/actions/<str:code>/indicators/",
        follow_up.IndicatorsApi.as_view(),
        name="action_indicators",
    ),
    path(
        "contracts/<int:pk>/actions/<str:code>/indicators/values/",
        follow_up.IndicatorValuesApi.as_view(),
        name="action_indicator_values",
    ),
    path(
        "contracts/<int:pk>/actions/<str:code>/comments/",
        comments.SheetCommentsApi.as_view(),
        name="sheet_comments",
    ),
    path(
        "contracts/<int:pk>/observers/",
        comments.ContractObserversApi.as_view(),
        name="contract_observers",
    ),
    path(
        "contracts/<int:pk>/observers/<str:username>/",
        comments.ContractObserverApi.as_view(),
        name="contract_observer",
    ),
    path(
        "contracts/<int:pk>/actions/<str:code>/versions/",
        authoring.ContractActionVersionsApi.as_view(),
        name="contract_action_versions",
    ),
    path(
        "contracts/<int:pk>/actions/<str:code>/versions/<int:number>/diff/",
        authoring.ContractActionDiffApi.as_view(),
        name="contract_action_diff",
    ),
    path(
        "contracts/<int:pk>/amendments/",
        amendments.AmendmentsApi.as_view(),
        name="contract_amendments",
    ),
    path(
        "contracts/<int:pk>/amendments/<int:number>/",
        amendments.AmendmentApi.as_view(),
        name="contract_amendment",
    ),
    path(
        "contracts/<int:pk>/amendments/<int:number>/transitions/<str:name>/",
        amendments.AmendmentTransitionApi.as_view(),
        name="contract_amendment_transition",
    ),
    path(
        "contracts/<int:pk>/amendments/<int:number>/vote/close/",
        amendments.AmendmentVoteCloseApi.as_view(),
        name="contract_amendment_vote_close",
    ),
    path(
        "contracts/<int:pk>/amendments/<int:number>/signatories/",
        amendments.AmendmentSignatoriesApi.as_view(),
        name="contract_amendment_signatories",
    ),
    path(
        "contracts/<int:pk>/amendments/<int:number>/signatories/<str:organisation>/",
        amendments.AmendmentSignatoryApi.as_view(),
        name="contract_amendment_signatory",
    ),
    path("contracts/<int:pk>/export/", exports.ContractExportApi.as_view(), name="contract_export"),
    path(
        "contracts/<int:pk>/convention/",
        convention.ContractConventionApi.as_view(),
        name="contract_convention",
    ),
    # Before the coordinator transitions: the annual review is a verb of its own.
    path(
        "contracts/<int:pk>/transitions/launch_annual_review/",
        annual.AnnualReviewLaunchApi.as_view(),
        name="annual_review_launch",
    ),
    path(
        "contracts/<int:pk>/reports/<int:year>/",
        annual.AnnualReportApi.as_view(),
        name="annual_report",
    ),
    path(
        "contracts/<int:pk>/reports/<int:year>/close/",
        annual.ReportCollectionCloseApi.as_view(),
        name="annual_report_collection_close",
    ),
    path(
        "contracts/<int:pk>/reports/<int:year>/vote/close/",
        annual.ReportVoteCloseApi.as_view(),
        name="annual_report_vote_close",
    ),
    path(
        "contracts/<int:pk>/transitions/<str:name>/",
        views.ContractTransitionApi.as_view(),
        name="contract_transition",
    ),
    path(
        "contracts/<int:pk>/history/", views.ContractHistoryApi.as_view(), name="contract_history"
    ),
    path(
        "contracts/<int:pk>/history/verify/",
        views.ContractHistoryVerifyApi.as_view(),
        name="contract_history_verify",
    ),
    path(
        "contracts/<int:pk>/history/bundle/",
        audit.ContractHistoryBundleApi.as_view(),
        name="contract_history_bundle",
    ),
    path(
        "contracts/<int:pk>/archive/", audit.ContractArchiveApi.as_view(), name="contract_archive"
    ),
    path("history/", audit.HistorySearchApi.as_view(), name="history_search"),
    path("analytics/steps/", analytics.StepAnalyticsApi.as_view(), name="analytics_steps"),
    path(
        "analytics/working-groups/",
        analytics.WorkingGroupAnalyticsApi.as_view(),
        name="analytics_working_groups",
    ),
    path(
        "analytics/organisations/",
        analytics.OrganisationAnalyticsApi.as_view(),
        name="analytics_organisations",
    ),
    path("analytics/people/", analytics.PersonAnalyticsApi.as_view(), name="analytics_people"),
    # Not <format>: DRF's schema generator leaves out every path ending in ".{format}" (taken
    # for a format suffix), and the export would be missing from the OpenAPI document.
    path(
        "history/export.<str:file_format>", audit.HistoryExportApi.as_view(), name="history_export"
    ),
    path(
        "contracts/<int:pk>/vote/close/",
        views.ContractVoteCloseApi.as_view(),
        name="contract_vote_close",
    ),
    path(
        "contracts/<int:pk>/attachments/",
        attachments.ContractAttachmentsApi.as_view(),
        name="contract_attachments",
    ),
    path(
        "attachments/<int:pk>/",
        attachments.AttachmentDownloadApi.as_view(),
        name="attachment_download",
    ),
    path("actions/<int:pk>/sheet/", sheets.ActionSheetApi.as_view(), name="action_sheet"),
    path(
        "actions/<int:pk>/versions/",
        sheets.ActionSheetVersionsApi.as_view(),
        name="action_sheet_versions",
    ),
    path("actions/<int:pk>/diff/", sheets.ActionSheetDiffApi.as_view(), name="action_sheet_diff"),
    path("inbox/", views.InboxApi.as_view(), name="inbox"),
    path("inbox/represented/", views.InboxRepresentedApi.as_view(), name="inbox_represented"),
    path("tasks/<int:pk>/", views.TaskDetailApi.as_view(), name="task_detail"),
    path("tasks/<int:pk>/decision/", views.TaskDecisionApi.as_view(), name="task_decision"),
    path("tasks/<int:pk>/undo/", views.TaskUndoApi.as_view(), name="task_undo"),
    path("tasks/<int:pk>/opinions/", views.OpinionAskApi.as_view(), name="task_opinions"),
    path("delegations/", views.DelegationListApi.as_view(), name="delegation_list"),
    path(
        "delegations/<int:pk>/cancel/",
        views.DelegationCancelApi.as_view(),
        name="delegation_cancel",
    ),
    # No Swagger UI: drf-spectacular's loads its assets from a CDN without the sidecar package.
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
]
