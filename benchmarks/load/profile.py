"""Where the web processes' CPU goes during a load test (``run --profile``): py-spy samples
every daphne process from outside (no change to the code served), its stacks are then put in
buckets by the innermost frame that names one: the password hash, the PDF signing, the
database driver, the ORM, the templates, the channel layer, the server itself, the rest
(Accord's and Django's own Python). Threads waiting (on PostgreSQL, Redis, a socket) are not
sampled: this is CPU, not wall time."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

# (bucket, substrings of a frame's "function (file:line)"), looked for from the leaf upward.
BUCKETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("password hash (PBKDF2)", ("pbkdf2", "hashers.py")),
    ("PDF and signing (fpdf2, pyHanko, cryptography)", ("pyhanko", "fpdf", "cryptography")),
    ("database driver (psycopg)", ("psycopg",)),
    ("ORM (django.db)", ("django/db/",)),
    ("templates (django.template)", ("django/template/", "templatetags")),
    ("channel layer, Redis, Celery", ("channels_redis", "redis/", "kombu", "celery")),
    ("server (daphne, twisted, asgiref)", ("daphne", "twisted", "asgiref", "autobahn")),
)


def py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start(pids: dict[str, int], seconds: int, out: Path) -> list[subprocess.Popen]:
    """One py-spy per web process, for ``seconds``, its collapsed stacks in ``out``."""
    binary = py_spy()
    if binary is None:
        raise RuntimeError("--profile needs py-spy (the bench extra)")
    profilers = []
    for name, pid in pids.items():
        with open(out / f"py-spy-{name}.log", "wb") as log:
            profilers.append(
                subprocess.Popen(
                    [
                        binary,
                        "record",
                        "--pid",
                        str(pid),
                        "--duration",
                        str(seconds),
                        "--rate",
                        "50",
                        "--format",
                        "raw",
                        "--output",
                        str(out / f"py-spy-{name}.txt"),
                        "--nonblocking",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    return profilers


def bucket_of(stack: str) -> str:
    for frame in reversed(stack.split(";")):
        for bucket, needles in BUCKETS:
            if any(needle in frame for needle in needles):
                return bucket
    return "other Python (Accord, Django's request handling)"


def summary(out: Path) -> dict[str, float]:
    """Share of the sampled CPU per bucket, all web processes together."""
    samples: Counter[str] = Counter()
    for path in out.glob("py-spy-*.txt"):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                samples[bucket_of(stack)] += int(count)
    total = sum(samples.values())
    return {bucket: count / total for bucket, count in samples.most_common()} if total else {}
