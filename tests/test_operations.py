"""What an operator relies on (docs/operations.md): health endpoints a load balancer can ask,
metrics Prometheus can scrape, logs carrying the request id, and a backup that restores into
a fresh database where the histories and the signed documents still verify."""

from __future__ import annotations

import datetime
import json
import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError, connection
from django.utils import timezone
from django_guid import set_guid
from django_guid.log_filters import CorrelationId
from psycopg_pool import PoolTimeout
from pythonjsonlogger.json import JsonFormatter
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from signatures.models import ContractDocument
from tests.factories import ActionFactory, ContractFactory, SignatoryFactory, UserFactory
from tests.flows import (
    launch,
    record_deliberation,
    sign_all,
    walk_to_deliberation,
    walk_to_signed,
    worker_seals,
)
from workflows import services
from workflows.models import TaskKind

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


# --- Health -------------------------------------------------------------------------------


def test_the_serving_health_check_answers_200_in_json(client):
    response = client.get("/sante/?format=json")

    assert response.status_code == 200
    checks = response.json()
    assert {"Database", "Storage"} <= {name.split("(")[0] for name in checks}
    if settings.REDIS_URL:
        assert checks["Redis"] == "OK"
    assert response["Cache-Control"].startswith("max-age=0")


def test_redis_away_makes_the_health_check_fail_naming_it(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    settings.ACCORD_HEALTH_TIMEOUT = 0.5

    response = client.get("/sante/?format=json")

    assert response.status_code == 503
    assert "Unable to connect to Redis" in response.json()["Redis"]
    assert "127.0.0.1" not in response.content.decode()  # no address given out


def test_the_complete_check_asks_the_celery_workers(client, settings):
    """No worker runs in the tests: monitoring's check says so, the load balancer's does not."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.ACCORD_HEALTH_TIMEOUT = 0.5
    if not settings.REDIS_URL:
        pytest.skip("the embedded default runs its tasks in-process: no worker to ask")

    complete = client.get("/sante/complete/?format=json")

    assert complete.status_code == 503
    assert "Celery" in " ".join(complete.json().values()) or "Ping" in complete.json()
    assert client.get("/sante/?format=json").status_code == 200


# --- Metrics ------------------------------------------------------------------------------


def test_metrics_are_off_without_a_token_and_refused_with_a_wrong_one(client, settings):
    settings.ACCORD_METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404

    settings.ACCORD_METRICS_TOKEN = "s3cr3t-metrics-token-for-the-test"
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'


def test_metrics_count_open_tasks_and_decisions(client, settings, contract, coordinator):
    settings.ACCORD_METRICS_TOKEN = "s3cr3t-metrics-token-for-the-test"
    lead = UserFactory()

    for _ in range(3):
        ActionFactory(contract=contract).working_group.leads.set([lead])
    launch(contract, coordinator)
    task = contract.tasks.filter(kind=TaskKind.REVIEW).first()
    services.task_decide(task=task, actor=lead, decision=services.Decision("approve"))

    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cr3t-metrics-token-for-the-test")

    assert response.status_code == 200
    text = response.content.decode()
    assert 'accord_open_tasks{kind="review"} 2.0' in text
    assert 'accord_decisions_total{decision="approve",kind="review"} 1.0' in text
    assert 'accord_webhook_deliveries{status="failed"} 0.0' in text
    assert "accord_notifications_pending" in text
    # django-prometheus's own, from the middleware.
    assert "django_http_requests_total_by_method_total" in text


def test_a_seal_the_worker_has_not_stored_is_a_metric_and_an_old_one_is_overdue(
    client, settings, contract, coordinator
):
    settings.ACCORD_METRICS_TOKEN = "s3cr3t-metrics-token-for-the-test"
    ActionFactory(contract=contract)
    SignatoryFactory(contract=contract)
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)
    sign_all(contract, worker_seals_then=False)  # nothing commits in a test

    def scraped() -> str:
        return client.get(
            "/metrics", HTTP_AUTHORIZATION="Bearer s3cr3t-metrics-token-for-the-test"
        ).content.decode()

    assert "accord_seals_pending 1.0" in scraped()
    assert "accord_seals_overdue 0.0" in scraped()
    ContractDocument.objects.filter(contract=contract).update(
        seal_requested_at=timezone.now() - datetime.timedelta(hours=1)
    )
    assert "accord_seals_overdue 1.0" in scraped()
    worker_seals()
    assert "accord_seals_pending 0.0" in scraped()
    assert "accord_seals_overdue 0.0" in scraped()


def test_the_history_check_result_is_a_metric(client, settings):
    settings.ACCORD_METRICS_TOKEN = "s3cr3t-metrics-token-for-the-test"
    from workflows.tasks import verify_histories

    ContractFactory()
    verify_histories()

    text = client.get(
        "/metrics", HTTP_AUTHORIZATION="Bearer s3cr3t-metrics-token-for-the-test"
    ).content.decode()
    assert "accord_history_chains_broken 0.0" in text
    assert "accord_history_check_timestamp_seconds" in text


# --- Overload ------------------------------------------------------------------------------


def _no_connection_in_time(*args, **kwargs):
    """What Django raises when the pool has no free connection within its timeout."""
    try:
        raise PoolTimeout("couldn't get a connection after 10.00 sec")
    except PoolTimeout as timeout:
        raise OperationalError(*timeout.args) from timeout


@pytest.mark.django_db
def test_no_free_connection_in_time_answers_503_saying_to_try_again(client, monkeypatch):
    person = UserFactory()
    client.force_login(person)
    monkeypatch.setattr("workflows.views.tasks.inbox_of", _no_connection_in_time)
    response = client.get("/taches/")
    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    page = response.content.decode()
    assert "Accord est très sollicité" in page
    assert "Veuillez réessayer dans un instant." in page

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=person).key}")
    monkeypatch.setattr("workflows.api.views.inbox_of", _no_connection_in_time)
    answer = api.get("/api/v1/inbox/", HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 503
    assert answer["Retry-After"] == "10"
    assert answer.json() == {
        "detail": "Accord is very busy right now: nothing was done. Please try again in a moment."
    }


@pytest.mark.django_db
def test_another_database_error_is_not_taken_for_overload(client, monkeypatch):
    client.force_login(UserFactory())

    def broken(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("workflows.views.tasks.inbox_of", broken)
    with pytest.raises(OperationalError):  # a 500, recorded as one
        client.get("/taches/")


# --- Request id ---------------------------------------------------------------------------


def test_the_proxys_request_id_is_returned(client):
    request_id = str(uuid.uuid4()).replace("-", "")
    response = client.get("/connexion/", HTTP_X_REQUEST_ID=request_id)
    assert response["X-Request-ID"] == request_id


def test_a_json_log_line_carries_the_request_id():
    """The formatter and filter of settings.LOGGING, as production configures them."""
    config = dict(settings.LOGGING["formatters"]["json"])
    config.pop("()")
    config["fmt"] = config.pop("format")  # as logging's dictConfig passes it
    formatter = JsonFormatter(**config)
    set_guid("0f1e2d3c4b5a69788796a5b4c3d2e1f0")
    record = logging.LogRecord("workflows", logging.INFO, __file__, 1, "Décision", None, None)
    CorrelationId().filter(record)

    line = json.loads(formatter.format(record))

    assert line["request_id"] == "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    assert line["message"] == "Décision"
    assert line["level"] == "INFO"
    assert line["logger"] == "workflows"


# --- Backup and restore drill -------------------------------------------------------------


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="backups are of PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_a_backup_restores_into_a_fresh_database_where_everything_verifies(tmp_path, settings):
    coordinator = UserFactory(username="coordination")
    contract = ContractFactory(reference="CLS-DRILL-1", coordinator=coordinator)
    ActionFactory(contract=contract)
    walk_to_signed(contract, coordinator)

    services.attachment_add(
        contract=contract,
        actor=coordinator,
        kind="diagnostic",
        upload=SimpleUploadedFile("diagnostic.pdf", b"%PDF-1.4\n%%EOF\n"),
    )
    call_command("verify_history", stdout=open(os.devnull, "w"))  # noqa: SIM115  (a head file)
    call_command("backup", str(tmp_path / "backup"), stdout=open(os.devnull, "w"))  # noqa: SIM115

    restored = f"{settings.DATABASES['default']['NAME']}_restored"
    admin = {
        "host": settings.DATABASES["default"]["HOST"] or None,
        "port": settings.DATABASES["default"]["PORT"] or None,
        "user": settings.DATABASES["default"]["USER"] or None,
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**admin) as server:
        server.execute(f'DROP DATABASE IF EXISTS "{restored}"')
        server.execute(f'CREATE DATABASE "{restored}"')
    try:
        url = settings.DATABASES["default"]
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{url['USER']}@{url['HOST']}:{url['PORT']}/{restored}",
            "DJANGO_MEDIA_ROOT": str(tmp_path / "restored-media"),
            "ACCORD_ANCHORS_DIR": str(tmp_path / "restored-anchors"),
        }
        restore = _manage("restore", str(tmp_path / "backup"), env=env)
        assert restore.returncode == 0, restore.stderr
        assert "history heads match" in restore.stdout

        history = _manage("verify_history", env=env)
        assert history.returncode == 0, history.stderr
        assert "CLS-DRILL-1: OK" in history.stdout
        document = _manage("verify_document", "CLS-DRILL-1", env=env)
        assert document.returncode == 0, document.stdout + document.stderr
        files = list((tmp_path / "restored-media").rglob("*"))
        assert any(path.is_file() for path in files), "the attachment is restored"
        # The signed head files too, against which the restored chains were just checked.
        assert list((tmp_path / "restored-anchors").glob("*.json"))

        # Restoring again over the restored copy is refused, naming why.
        again = _manage("restore", str(tmp_path / "backup"), env=env)
        assert again.returncode != 0
        assert "is not empty" in again.stderr
    finally:
        with psycopg.connect(**admin) as server:
            server.execute(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')


@pytest.mark.skipif(connection.vendor != "postgresql", reason="backups are of PostgreSQL")
def test_a_damaged_backup_is_refused_before_anything_is_restored(tmp_path):
    backup = tmp_path / "backup"
    backup.mkdir()
    (backup / "database.dump").write_bytes(b"not a dump")
    (backup / "files.tar.gz").write_bytes(b"")
    (backup / "manifest.json").write_text(
        json.dumps(
            {
                "format": 1,
                "files": {
                    "database.dump": {"bytes": 10, "sha256": "0" * 64},
                    "files.tar.gz": {"bytes": 0, "sha256": "0" * 64},
                },
                "contracts": {},
            }
        )
    )
    with pytest.raises(CommandError, match=r"database\.dump is not the file backed up"):
        call_command("restore", str(backup))
