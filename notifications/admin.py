from django.contrib import admin

from .models import Notification, NotificationPreference


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Read-only: the outbox and its delivery state, for support."""

    list_display = ["created_at", "recipient", "event", "title", "read_at", "pushed_at"]
    list_filter = ["event", "email_mode"]
    search_fields = ["title", "recipient__username"]
    raw_id_fields = ["recipient", "contract", "task"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "event", "email_mode"]
    list_filter = ["event", "email_mode"]
