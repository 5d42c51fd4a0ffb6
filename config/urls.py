from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from workflows.views.account import LoginView, login_code

# A path under /api/ that no route matches is answered in JSON, as every API error.
handler404 = "workflows.api.errors.not_found"

urlpatterns = [
    path("", include("workflows.urls")),
    path("", include("signatures.urls")),
    path("connexion/", LoginView.as_view(), name="login"),
    path("connexion/code/", login_code, name="login_code"),
    path("deconnexion/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("notifications/", include("notifications.urls")),
    path("api/v1/notifications/", include("notifications.api.urls")),
    path("api/v1/", include("workflows.api.urls")),
    path("api/v1/", include("signatures.api")),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
