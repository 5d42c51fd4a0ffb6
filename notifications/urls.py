from django.urls import path

from . import views

app_name = "notifications"

urlpatterns = [
    path("", views.notification_centre, name="centre"),
    path("lire/", views.mark_read, name="mark_read"),
    path("preferences/", views.preferences, name="preferences"),
]
