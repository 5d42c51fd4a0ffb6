"""docs/deploy.md's Procfile starts: two web processes answer, the Celery worker is ready and
beat starts, all against PostgreSQL and Redis; the complete health check finds the worker,
and a request's id is on the JSON log lines of the task it queued, run by that worker
(docs/operations.md)."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
from rest_framework.authtoken.models import Token

from tests.factories import (
    ActionFactory,
    ContractFactory,
    SignatoryFactory,
    SteeringCommitteeFactory,
    UserFactory,
)
from tests.notifications.servers import (
    ROOT,
    collect_static,
    database_url,
    free_port,
    require_services,
)

pytestmark = pytest.mark.django_db(transaction=True)


def two_free_ports() -> int:
    """A base port whose next one is free too (honcho gives web.2 the base + 1)."""
    for _ in range(50):
        base = free_port()
        try:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", base + 1))
            return base
        except OSError:
            continue
    raise RuntimeError("no two consecutive free ports")


def test_the_procfile_starts_two_web_processes_a_worker_and_beat(settings, tmp_path):
    require_services()
    base = two_free_ports()
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "ACCORD_CHANNEL_PREFIX": f"accord-deploy-test-{base}",
        "ACCORD_VAR_DIR": str(tmp_path),
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "DJANGO_LOG_LEVEL": "INFO",
        "ACCORD_LOG_FORMAT": "json",
    }
    coordinator = UserFactory(username="coordination")
    contract = ContractFactory(coordinator=coordinator)
    SteeringCommitteeFactory(contract=contract)
    SignatoryFactory(contract=contract)
    ActionFactory(contract=contract).working_group.leads.set([UserFactory()])
    token = Token.objects.create(user=coordinator).key
    # Once per release, as docs/deploy.md says: the pages need the collected static files.
    collect_static(settings, tmp_path / "static")
    honcho = subprocess.Popen(
        [str(Path(bin_dir) / "honcho"), "start", "-c", "web=2", "-p", str(base), "--no-colour"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped as one below
    )
    output: list[str] = []
    reader = threading.Thread(
        target=lambda: output.extend(line.decode(errors="replace") for line in honcho.stdout),
        daemon=True,
    )
    reader.start()

    def log() -> str:
        return "".join(output)

    def web_answers(port: int) -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{port}/connexion/", timeout=5).ok
        except requests.ConnectionError:
            return False

    try:
        deadline = time.monotonic() + 120
        started = {}
        while time.monotonic() < deadline and len(started) < 4:
            started.update(
                {
                    name: True
                    for name, ok in {
                        "web.1": web_answers(base),
                        "web.2": web_answers(base + 1),
                        "worker": " ready." in log(),
                        "beat": "beat: Starting" in log(),
                    }.items()
                    if ok
                }
            )
            assert honcho.poll() is None, log()
            time.sleep(0.5)
        assert set(started) == {"web.1", "web.2", "worker", "beat"}, log()

        health = requests.get(f"http://127.0.0.1:{base}/sante/complete/?format=json", timeout=30)
        assert health.status_code == 200, health.text
        assert "OK" in health.json().values()

        # A change on web.2 queues its notifications' delivery; the worker runs it and logs
        # the task's end with the id of the request that queued it.
        request_id = uuid.uuid4().hex
        response = requests.post(
            f"http://127.0.0.1:{base + 1}/api/v1/contracts/{contract.pk}"
            "/transitions/launch_review/",
            json={},
            headers={"Authorization": f"Token {token}", "X-Request-ID": request_id},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        assert response.headers["X-Request-ID"] == request_id

        def task_lines() -> list[dict]:
            lines = []
            for line in log().splitlines():
                _, _, text = line.partition("| ")  # honcho's "12:00:00 worker.1 | " prefix
                if text.startswith("{") and request_id in text:
                    lines.append(json.loads(text))
            return lines

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
            "succeeded" in line["message"] for line in task_lines()
        ):
            time.sleep(0.5)
        ran = [line for line in task_lines() if "succeeded" in line["message"]]
        assert ran, log()
        assert ran[0]["request_id"] == request_id
        assert ran[0]["logger"] == "celery.app.trace"
    finally:
        os.killpg(honcho.pid, signal.SIGTERM)
        try:
            honcho.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)
            honcho.wait()
