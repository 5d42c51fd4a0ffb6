"""WebSocket /ws/notifications/: each person's new notifications, live (api.md)."""

from __future__ import annotations

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from . import selectors
from .delivery import PUSH_FIELDS, group_name, payload

# Closing before accepting refuses the handshake (HTTP 403 to the client).
REFUSED = 4403


class NotificationConsumer(AsyncJsonWebsocketConsumer):
    """Joins the person's group; ``?after=<id>`` (or a ``{"type": "catch_up", "after": id}``
    message) first sends what they missed since that id, so a page that reconnects after a
    network or Redis outage loses nothing. Pages drop an id they already have."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=REFUSED)
            return
        self.user = user
        self.group = group_name(user.pk)
        # Join before reading what was missed: a notification committed in between is sent
        # twice at worst, never lost.
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        after = parse_qs(self.scope.get("query_string", b"").decode()).get("after", [""])[0]
        if after.isascii() and after.isdigit() and len(after) < 19:
            await self._catch_up(int(after))

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        if isinstance(content, dict) and content.get("type") == "catch_up":
            after = content.get("after")
            if isinstance(after, int) and after >= 0:
                await self._catch_up(after)

    async def notification_push(self, event: dict) -> None:
        await self.send_json(event["notification"])

    async def _catch_up(self, after: int) -> None:
        for row in await self._missed(after):
            await self.send_json(payload(row))

    @database_sync_to_async
    def _missed(self, after: int) -> list[dict]:
        return list(selectors.notifications_after(self.user, after).values(*PUSH_FIELDS))
