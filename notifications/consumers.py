"""WebSocket /ws/notifications/: each person's new notifications, live (api.md)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from channels.utils import await_many_dispatch
from django.conf import settings

from . import selectors
from .delivery import PUSH_FIELDS, group_name, payload, session_group_name
from .sockets import (
    REFUSED,
    REVOKED,
    SCOPE_AUTH,
    SCOPE_OVERLOADED,
    SCOPE_TOKEN_IN_QUERY,
    SUBPROTOCOL,
    TOKEN_IN_QUERY_DEPRECATION,
    TRY_AGAIN_LATER,
    pool_exhausted,
)

__all__ = ["REFUSED", "REVOKED", "TRY_AGAIN_LATER", "NotificationConsumer"]

log = logging.getLogger(__name__)

# Leaves of the channel layer still going on after their socket closed (``disconnect``), held
# here until done: the event loop keeps only weak references to its tasks.
_STILL_LEAVING: set[asyncio.Future] = set()


def _left_late(leaving: asyncio.Future) -> None:
    _STILL_LEAVING.discard(leaving)
    if not leaving.cancelled() and (error := leaving.exception()) is not None:
        log.warning("The channel layer could not be left.", exc_info=error)


class NotificationConsumer(AsyncJsonWebsocketConsumer):
    """Joins the person's group (and, opened with a session, the session's); ``?after=<id>``
    (or a ``{"type": "catch_up", "after": id}`` message) first sends what they missed since
    that id, so a page that reconnects after a network or Redis outage loses nothing. Pages
    drop an id they already have. ``session.revoked`` sent to either group (a log-out, a
    password change) closes it with 4401."""

    async def __call__(self, scope, receive, send) -> None:
        """channels' own, except that a channel layer that cannot give this socket its channel
        (Redis away) leaves it without live delivery, with a warning, instead of failing the
        handshake with a 500; ``connect`` then closes it gracefully."""
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        if self.channel_layer is not None:
            try:
                self.channel_name = await asyncio.wait_for(
                    self.channel_layer.new_channel(), timeout=settings.ACCORD_PUSH_TIMEOUT
                )
            except Exception:  # redis' errors, OSError, TimeoutError: the layer is unreachable
                log.warning("Live notifications unavailable: no channel layer.", exc_info=True)
                self.channel_layer = None
        self.base_send = send
        receivers = [receive]
        if self.channel_layer is not None:
            receivers.append(functools.partial(self.channel_layer.receive, self.channel_name))
        with contextlib.suppress(StopConsumer):  # closed cleanly
            await await_many_dispatch(receivers, self.dispatch)

    async def connect(self) -> None:
        if self.scope.get(SCOPE_OVERLOADED):
            # Who connects could not be read (no database connection free in time): the page
            # comes back later, with back-off, rather than being refused for good.
            await self.accept()
            await self.close(code=TRY_AGAIN_LATER)
            return
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=REFUSED)
            return
        self.user = user
        self.groups_joined = [group_name(user.pk)]
        session = self.scope.get("session")
        if self.scope.get(SCOPE_AUTH) != "token" and session is not None and session.session_key:
            self.groups_joined.append(session_group_name(session.session_key))
        # Join before reading what was missed: a notification committed in between is sent
        # twice at worst, never lost.
        joined = await self._join()
        offered = self.scope.get("subprotocols") or []
        await self.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
        if self.scope.get(SCOPE_TOKEN_IN_QUERY):
            await self.send_json(TOKEN_IN_QUERY_DEPRECATION)
        after = parse_qs(self.scope.get("query_string", b"").decode()).get("after", [""])[0]
        wants_catch_up = after.isascii() and after.isdigit() and len(after) < 19
        if wants_catch_up and not await self._catch_up(int(after)):
            return  # closed: try again later
        if not joined:
            # No live delivery without the channel layer: what was missed is sent (from the
            # database), then the page is told to come back later rather than wait for nothing.
            await self.close(code=TRY_AGAIN_LATER)

    async def _join(self) -> bool:
        """Join the person's groups; False (and a warning) when the channel layer is away."""
        if self.channel_layer is None:
            self.groups_joined = []
            return False
        try:
            await asyncio.wait_for(
                asyncio.gather(
                    *(
                        self.channel_layer.group_add(group, self.channel_name)
                        for group in self.groups_joined
                    )
                ),
                timeout=settings.ACCORD_PUSH_TIMEOUT,
            )
        except Exception:  # redis' errors, OSError, TimeoutError: the layer is unreachable
            log.warning(
                "Live notifications unavailable: the channel layer could not be joined.",
                exc_info=True,
            )
            self.groups_joined = []
            return False
        return True

    async def disconnect(self, code: int) -> None:
        groups = getattr(self, "groups_joined", [])
        if not groups:
            return
        leaving = asyncio.gather(
            *(self.channel_layer.group_discard(group, self.channel_name) for group in groups)
        )
        try:
            await asyncio.wait_for(asyncio.shield(leaving), timeout=settings.ACCORD_PUSH_TIMEOUT)
        except TimeoutError:
            # Slow, not failed: the layer tells Redis one group at a time, and when hundreds
            # of pages close at once in a busy process, the last wait their turn longer than
            # this. The leave goes on once the socket is gone; only its failure is a warning.
            _STILL_LEAVING.add(leaving)
            leaving.add_done_callback(_left_late)
        except Exception:
            log.warning("The channel layer could not be left.", exc_info=True)

    async def receive_json(self, content, **kwargs) -> None:
        if isinstance(content, dict) and content.get("type") == "catch_up":
            after = content.get("after")
            if isinstance(after, int) and after >= 0:
                await self._catch_up(after)

    async def notification_push(self, event: dict) -> None:
        await self.send_json(event["notification"])

    async def session_revoked(self, event: dict) -> None:
        """The session was logged out or the password changed (notifications.services)."""
        await self.close(code=REVOKED)

    async def _catch_up(self, after: int) -> bool:
        """Send what was missed since ``after``. With no database connection free within the
        pool's timeout, close with TRY_AGAIN_LATER (the page reconnects and asks again) and
        say False."""
        try:
            # In the event loop's thread pool, as notifications.auth's reads.
            missed = await database_sync_to_async(self._missed, thread_sensitive=False)(after)
        except Exception as error:
            if not pool_exhausted(error):
                raise
            log.warning("WebSocket catch-up: no database connection free within the timeout.")
            await self.close(code=TRY_AGAIN_LATER)
            return False
        for row in missed:
            await self.send_json(payload(row))
        return True

    def _missed(self, after: int) -> list[dict]:
        return list(selectors.notifications_after(self.user, after).values(*PUSH_FIELDS))
