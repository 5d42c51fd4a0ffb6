"""Where the web processes' CPU goes during a load test (``run --profile``): py-spy samples
every daphne process from outside (no change to the code served), its stacks are then put in
buckets by the innermost frame that names one: the password hash, the PDF signing, the
database driver, the ORM, the templates, the channel layer, the server itself, the rest
(Accord's and Django's own Python). Threads waiting (on PostgreSQL, Redis, a socket) are left
out (py-spy's idle detection, and ``WAITING``): this is CPU, not wall time."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

# (bucket, substrings of a frame's "function (file:line)", the file relative to its
# site-packages), looked for from the leaf upward; the first found names the bucket.
BUCKETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("password hash (PBKDF2, Argon2id)", ("pbkdf2", "auth/hashers.py", "argon2/")),
    (
        "PDF, keys and signing (fpdf2, fontTools, pyHanko, cryptography)",
        (
            "fpdf/",
            "fontTools/",
            "(sign/",
            "pdf_utils/",
            "cryptography/",
            "asn1crypto/",
            "certvalidator/",
            "signatures/",
        ),
    ),
    ("database driver (psycopg)", ("psycopg/",)),
    ("ORM (django.db)", ("django/db/",)),
    ("templates (django.template)", ("django/template/", "templatetags/")),
    ("log lines (JSON)", ("pythonjsonlogger/", "logging/__init__.py")),
    ("channel layer, Redis, Celery", ("channels_redis/", "redis/", "kombu/", "celery/")),
)
# The server's own frames are under every stack: it is the bucket only of the samples whose
# leaf is in it (the event loop, HTTP parsing, the thread pool's hand-over).
SERVER = (
    "server (daphne, twisted, asgiref, asyncio)",
    ("daphne/", "twisted/", "asgiref/", "asyncio/"),
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


# Leaf frames that are a thread waiting, which py-spy's idle detection lets through (the
# reactor's epoll, psycopg waiting for the server's answer, a thread pool's queue).
WAITING = (".select (selectors.py", "Connection.wait (psycopg", "Condition.wait (threading.py")
WAITS = "waiting (not CPU)"


def bucket_of(stack: str) -> str:
    leaf = stack.rpartition(";")[2]
    if any(waiting in leaf for waiting in WAITING):
        return WAITS
    for frame in reversed(stack.split(";")):
        for bucket, needles in BUCKETS:
            if any(needle in frame for needle in needles):
                return bucket
    if any(needle in leaf for needle in SERVER[1]):
        return SERVER[0]
    return "other Python (Accord, Django's request handling)"


def summary(out: Path) -> dict[str, float]:
    """Share of the sampled CPU per bucket, all web processes together (the waits left out,
    and given apart as their share of every sample)."""
    samples: Counter[str] = Counter()
    for path in out.glob("py-spy-*.txt"):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                samples[bucket_of(stack)] += int(count)
    waits = samples.pop(WAITS, 0)
    total = sum(samples.values())
    if not total:
        return {}
    shares = {bucket: count / total for bucket, count in samples.most_common()}
    shares[f"({WAITS}, of every sample)"] = waits / (total + waits)
    return shares
