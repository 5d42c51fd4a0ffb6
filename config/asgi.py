"""ASGI entry point: HTTP through Django, WebSockets through Channels.

Served by daphne: ``python -m daphne config.asgi:application``. A WebSocket is refused from
an origin other than the site's own (scheme, host and port) or CSRF_TRUSTED_ORIGINS, and
without a session or an API token (docs/api.md).
"""

import os

from django.core.asgi import get_asgi_application

from config.process import settle_startup_heap

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.sessions import CookieMiddleware, SessionMiddleware  # noqa: E402

from notifications.auth import SameOriginValidator, SocketAuthMiddleware  # noqa: E402
from notifications.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SameOriginValidator(
            CookieMiddleware(
                SessionMiddleware(SocketAuthMiddleware(URLRouter(websocket_urlpatterns)))
            )
        ),
    }
)

# The application built, start-up's objects leave the collector's generations.
settle_startup_heap()
