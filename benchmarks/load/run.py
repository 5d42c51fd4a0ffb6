"""The load test as deployed (issue 19): the Procfile's processes on this machine, driven by
Locust users per role, with the checks that must hold after the run.

    .venv/bin/python -m benchmarks.load.run --users 50,100,200 --duration 120 --spawn-rate 10
    .venv/bin/python -m benchmarks.load.run --users 10,20 --duration 60        # a small check
    .venv/bin/python -m benchmarks.load.run --users 50,100 --throughput       # then 40 clients
    .venv/bin/python -m benchmarks.load.run --users '' --throughput 40        # those alone

Needs the ``bench`` extra (``pip install -e '.[test,bench]'``), PostgreSQL and Redis. For each
number of users, from scratch: the database ``LOAD_DATABASE_URL`` (default
``postgres://postgres@127.0.0.1:5432/accord_load_bench``, DROPPED and re-created: its name
must contain "bench") migrated and filled (``benchmarks.load.population``), Redis
``LOAD_REDIS_URL`` (default ``redis://127.0.0.1:6379/12``) flushed; then the Procfile's
processes (``--web`` daphne processes, a Celery worker, beat) behind a TCP round-robin proxy
(``benchmarks.load.proxy``: nginx's place in docs/deploy.md), with production's settings
(DEBUG off, fresh strong keys, two-factor signing); then Locust, headless, against the proxy,
with /proc/loadavg sampled; then the checks, and every process stopped (on Ctrl-C and on
failure too). Logs, Locust's CSV files and the report go to ``--out`` (default
``var/load/<time>``). Exit 1 when a check fails or a request failed, 2 when the topology did
not come up. Method and figures: docs/benchmarks.md, "Load test as deployed (issue 19)".
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks import databases
from benchmarks.load import cpu
from benchmarks.load import profile as cpu_profile

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
KNEE_MS = 1000.0


class TopologyError(RuntimeError):
    """A process did not start or did not answer in time."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def environment(args, proxy_port: int, var_dir: Path) -> dict[str, str]:
    """Every process's environment: docs/deploy.md's block, on loopback. Differences, for
    plain HTTP on 127.0.0.1 (no TLS in front): cookies not marked Secure, no HTTPS redirect
    nor HSTS; with the Python proxy, no trusted proxy (it adds no X-Forwarded-* header)."""
    base = f"http://127.0.0.1:{proxy_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ACCORD_"))}
    env.update(
        DATABASE_URL=args.database_url,
        REDIS_URL=args.redis_url,
        # Fresh and strong for each run; the same for every step, whose database is a copy
        # of the one prepared with them (signing keys encrypted at rest).
        DJANGO_SECRET_KEY=args.secret_key,
        ACCORD_SIGNING_KEY=args.signing_key,
        DJANGO_DEBUG="false",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_CSRF_TRUSTED_ORIGINS=base,
        ACCORD_BASE_URL=base,
        DJANGO_SECURE_COOKIES="false",
        ACCORD_REQUIRE_2FA_FOR_SIGNING="true",
        # Mail goes to the worker's log (no mail server on this machine).
        EMAIL_URL="consolemail://",
        ACCORD_CHANNEL_PREFIX=f"accord-load-{secrets.token_hex(4)}",
        ACCORD_VAR_DIR=str(var_dir),
        # Collected once per run (prepare), for every step.
        DJANGO_STATIC_ROOT=str(var_dir.parent.parent / "static"),
        DJANGO_MEDIA_ROOT=str(var_dir / "media"),
        # A generous log-in throttle: the users all come from 127.0.0.1 (one address).
        ACCORD_LOGIN_RATE="100000/min",
        ACCORD_LOGIN_ADDRESS_FAILURE_LIMIT="100000",
        # docs/deploy.md's connections: a pool per web process (the worker and beat run
        # without one, as the Procfile says) and server-side prepared statements. Without the
        # pool, 200 users' requests and sockets opened more connections than PostgreSQL's 100.
        ACCORD_DB_POOL_MAX_SIZE="8",
        ACCORD_DB_PREPARE_THRESHOLD="5",
        PYTHONUNBUFFERED="1",
    )
    if args.proxy == "nginx":
        # docs/deploy.md's setting behind nginx, which sets X-Forwarded-For and -Proto.
        env["ACCORD_TRUSTED_PROXIES"] = "1"
    return env


def load_database_url() -> str:
    """Where a step's copy of the population is (``LOAD_DATABASE_URL``)."""
    return os.environ.get(
        "LOAD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/accord_load_bench"
    )


def daphne_command(port: int) -> list[str]:
    """The Procfile's web line, on loopback."""
    return [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"]


def template_url(url: str) -> str:
    """The database the population is prepared in once, copied for each step."""
    head, _, name = url.rpartition("/")
    return f"{head}/{name}_template"


def recreate_database(url: str, template: str | None = None) -> None:
    """A fresh database (a copy of ``template``'s database when given): every step starts
    from the same population."""
    databases.recreate_database(url, variable="LOAD_DATABASE_URL", template=template)


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url, socket_timeout=5).flushdb()


class Processes:
    """The processes started, each in its own process group, stopped all together (SIGTERM,
    then SIGKILL after a grace) however the run ends."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        self.running.append((name, process))
        return process

    def parts(self) -> dict[str, list[int]]:
        """The process groups started, by part of the deployment (web processes together)."""
        parts: dict[str, list[int]] = {}
        for name, process in self.running:
            part = {"worker": "worker and beat", "beat": "worker and beat"}.get(
                name, "web" if name.startswith("web.") else name
            )
            parts.setdefault(part, []).append(process.pid)
        return parts

    def check_alive(self) -> None:
        for name, process in self.running:
            if name != "locust" and process.poll() is not None:
                raise TopologyError(
                    f"{name} exited with {process.returncode}: see {self.logs / (name + '.log')}"
                )

    def stop(self, grace: float = 15.0) -> None:
        for _name, process in reversed(self.running):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for _name, process in self.running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.running.clear()


NGINX = """\
worker_processes 1;
pid {out}/nginx.pid;
error_log {out}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {out}/nginx/body;
    proxy_temp_path {out}/nginx/proxy;
    fastcgi_temp_path {out}/nginx/fastcgi;
    uwsgi_temp_path {out}/nginx/uwsgi;
    scgi_temp_path {out}/nginx/scgi;
    proxy_max_temp_file_size 0;
    upstream accord {{ {servers} }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://accord;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""


def nginx_command(out: Path, port: int, web_ports: list[int]) -> list[str]:
    """nginx in front of the web processes with docs/deploy.md's upstream and ``location``
    (the Host with its port, since the proxy listens on another port than 80), on loopback,
    without TLS and without an access log; in the foreground, in the step's process group."""
    (out / "nginx").mkdir(exist_ok=True)
    config = out / "nginx.conf"
    config.write_text(
        NGINX.format(
            out=out,
            port=port,
            servers=" ".join(f"server 127.0.0.1:{web} max_fails=0;" for web in web_ports),
        ),
        encoding="utf-8",
    )
    return [str(shutil.which("nginx")), "-c", str(config), "-p", str(out), "-g", "daemon off;"]


def run_command(command: list[str], env: dict[str, str], log: Path, what: str) -> None:
    with open(log, "ab") as out:
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode:
        raise TopologyError(f"{what} failed ({done.returncode}): see {log}")


def wait_until_answering(url: str, processes: Processes, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        processes.check_alive()
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 (loopback)
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TopologyError(f"{url} did not answer within {timeout:.0f} s")


def wait_for_worker(processes: Processes, log: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        processes.check_alive()
        if b" ready." in log.read_bytes():
            return
        time.sleep(0.5)
    raise TopologyError(f"the Celery worker was not ready within {timeout:.0f} s: see {log}")


class LoadSampler(threading.Thread):
    """/proc/loadavg every few seconds while Locust runs."""

    def __init__(self, every: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.every = every
        self.samples: list[tuple[float, float, float]] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            self.samples.append(load_now())

    def summary(self) -> dict[str, float]:
        ones = [sample[0] for sample in self.samples] or [load_now()[0]]
        return {"min": min(ones), "mean": statistics.fmean(ones), "max": max(ones)}


def load_now() -> tuple[float, float, float]:
    one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    return float(one), float(five), float(fifteen)


def read_stats(prefix: Path) -> list[dict[str, str]]:
    with open(f"{prefix}_stats.csv", newline="", encoding="utf-8") as rows:
        return list(csv.DictReader(rows))


def prepare(args, out: Path) -> Path:
    """The population, once per run, in the template database; its files (the frozen
    documents) in ``out/var``. Each step copies both."""
    out.mkdir(parents=True, exist_ok=True)
    var_dir = out / "var"
    var_dir.mkdir(exist_ok=True)
    template = template_url(args.database_url)
    env = {**environment(args, free_port(), var_dir), "DATABASE_URL": template}
    recreate_database(template)
    manage = [PYTHON, "manage.py"]
    run_command([*manage, "migrate", "--no-input"], env, out / "setup.log", "migrate")
    run_command([*manage, "collectstatic", "--no-input"], env, out / "setup.log", "collectstatic")
    accounts = out / "accounts.json"
    print(f"Preparing {args.contracts} contracts (once for every step)...", flush=True)
    run_command(
        [
            PYTHON,
            "-m",
            "benchmarks.load.population",
            "prepare",
            "--contracts",
            str(args.contracts),
            "--accounts",
            str(accounts),
        ],
        env,
        out / "setup.log",
        "the population",
    )
    print((out / "setup.log").read_text(encoding="utf-8").strip().splitlines()[-1])
    return accounts


def step(args, users: int, out: Path, prepared: Path, no_think: bool) -> dict:
    """One number of users, from a fresh copy of the population to the checks; the step's
    figures."""
    out.mkdir(parents=True, exist_ok=True)
    # What an earlier run left in the same folder (an interrupted one) is not this step's.
    for stale in (*out.glob("received-*.json"), *out.glob("sockets-*.json")):
        stale.unlink()
    var_dir = out / "var"
    shutil.rmtree(var_dir, ignore_errors=True)
    shutil.copytree(prepared.parent / "var", var_dir)
    web_ports = [free_port() for _ in range(args.web)]
    proxy_port = free_port()
    env = environment(args, proxy_port, var_dir)
    processes = Processes(out)
    print(f"\n== {users} users{' (no think time)' if no_think else ''}: {out} ==", flush=True)
    try:
        recreate_database(args.database_url, template=template_url(args.database_url))
        flush_redis(args.redis_url)
        accounts = out / "accounts.json"
        shutil.copyfile(prepared, accounts)
        # The Procfile's lines, each with the same environment.
        for n, port in enumerate(web_ports, 1):
            processes.start(f"web.{n}", daphne_command(port), env)
        celery = [PYTHON, "-m", "celery", "-A", "config.celery_app"]
        unpooled = {**env, "ACCORD_DB_POOL_MAX_SIZE": "0"}  # Celery forks its children
        processes.start(
            "worker", [*celery, "worker", "--loglevel=INFO", "--concurrency=2"], unpooled
        )
        processes.start(
            "beat",
            [*celery, "beat", "--loglevel=INFO", f"--schedule={var_dir / 'celerybeat-schedule'}"],
            unpooled,
        )
        if args.proxy == "nginx":
            processes.start("proxy", nginx_command(out, proxy_port, web_ports), env)
        else:
            processes.start(
                "proxy",
                [
                    PYTHON,
                    "-m",
                    "benchmarks.load.proxy",
                    "--listen",
                    str(proxy_port),
                    "--to",
                    ",".join(map(str, web_ports)),
                ],
                env,
            )
        for port in [*web_ports, proxy_port]:
            wait_until_answering(f"http://127.0.0.1:{port}/sante/", processes)
        wait_for_worker(processes, out / "worker.log")
        print(f"  up: web {web_ports}, proxy {proxy_port}, worker, beat", flush=True)

        locust_env = {
            **env,
            "LOAD_ACCOUNTS": str(accounts),
            "LOAD_OUT": str(out),
            "LOAD_THINK": "0" if no_think else args.think,
            "LOAD_PROCESSES": str(args.locust_processes),
        }
        command = [
            PYTHON,
            "-m",
            "locust",
            "-f",
            str(ROOT / "benchmarks/load/locustfile.py"),
            "--headless",
            "--users",
            str(users),
            "--spawn-rate",
            str(args.spawn_rate),
            "--run-time",
            f"{args.duration}s",
            "--host",
            f"http://127.0.0.1:{proxy_port}",
            "--csv",
            str(out / "locust"),
            "--stop-timeout",
            "10",
            "--only-summary",
            "--loglevel",
            "WARNING",
        ]
        if args.locust_processes > 1:
            command += ["--processes", str(args.locust_processes)]
        if not args.include_ramp:
            command.append("--reset-stats")
        sampler = LoadSampler()
        sampler.start()
        started_at = datetime.datetime.now(datetime.UTC)
        started = time.monotonic()
        locust = processes.start("locust", command, locust_env)
        profilers = []
        if args.profile:
            webs = {name: p.pid for name, p in processes.running if name.startswith("web.")}
            profilers = cpu_profile.start(webs, args.duration, out)
        # The CPU of each part over the measured time (after the ramp, as Locust's figures).
        parts = processes.parts()
        ramp = 0 if args.include_ramp else users / args.spawn_rate
        cpu_from = cpu_to = None
        while locust.poll() is None:
            processes.check_alive()
            time.sleep(1)
            running = time.monotonic() - started
            if cpu_from is None and running >= ramp:
                cpu_from = cpu.snapshot(parts)
            if cpu_to is None and cpu_from is not None and running >= args.duration:
                cpu_to = cpu.snapshot(parts)
            if running > args.duration + 120:
                raise TopologyError("Locust did not stop on time")
        sampler.stopped.set()
        elapsed = time.monotonic() - started
        for profiler in profilers:
            try:
                profiler.wait(timeout=30)
            except subprocess.TimeoutExpired:
                profiler.terminate()
                profiler.wait()

        # The sockets' state when the run stopped, from every Locust process.
        stopping = [
            json.loads(path.read_text(encoding="utf-8")) for path in out.glob("sockets-*.json")
        ]
        (out / "sockets.json").write_text(
            json.dumps(
                {
                    "started_at": started_at.isoformat(),
                    "stopped_at": min(
                        (s["stopping_at"] for s in stopping),
                        default=datetime.datetime.now(datetime.UTC).isoformat(),
                    ),
                    "open_until_end": sorted({u for s in stopping for u in s["open_until_end"]}),
                }
            ),
            encoding="utf-8",
        )
        checks = subprocess.run(
            [
                PYTHON,
                "-m",
                "benchmarks.load.population",
                "check",
                "--accounts",
                str(accounts),
                "--received",
                str(out),
                "--report",
                str(out / "checks.json"),
            ],
            cwd=ROOT,
            env=env,
        )
        figures = summarise(args, users, out, sampler, elapsed)
        figures["no_think"] = no_think
        figures["cpu_seconds"] = cpu.spent(cpu_from, cpu_to) if cpu_from and cpu_to else {}
        figures["cpu_profile"] = cpu_profile.summary(out) if args.profile else {}
        figures["checks_exit"] = checks.returncode
        figures["locust_exit"] = locust.returncode
        return figures
    finally:
        processes.stop()


ERROR_MARKS = ('"level": "ERROR"', '"level": "CRITICAL"', "Traceback (most recent call last)")


def log_errors(out: Path) -> dict[str, int]:
    """Error lines (and tracebacks) in the servers' logs, per log: any is a problem."""
    found = {}
    for log in sorted(out.glob("*.log")):
        if log.stem in ("setup", "locust") or log.stem.startswith("py-spy"):
            continue
        text = log.read_text(encoding="utf-8", errors="replace")
        count = sum(text.count(mark) for mark in ERROR_MARKS)
        if count:
            found[log.name] = count
    return found


def summarise(args, users: int, out: Path, sampler: LoadSampler, elapsed: float) -> dict:
    rows = read_stats(out / "locust")
    checks: dict[str, Any] = (
        json.loads((out / "checks.json").read_text(encoding="utf-8"))
        if (out / "checks.json").exists()
        else {"problems": ["the checks did not run"]}
    )
    sockets: dict[str, list[float]] = {"connect_ms": [], "notification_ms": []}
    counts: dict[str, int] = {}
    timed: list[tuple[float, float, str]] = []
    logged_in: list[float] = []
    for path in out.glob("received-*.json"):
        state = json.loads(path.read_text(encoding="utf-8"))
        timed.extend(tuple(entry) for entry in state["work"])
        logged_in.extend(state["logged_in"])
        for key, values in state["socket_figures"].items():
            sockets[key].extend(values)
        for key, value in state["counts"].items():
            counts[key] = counts.get(key, 0) + value
    work = [ms for _, ms, _ in timed]
    measured = args.duration - (0 if args.include_ramp else users / args.spawn_rate)
    requests = {
        f"{row['Type']} {row['Name']}".strip(): {
            "count": int(row["Request Count"]),
            "failures": int(row["Failure Count"]),
            "p50": float(row["50%"] or "nan"),
            "p95": float(row["95%"] or "nan"),
            "p99": float(row["99%"] or "nan"),
            "rps": float(row["Requests/s"] or 0),
        }
        for row in rows
    }
    decisions = sum(
        entry["count"] - entry["failures"]
        for name, entry in requests.items()
        if name.startswith("POST decision")
    )
    completed = sum(checks.get("tasks_completed_during_run", {}).values())
    return {
        "users": users,
        "duration": args.duration,
        "measured_seconds": measured,
        "elapsed_seconds": elapsed,
        "requests": requests,
        # Every request but the log-ins, after the ramp: the knee is read on its p95.
        "work": spread(work),
        "windows": windows(timed),
        "settled": settled(timed, logged_in, args.settle),
        "decisions_per_second": decisions / measured if measured > 0 else float("nan"),
        "tasks_completed_in_db": completed,
        "socket_connect_p50_ms": percentile(sockets["connect_ms"], 0.5),
        "socket_connect_p95_ms": percentile(sockets["connect_ms"], 0.95),
        "notification_p50_ms": percentile(sockets["notification_ms"], 0.5),
        "notification_p95_ms": percentile(sockets["notification_ms"], 0.95),
        "notification_p99_ms": percentile(sockets["notification_ms"], 0.99),
        "notifications_live": len(sockets["notification_ms"]),
        "socket_counts": counts,
        "loadavg": sampler.summary(),
        "log_errors": log_errors(out),
        "checks": checks,
    }


def _kind(name: str) -> str:
    return "decision" if name.startswith("decision") else "page"


def windows(timed: list[tuple[float, float, str]], width: float = 10.0) -> list[dict]:
    """The requests after the ramp by ``width``-second window of their start: how long the
    ramp's backlog lasts, and the steady state after it."""
    if not timed:
        return []
    start = min(when for when, _, _ in timed)
    by_window: dict[int, list[tuple[float, str]]] = {}
    for when, ms, name in timed:
        by_window.setdefault(int((when - start) // width), []).append((ms, _kind(name)))
    return [
        {
            "from": index * width,
            "count": len(entries),
            "p50": percentile([ms for ms, _ in entries], 0.5),
            "pages_p95": percentile([ms for ms, kind in entries if kind == "page"], 0.95),
            "decisions_p95": percentile([ms for ms, kind in entries if kind == "decision"], 0.95),
        }
        for index, entries in sorted(by_window.items())
    ]


def spread(values: list[float]) -> dict:
    return {"count": len(values), **{f"p{p}": percentile(values, p / 100) for p in (50, 95, 99)}}


def settled(timed: list[tuple[float, float, str]], logged_in: list[float], settle: float) -> dict:
    """The requests that started ``settle`` seconds or more after the last user had logged
    in: the steady state of that many people working, without the queue their log-ins left
    (each checks a password with Argon2id; the ramp puts them all within seconds)."""
    if not logged_in:
        return {"count": 0}
    since = max(logged_in) + settle
    entries = [(when, ms, name) for when, ms, name in timed if when >= since]
    pages = [ms for _, ms, name in entries if _kind(name) == "page"]
    decisions = [ms for _, ms, name in entries if _kind(name) == "decision"]
    seconds = max((when for when, _, _ in entries), default=since) - since
    by_name: dict[str, list[float]] = {}
    for _, ms, name in entries:
        by_name.setdefault(name, []).append(ms)
    return {
        "count": len(entries),
        "after_last_log_in_s": settle,
        "seconds": seconds,
        "per_second": len(entries) / seconds if seconds > 0 else float("nan"),
        "pages": spread(pages),
        "decisions": spread(decisions),
        "by_name": {name: spread(values) for name, values in sorted(by_name.items())},
    }


def report(results: list[dict]) -> list[str]:
    lines = []
    for result in results:
        load = result["loadavg"]
        lines.append(
            f"\n### {result['users']} users{' without think time' if result['no_think'] else ''}"
            f", {result['duration']} s ({result['measured_seconds']:.0f} s measured); "
            f"loadavg (1 min) during the run {load['min']:.1f}-{load['max']:.1f}, "
            f"mean {load['mean']:.1f}\n"
        )
        lines.append("| request | count | failures | p50 ms | p95 ms | p99 ms |")
        lines.append("|---|---:|---:|---:|---:|---:|")
        for name, entry in result["requests"].items():
            lines.append(
                f"| {name} | {entry['count']} | {entry['failures']} | {entry['p50']:.0f} | "
                f"{entry['p95']:.0f} | {entry['p99']:.0f} |"
            )
        work = result["work"]
        lines.append(
            f"| **all but the log-ins** | {work['count']} | | {work['p50']:.0f} | "
            f"{work['p95']:.0f} | {work['p99']:.0f} |"
        )
        lines.extend(settled_report(result))
        checks = result["checks"]
        lines.append(
            f"\nDecisions: {result['decisions_per_second']:.2f}/s through the forms "
            f"({result['tasks_completed_in_db']} tasks completed in the database during the "
            f"run: {checks.get('tasks_completed_during_run', {})}). WebSocket: connect p50 "
            f"{result['socket_connect_p50_ms']:.0f} ms, p95 {result['socket_connect_p95_ms']:.0f}"
            f" ms; notification written -> received p50 {result['notification_p50_ms']:.0f} ms, "
            f"p95 {result['notification_p95_ms']:.0f} ms, p99 "
            f"{result['notification_p99_ms']:.0f} ms ({result['notifications_live']} live); "
            f"{result['socket_counts'] or 'no socket refused or closed, no stale decision'}."
        )
        lines.append(
            f"Checks: {checks.get('notifications_written', '?')} notifications written "
            f"({checks.get('notifications_pushed_late', '?')} pushed more than 10 s late, "
            "by beat's deliver_notifications after a failed push), "
            f"{checks.get('notifications_expected_on_sockets', '?')} expected on open sockets, "
            f"{checks.get('notifications_received_on_sockets', '?')} received; "
            f"{checks.get('chains', '?')}; "
            + (f"errors in the logs: {result['log_errors']}; " if result["log_errors"] else "")
            + ("; ".join(checks["problems"]) if checks["problems"] else "no problem found")
            + "."
        )
        if result.get("cpu_seconds"):
            lines.append(cpu_report(result))
        if result.get("cpu_profile"):
            lines.append(
                "Web processes' CPU (py-spy): "
                + ", ".join(f"{name} {share:.0%}" for name, share in result["cpu_profile"].items())
                + "."
            )
    knee = next(
        (r["users"] for r in results if not r["no_think"] and r["work"]["p95"] > KNEE_MS),
        None,
    )
    lines.append(
        f"\nKnee (p95 of the requests but the log-ins above {KNEE_MS / 1000:.0f} s): "
        + (f"{knee} users." if knee else "not reached at these numbers of users.")
    )
    return lines


def settled_report(result: dict) -> list[str]:
    """The steady state after the ramp's backlog, and the windows that show the backlog."""
    settled = result.get("settled", {})
    lines = []
    if settled.get("count"):
        pages, decisions = settled["pages"], settled["decisions"]
        lines.append(
            f"\nSettled ({settled['after_last_log_in_s']:.0f} s after the last log-in, "
            f"{settled['seconds']:.0f} s, {settled['per_second']:.1f} requests/s): pages "
            f"{pages['count']}, p50 / p95 / p99 {pages['p50']:.0f} / {pages['p95']:.0f} / "
            f"{pages['p99']:.0f} ms; decisions {decisions['count']}, "
            f"{decisions['p50']:.0f} / {decisions['p95']:.0f} / {decisions['p99']:.0f} ms. "
            "By request (count, p50 / p95): "
            + "; ".join(
                f"{name} {entry['count']}, {entry['p50']:.0f} / {entry['p95']:.0f}"
                for name, entry in settled["by_name"].items()
            )
            + "."
        )
    if result.get("windows"):
        lines.append(
            "By 10 s window after the ramp (requests, p50, pages' p95, decisions' p95 in ms): "
            + "; ".join(
                f"{w['from']:.0f} s: {w['count']}, {w['p50']:.0f}, {w['pages_p95']:.0f}, "
                f"{w['decisions_p95']:.0f}"
                for w in result["windows"]
            )
            + "."
        )
    return lines


SERVERS = ("web", "worker and beat", "PostgreSQL", "Redis")


def cpu_report(result: dict) -> str:
    """The machine's CPU over the measured time, part by part, and the servers' CPU per
    request (every request Locust made after the ramp, log-ins and decisions included)."""
    seconds = result["cpu_seconds"]
    measured = result["measured_seconds"]
    machine = seconds["machine"]
    count = result["requests"]["Aggregated"]["count"]  # Locust's line for every request
    servers = sum(seconds.get(part, 0.0) for part in SERVERS)
    shares = ", ".join(
        f"{part} {value:.1f} s ({value / machine:.0%})"
        for part, value in sorted(seconds.items(), key=lambda item: -item[1])
        if part != "machine"
    )
    return (
        f"CPU over the {measured:.0f} s measured: the machine {machine:.1f} s of "
        f"{measured * (os.cpu_count() or 1):.0f} s ({machine / measured:.2f} cores busy); "
        f"{shares}. The servers ({', '.join(SERVERS)}): "
        f"{1000 * servers / max(count, 1):.1f} ms of CPU per request ({count} requests)."
    )


def _interrupted(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default="50,100,200", help="comma-separated, one step each")
    parser.add_argument("--duration", type=int, default=120, help="seconds per step")
    parser.add_argument("--spawn-rate", type=float, default=10.0)
    parser.add_argument("--contracts", type=int, default=20)
    parser.add_argument("--web", type=int, default=2, help="daphne processes")
    parser.add_argument("--think", default="3,12", help="think time between actions (s)")
    parser.add_argument(
        "--throughput",
        type=int,
        nargs="?",
        const=40,
        default=0,
        help="then N clients (40 when N is left out) without think time, for throughput",
    )
    parser.add_argument(
        "--proxy",
        choices=("nginx", "python"),
        default="nginx" if shutil.which("nginx") else "python",
        help="in front of the web processes: nginx (docs/deploy.md's; apt's nginx-light) when "
        "installed, else a round-robin TCP proxy in Python (benchmarks/load/proxy.py)",
    )
    parser.add_argument("--locust-processes", type=int, default=1)
    parser.add_argument(
        "--settle",
        type=float,
        default=30.0,
        help="seconds after the last log-in from which the steady state is measured",
    )
    parser.add_argument(
        "--include-ramp",
        action="store_true",
        help="keep the spawning period (log-ins) in the figures (default: reset after it)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="sample the web processes' CPU with py-spy"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    args.database_url = load_database_url()
    args.redis_url = os.environ.get("LOAD_REDIS_URL", "redis://127.0.0.1:6379/12")
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
    out = (args.out or ROOT / "var/load" / stamp).resolve()
    out.mkdir(parents=True, exist_ok=True)
    # A SIGTERM stops the run as Ctrl-C does: the processes are stopped on the way out.
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even started in the background

    print(f"Machine: {os.cpu_count()} CPUs, loadavg before: {' '.join(map(str, load_now()))}")
    args.secret_key = secrets.token_urlsafe(50)
    # Fresh for each run, unless given: a step's database left behind can then be signed in
    # again (a decision profiled after the run, with the same LOAD_SIGNING_KEY).
    args.signing_key = os.environ.get("LOAD_SIGNING_KEY") or secrets.token_urlsafe(50)
    results = []
    try:
        prepared = prepare(args, out / "population")
        steps = [(int(n), False) for n in args.users.split(",") if n.strip()]
        if args.throughput:
            steps.append((args.throughput, True))
        for users, no_think in steps:
            folder = out / (f"throughput-{users}" if no_think else f"users-{users}")
            results.append(step(args, users, folder, prepared, no_think))
    except TopologyError as error:
        print(f"\nThe topology failed: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("\nInterrupted: every process stopped.", file=sys.stderr)
        sys.exit(130)
    lines = report(results)
    print("\n".join(lines))
    (out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    failed = [
        r["users"]
        for r in results
        if r["checks"]["problems"]
        or r["checks_exit"]
        or r["log_errors"]
        or any(e["failures"] for e in r["requests"].values())
    ]
    if failed:
        print(f"\nProblems found at {failed} users: see {out}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
