"""The WebSocket ``/ws/notifications/``'s vocabulary, shared by its consumer and its
handshake checks (docs/api.md): close codes and subprotocols."""

from django.db import OperationalError
from psycopg_pool import PoolTimeout

# Closing before accepting refuses the handshake (HTTP 403 to the client): no session or
# token, a wrong token, or a foreign origin.
REFUSED = 4403
# Closed by the server because the session was logged out or the password changed: the page
# does not reconnect (static/notifications.js), its next load asks to log in again.
REVOKED = 4401
# Closing after accepting when the channel layer (Redis) is away, or when no database
# connection was free in time to read who connects or what they missed: "try again later";
# the page reconnects with back-off and catches up on what it missed. In the private range:
# daphne's WebSocket library (autobahn) sends only 1000 and 3000-4999 from the server, so
# the standard 1013 failed inside the application and reached the page as 1011.
TRY_AGAIN_LATER = 4013

# The subprotocol the server selects when the client offers it. A client authenticating with
# its API token offers ``accord.token.<token>`` beside it; the token is never echoed back.
SUBPROTOCOL = "accord.notifications"
TOKEN_SUBPROTOCOL_PREFIX = "accord.token."  # noqa: S105 (a name, not a secret)

# Set in the connection's scope by notifications.auth: how the person was authenticated
# ("token" or absent for the session), and whether the deprecated ``?token=`` was used.
SCOPE_AUTH = "accord.auth"
SCOPE_TOKEN_IN_QUERY = "accord.token_in_query"  # noqa: S105 (a name, not a secret)
# Set when no database connection was free within the pool's timeout to tell who connects:
# the consumer closes with TRY_AGAIN_LATER.
SCOPE_OVERLOADED = "accord.overloaded"

# The first message on a connection authenticated with ``?token=`` (docs/api.md).
TOKEN_IN_QUERY_DEPRECATION = {
    "type": "deprecation",
    "detail": (
        "The ?token= query parameter is deprecated and will be refused in the next release:"
        " offer the subprotocols 'accord.notifications' and 'accord.token.<token>' instead."
    ),
}


def pool_exhausted(exception: BaseException) -> bool:
    """Whether ``exception`` is the connection pool's time-out, as Django raises it or bare
    (as config.overload's, which the apps may not import)."""
    return isinstance(exception, PoolTimeout) or (
        isinstance(exception, OperationalError) and isinstance(exception.__cause__, PoolTimeout)
    )
