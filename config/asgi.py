"""ASGI entry point: HTTP through Django, WebSockets through Channels.

Served by daphne: ``python -m daphne config.asgi:application``. A WebSocket is refused from
an origin other than the site's own (scheme, host and port) or CSRF_TRUSTED_ORIGINS, and
without a session or an API token (docs/api.md).
"""

import gc
import os

from django.core.asgi import get_asgi_application

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

# What start-up loaded (Django, the apps, their modules and settings) lives as long as the
# process: moved out of the garbage collector's generations, it is no longer walked by a full
# collection that falls inside a request (up to 157 ms in a fresh process, docs/benchmarks.md,
# "The contract page of a 152-action contract").
gc.freeze()
