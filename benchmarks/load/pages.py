"""CPU per page, one request at a time, on the load test's data: in the process (Django's test
client) and through one daphne process (its CPU read from /proc), so that a page's own cost and
the ASGI server's share are told apart from what the load test's concurrency adds.

    .venv/bin/python -m benchmarks.load.pages --run var/load/<time> [--requests 100]

``--run`` is a load test's folder (``benchmarks.load.run --out``): its last step's database
(``LOAD_DATABASE_URL``, left as the step ended), its accounts and its collected static files.
The signing keys are not needed: only pages are read. Method and figures: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import time
from pathlib import Path

from benchmarks.load.cpu import process_seconds
from benchmarks.load.run import (
    Processes,
    daphne_command,
    free_port,
    load_database_url,
    wait_until_answering,
)

ROLES = ("lead", "committee", "signatory", "coordinator")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a load test's folder")
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args(argv)
    accounts_file = max(args.run.glob("*/accounts.json"), key=lambda p: p.stat().st_mtime)
    os.environ.update(
        DATABASE_URL=load_database_url(),
        DJANGO_STATIC_ROOT=str(args.run / "static"),
        DJANGO_ALLOWED_HOSTS="testserver,127.0.0.1",
        DJANGO_DEBUG="false",
        DJANGO_SECURE_COOKIES="false",
        ACCORD_DB_POOL_MAX_SIZE="8",
        ACCORD_DB_PREPARE_THRESHOLD="5",
        DJANGO_LOG_LEVEL="WARNING",
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.test import Client

    from workflows.models import Task, TaskStatus, User

    population = json.loads(accounts_file.read_text(encoding="utf-8"))
    port = free_port()
    server = Processes(args.run)  # its log beside the run's: pages-daphne.log
    daemon = server.start("pages-daphne", daphne_command(port), dict(os.environ))
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/sante/", server)
        print(f"{args.requests} requests each, one at a time; CPU per request in ms\n")
        print("| role | page | in the process | through daphne |")
        print("|---|---|---:|---:|")
        for role in ROLES:
            account = next(a for a in population["accounts"] if a["role"] == role)
            person = User.objects.get(username=account["username"])
            client = Client()
            client.force_login(person)
            task = (
                Task.objects.filter(owner=person, status=TaskStatus.ASSIGNED).order_by("pk").first()
            )
            pages = ["/taches/", f"/contrats/{account['contract']}/", "/notifications/"]
            if task is not None:
                pages.insert(1, f"/taches/{task.pk}/")
            session = client.cookies[settings.SESSION_COOKIE_NAME].value
            cookie = f"{settings.SESSION_COOKIE_NAME}={session}"
            served = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            headers = {"Cookie": cookie, "Host": "127.0.0.1"}
            for page in pages:
                for _ in range(5):  # caches, prepared statements
                    assert client.get(page).status_code == 200
                started = time.process_time()
                for _ in range(args.requests):
                    client.get(page)
                inside = (time.process_time() - started) * 1000 / args.requests
                for _ in range(5):
                    served.request("GET", page, headers=headers)
                    answer = served.getresponse()
                    answer.read()
                    assert answer.status == 200, (page, answer.status)
                started = process_seconds(daemon.pid)
                for _ in range(args.requests):
                    served.request("GET", page, headers=headers)
                    served.getresponse().read()
                through = (process_seconds(daemon.pid) - started) * 1000 / args.requests
                print(f"| {role} | `{page}` | {inside:.1f} | {through:.1f} |")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
