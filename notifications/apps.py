from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_out
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        # The history names each notification it records by its kind, in words.
        from workflows.audit.labels import register_name_words
        from workflows.models import HistoryEvent

        from .models import NotificationEvent

        register_name_words(HistoryEvent.NOTIFIED, dict(NotificationEvent.choices))
        # A log-out closes the WebSockets its session opened (the other tabs): Django tells
        # of a log-out only by this signal, sent before the session is flushed.
        user_logged_out.connect(_close_sockets_on_log_out, dispatch_uid="notifications.log_out")


def _close_sockets_on_log_out(sender, request, user, **kwargs) -> None:
    from .services import sockets_close_for_session

    session = getattr(request, "session", None)
    if user is not None and session is not None and session.session_key:
        sockets_close_for_session(session_key=session.session_key)
