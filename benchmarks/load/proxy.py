"""A minimal TCP round-robin proxy for the load test only: the Procfile has no proxy, and
docs/deploy.md puts nginx in front of the web processes, which this machine does not have.

    python -m benchmarks.load.proxy --listen 8600 --to 8601,8602

Each connection (HTTP keep-alive or WebSocket alike) goes to the next web process in turn and
stays there, as nginx's default round-robin upstream does; bytes are copied as they are (no
X-Forwarded-* headers: the servers run with ACCORD_TRUSTED_PROXIES unset).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import signal

CHUNK = 65536


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def serve(listen: int, backends: list[int]) -> None:
    turn = itertools.cycle(backends)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        port = next(turn)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", listen, backlog=1024)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--to", required=True, help="the web processes' ports, comma-separated")
    args = parser.parse_args()
    asyncio.run(serve(args.listen, [int(port) for port in args.to.split(",")]))


if __name__ == "__main__":
    main()
