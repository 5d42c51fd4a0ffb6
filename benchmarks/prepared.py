"""Server-side prepared statements (``ACCORD_DB_PREPARE_THRESHOLD``), measured pair by pair:
the inbox's first page, through the selector, the API and the HTML page, alternately on two
connections that both live on (as the pool's do): one as by default (client-side binding, no
prepared statement), one with server-side binding and psycopg's ``prepare_threshold``. The
alternation keeps the comparison fair on a machine whose speed drifts."""

from __future__ import annotations

import copy
from collections.abc import Callable

from django.db import connections
from django.db.utils import load_backend

from .measure import measured, ms, percentile

REPEAT = 200
PREPARE_THRESHOLD = 5


def _connection(**options: object):
    """Another wrapper for the "default" alias, with these OPTIONS added."""
    settings_dict = copy.deepcopy(connections.settings["default"])
    settings_dict.setdefault("OPTIONS", {}).update(options)
    backend = load_backend(settings_dict["ENGINE"])
    return backend.DatabaseWrapper(settings_dict, "default")


def _prepared_connection():
    return _connection(server_side_binding=True, prepare_threshold=PREPARE_THRESHOLD)


def connection_cost() -> list[str]:
    """What a request pays for its connection: a new one each time (``CONN_MAX_AGE`` 0, the
    default), or one taken from and given back to the pool (``ACCORD_DB_POOL_MAX_SIZE``);
    each measured with a one-row query, as Django closes the connection at a request's end."""
    from workflows.models import User

    plain = connections["default"]
    pooled = _connection(pool={"min_size": 1, "max_size": 2})
    figures: dict[str, tuple[list[float], list[float]]] = {"new": ([], []), "pool": ([], [])}
    for n in range(10 + REPEAT):
        for name, wrapper in (("new", plain), ("pool", pooled)):
            connections["default"] = wrapper
            with measured() as measure:
                User.objects.filter(pk=1).exists()
                wrapper.close()  # what request_finished does
            if n >= 10:
                figures[name][0].append(measure.seconds)
                figures[name][1].append(measure.cpu_seconds)
    connections["default"] = plain
    pooled.close_pool()
    lines = ["  a one-row query and the connection closed, as at the end of a request"]
    for name, label in (("new", "new connection"), ("pool", "from the pool")):
        wall, cpu = figures[name]
        lines.append(
            f"    {label:<15} p50 {ms(percentile(wall, 0.5))}, p95 {ms(percentile(wall, 0.95))},"
            f" CPU p50 {ms(percentile(cpu, 0.5))}"
        )
    return lines


def compare(calls: list[tuple[str, Callable[[], object]]]) -> list[str]:
    plain = connections["default"]
    prepared = _prepared_connection()
    lines = []
    for what, call in calls:
        figures: dict[str, tuple[list[float], list[float]]] = {
            "plain": ([], []),
            "prepared": ([], []),
        }
        for _ in range(10):  # warm up: past the threshold, the plans cached
            for wrapper in (plain, prepared):
                connections["default"] = wrapper
                call()
        for _ in range(REPEAT):
            for name, wrapper in (("plain", plain), ("prepared", prepared)):
                connections["default"] = wrapper
                with measured() as measure:
                    call()
                figures[name][0].append(measure.seconds)
                figures[name][1].append(measure.cpu_seconds)
        connections["default"] = plain
        pairs = sorted(
            p / q for p, q in zip(figures["prepared"][0], figures["plain"][0], strict=True)
        )
        lines.append(f"  {what}")
        for name, (wall, cpu) in figures.items():
            lines.append(
                f"    {name:<9} p50 {ms(percentile(wall, 0.5))}, p95 {ms(percentile(wall, 0.95))},"
                f" CPU p50 {ms(percentile(cpu, 0.5))}"
            )
        lines.append(f"    prepared / plain, pair by pair: median {pairs[len(pairs) // 2]:.2f}")
    prepared.close()
    return lines


def _pages_without_collectstatic() -> None:
    """As the other benchmarks: "testserver" allowed, pages rendered without a manifest."""
    from django.conf import settings
    from django.test.utils import setup_test_environment

    setup_test_environment()
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def audit_pages(*, entries: int, users: int) -> list[str]:
    """The audit search page on ``entries`` history entries, the same way."""
    from django.test import Client

    from workflows.models import User

    from . import audit

    _pages_without_collectstatic()
    scene = audit.build(entries=entries, contracts=max(entries // 1000, 1), users=users)
    staff = User.objects.create(username="auditrice", is_staff=True)
    browser = Client()
    browser.force_login(staff)

    def page(query: dict[str, str]) -> Callable[[], object]:
        def get() -> object:
            response = browser.get("/audit/", query, HTTP_ACCEPT_LANGUAGE="fr")
            assert response.status_code == 200, response.status_code
            return response

        return get

    calls = [
        ("GET /audit/ (no criterion)", page({})),
        ("GET /audit/?person=…", page({"person": scene["person"].username})),
        ("GET /audit/?organisation=…", page({"organisation": scene["organisation"].code})),
    ]
    return [f"{entries:,} history entries", *compare(calls)]


def run(*, users: int, total: int) -> list[str]:
    from . import inbox

    _pages_without_collectstatic()
    deployment = inbox.Deployment(users)
    deployment.grow_to(total)
    calls = inbox.requests(deployment)
    return [*connection_cost(), f"{total:,} open tasks, {users:,} people", *compare(calls)]
