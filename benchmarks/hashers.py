"""The password hashers' cost per check: PBKDF2 (Django 5.2's 1,000,000 iterations), Argon2id
at OWASP's parameters (Accord's, ``config.hashers``), Argon2id at RFC 9106's second
recommendation (m = 64 MiB, t = 3, p = 4) and at Django's own (m = 100 MiB, t = 2, p = 8).

CPU (``time.process_time``: all the process's threads, Argon2's lanes included) and wall time
per ``check_password``, the hashers alternated one check at a time so that a shared machine's
load falls on each alike; then the memory one check takes, as the growth of a fresh
process's peak resident set (``VmHWM``, reset before) across one check."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from django.contrib.auth.hashers import Argon2PasswordHasher, PBKDF2PasswordHasher

from config.hashers import Argon2idPasswordHasher

PASSWORD = "correct horse battery staple"  # noqa: S105 (a benchmark's)


class Rfc9106SecondPasswordHasher(Argon2PasswordHasher):
    """RFC 9106, section 4, second recommended option (memory-constrained)."""

    time_cost = 3
    memory_cost = 64 * 1024
    parallelism = 4


HASHERS = {
    "PBKDF2-SHA256, 1,000,000 iterations (Django 5.2)": PBKDF2PasswordHasher,
    "Argon2id m=19 MiB t=2 p=1 (OWASP; Accord's)": Argon2idPasswordHasher,
    "Argon2id m=64 MiB t=3 p=4 (RFC 9106, second)": Rfc9106SecondPasswordHasher,
    "Argon2id m=100 MiB t=2 p=8 (Django's own)": Argon2PasswordHasher,
}

_MEMORY_PROBE = """
import hashlib, sys
from django.conf import settings
settings.configure()
from argon2.low_level import Type, hash_secret_raw
from benchmarks import hashers

def peak_kib():
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("VmHWM:")).split()[1])

hasher = hashers.HASHERS[sys.argv[1]]()
encoded = ENCODED
# Warm-up, a few KiB: the bindings loaded, as in a server that has checked a password.
hash_secret_raw(b"warm-up", b"warm-up-salt", 1, 8, 1, 16, Type.ID)
hashlib.pbkdf2_hmac("sha256", b"warm-up", b"salt", 1)
with open("/proc/self/clear_refs", "w") as clear:
    clear.write("5")  # the peak starts again from the resident set now
before = peak_kib()
hasher.verify(hashers.PASSWORD, encoded)
print(peak_kib() - before)
"""


def memory_kib(name: str) -> int:
    """Peak resident growth (KiB) of a fresh process across one check, the hash made in this
    one: the check is the only hashing the fresh process does."""
    encoded = HASHERS[name]().encode(PASSWORD, HASHERS[name]().salt())
    script = _MEMORY_PROBE.replace("encoded = ENCODED", f"encoded = {encoded!r}")
    probe = subprocess.run(
        [sys.executable, "-c", script, name],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return int(probe.stdout.strip())


def run(iterations: int = 20) -> list[str]:
    with open("/proc/loadavg") as loadavg:
        load_before = loadavg.read().split()[:3]
    encoded = {name: hasher().encode(PASSWORD, hasher().salt()) for name, hasher in HASHERS.items()}
    cpu: dict[str, list[float]] = {name: [] for name in HASHERS}
    wall: dict[str, list[float]] = {name: [] for name in HASHERS}
    for _ in range(iterations):
        for name, hasher in HASHERS.items():
            started_cpu, started = time.process_time(), time.perf_counter()
            assert hasher().verify(PASSWORD, encoded[name])
            cpu[name].append(time.process_time() - started_cpu)
            wall[name].append(time.perf_counter() - started)
    with open("/proc/loadavg") as loadavg:
        load_after = loadavg.read().split()[:3]
    lines = [
        f"{iterations} checks each, alternated; loadavg before {' '.join(load_before)}, "
        f"after {' '.join(load_after)}",
        "| hasher | CPU per check, median (p95) | wall, median (p95) | memory per check |",
        "|---|---:|---:|---:|",
    ]
    for name in HASHERS:
        p95 = max(1, round(iterations * 0.95)) - 1
        lines.append(
            f"| {name} | {statistics.median(cpu[name]) * 1000:.0f} ms "
            f"({sorted(cpu[name])[p95] * 1000:.0f}) | "
            f"{statistics.median(wall[name]) * 1000:.0f} ms "
            f"({sorted(wall[name])[p95] * 1000:.0f}) | "
            f"{memory_kib(name) / 1024:.1f} MiB |"
        )
    return lines
