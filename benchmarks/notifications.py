"""Commit-to-WebSocket latency of notifications, beside the bare channels-redis group_send.

    .venv/bin/python -m benchmarks.notifications                  # 1,000 clients, 2 servers
    .venv/bin/python -m benchmarks.notifications --clients 200 --servers 1 --commits 100

Needs PostgreSQL and Redis: the database is ``BENCH_DATABASE_URL`` (default
``postgres://postgres@127.0.0.1:5432/accord_bench``; DROPPED and re-created, its name must
contain "bench") and Redis is ``BENCH_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``), with
a channel prefix of its own. Method and figures: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import secrets
import statistics
import sys
import time
import uuid

os.environ["DATABASE_URL"] = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/accord_bench"
)
os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
# A production start refuses a weak key (config/settings.py): a fresh one per run.
os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")
os.environ.setdefault("ACCORD_CHANNEL_PREFIX", f"accord-bench-{uuid.uuid4().hex[:8]}")


def summary(seconds: list[float]) -> str:
    from .measure import percentile

    return (
        f"median {statistics.median(seconds) * 1000:.2f} ms, "
        f"p99 {percentile(seconds, 0.99) * 1000:.2f} ms, "
        f"max {max(seconds) * 1000:.2f} ms ({len(seconds)} samples)"
    )


# --- Baseline: the bare channel layer -----------------------------------------------------


async def _layer_round_trips(backend: str, samples: int) -> tuple[list[float], list[float]]:
    """group_send to a one-member group, received by another layer instance (as another
    process would): the time group_send takes, and the time until the member has it."""
    from django.utils.module_loading import import_string

    layer_class = import_string(backend)
    options = {"hosts": [os.environ["REDIS_URL"]], "prefix": f"bench-{uuid.uuid4().hex[:6]}"}
    sender, receiver = layer_class(**options), layer_class(**options)
    channel = await receiver.new_channel()
    await receiver.group_add("bench", channel)
    await asyncio.sleep(0.2)  # the subscription is in place
    sends, trips = [], []
    for n in range(samples + 20):
        started = time.perf_counter()
        await sender.group_send("bench", {"type": "bench", "n": n})
        sent = time.perf_counter()
        await receiver.receive(channel)
        received = time.perf_counter()
        if n >= 20:  # warm-up
            sends.append(sent - started)
            trips.append(received - started)
    await receiver.group_discard("bench", channel)
    await sender.flush()
    await receiver.flush()
    return sends, trips


def baseline(samples: int) -> list[str]:
    lines = []
    for name, backend in (
        ("RedisPubSubChannelLayer", "channels_redis.pubsub.RedisPubSubChannelLayer"),
        ("RedisChannelLayer (core)", "channels_redis.core.RedisChannelLayer"),
    ):
        sends, trips = asyncio.run(_layer_round_trips(backend, samples))
        lines.append(f"{name}: group_send call {summary(sends)}")
        lines.append(f"{name}: group_send to received {summary(trips)}")
    return lines


# --- Commit to WebSocket, with N connected clients ----------------------------------------


def _clients_main(urls, tokens, ready, stop, results):  # in its own process
    import websockets

    received: dict[int, list[float]] = {}
    counts = {"connected": 0, "failed": 0}

    async def client(url: str, token: str, opened: asyncio.Event) -> None:
        for attempt in range(5):  # as the page's script does, retry a refused handshake
            try:
                async with websockets.connect(
                    url,
                    # A browser on the server's own page: the same scheme, host and port.
                    origin=url.replace("ws://", "http://", 1).split("/ws/", 1)[0],
                    subprotocols=["accord.notifications", f"accord.token.{token}"],
                    open_timeout=60,
                    ping_interval=None,
                ) as socket:
                    counts["connected"] += 1
                    opened.set()
                    async for raw in socket:
                        now = time.monotonic()
                        received.setdefault(json.loads(raw)["id"], []).append(now)
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if opened.is_set() or attempt == 4:
                    counts["failed"] += 1
                    reason = f"{type(error).__name__}: {str(error)[:80]}"
                    counts.setdefault("reasons", {}).setdefault(reason, 0)
                    counts["reasons"][reason] += 1
                    opened.set()
                    return
                await asyncio.sleep(0.5 * (attempt + 1))

    async def main() -> None:
        tasks = []
        # Connect in batches, each handshake done before the next batch: a thousand
        # browsers do not open their pages in the same millisecond.
        for start in range(0, len(tokens), 25):
            batch = []
            for n in range(start, min(start + 25, len(tokens))):
                opened = asyncio.Event()
                tasks.append(asyncio.create_task(client(urls[n % len(urls)], tokens[n], opened)))
                batch.append(opened)
            await asyncio.gather(*(opened.wait() for opened in batch))
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())
    results.put((counts, received))


def _commit_one(recipients: list[int]) -> tuple[list[int], float]:
    """One change committed with its notifications (the outbox), as a request would."""
    from django.db import transaction

    from notifications.services import notice, notices_write

    with transaction.atomic():
        told = notice(event="contract_status", recipients=recipients, title="Benchmark")
        rows = notices_write([told], unit=None)
        committed = time.monotonic()  # just before COMMIT and the after-commit push
    return [row.pk for row in rows], committed


def commit_to_websocket(clients: int, servers: int, commits: int, fanouts: int) -> list[str]:
    from asgiref.sync import sync_to_async
    from django.db import connections
    from rest_framework.authtoken.models import Token

    from tests.notifications.servers import Servers
    from workflows.models import User

    unusable = "!"
    users = User.objects.bulk_create(
        User(username=f"bench-{n}", email="", password=unusable) for n in range(clients)
    )
    tokens = Token.objects.bulk_create(
        Token(user=user, key=uuid.uuid4().hex[:40]) for user in users
    )
    connections.close_all()
    # The servers share this process's channel prefix: its pushes reach their clients.
    running = Servers(servers, prefix=os.environ["ACCORD_CHANNEL_PREFIX"])
    lines = []
    try:
        running.start()
        running.wait_until_listening()
        ready, stop = multiprocessing.Event(), multiprocessing.Event()
        results = multiprocessing.Queue()
        urls = [running.url(n, "/ws/notifications/", scheme="ws") for n in range(servers)]
        process = multiprocessing.Process(
            target=_clients_main,
            args=(urls, [t.key for t in tokens], ready, stop, results),
        )
        process.start()
        if not ready.wait(timeout=300):
            raise RuntimeError("the clients did not connect in time")
        time.sleep(1)
        sent: dict[int, float] = {}
        fanout_rounds: list[tuple[list[int], float]] = []

        async def drive() -> None:
            # Commits run in a worker thread, as a view under daphne: the after-commit push
            # goes through this event loop and its one Redis connection, as in a server.
            for _ in range(commits):
                recipient = random.choice(users).pk  # noqa: S311 (not a secret)
                ids, committed = await sync_to_async(_commit_one)([recipient])
                sent.update(dict.fromkeys(ids, committed))
                await asyncio.sleep(0.02)
            for _ in range(fanouts):
                fanout_rounds.append(await sync_to_async(_commit_one)([u.pk for u in users]))
                await asyncio.sleep(2)

        asyncio.run(drive())
        time.sleep(2)
        stop.set()
        counts, received = results.get(timeout=120)
        process.join(timeout=30)
        one = [received[pk][0] - at for pk, at in sent.items() if pk in received]
        lines.append(
            f"{counts['connected']} clients connected over {servers} daphne process(es), "
            f"{counts['failed']} failed {counts.get('reasons', '')}"
        )
        lines.append(
            f"One recipient per commit: commit to WebSocket {summary(one)}; "
            f"{len(sent) - len(one)} lost"
        )
        for ids, committed in fanout_rounds:
            got = [received[pk][0] - committed for pk in ids if pk in received]
            lines.append(
                f"One commit to all {len(ids)}: first {min(got) * 1000:.0f} ms, "
                f"median {statistics.median(got) * 1000:.0f} ms, "
                f"last {max(got) * 1000:.0f} ms; {len(ids) - len(got)} lost"
            )
    finally:
        running.stop()
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--commits", type=int, default=300)
    parser.add_argument("--fanouts", type=int, default=3)
    parser.add_argument("--samples", type=int, default=1000, help="bare group_send samples")
    args = parser.parse_args(argv)

    from .run import machine, recreate_database

    recreate_database()
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    print("\n".join(machine()))
    print("\n== Baseline: bare channels-redis group_send (one member, another connection) ==")
    print("\n".join(baseline(args.samples)))
    print(f"\n== Commit to WebSocket, {args.clients} connected clients ==")
    print("\n".join(commit_to_websocket(args.clients, args.servers, args.commits, args.fanouts)))


if __name__ == "__main__":
    sys.exit(main())
