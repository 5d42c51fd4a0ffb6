"""`manage.py import_contract FILE`: a summary on success, every problem and status 1 otherwise."""

import json
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError
from django.utils.translation import override

from tests.factories import UserFactory
from workflows.models import Contract, HistoryEntry, Organisation, User

pytestmark = pytest.mark.django_db


def write(tmp_path: Path, document: dict, name: str = "contrat.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def run(*args: str) -> tuple[str, str]:
    stdout, stderr = StringIO(), StringIO()
    with override("en"):
        call_command("import_contract", *args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def refused(*args: str) -> tuple[str, str]:
    """Run the command expecting a refusal: (the CommandError's message, what went to stderr)."""
    stderr = StringIO()
    counts = (Contract.objects.count(), Organisation.objects.count(), User.objects.count())
    with override("en"), pytest.raises(CommandError) as info:
        call_command("import_contract", *args, stdout=StringIO(), stderr=stderr)
    assert info.value.returncode == 1
    assert (Contract.objects.count(), Organisation.objects.count(), User.objects.count()) == counts
    return str(info.value), stderr.getvalue()


def test_it_imports_the_scenario_and_says_what_it_did(tmp_path, scenario):
    stdout, stderr = run(str(write(tmp_path, scenario)))

    assert stdout.strip() == (
        "Imported CLS-TDC-2019 (38 actions, 10 working groups, 8 signatories): status draft"
    )
    assert stderr == ""
    contract = Contract.objects.get(reference="CLS-TDC-2019")
    assert HistoryEntry.objects.get(contract=contract).actor is None


def test_it_imports_a_yaml_file(tmp_path, scenario):
    path = tmp_path / "contrat.yaml"
    path.write_text(yaml.safe_dump(scenario, allow_unicode=True), encoding="utf-8")

    stdout, _ = run(str(path))

    assert stdout.startswith("Imported CLS-TDC-2019 (38 actions")


def test_it_records_who_imported_with_as(tmp_path, scenario):
    admin = UserFactory(username="admin")

    run(str(write(tmp_path, scenario)), "--as", "admin")

    assert HistoryEntry.objects.get(contract__reference="CLS-TDC-2019").actor == admin


def test_it_refuses_an_unknown_as(tmp_path, scenario):
    message, _ = refused(str(write(tmp_path, scenario)), "--as", "personne")

    assert message == 'No person with username "personne".'


def test_it_prints_every_problem_and_imports_nothing(tmp_path, scenario):
    scenario["themes"][2]["actions"][4]["working_group"] = "GT11"
    scenario["steering_committee"]["quorum"] = 6

    message, stderr = refused(str(write(tmp_path, scenario)))

    assert message == "The contract file has 2 problems; nothing was imported."
    assert stderr.splitlines() == [
        'themes[2].actions[4].working_group: unknown working group "GT11"',
        "steering_committee.quorum: the quorum (6) is above the committee's size (5)",
    ]


def test_it_refuses_a_reference_already_imported(tmp_path, scenario):
    path = str(write(tmp_path, scenario))
    run(path)

    _, stderr = refused(path)

    assert stderr.splitlines() == ['reference: contract "CLS-TDC-2019" already exists']


def test_it_says_where_a_file_that_is_not_json_goes_wrong(tmp_path):
    path = tmp_path / "contrat.json"
    path.write_bytes(b'{"format": "accord.contract/1",\n  "reference" "CLS"}')

    message, stderr = refused(str(path))

    assert message == "The contract file is not valid JSON."
    assert stderr.splitlines() == ["line 2, column 15: a colon (:) is expected here"]


def test_it_refuses_an_oversized_file(tmp_path, scenario, settings):
    settings.ACCORD_IMPORT_MAX_BYTES = 1000
    path = write(tmp_path, scenario)

    message, _ = refused(str(path))

    size = path.stat().st_size
    assert message == f"The contract file is too large: {size} bytes, the limit is 1000 bytes."


def test_it_says_so_when_the_file_is_missing(tmp_path):
    message, _ = refused(str(tmp_path / "absent.json"))

    assert message == f'No file "{tmp_path / "absent.json"}".'


def test_it_says_so_when_the_file_cannot_be_read(tmp_path):
    message, _ = refused(str(tmp_path))

    assert message.startswith(f'Cannot read "{tmp_path}": ')


# Committed rows: like a process ending, the command line closes the database connections.
@pytest.mark.django_db(transaction=True)
def test_from_the_shell_a_broken_file_exits_1_without_a_traceback(tmp_path, scenario, capsys):
    """`manage.py import_contract` is execute_from_command_line: the CommandError becomes
    status 1 and one line on stderr, never a traceback."""
    scenario["themes"][2]["actions"][4]["working_group"] = "GT11"
    path = write(tmp_path, scenario)

    with pytest.raises(SystemExit) as result:
        execute_from_command_line(["manage.py", "import_contract", str(path)])

    assert result.value.code == 1
    stdout, stderr = capsys.readouterr()
    assert "Traceback" not in stdout + stderr
    assert "themes[2].actions[4].working_group: " in stderr
    assert '"GT11"' in stderr
    assert stderr.rstrip().splitlines()[-1].startswith("CommandError: ")
