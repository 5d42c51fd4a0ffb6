"""The load test's Locust users (benchmarks/load/) still match the site they drive: the pages
they open by URL name, the links they follow, the forms they post. Locust itself is not
imported (it monkey-patches the process, and it is only in the ``bench`` extra); the test
reads the locustfile's source. No load is run here: figures go to docs/benchmarks.md."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from django.urls import reverse

from benchmarks.load import population
from benchmarks.load.routes import NOTIFICATIONS_SOCKET, ROUTES, path
from benchmarks.walk import demo_document
from notifications.routing import websocket_urlpatterns
from workflows.forms import (
    DeliberationDecisionForm,
    ReviewDecisionForm,
    SignDecisionForm,
    VoteDecisionForm,
)

LOCUSTFILE = Path(population.__file__).with_name("locustfile.py")


def _source() -> ast.Module:
    return ast.parse(LOCUSTFILE.read_text(encoding="utf-8"))


def _constant(name: str) -> str:
    """The pattern given to re.compile for the module-level ``name``."""
    for node in _source().body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == name for target in node.targets
        ):
            assert isinstance(node.value, ast.Call)
            argument = node.value.args[0]
            assert isinstance(argument, ast.Constant)
            assert isinstance(argument.value, str)
            return argument.value
    raise AssertionError(f"{name} is not in the locustfile")


@pytest.mark.parametrize(("name", "template"), ROUTES.items())
def test_every_route_is_the_url_of_its_name(name, template):
    args = [7] * template.count("{}")
    assert reverse(name, args=args) == path(name, *args)


def test_the_locustfile_opens_only_named_routes():
    called = [
        node.args[0].value
        for node in ast.walk(_source())
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "path"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    ]
    assert set(called) <= set(ROUTES)
    # Every person's page is opened: the inbox, a task, the contract, its history, the
    # notification centre; the log-in's two steps.
    assert {
        "login",
        "login_code",
        "workflows:inbox",
        "workflows:task_detail",
        "workflows:contract_detail",
        "workflows:contract_history",
        "notifications:centre",
    } <= set(called)
    # No path written out by hand besides the routes.
    literals = [
        node.value
        for node in ast.walk(_source())
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]
    assert not [text for text in literals if text.startswith("/") and len(text) > 1]


def test_the_links_followed_are_the_pages_links():
    assert re.search(
        _constant("TASK_LINK"), f'href="{reverse("workflows:task_detail", args=[12])}"'
    )
    assert re.search(
        _constant("CONTRACT_LINK"), f'href="{reverse("workflows:contract_detail", args=[3])}"'
    )


def test_the_notifications_socket_is_routed():
    assert NOTIFICATIONS_SOCKET.strip("/") + "/" in [str(p.pattern) for p in websocket_urlpatterns]


def test_the_decisions_posted_are_the_forms_own():
    source = LOCUSTFILE.read_text(encoding="utf-8")
    assert {"approve", "request_changes"} == set(ReviewDecisionForm.decisions)
    assert "abstain" in VoteDecisionForm.decisions
    assert "abstain" not in ReviewDecisionForm.decisions  # how a vote's page is told apart
    assert DeliberationDecisionForm.decisions == ("record",)
    sign = SignDecisionForm(consent_label="", ask_code=True)
    assert {"decision", "password", "otp", "consent"} == set(sign.fields)
    for field in ("password=", "otp=", "consent=", "number=", "date="):
        assert field in source


def test_each_copy_of_the_demo_has_its_own_people():
    document = population.renamed(demo_document(1, "-L03"), 3)
    original = {person["username"] for person in demo_document()["people"]}
    text = json.dumps(document)
    assert not [name for name in original if f'"{name}"' in text]
    roles = population.roles_of(document)
    assert set(roles) <= {person["username"] for person in document["people"]}
    assert {"coordinator", "signatory", "committee", "lead"} == {
        role for held in roles.values() for role in held
    }
    assert len({person["email"] for person in document["people"]}) == len(document["people"])


BURNER = """
import subprocess, sys, time
def spin(seconds):
    start = time.process_time()
    while time.process_time() - start < seconds:
        pass
input()
spin(0.2)
subprocess.run([sys.executable, "-c", "import time\\nstart = time.process_time()\\n"
    "while time.process_time() - start < 0.15: pass"], check=True)
print("done", flush=True)
input()
"""


def test_the_cpu_ledger_gives_each_part_the_time_its_processes_spent():
    """What ``run`` reports as each part's CPU (benchmarks/load/cpu.py): a process of a part
    that burns 0.2 s of CPU, and has a child burn 0.15 s more and waits for it, is counted
    0.35 s; a part that sleeps is counted nothing; the machine's busy time covers both."""
    import subprocess
    import sys

    from benchmarks.load import cpu

    burner = subprocess.Popen(
        [sys.executable, "-c", BURNER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        start_new_session=True,
        text=True,
    )
    sleeper = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
    )
    assert burner.stdin is not None
    assert burner.stdout is not None
    try:
        parts = {"burner": [burner.pid], "sleeper": [sleeper.pid]}
        before = cpu.snapshot(parts)
        burner.stdin.write("go\n")
        burner.stdin.flush()
        assert burner.stdout.readline() == "done\n"
        after = cpu.snapshot(parts)
    finally:
        burner.kill()
        sleeper.kill()
        burner.wait()
        sleeper.wait()

    spent = cpu.spent(before, after)

    assert 0.33 <= spent["burner"] < 1.0
    assert spent["sleeper"] < 0.05
    assert spent["machine"] >= spent["burner"]
    assert spent["rest"] == pytest.approx(
        spent["machine"] - sum(v for k, v in spent.items() if k not in ("machine", "rest"))
    )


def test_the_settled_figures_leave_out_the_backlog_of_the_log_ins():
    """The steady state is read from ``settle`` seconds after the last user logged in: the
    slow answers queued behind the ramp's log-ins are left out, pages and decisions apart,
    and the windows still show the backlog."""
    from benchmarks.load.run import settled, windows

    last_log_in = 1_000.0
    backlog = [(last_log_in + i * 0.1, 2_500.0, "inbox") for i in range(100)]
    steady_pages = [(last_log_in + 40 + i * 0.1, 50.0 + i, "task page") for i in range(100)]
    steady_decisions = [(last_log_in + 45 + i, 300.0, "decision: signature") for i in range(20)]
    timed = backlog + steady_pages + steady_decisions

    steady = settled(timed, [900.0, last_log_in], settle=30)

    assert steady["count"] == 120
    assert steady["pages"]["p50"] == pytest.approx(100, abs=1)
    assert steady["pages"]["p95"] < 150
    assert steady["decisions"] == {"count": 20, "p50": 300.0, "p95": 300.0, "p99": 300.0}
    assert set(steady["by_name"]) == {"task page", "decision: signature"}
    by_window = windows(timed)
    assert by_window[0]["p50"] == 2_500.0
    assert by_window[-1]["decisions_p95"] == 300.0
