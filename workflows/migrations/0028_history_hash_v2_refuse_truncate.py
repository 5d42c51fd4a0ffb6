"""History hash version 2 and no TRUNCATE of the history.

- ``hash_version``: the entries written so far keep version 1 (their hash covers the
  usernames, not the accounts' ids); the new ones are written in version 2, which covers every
  column the audit displays or searches on (workflows.models.history).
- PostgreSQL: the row-level triggers of 0003 refuse UPDATE and DELETE, but TRUNCATE fires no
  row trigger, and emptied the history and its checkpoints in one statement. A statement-level
  trigger now refuses it too. Whoever drops the trigger to force it is caught by the anchors
  kept outside the table (workflows.anchors). The test suite's flush, which truncates every
  table, runs as a replica session (tests/conftest.py), where triggers do not fire.
"""

from django.db import migrations, models

TRUNCATE_REFUSED_TABLES = [
    "workflows_historyentry",
    "workflows_historyexport",
    "workflows_historycheckpoint",
]

INSTALL = "".join(
    f"""
CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION accord_refuse_history_change();
"""
    for table in TRUNCATE_REFUSED_TABLES
)

UNINSTALL = "".join(
    f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};\n"
    for table in TRUNCATE_REFUSED_TABLES
)


def install_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(INSTALL, params=None)


def uninstall_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(UNINSTALL, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0027_observers"),
    ]

    operations = [
        # Existing entries: version 1, as they were hashed.
        migrations.AddField(
            model_name="historyentry",
            name="hash_version",
            field=models.PositiveSmallIntegerField(default=1, verbose_name="hash version"),
        ),
        migrations.AlterField(
            model_name="historyentry",
            name="hash_version",
            field=models.PositiveSmallIntegerField(default=2, verbose_name="hash version"),
        ),
        migrations.RunPython(install_trigger, uninstall_trigger),
    ]
