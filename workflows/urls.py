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
]
