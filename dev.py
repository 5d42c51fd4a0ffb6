#!/usr/bin/env python3
"""Set up and run Accord, or its test suite, with nothing installed but Python 3.11+.

    python3 dev.py run     # the demo on http://127.0.0.1:8000 (embedded default: SQLite)
    python3 dev.py test    # lint, import contracts, types, then the whole test suite

Both create `.venv/` and install the project into it the first time (and again whenever
pyproject.toml changes); `test` adds the test tools once. With CI=true (or --services), `test`
also runs the suite against PostgreSQL and Redis, from DATABASE_URL / REDIS_URL or the local
defaults, then again on the embedded default only the tests that depend on it (marked
`embedded`). Arguments after `test` go to pytest (`python3 dev.py test -k history`); the suite
runs on one worker process per core (pytest-xdist).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
STAMP = VENV / ".accord-installed"
# The single sign-on tests' OpenID provider: a Node.js script and its npm packages.
OIDC_PROVIDER = ROOT / "tests" / "oidc"
# axe-core, which the browser tests inject into pages to check their accessibility.
AXE = ROOT / "tests" / "browser" / "axe"
# The test folders whose npm packages `npm ci` installs, each with its package-lock.json.
NPM_TEST_PACKAGES = (OIDC_PROVIDER, AXE)

LOCAL_POSTGRES = "postgres://postgres@127.0.0.1:5432/accord"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"
# pytest-xdist worker processes: one per core (2 on CI). The suite is mostly Python on the CPU:
# more workers than cores cost each one's Django setup and test database for no steady gain.
WORKERS = "auto"


def say(message: str) -> None:
    print(f"\033[1m==> {message}\033[0m", flush=True)


# pytest's exit status when its selection holds no test (`test -k` naming none that is marked).
NO_TESTS_COLLECTED = 5


def run(
    *command: str | Path,
    env: dict[str, str] | None = None,
    cwd: Path = ROOT,
    no_tests_ok: bool = False,
) -> None:
    completed = subprocess.run([str(part) for part in command], cwd=cwd, env=env, check=False)
    if completed.returncode == NO_TESTS_COLLECTED and no_tests_ok:
        return
    if completed.returncode:
        sys.exit(completed.returncode)


def ensure_environment(extra: str = "") -> None:
    """Create the virtualenv and install the project, with `extra` too, when missing or stale.

    The stamp in .venv/ records the hash of pyproject.toml and the extras installed with it.
    `run` needs the project, `test` the project and its test extra: once a command's needs are
    covered, nothing is installed, so going from `test` to `run` and back installs nothing. An
    edit of pyproject.toml reinstalls, with every extra installed so far (a later `run` must
    not leave the test tools out of date for the next `test`).
    """
    if sys.version_info < (3, 11):  # noqa: UP036 — dev.py may be started by an older python3
        sys.exit("Accord needs Python 3.11 or newer.")
    pyproject = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    stamp = read_stamp()
    installed = set(stamp.get("extras", []))
    extras = installed | {extra} if extra else installed
    if stamp.get("pyproject") == pyproject and extras == installed:
        return
    if not PYTHON.exists():
        say("Creating the virtual environment in .venv/")
        venv.create(VENV, with_pip=True)
    say("Installing Accord and its dependencies (once, and when pyproject.toml changes)")
    run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    target = f".[{','.join(sorted(extras))}]" if extras else "."
    run(PYTHON, "-m", "pip", "install", "--quiet", "--editable", target)
    STAMP.write_text(json.dumps({"pyproject": pyproject, "extras": sorted(extras)}))


def read_stamp() -> dict[str, Any]:
    """What the last install recorded; nothing for a missing or older-format stamp."""
    try:
        stamp = json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return {}
    return stamp if isinstance(stamp, dict) else {}


def ensure_test_provider() -> None:
    """The npm packages the tests use, exactly as each package-lock.json says, from the npm
    registry: the OpenID provider that the single sign-on tests start (tests/oidc/, panva's
    oidc-provider) and axe-core, which the browser tests run in pages (tests/browser/axe/).
    `npm ci` once per folder, and again whenever its lock changes. Without npm those tests are
    skipped, except with CI=true, where they fail (.ci/run installs npm when it is missing)."""
    npm = shutil.which("npm")
    if npm is None:
        say("npm not found: the single sign-on and accessibility tests will be skipped")
        return
    for folder in NPM_TEST_PACKAGES:
        lock = hashlib.sha256((folder / "package-lock.json").read_bytes()).hexdigest()
        stamp = folder / "node_modules" / ".accord-installed"
        if stamp.exists() and stamp.read_text() == lock:
            continue
        say(f"Installing the tests' npm packages ({folder.relative_to(ROOT)}: npm ci)")
        run(npm, "ci", "--no-audit", "--no-fund", "--loglevel=error", cwd=folder)
        stamp.write_text(lock)


def embedded_env() -> dict[str, str]:
    """The embedded default: no server needed."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    return env


def services_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", LOCAL_POSTGRES)
    env.setdefault("REDIS_URL", LOCAL_REDIS)
    env.setdefault("DJANGO_SECRET_KEY", "ci-only-" + hashlib.sha256(os.urandom(16)).hexdigest())
    env.setdefault("ACCORD_SIGNING_KEY", "ci-only-" + hashlib.sha256(os.urandom(16)).hexdigest())
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    return env


def command_run(args: argparse.Namespace) -> None:
    ensure_environment()
    env = embedded_env()
    manage = (PYTHON, "manage.py")
    say("Preparing the database (var/accord.sqlite3)")
    run(*manage, "migrate", "--no-input", "-v", "0", env=env)
    run(*manage, "collectstatic", "--no-input", "-v", "0", env=env)
    run(*manage, "load_demo", env=env)
    say(f"Accord is served on http://{args.host}:{args.port}/  (Ctrl+C to stop)")
    run(
        PYTHON,
        "-m",
        "daphne",
        "-b",
        args.host,
        "-p",
        str(args.port),
        "config.asgi:application",
        env=env,
    )


def command_test(args: argparse.Namespace) -> None:
    ensure_environment("test")
    say("Lint (ruff)")
    run(BIN / "ruff", "check", ".")
    run(BIN / "ruff", "format", "--check", ".")
    say("Imports between the apps (import-linter, .importlinter)")
    run(BIN / "lint-imports")
    say("Types (mypy, mypy.ini)")
    # The Django plugin loads the settings: the embedded ones, whatever the environment says.
    run(BIN / "mypy", env=embedded_env())
    ensure_test_provider()
    # In parallel: each worker has its own test database, Redis database, channel prefix and
    # var/ (tests/workers.py). Given after ours, the caller's own -n (-n 0: one process) wins.
    # Work stealing: a worker that runs out takes tests queued for the other, so that the long
    # tests run first (tests/conftest.py: LONGEST_FIRST) never leave one worker alone at the end.
    pytest = (PYTHON, "-m", "pytest", "-n", WORKERS, "--dist", "worksteal")
    with_services = args.services or os.environ.get("CI", "").lower() == "true"
    if not with_services:
        say("Test suite on the embedded default (SQLite, in-memory channel layer, eager tasks)")
        run(*pytest, *args.pytest_args, env=embedded_env())
        return
    say("Test suite on PostgreSQL and Redis")
    run(*pytest, "--create-db", *args.pytest_args, env=services_env())
    # Then only the tests whose behaviour depends on the embedded default (marked `embedded`,
    # tests/conftest.py: EMBEDDED_DEPENDENT): SQLite's locking and SQL, the in-memory channel
    # layer, eager tasks, the local-memory cache. The others exercise the same Python on
    # either database and have just passed on PostgreSQL: running them again on SQLite took
    # a third of CI's time for no behaviour of its own (docs/benchmarks.md, "CI time").
    say("The embedded default's own tests (SQLite, in-memory channel layer, eager tasks)")
    run(*pytest, "-m", "embedded", *args.pytest_args, env=embedded_env(), no_tests_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="set up and serve the demo")
    run_parser.add_argument("--host", default="127.0.0.1")
    run_parser.add_argument("--port", type=int, default=8000)
    run_parser.set_defaults(handler=command_run)
    test_parser = commands.add_parser(
        "test",
        help="set up and run lint and the test suite; other arguments go to pytest",
        usage="%(prog)s [--services] [PYTEST ARGUMENTS...]",
        allow_abbrev=False,  # pytest's own options are never taken for an abbreviated --services
    )
    test_parser.add_argument(
        "--services", action="store_true", help="also run on PostgreSQL and Redis (as CI does)"
    )
    test_parser.set_defaults(handler=command_test)
    # Whatever `test` does not know goes to pytest, options included (`test -k history`): an
    # argparse.REMAINDER positional would refuse a first extra argument that is an option.
    args, unknown = parser.parse_known_args()
    if unknown and args.command != "test":
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.pytest_args = unknown[1:] if unknown[:1] == ["--"] else unknown
    args.handler(args)


if __name__ == "__main__":
    main()
