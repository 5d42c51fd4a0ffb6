from django import forms
from django.contrib import admin
from django.db import models
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .models import (
    Notification,
    NotificationEvent,
    NotificationPreference,
    WebhookDelivery,
    WebhookEndpoint,
)
from .tasks import queue_webhooks


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


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        label=_("events"),
        choices=NotificationEvent.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("The kinds of event POSTed to this URL."),
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["organisation", "url", "secret", "events", "active"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Per organisation: where to POST, the shared secret, which kinds of event."""

    form = WebhookEndpointForm
    list_display = ["organisation", "url", "active", "created_at"]
    list_filter = ["active"]
    readonly_fields = ["delivery_log"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.display(description=_("delivery log"))
    def delivery_log(self, endpoint):
        if not endpoint.pk:
            return "-"
        url = reverse("admin:notifications_webhookdelivery_changelist")
        return format_html(
            '<a href="{}?endpoint__id__exact={}">{}</a>',
            url,
            endpoint.pk,
            _("Deliveries to this URL, their attempts and answers"),
        )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """The delivery log: every event posted, its attempts and the partner's answers."""

    list_display = [
        "created_at",
        "endpoint",
        "event",
        "status",
        "attempts",
        "response_status",
        "error",
        "delivered_at",
    ]
    list_filter = ["status", "event"]
    readonly_fields = [
        "uid",
        "endpoint",
        "event",
        "payload",
        "status",
        "attempts",
        "response_status",
        "error",
        "created_at",
        "attempted_at",
        "delivered_at",
    ]
    actions = ["retry"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Try the selected deliveries again"))
    def retry(self, request, queryset):

        ids = list(
            queryset.exclude(status=WebhookDelivery.Status.DELIVERED).values_list("pk", flat=True)
        )
        queryset.filter(pk__in=ids).update(status=WebhookDelivery.Status.PENDING, attempts=0)
        queue_webhooks(ids)
