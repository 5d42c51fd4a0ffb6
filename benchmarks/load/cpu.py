"""Where the machine's CPU went during a load-test step, part by part (``/proc``): the web
processes, the worker and beat, the proxy, Locust, PostgreSQL, Redis and the rest of the
machine. The load generator and the proxy share the two cores with what they measure; this
says how much of them each took, so that a request's cost is read as the servers' CPU per
request, not as the whole machine's."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Stat:
    pid: int
    name: str
    parent: int
    group: int
    own: float  # seconds of user and system time of the process itself
    reaped: float  # of its children that exited and were waited for


def _stat(pid: int) -> Stat | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # gone between the listing and the read
        return None
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    # After the name: state, ppid, pgrp, session, tty, tpgid, flags, minflt, cminflt, majflt,
    # cmajflt, utime, stime, cutime, cstime (proc(5), fields 3 to 17).
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return Stat(
        pid=pid,
        name=name,
        parent=int(fields[1]),
        group=int(fields[2]),
        own=(utime + stime) / TICKS,
        reaped=(cutime + cstime) / TICKS,
    )


def process_seconds(pid: int) -> float:
    """The CPU time process ``pid`` has spent so far (its own, not its children's)."""
    stat = _stat(pid)
    if stat is None:
        raise ProcessLookupError(pid)
    return stat.own


def _every_process() -> list[Stat]:
    stats = (_stat(int(entry)) for entry in os.listdir("/proc") if entry.isdigit())
    return [stat for stat in stats if stat is not None]


def _machine_busy() -> float:
    """Seconds of CPU the whole machine spent busy (every core), from /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / TICKS


@dataclass(frozen=True)
class Snapshot:
    busy: float
    parts: dict[str, dict[int, float]]  # part -> pid -> own seconds
    reaped: dict[str, float]  # part -> reaped children's seconds of its leaders


def snapshot(groups: dict[str, Iterable[int]]) -> Snapshot:
    """Every process's CPU time so far, put in parts: ``groups`` names the process groups
    started for the step (their leaders' pids, e.g. ``{"web": [...], "locust": [...]}``);
    PostgreSQL's and Redis's server processes are found by name."""
    leaders = {pid: part for part, pids in groups.items() for pid in pids}
    parts: dict[str, dict[int, float]] = {}
    reaped: dict[str, float] = {}
    every = _every_process()
    postgres = {stat.pid for stat in every if stat.name == "postgres"}
    for stat in every:
        if stat.group in leaders:
            part = leaders[stat.group]
        elif stat.name == "postgres":
            part = "PostgreSQL"
        elif stat.name == "redis-server":
            part = "Redis"
        else:
            continue
        parts.setdefault(part, {})[stat.pid] = stat.own
        # A leader's reaped children: Celery's pool, PostgreSQL's closed connections (the
        # postmaster is the one postgres process whose parent is not one).
        if stat.pid in leaders or (part == "PostgreSQL" and stat.parent not in postgres):
            reaped[part] = reaped.get(part, 0.0) + stat.reaped
    return Snapshot(busy=_machine_busy(), parts=parts, reaped=reaped)


def spent(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """CPU seconds per part between two snapshots, and ``machine`` (every core, everything on
    it) and ``rest`` (what no part accounts for: the runner, other users of the machine)."""
    seconds: dict[str, float] = {}
    for part, pids in after.parts.items():
        earlier = before.parts.get(part, {})
        # A process seen only at the end started during the step: all its time is the step's.
        own = sum(now - earlier.get(pid, 0.0) for pid, now in pids.items())
        seconds[part] = own + after.reaped.get(part, 0.0) - before.reaped.get(part, 0.0)
    seconds["machine"] = after.busy - before.busy
    seconds["rest"] = seconds["machine"] - sum(
        value for part, value in seconds.items() if part != "machine"
    )
    return seconds
