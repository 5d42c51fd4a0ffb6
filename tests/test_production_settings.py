"""Production settings: `check --deploy` is clean with the environment docs/deploy.md gives,
and a production start refuses a weak DJANGO_SECRET_KEY. Each runs the settings in a fresh
interpreter, with nothing of the test run's environment but PATH."""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def documented_environment() -> dict[str, str]:
    """The `export NAME=value` lines of docs/deploy.md's "Environment", each secret ("...")
    replaced by a freshly generated one as the text says to."""
    text = (ROOT / "docs" / "deploy.md").read_text()
    block = text.split("## Environment", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    exported = dict(re.findall(r"^export (\w+)=(\S+)", block, re.MULTILINE))
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "DJANGO_SECURE_HSTS_SECONDS"} <= set(exported)
    return {
        name: secrets.token_urlsafe(50) if value == "..." else value
        for name, value in exported.items()
    }


def test_check_deploy_is_clean_with_the_documented_production_environment(tmp_path):
    env = {"PATH": os.environ["PATH"], "ACCORD_VAR_DIR": str(tmp_path), **documented_environment()}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


# Imports config/settings.py once per case, in one interpreter; prints what each one said.
LOAD_SETTINGS = """
import json, os, runpy, sys
from django.core.exceptions import ImproperlyConfigured
outcomes = []
for env in json.loads(sys.argv[1]):
    for name in ("DATABASE_URL", "DJANGO_DEBUG", "DJANGO_SECRET_KEY", "ACCORD_SIGNING_KEY"):
        os.environ.pop(name, None)
    os.environ.update(env)
    try:
        runpy.run_path("config/settings.py")
    except ImproperlyConfigured as refused:
        outcomes.append(str(refused))
    else:
        outcomes.append("started")
print(json.dumps(outcomes))
"""

PRODUCTION = {"DATABASE_URL": "postgres://accord@db.internal:5432/accord"}
STRONG = secrets.token_urlsafe(50)


def start(cases: list[dict[str, str]], tmp_path) -> list[str]:
    env = {"PATH": os.environ["PATH"], "ACCORD_VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", LOAD_SETTINGS, json.dumps(cases)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_production_start_refuses_a_weak_secret_key_and_says_why(tmp_path):
    weak = {
        "short": "a-random-looking-but-short-key-Zq81",
        "few different characters": "x" * 60,
        "Django's generated default": "django-insecure-" + secrets.token_urlsafe(50),
        "the embedded default": "embedded-default-only-not-a-secret",
        "none": "",
    }
    said = start([{**PRODUCTION, "DJANGO_SECRET_KEY": key} for key in weak.values()], tmp_path)

    assert dict(zip(weak, said, strict=True)) == {
        "short": "DJANGO_SECRET_KEY is too weak for production: it has 35 characters, fewer"
        " than 50. Generate one with `python3 -c 'import secrets;"
        " print(secrets.token_urlsafe(50))'` (docs/security.md).",
        "few different characters": "DJANGO_SECRET_KEY is too weak for production: it has only"
        " 1 different characters, fewer than 10. Generate one with `python3 -c 'import secrets;"
        " print(secrets.token_urlsafe(50))'` (docs/security.md).",
        "Django's generated default": "DJANGO_SECRET_KEY is too weak for production: it is a"
        " published default. Generate one with `python3 -c 'import secrets;"
        " print(secrets.token_urlsafe(50))'` (docs/security.md).",
        "the embedded default": "DJANGO_SECRET_KEY is too weak for production: it has 34"
        " characters, fewer than 50. Generate one with `python3 -c 'import secrets;"
        " print(secrets.token_urlsafe(50))'` (docs/security.md).",
        "none": "DJANGO_SECRET_KEY must be set when DATABASE_URL is set.",
    }


def test_a_strong_key_starts_and_development_needs_none(tmp_path):
    said = start(
        [
            {**PRODUCTION, "DJANGO_SECRET_KEY": STRONG},
            {**PRODUCTION, "DJANGO_DEBUG": "true", "DJANGO_SECRET_KEY": "dev"},
            {},  # the embedded default
        ],
        tmp_path,
    )
    assert said == ["started", "started", "started"]


def test_a_production_start_refuses_a_weak_signing_key_and_says_why(tmp_path):
    """ACCORD_SIGNING_KEY encrypts every signing key: as the secret key, a weak one is refused
    (a previous one, kept for a rotation, is not checked: rotating away from it is the point)."""
    weak = {
        "short": "a-random-looking-but-short-key",
        "few different characters": "y" * 40,
        "the embedded default": "embedded-default-only-not-a-secret",
    }
    said = start(
        [
            {**PRODUCTION, "DJANGO_SECRET_KEY": STRONG, "ACCORD_SIGNING_KEY": key}
            for key in weak.values()
        ]
        + [
            {
                **PRODUCTION,
                "DJANGO_SECRET_KEY": STRONG,
                "ACCORD_SIGNING_KEY": secrets.token_urlsafe(32),
                "ACCORD_SIGNING_KEY_PREVIOUS": "old-weak-key",
            }
        ],
        tmp_path,
    )

    advice = (
        " Generate one with `python3 -c 'import secrets; print(secrets.token_urlsafe(50))'`"
        " and rotate to it (docs/security.md)."
    )
    assert said == [
        "ACCORD_SIGNING_KEY is too weak for production: it has 30 characters, fewer than 32."
        + advice,
        "ACCORD_SIGNING_KEY is too weak for production: it has only 1 different characters,"
        " fewer than 10." + advice,
        "ACCORD_SIGNING_KEY is too weak for production: it is a published default." + advice,
        "started",
    ]


# Imports config/settings.py once per case; prints the database's options, or the refusal.
LOAD_DATABASE = """
import json, os, runpy, sys
from django.core.exceptions import ImproperlyConfigured
outcomes = []
for env in json.loads(sys.argv[1]):
    for name in list(os.environ):
        if name.startswith(("ACCORD_DB_", "ACCORD_PGBOUNCER_")):
            del os.environ[name]
    os.environ.update(env)
    try:
        database = runpy.run_path("config/settings.py")["DATABASES"]["default"]
    except ImproperlyConfigured as refused:
        outcomes.append(str(refused))
    else:
        options = database.get("OPTIONS", {})
        pool = options.get("pool")
        outcomes.append({
            "pool": pool,
            "checked before use": database["CONN_HEALTH_CHECKS"],
            "prepare_threshold": options.get("prepare_threshold"),
            "server_side_binding": options.get("server_side_binding", False),
            "server-side cursors": not database["DISABLE_SERVER_SIDE_CURSORS"],
        })
print(json.dumps(outcomes))
"""


def test_the_connection_pool_and_prepared_statements_are_set_by_the_environment(tmp_path):
    """Off by default; the pool and prepared statements on demand; neither behind PgBouncer in
    transaction mode, which would break them (docs/deploy.md)."""
    base = {**PRODUCTION, "DJANGO_SECRET_KEY": STRONG, "ACCORD_SIGNING_KEY": STRONG}
    cases = [
        {},
        {"ACCORD_DB_POOL_MAX_SIZE": "12", "ACCORD_DB_PREPARE_THRESHOLD": "5"},
        {"ACCORD_DB_POOL_MAX_SIZE": "1", "ACCORD_DB_POOL_TIMEOUT": "2.5"},
        {"ACCORD_PGBOUNCER_TRANSACTION_POOLING": "true"},
        {"ACCORD_PGBOUNCER_TRANSACTION_POOLING": "true", "ACCORD_DB_POOL_MAX_SIZE": "8"},
        {"ACCORD_PGBOUNCER_TRANSACTION_POOLING": "true", "ACCORD_DB_PREPARE_THRESHOLD": "5"},
        {"ACCORD_PGBOUNCER_TRANSACTION_POOLING": "true", "ACCORD_DB_PREPARE_THRESHOLD": ""},
        {"ACCORD_DB_PREPARE_THRESHOLD": "five"},
    ]
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            LOAD_DATABASE,
            json.dumps([{**base, **case} for case in cases]),
        ],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], "ACCORD_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    plain = {
        "pool": None,
        "checked before use": True,
        "prepare_threshold": None,
        "server_side_binding": False,
        "server-side cursors": True,
    }
    assert json.loads(result.stdout) == [
        plain,
        {
            **plain,
            "pool": {"min_size": 2, "max_size": 12, "timeout": 10.0},
            "prepare_threshold": 5,
            "server_side_binding": True,
        },
        {
            **plain,
            "pool": {"min_size": 1, "max_size": 1, "timeout": 2.5},
        },
        {**plain, "server-side cursors": False},
        "ACCORD_DB_POOL_MAX_SIZE and ACCORD_PGBOUNCER_TRANSACTION_POOLING: PgBouncer already "
        "pools the connections; set ACCORD_DB_POOL_MAX_SIZE=0 (docs/deploy.md).",
        "ACCORD_DB_PREPARE_THRESHOLD and ACCORD_PGBOUNCER_TRANSACTION_POOLING: a prepared "
        "statement lives on one server connection, which PgBouncer hands to another client "
        "after each transaction; leave ACCORD_DB_PREPARE_THRESHOLD empty.",
        {**plain, "server-side cursors": False},
        "ACCORD_DB_PREPARE_THRESHOLD must be a whole number or empty, not 'five'.",
    ]
