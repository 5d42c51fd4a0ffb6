from django.urls import path, re_path

from .analytics import views as analytics_views
from .audit import views as audit_views
from .views import (
    absences,
    account,
    amendments,
    annual,
    attachments,
    authoring,
    comments,
    contracts,
    convention,
    follow_up,
    sheets,
    tasks,
)

app_name = "workflows"

urlpatterns = [
    path("", contracts.contract_list, name="contract_list"),
    path("compte/securite/", account.account_security, name="account_security"),
    path(
        "compte/securite/activer/",
        account.account_two_factor_enrol,
        name="account_two_factor_enrol",
    ),
    path(
        "compte/securite/codes-de-secours/",
        account.account_recovery_codes,
        name="account_recovery_codes",
    ),
    path(
        "compte/securite/retirer/",
        account.account_two_factor_remove,
        name="account_two_factor_remove",
    ),
    path("contrats/importer/", contracts.contract_import, name="contract_import"),
    path("contrats/nouveau/", authoring.contract_new, name="contract_new"),
    path(
        "contrats/<int:pk>/rediger/<slug:step>/",
        authoring.contract_write,
        name="contract_write",
    ),
    path(
        "contrats/<int:pk>/rediger/fiches/<str:code>/retirer/",
        authoring.sheet_remove,
        name="sheet_remove",
    ),
    path("contrats/<int:pk>/", contracts.contract_detail, name="contract_detail"),
    path("contrats/<int:pk>/actions/", contracts.contract_actions, name="contract_actions"),
    path(
        "contrats/<int:pk>/transitions/<str:name>/",
        contracts.contract_transition,
        name="contract_transition",
    ),
    path("contrats/<int:pk>/avenants/", amendments.amendment_open, name="amendment_open"),
    path(
        "contrats/<int:pk>/avenants/<int:number>/",
        amendments.amendment_detail,
        name="amendment_detail",
    ),
    path(
        "contrats/<int:pk>/avenants/<int:number>/vote/clore/",
        amendments.amendment_close_vote,
        name="amendment_close_vote",
    ),
    path(
        "contrats/<int:pk>/avenants/<int:number>/fiches/<str:code>/",
        amendments.amendment_sheet,
        name="amendment_sheet",
    ),
    path(
        "contrats/<int:pk>/avenants/<int:number>/fiches/<str:code>/retirer/",
        amendments.amendment_sheet_remove,
        name="amendment_sheet_remove",
    ),
    path("contrats/<int:pk>/export/", contracts.contract_export, name="contract_export"),
    path("contrats/<int:pk>/convention/", convention.convention_edit, name="convention_edit"),
    path(
        "contrats/<int:pk>/circuit.svg",
        contracts.contract_flow_chart_svg,
        name="contract_flow_chart",
    ),
    path(
        "contrats/<int:pk>/vote/clore/", contracts.contract_close_vote, name="contract_close_vote"
    ),
    path("contrats/<int:pk>/historique/", audit_views.contract_history, name="contract_history"),
    path(
        "contrats/<int:pk>/historique/preuve/",
        audit_views.contract_history_bundle,
        name="contract_history_bundle",
    ),
    path(
        "contrats/<int:pk>/archive/",
        audit_views.contract_archive_download,
        name="contract_archive",
    ),
    path("audit/", audit_views.history_search_page_view, name="history_search"),
    path("analyse/", analytics_views.analytics_page, name="analytics"),
    path("analyse/<slug:name>.csv", analytics_views.analytics_csv, name="analytics_csv"),
    # A chart by the hash of what it shows (analytics/charts.py).
    re_path(
        r"^analyse/graphiques/(?P<key>[0-9a-f]{64})\.svg$",
        analytics_views.analytics_chart,
        name="analytics_chart",
    ),
    path(
        "audit/export.<str:format>",
        audit_views.history_export,
        name="history_export",
    ),
    path(
        "contrats/<int:pk>/pieces-jointes/",
        attachments.attachment_add,
        name="attachment_add",
    ),
    path(
        "pieces-jointes/<int:pk>/",
        attachments.attachment_download,
        name="attachment_download",
    ),
    path("fiches/<int:pk>/", comments.sheet_detail, name="sheet_detail"),
    path("fiches/<int:pk>/commentaires/", comments.comment_add, name="comment_add"),
    path("contrats/<int:pk>/observateurs/", comments.observer_add, name="observer_add"),
    path(
        "contrats/<int:pk>/observateurs/retirer/",
        comments.observer_remove,
        name="observer_remove",
    ),
    path("fiches/<int:pk>/modifier/", sheets.sheet_edit, name="sheet_edit"),
    path("fiches/<int:pk>/suivi/", follow_up.follow_up, name="follow_up"),
    path(
        "contrats/<int:pk>/revues-annuelles/",
        annual.annual_review_launch,
        name="annual_review_launch",
    ),
    path(
        "contrats/<int:pk>/revues-annuelles/<int:year>/cloture/",
        annual.annual_review_close,
        name="annual_review_close",
    ),
    path(
        "contrats/<int:pk>/revues-annuelles/<int:year>/vote/cloture/",
        annual.annual_vote_close,
        name="annual_vote_close",
    ),
    path("fiches/<int:pk>/suivi/<str:name>/", follow_up.follow_up_step, name="follow_up_step"),
    path("taches/", tasks.inbox, name="inbox"),
    path("taches/<int:pk>/", tasks.task_detail, name="task_detail"),
    path("taches/<int:pk>/annuler/", tasks.task_undo, name="task_undo"),
    path("taches/<int:pk>/avis/", tasks.task_opinion_ask, name="task_opinion_ask"),
    path("absences/", absences.absences, name="absences"),
    path("absences/<int:pk>/annuler/", absences.absence_cancel, name="absence_cancel"),
]
