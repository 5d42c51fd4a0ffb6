"""Who may open the WebSocket ``/ws/notifications/`` (docs/api.md), checked before the
consumer and its channel layer are reached:

- the origin: the site's own (scheme, host and port of the request, its host one of
  ALLOWED_HOSTS) or one of CSRF_TRUSTED_ORIGINS, as Django checks a form's;
- the person: the session cookie (pages), or the API token offered as the subprotocol
  ``accord.token.<token>`` (or, deprecated, ``?token=<token>``), in one short database read
  whose connection goes back to the pool at once (docs/deploy.md, "WebSockets and the
  connection pool");
- closing their sockets when their password changes (a password validator's documented
  ``password_changed`` hook: Django has no signal for it).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs, urlparse

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.translation import gettext as _

from . import services
from .sockets import (
    REFUSED,
    SCOPE_AUTH,
    SCOPE_OVERLOADED,
    SCOPE_TOKEN_IN_QUERY,
    TOKEN_SUBPROTOCOL_PREFIX,
    pool_exhausted,
)

log = logging.getLogger(__name__)


# The handshake's reads run in the event loop's thread pool (thread_sensitive=False), not on
# asgiref's one thread for all the process's sockets (channels' default): there, each waited
# for a pooled connection behind the others, and under load the handshakes queued until their
# clients gave up (docs/benchmarks.md, "Sockets and Argon2id under the load test").
def _user_of_token(key: str):
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return None
    return token.user


def _user_of_session(session):
    """The session's person (Django's ``get_user`` on a request bearing the session, as
    SessionMiddleware makes it: the user, and the session's password hash compared, with
    SECRET_KEY_FALLBACKS), or anonymous; a session whose hash no longer matches is flushed."""
    from django.contrib.auth import get_user
    from django.http import HttpRequest

    request = HttpRequest()
    request.session = session
    return get_user(request)


_user_of_token_read = database_sync_to_async(_user_of_token, thread_sensitive=False)
_user_of_session_read = database_sync_to_async(_user_of_session, thread_sensitive=False)


def _token_of(scope: dict[str, Any]) -> tuple[str | None, bool]:
    """The token the client offered, and whether it came in the query string."""
    for protocol in scope.get("subprotocols") or []:
        if protocol.startswith(TOKEN_SUBPROTOCOL_PREFIX):
            return protocol.removeprefix(TOKEN_SUBPROTOCOL_PREFIX), False
    keys = parse_qs(scope.get("query_string", b"").decode()).get("token")
    return (keys[0], True) if keys else (None, False)


class SocketAuthMiddleware(BaseMiddleware):
    """Who opens the socket, in one database read: the API token when one is offered (a wrong
    one refuses the connection, the user becomes anonymous, rather than falling back on the
    session), otherwise the session cookie's person (Django's ``get_user``: the session, the
    user, the session's password hash checked). channels' ``database_sync_to_async`` hands the
    connection back to the pool as soon as the read is done: an open socket holds none. The
    reads run in the event loop's thread pool, so that handshakes do not queue one behind the
    other for a connection.

    With no connection free within the pool's timeout, the person is left anonymous and the
    scope says so (``SCOPE_OVERLOADED``): the consumer then closes with TRY_AGAIN_LATER (4013),
    and the page reconnects with back-off, instead of a 500 and a traceback.

    A token in the query string (it ends up in proxies' logs) still works for one release, with
    a warning in the log and a first ``deprecation`` message to the client. Below channels'
    ``CookieMiddleware`` and ``SessionMiddleware`` (``scope["session"]``)."""

    async def __call__(self, scope, receive, send):
        from django.contrib.auth.models import AnonymousUser

        scope = dict(scope)
        key, in_query = _token_of(scope)
        try:
            if key is not None:
                if in_query:
                    log.warning(
                        "WebSocket authenticated by ?token= (deprecated): offer the subprotocol"
                        " accord.token.<token> instead."
                    )
                scope[SCOPE_AUTH] = "token"
                scope[SCOPE_TOKEN_IN_QUERY] = in_query
                scope["user"] = await _user_of_token_read(key) or AnonymousUser()
            else:
                scope["user"] = await _user_of_session_read(scope["session"])
        except Exception as error:
            if not pool_exhausted(error):
                raise
            log.warning("WebSocket: no database connection free within the pool's timeout.")
            scope["user"] = AnonymousUser()
            scope[SCOPE_OVERLOADED] = True
        return await super().__call__(scope, receive, send)


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for header_name, value in scope.get("headers", []):
        if header_name == name:
            return value.decode("latin1")
    return None


def _is_secure(scope: dict[str, Any]) -> bool:
    """As Django's ``HttpRequest.is_secure``: the connection's scheme, or the header a
    trusted reverse proxy sets (SECURE_PROXY_SSL_HEADER)."""
    if settings.SECURE_PROXY_SSL_HEADER:
        meta_name, secure_value = settings.SECURE_PROXY_SSL_HEADER
        value = _header(scope, meta_name.removeprefix("HTTP_").lower().replace("_", "-").encode())
        if value is not None:
            return value.split(",", 1)[0].strip() == secure_value
    return scope.get("scheme", "ws") == "wss"


class SameOriginValidator(OriginValidator):
    """channels' OriginValidator (scheme, host and port compared), with the allowed origins
    of each request: its own, and CSRF_TRUSTED_ORIGINS. channels' AllowedHostsOriginValidator
    compared the host only, so ``http://`` or another port of an allowed host passed.

    A refusal is answered here, without the channel layer: channels' denier is a consumer that
    asks the layer for a channel first, which failed with a 500 while Redis was away."""

    def __init__(self, application) -> None:
        super().__init__(application, allowed_origins=[])

    def origins_allowed(self, scope: dict[str, Any]) -> list[str]:
        allowed = [
            # channels' patterns write Django's "*.example.org" as ".example.org".
            origin.replace("://*.", "://.")
            for origin in settings.CSRF_TRUSTED_ORIGINS
        ]
        host = _header(scope, b"host")
        if host:
            domain, _port = split_domain_port(host)
            allowed_hosts = settings.ALLOWED_HOSTS
            if settings.DEBUG and not allowed_hosts:  # as Django's HttpRequest.get_host
                allowed_hosts = [".localhost", "127.0.0.1", "[::1]"]
            if domain and validate_host(domain, allowed_hosts):
                allowed.append(f"{'https' if _is_secure(scope) else 'http'}://{host}")
        return allowed

    async def __call__(self, scope, receive, send):
        origin = _header(scope, b"origin")
        parsed = urlparse(origin) if origin else None
        if parsed is not None and any(
            self.match_allowed_origin(parsed, pattern) for pattern in self.origins_allowed(scope)
        ):
            return await self.application(scope, receive, send)
        log.info("WebSocket refused: origin %r not allowed.", origin)
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.close", "code": REFUSED})


class CloseSocketsOnPasswordChange:
    """Not a rule on passwords: Django calls each validator's ``password_changed`` once a new
    password is saved (``AbstractBaseUser.save``), wherever it was changed (the
    administration, ``changepassword``). The person's open WebSockets are closed then."""

    def validate(self, password: str, user=None) -> None:
        return None

    def password_changed(self, password: str, user=None) -> None:
        if user is not None and user.pk is not None:
            services.sockets_close_for_person(user_id=user.pk)

    def get_help_text(self) -> str:
        return _("Once the password is changed, every other session is signed out.")
