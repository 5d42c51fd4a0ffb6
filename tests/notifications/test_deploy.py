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
from collections.abc import Callable
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

# How long the test waits for each thing to become true: generous, for a loaded machine (four
# processes start at once, each importing Django; on a busy CI runner that takes minutes).
# Only the waits are long: each is a poll of a condition, over as soon as it holds.
STARTING = 300
ANSWERING = 120
RUNNING = 180


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    """Poll ``condition`` every half second until it holds (True) or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


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
            return requests.get(f"http://127.0.0.1:{port}/connexion/", timeout=30).ok
        except requests.RequestException:  # not listening yet, or too busy to answer yet
            return False

    readiness = {
        "web.1": lambda: web_answers(base),
        "web.2": lambda: web_answers(base + 1),
        "worker": lambda: " ready." in log(),
        "beat": lambda: "beat: Starting" in log(),
    }
    started: set[str] = set()

    def all_started() -> bool:
        assert honcho.poll() is None, log()
        started.update(name for name, ready in readiness.items() if ready())
        return started == set(readiness)

    answers: list[requests.Response] = []

    def healthy() -> bool:
        try:
            answers.append(
                requests.get(f"http://127.0.0.1:{base}/sante/complete/?format=json", timeout=30)
            )
        except requests.RequestException:
            return False
        return answers[-1].status_code == 200

    try:
        assert wait_for(all_started, STARTING), (started, log())

        # The worker's first ping may come after its " ready." line on a busy machine: the
        # complete check is asked until it finds the worker, then must say OK for everything.
        assert wait_for(healthy, ANSWERING), (answers[-1].text if answers else "", log())
        assert "OK" in answers[-1].json().values()

        # A change on web.2 queues its notifications' delivery; the worker runs it and logs
        # the task's end with the id of the request that queued it.
        request_id = uuid.uuid4().hex
        response = requests.post(
            f"http://127.0.0.1:{base + 1}/api/v1/contracts/{contract.pk}"
            "/transitions/launch_review/",
            json={},
            headers={"Authorization": f"Token {token}", "X-Request-ID": request_id},
            timeout=ANSWERING,
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

        def succeeded() -> list[dict]:
            return [line for line in task_lines() if "succeeded" in line["message"]]

        wait_for(lambda: bool(succeeded()), RUNNING)
        ran = succeeded()
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
