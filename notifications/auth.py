"""``?token=<token>`` authentication for WebSockets, beside the session cookie (api.md)."""

from __future__ import annotations

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware


@database_sync_to_async
def _user_of(key: str):
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return None
    return token.user


class TokenAuthMiddleware(BaseMiddleware):
    """A token in the query string authenticates the connection; a wrong one refuses it
    (the user becomes anonymous) rather than falling back on the session."""

    async def __call__(self, scope, receive, send):
        keys = parse_qs(scope.get("query_string", b"").decode()).get("token")
        if keys:
            from django.contrib.auth.models import AnonymousUser

            scope = dict(scope)
            scope["user"] = await _user_of(keys[0]) or AnonymousUser()
        return await super().__call__(scope, receive, send)
