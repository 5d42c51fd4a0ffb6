from django.urls import path

from . import views

app_name = "notifications"

urlpatterns = [
    path("", views.notification_centre, name="centre"),
    path("lire/", views.mark_read, name="mark_read"),
    path("compteurs/", views.counters, name="counters"),
    path("preferences/", views.preferences, name="preferences"),
    path("contrats/<int:pk>/reunions/", views.meetings, name="meetings"),
    path("reunions/<int:pk>/modifier/", views.meeting_change, name="meeting_change"),
    path("reunions/<int:pk>/annuler/", views.meeting_cancel, name="meeting_cancel"),
    path("reunions/<int:pk>/invitation.ics", views.meeting_invitation, name="meeting_invitation"),
]
