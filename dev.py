#!/usr/bin/env python3
"""Set up and run Accord, or its test suite, with nothing installed but Python 3.11+.

    python3 dev.py run     # the demo on http://127.0.0.1:8000 (embedded default: SQLite)
    python3 dev.py test    # lint + the whole test suite

Both create `.venv/` and install the project into it the first time (and again whenever
pyproject.toml changes). With CI=true (or --services), `test` also runs the suite against
PostgreSQL and Redis, from DATABASE_URL / REDIS_URL or the local defaults.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
STAMP = VENV / ".accord-installed"

LOCAL_POSTGRES = "postgres://postgres@127.0.0.1:5432/accord"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"


def say(message: str) -> None:
    print(f"\033[1m==> {message}\033[0m", flush=True)


def run(*command: str | Path, env: dict[str, str] | None = None) -> None:
    completed = subprocess.run([str(part) for part in command], cwd=ROOT, env=env, check=False)
    if completed.returncode:
        sys.exit(completed.returncode)


def ensure_environment(extras: str = "") -> None:
    """Create the virtualenv and install the project when missing or out of date."""
    if sys.version_info < (3, 11):  # noqa: UP036 — dev.py may be started by an older python3
        sys.exit("Accord needs Python 3.11 or newer.")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not PYTHON.exists():
        say("Creating the virtual environment in .venv/")
        venv.create(VENV, with_pip=True)
    say("Installing Accord and its dependencies (first run only)")
    run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    target = f".[{extras}]" if extras else "."
    run(PYTHON, "-m", "pip", "install", "--quiet", "--editable", target)
    STAMP.write_text(wanted)


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
    pytest = (PYTHON, "-m", "pytest", *args.pytest_args)
    with_services = args.services or os.environ.get("CI", "").lower() == "true"
    if with_services:
        say("Test suite on PostgreSQL and Redis")
        run(*pytest, "--create-db", env=services_env())
    say("Test suite on the embedded default (SQLite, in-memory channel layer, eager tasks)")
    run(*pytest, env=embedded_env())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="set up and serve the demo")
    run_parser.add_argument("--host", default="127.0.0.1")
    run_parser.add_argument("--port", type=int, default=8000)
    run_parser.set_defaults(handler=command_run)
    test_parser = commands.add_parser("test", help="set up and run lint and the test suite")
    test_parser.add_argument(
        "--services", action="store_true", help="also run on PostgreSQL and Redis (as CI does)"
    )
    test_parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed to pytest")
    test_parser.set_defaults(handler=command_test)
    args = parser.parse_args()
    args.handler(args)


if __name__ == "__main__":
    main()
