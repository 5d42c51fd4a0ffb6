"""The REST API, included at /api/v1/ by config/urls.py."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from . import views

app_name = "api"

urlpatterns = [
    path("auth/token/", views.TokenObtainApi.as_view(), name="token"),
    path("contracts/", views.ContractListApi.as_view(), name="contract_list"),
    path("contracts/import/", views.ContractImportApi.as_view(), name="contract_import"),
    path("contracts/<int:pk>/", views.ContractDetailApi.as_view(), name="contract_detail"),
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
    # No Swagger UI: drf-spectacular's loads its assets from a CDN without the sidecar package.
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
]
