"""Run Accord's benchmarks on PostgreSQL and print the figures.

    .venv/bin/python -m benchmarks.run                      # everything
    .venv/bin/python -m benchmarks.run --only walk          # or --only inbox, audit, contract_page
    .venv/bin/python -m benchmarks.run --only floor --iterations 14 --kinds  # against viewflow
    .venv/bin/python -m benchmarks.run --only contract_page --copies 4 --entries 2000
    .venv/bin/python -m benchmarks.run --only audit --history 1000000
    .venv/bin/python -m benchmarks.run --only analytics --analytics-tasks 300000
    .venv/bin/python -m benchmarks.run --only signing   # the signer kept ready, or not
    .venv/bin/python -m benchmarks.run --only hashers   # a password check: PBKDF2, Argon2id
    .venv/bin/python -m benchmarks.run --only prepared --tasks 100000 --history 1000000
    .venv/bin/python -m benchmarks.run --tasks 1000,100000 --users 5000

The database is ``BENCH_DATABASE_URL`` (default
``postgres://postgres@127.0.0.1:5432/accord_bench``), never ``DATABASE_URL``: it is DROPPED,
created and migrated at each run, so its name must contain "bench". Redis is ``BENCH_REDIS_URL``
(default ``redis://127.0.0.1:6379/15``).
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets

from . import databases

# Never the DATABASE_URL of the environment (CI's, a developer's): this one is dropped.
os.environ["DATABASE_URL"] = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/accord_bench"
)
# As in production: Celery work (e-mails, webhooks) goes to the Redis broker instead of running
# inline, and pushes go through the Redis channel layer. BENCH_REDIS_URL= (empty) runs the
# embedded way instead. Queued messages are purged after the walk: no worker consumes them.
os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("ACCORD_CHANNEL_PREFIX", "accord-bench")
# A production start refuses a weak key (config/settings.py): a fresh one per run.
os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("ACCORD_SIGNING_KEY", secrets.token_urlsafe(50))
# The walk's signers have no authenticator app: signing asks for their password only.
os.environ.setdefault("ACCORD_REQUIRE_2FA_FOR_SIGNING", "false")
# Accord's settings with the floor's flow installed (benchmarks/floor/: no model, no migration).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")


def recreate_database() -> None:
    """A fresh database for every run: figures never depend on what a previous run left."""
    databases.recreate_database(os.environ["DATABASE_URL"], variable="BENCH_DATABASE_URL")


def machine() -> list[str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in open("/proc/cpuinfo", encoding="utf-8")  # noqa: SIM115
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (server_version,) = cursor.fetchone()
    return [
        f"Machine: {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
        f"PostgreSQL {server_version}"
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        choices=[
            "inbox",
            "walk",
            "floor",
            "audit",
            "contract_page",
            "analytics",
            "signing",
            "prepared",
            "hashers",
        ],
    )
    parser.add_argument(
        "--iterations", type=int, default=14, help="Accord and floor walks, alternated (floor)"
    )
    parser.add_argument(
        "--kinds", action="store_true", help="statements by kind, one walk each (floor)"
    )
    parser.add_argument(
        "--history", type=int, default=1_000_000, help="history entries for the audit search"
    )
    parser.add_argument(
        "--tasks", default="1000,100000", help="open-task totals for the inbox (comma-separated)"
    )
    parser.add_argument(
        "--analytics-tasks",
        type=int,
        default=300_000,
        help="finished tasks for the analytics (about those of the million-entry history)",
    )
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument(
        "--entries", type=int, default=2000, help="history entries of the contract page's contract"
    )
    parser.add_argument("--copies", type=int, default=4, help="the big walk's demo actions x N")
    parser.add_argument(
        "--repeat", type=int, default=5, help="walks of the 38-action demo (the median reported)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="profile one 38-action walk (cProfile) instead"
    )
    parser.add_argument(
        "--checks", type=int, default=20, help="password checks per hasher, alternated (hashers)"
    )
    args = parser.parse_args(argv)

    if args.only == "hashers":  # no database
        import django

        django.setup()
        from . import hashers

        print("\n== One password check: PBKDF2 against Argon2id, alternated ==")
        print("\n".join(hashers.run(args.checks)))
        return

    recreate_database()
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    print("\n".join(machine()))

    if args.profile:
        import cProfile
        import pstats

        from . import walk

        walk.walk_to_signed(walk.demo_document(1, "-WARM"))  # imports, caches
        profile = cProfile.Profile()
        profile.runcall(walk.walk_to_signed, walk.demo_document(1, "-PROFILED"))
        pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
        return

    if args.only in (None, "walk"):
        from . import walk

        # Unmeasured first: imports, template and translation caches, the signing authority
        # and each person's key, as a server that has already served a request has them.
        walk.walk_to_signed(walk.demo_document(1, "-WARM"))
        demo_walks = [
            walk.walk_to_signed(walk.demo_document(1, f"-X1-{n}")) for n in range(args.repeat)
        ]
        big_walk = walk.walk_to_signed(walk.demo_document(args.copies, f"-X{args.copies}"))
        if os.environ["REDIS_URL"]:
            from config import celery_app

            celery_app.control.purge()
        print("\n== The demo contract, draft -> signed, through the approval services ==")
        median = sorted(demo_walks, key=lambda w: w.seconds - w.pdf_seconds)[args.repeat // 2]
        print("\n".join(walk.report([median, big_walk])))
        if args.repeat > 1:
            print(f"\nThe {args.repeat} walks of 38 actions (the median is shown above):")
            print("\n".join(walk.spread(demo_walks)))
        print(
            f"(A signer's password check with the production hasher takes "
            f"{walk.password_check_seconds():.2f} s more per signature.)"
        )

    if args.only in (None, "signing"):
        from . import signing

        print("\n== One PAdES signature: the signer kept ready per process, or built each time ==")
        print("\n".join(signing.run()))

    if args.only == "prepared":  # not in the default run: it builds the inbox's data again
        from . import prepared

        print("\n== The inbox with and without server-side prepared statements, alternated ==")
        total = max(int(total) for total in args.tasks.split(","))
        if total:  # --tasks 0: the audit pages only
            print("\n".join(prepared.run(users=args.users, total=total)))
        if args.history:
            print("\n".join(prepared.audit_pages(entries=args.history, users=args.users)))

    if args.only in (None, "floor"):
        from .floor import compare

        print("\n== The demo walk against the bare viewflow floor, alternated ==")
        print("\n".join(compare.run(args.iterations, kinds=args.kinds)))
        if os.environ["REDIS_URL"]:
            from config import celery_app

            celery_app.control.purge()

    if args.only in (None, "inbox"):
        from . import inbox

        totals = [int(total) for total in args.tasks.split(",")]
        print("\n== The inbox of one person among many ==")
        print("\n".join(inbox.run(users=args.users, totals=totals)))

    if args.only in (None, "audit"):
        from . import audit

        print("\n== The auditor's search across a large history ==")
        print(
            "\n".join(
                audit.run(entries=args.history, contracts=args.history // 1000, users=args.users)
            )
        )

    if args.only in (None, "contract_page"):
        from . import contract_page

        print(f"\n== The contract page of a {args.copies} x 38-action contract under review ==")
        print("\n".join(contract_page.run(copies=args.copies, entries=args.entries)))

    if args.only in (None, "analytics"):
        from . import analytics

        print(
            "\n== Bottleneck analytics: time spent per kind of task, group, organisation, person =="
        )
        print(
            "\n".join(
                analytics.run(
                    tasks=args.analytics_tasks,
                    contracts=max(args.analytics_tasks // 300, 1),
                    users=args.users,
                )
            )
        )


if __name__ == "__main__":
    main()
