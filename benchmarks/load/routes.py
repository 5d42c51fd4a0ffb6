"""The pages the Locust users open, by URL name (``tests/benchmarks/test_load_routes.py``
checks each against Django's URL configuration, without importing Locust). Plain module:
the Locust processes do not set Django up."""

from __future__ import annotations

# URL name -> path, with ``{}`` for the primary key.
ROUTES: dict[str, str] = {
    "login": "/connexion/",
    "login_code": "/connexion/code/",
    "workflows:inbox": "/taches/",
    "workflows:task_detail": "/taches/{}/",
    "workflows:contract_list": "/",
    "workflows:contract_detail": "/contrats/{}/",
    "workflows:contract_history": "/contrats/{}/historique/",
    "notifications:centre": "/notifications/",
    "notifications:counters": "/notifications/compteurs/",
}
# The notifications WebSocket (notifications/routing.py, not a URL name).
NOTIFICATIONS_SOCKET = "/ws/notifications/"


def path(name: str, *args: int) -> str:
    return ROUTES[name].format(*args)
