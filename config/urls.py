from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

from config.health import CompleteHealthView, ServingHealthView
from config.metrics import metrics
from workflows import sso
from workflows.views.account import login_code

# A path under /api/ that no route matches is answered in JSON, as every API error.
handler404 = "workflows.api.errors.not_found"

urlpatterns = [
    # Operations (docs/operations.md): a load balancer's health check, monitoring's, metrics.
    path("sante/", ServingHealthView.as_view(), name="health"),
    path("sante/complete/", CompleteHealthView.as_view(), name="health_complete"),
    path("metrics", metrics, name="metrics"),
    path("", include("workflows.urls")),
    path("", include("signatures.urls")),
    path("connexion/", sso.LoginView.as_view(), name="login"),
    path("connexion/code/", login_code, name="login_code"),
    path("deconnexion/", sso.LogoutView.as_view(), name="logout"),
    # Single sign-on (ProConnect): 404 unless ACCORD_OIDC_CLIENT_ID is set.
    path("connexion/proconnect/", sso.ProConnectStartView.as_view(), name="proconnect_start"),
    path(
        "connexion/proconnect/retour/",
        sso.ProConnectCallbackView.as_view(),
        name=sso.CALLBACK_URL_NAME,
    ),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("notifications/", include("notifications.urls")),
    path("api/v1/notifications/", include("notifications.api.urls")),
    path("api/v1/", include("workflows.api.urls")),
    path("api/v1/", include("signatures.api")),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
