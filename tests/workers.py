"""Keeps pytest-xdist's worker processes (gw0, gw1...) apart where pytest-django does not.

pytest-django gives each worker a test database of its own (``test_accord_gw0``...). What else
the workers share is split here, in the environment, before pytest-django reads Django's
settings: the module is a plugin loaded by ``-p tests.workers`` (pyproject's addopts), because
conftest.py files are imported after the settings, too late. The servers, Celery workers and
commands that tests start in subprocesses inherit the same environment.

- Redis: worker N uses database *base + N*, where *base* is REDIS_URL's (CI: 0 and 1). A
  ``cache.clear()`` (FLUSHDB, tests/workflows/test_api_auth.py), the log-in throttle's counts
  and Celery's queues stay within one worker. Redis has 16 databases unless configured
  otherwise: keep base + workers below that.
- Channel layer: pub/sub channels are shared by all Redis databases, so each worker gets its
  own prefix too (``asgi-gw0``...).
- ``var/`` (ACCORD_VAR_DIR: mail files, media, static files, SQLite files): each worker gets a
  temporary folder of its own, removed when it ends; the developer's ``var/`` is left alone.

Ports need nothing: pytest-django's live server and ``tests/notifications/servers.free_port``
ask the system for a free port.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest

_var_dir: str | None = None  # this worker's ACCORD_VAR_DIR, made here


def redis_url_for_worker(url: str, index: int) -> str:
    """``url`` moved ``index`` databases up: from ``/5`` to ``/6`` for index 1.

    The database is read where redis-py reads it: the path (``redis://host/5``) or, for
    Unix sockets, the ``db`` query parameter (``unix:///run/redis.sock?db=5``).
    """
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if parts.scheme == "unix" or "db" in query:
        base = int(query.get("db", ["0"])[0])
        query["db"] = [str(base + index)]
        return f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(query, doseq=True)}"
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{base + index}"))


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Runs before pytest-django's hook of the same name, which loads the settings."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    index = int(worker.removeprefix("gw"))
    if os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = redis_url_for_worker(os.environ["REDIS_URL"], index)
        prefix = os.environ.get("ACCORD_CHANNEL_PREFIX", "asgi")
        os.environ["ACCORD_CHANNEL_PREFIX"] = f"{prefix}-{worker}"
    global _var_dir
    _var_dir = tempfile.mkdtemp(prefix=f"accord-tests-{worker}-")
    os.environ["ACCORD_VAR_DIR"] = _var_dir


def pytest_unconfigure(config: pytest.Config) -> None:
    if _var_dir:
        shutil.rmtree(_var_dir, ignore_errors=True)
