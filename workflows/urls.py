from django.urls import path

from . import views

app_name = "workflows"

urlpatterns = [
    path("", views.contract_list, name="contract_list"),
    path("contrats/importer/", views.contract_import, name="contract_import"),
    path("contrats/<int:pk>/", views.contract_detail, name="contract_detail"),
    path(
        "contrats/<int:pk>/transitions/<str:name>/",
        views.contract_transition,
        name="contract_transition",
    ),
    path(
        "contrats/<int:pk>/circuit.svg", views.contract_flow_chart_svg, name="contract_flow_chart"
    ),
    path("contrats/<int:pk>/vote/clore/", views.contract_close_vote, name="contract_close_vote"),
    path("taches/", views.inbox, name="inbox"),
    path("taches/<int:pk>/", views.task_detail, name="task_detail"),
    path("absences/", views.absences, name="absences"),
    path("absences/<int:pk>/annuler/", views.absence_cancel, name="absence_cancel"),
]
