"""Accord served by real daphne processes sharing PostgreSQL and Redis, for the tests that
need more than one server process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from config import settings as accord_settings

ROOT = Path(__file__).resolve().parents[2]
DAPHNE = (sys.executable, "-m", "daphne", "-b", "127.0.0.1")


def require_services() -> None:
    """PostgreSQL and Redis are needed. Skipped on the embedded default run (no DATABASE_URL,
    no REDIS_URL: dev.py and CI run the suite on PostgreSQL and Redis first), failed instead
    of skipped when CI=true finds the services run without them."""
    missing = []
    if connection.vendor != "postgresql":
        missing.append("PostgreSQL (DATABASE_URL)")
    if not settings.REDIS_URL:
        missing.append("Redis (REDIS_URL)")
    if not missing:
        return
    reason = f"needs {' and '.join(missing)}"
    on_services_run = not settings.EMBEDDED or settings.REDIS_URL
    if on_services_run and os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI=true: this test may not be skipped", pytrace=False)
    pytest.skip(reason)


def collect_static(test_settings, static_root: Path) -> None:
    """`manage.py collectstatic`, run once per release as docs/deploy.md says, in-process: the
    servers' pages need the collected files and the manifest of Accord's own storage (the
    tests' pages get plain static files from tests/conftest.py). ``test_settings`` is
    pytest-django's ``settings`` fixture: both settings are restored after the test."""
    test_settings.STATIC_ROOT = static_root
    test_settings.STORAGES = {
        **test_settings.STORAGES,
        "staticfiles": accord_settings.STORAGES["staticfiles"],
    }
    call_command("collectstatic", interactive=False, verbosity=0)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url() -> str:
    """The URL of the database the tests use (pytest-django's test_ copy)."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return (
        f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        f"/{db['NAME']}"
    )


class Servers:
    """N daphne processes on free ports, one channel-layer prefix of their own."""

    def __init__(self, count: int, *, prefix: str = "", env: dict[str, str] | None = None) -> None:
        self.prefix = prefix or f"accord-test-{uuid.uuid4().hex[:8]}"
        self.ports = [free_port() for _ in range(count)]
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "DJANGO_SECRET_KEY": settings.SECRET_KEY,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "ACCORD_CHANNEL_PREFIX": self.prefix,
            "DJANGO_LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        self.processes: list[subprocess.Popen] = []

    def start(self) -> None:
        # Their errors go to a file, not a pipe nobody reads (a full pipe would block them).
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop())
        self.processes = [
            subprocess.Popen(
                [*DAPHNE, "-p", str(port), "config.asgi:application"],
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=self.log,
            )
            for port in self.ports
        ]

    def url(self, index: int, path: str = "", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.ports[index]}{path}"

    def wait_until_listening(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        for port, process in zip(self.ports, self.processes, strict=True):
            while True:
                if process.poll() is not None:
                    self.log.seek(0)
                    raise RuntimeError(f"daphne exited: {self.log.read().decode()[-2000:]}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"daphne not listening on {port}") from None
                    time.sleep(0.2)

    def __enter__(self) -> Servers:
        """Started and listening; stopped on the way out of the ``with``, however it ends."""
        self.start()
        try:
            self.wait_until_listening()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.log.close()
