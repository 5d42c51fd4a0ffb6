"""The benchmarks' own databases, dropped and created again at each run."""

from __future__ import annotations

import sys


def recreate_database(url: str, *, variable: str, template: str | None = None) -> None:
    """A fresh PostgreSQL database at ``url`` (a copy of ``template``'s when given), so that no
    figure depends on what a previous run left. Refuses (exit) any other engine, and any
    database whose name lacks "bench": ``variable`` names the setting to fix."""
    import environ
    import psycopg
    from psycopg import sql

    config = environ.Env.db_url_config(url)
    if config["ENGINE"] != "django.db.backends.postgresql":
        sys.exit(f"The benchmarks run on PostgreSQL: set {variable} to a postgres:// URL.")
    if "bench" not in config["NAME"]:
        sys.exit(f'The database {config["NAME"]} would be dropped: its name must contain "bench".')
    with psycopg.connect(
        host=config["HOST"] or None,
        port=config["PORT"] or None,
        user=config["USER"] or None,
        password=config["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as server:
        name = sql.Identifier(config["NAME"])
        server.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        if template is None:
            server.execute(sql.SQL("CREATE DATABASE {}").format(name))
        else:
            source = sql.Identifier(environ.Env.db_url_config(template)["NAME"])
            server.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(name, source))
