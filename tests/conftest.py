import json
from pathlib import Path

import pytest
from django.db.backends.postgresql.operations import DatabaseOperations
from django.utils import translation
from django_prometheus.middleware import Metrics
from rest_framework.test import APIClient

from tests.factories import ContractFactory, UserFactory
from tests.shared import FAST_HASHERS, TEST_SIGNING_KEY
from tests.signatures.pdf import poppler

SCENARIO_PATH = (
    Path(__file__).resolve().parent.parent / "workflows/demo/terres-des-confluences.json"
)


# The tests whose behaviour depends on the embedded default: SQLite (its locking, its SQL: NULLs
# first, LIKE on ASCII only, text dates), the in-memory channel layer, eager Celery tasks, file
# e-mails, the local-memory cache. With PostgreSQL and Redis (CI), dev.py runs the whole suite
# on them, then only these again on the embedded default (`-m embedded`): the rest exercises
# Python that reads the same whichever the database. Without services every test runs on the
# embedded default. A test that depends on the embedded layers belongs here.
EMBEDDED_DEPENDENT = {
    "tests/notifications/": "in-memory channel layer, eager tasks, file e-mails, outbox locking",
    "tests/test_scenario.py": "the demo from its import to its annual review on SQLite, every "
    "verb through the API, as `dev.py run` serves it",
    "tests/workflows/test_api_auth.py": "the log-in throttle's counts in the local-memory cache",
    "tests/workflows/test_lockout.py": "django-axes' counts and the throttle without Redis",
    "tests/workflows/test_load_demo.py": "the demo loader, for the embedded default only",
    "tests/workflows/test_api_tasks.py": "the inbox's ordering (NULL due dates) and its pages",
    "tests/workflows/test_audit.py": "the audit search's SQL (accents, periods) and its exports",
    "tests/workflows/test_api_audit.py": "the same through the API",
    "tests/workflows/test_history.py": "the chain read back in order, and its verification",
    "tests/workflows/test_delegations.py": "absences by date range, applied by the hour",
    "tests/workflows/test_task_concurrency.py": "two decisions at once on an SQLite file",
    "tests/workflows/test_analytics.py": "the figures computed in Python on SQLite (it has no "
    "percentile_cont), which must be PostgreSQL's",
}


_sql_flush = DatabaseOperations.sql_flush


def _sql_flush_as_replica(self, style, tables, **options):  # type: ignore[no-untyped-def]
    """The flush between transactional tests truncates every table, which PostgreSQL's
    triggers refuse on the history (migration ..._history_hash_v2_refuse_truncate): it runs
    as a replication session, where triggers do not fire (superuser only, as an intruder
    would have to be)."""
    statements = _sql_flush(self, style, tables, **options)
    return ["SET LOCAL session_replication_role = replica", *statements] if statements else []


DatabaseOperations.sql_flush = _sql_flush_as_replica  # type: ignore[method-assign]


# The modules holding the suite's longest tests (a minute or more each on CI: the API fuzzing,
# the demo's whole life, the backup drill, a migration undone and redone, the browser walk of
# the demo's stages), run first. pytest-xdist hands the collected order out to its workers
# (`--dist worksteal`, dev.py): started last, one of them kept a worker busy minutes after the
# other had finished; started first, the short tests fill in around them. Whole modules move,
# in their own order, so that a module's shared fixtures are still made once.
LONGEST_FIRST = (
    "tests/test_api_fuzz.py",
    "tests/test_scenario.py",
    "tests/test_operations.py",
    "tests/workflows/test_people.py",
    "tests/browser/test_contract_page.py",
    "tests/workflows/test_history_completeness.py",
    "tests/workflows/test_one_door.py",
)


def _longest_first(item: pytest.Item) -> int:
    module = item.nodeid.split("::", 1)[0]
    return LONGEST_FIRST.index(module) if module in LONGEST_FIRST else len(LONGEST_FIRST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(tuple(EMBEDDED_DEPENDENT)):
            item.add_marker(pytest.mark.embedded)
    items.sort(key=_longest_first)  # stable: every other test keeps its place


@pytest.fixture(scope="session", autouse=True)
def _request_metrics_registered() -> None:
    """django-prometheus registers its request metrics when its middleware is first built,
    without a lock: two test clients making their first request at once from two threads (the
    concurrency tests) could both register them, and one failed with "Duplicated timeseries in
    CollectorRegistry". A server builds its middleware once, before any request; so do the
    tests, here."""
    Metrics.get_instance()


@pytest.fixture
def scenario() -> dict:
    """The demo contract file (38 actions, 10 working groups, 8 signatories), as a dict."""
    return json.loads(SCENARIO_PATH.read_text(encoding="utf-8"))


@pytest.fixture
def pdfsig() -> str:
    """poppler's pdfsig, which .ci/run installs: under ``CI=true`` a missing pdfsig fails the
    test instead of skipping it."""
    return poppler("pdfsig")


@pytest.fixture
def coordinator():
    return UserFactory(username="coordinatrice")


@pytest.fixture
def stranger():
    """Someone with an account who takes no part in the contract."""
    return UserFactory(username="inconnu")


@pytest.fixture
def contract(coordinator):
    return ContractFactory(coordinator=coordinator)


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture(autouse=True)
def _default_language():
    """Every test starts in French: a request in English leaves English active in the thread
    (LocaleMiddleware activates a language, nothing deactivates it), and which test runs next
    on a worker changes from one run to the next with pytest-xdist."""
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Real hashing costs ~0.3 s per account; tests create many accounts."""
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    """Pages render without `collectstatic` (the manifest storage needs its manifest)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _signing_key(settings):
    """The signing keys' encryption key, as production sets ACCORD_SIGNING_KEY."""
    if not settings.ACCORD_SIGNING_KEY:
        settings.ACCORD_SIGNING_KEY = TEST_SIGNING_KEY


@pytest.fixture(autouse=True)
def _signing_with_the_password_alone(settings):
    """Signing asks for no two-factor code unless a test says so (override_settings): the
    setting's own default follows the database (off on the embedded SQLite, on with
    PostgreSQL), and the suite runs on both."""
    settings.ACCORD_REQUIRE_2FA_FOR_SIGNING = False


@pytest.fixture(autouse=True)
def _anchors_of_this_test(settings, tmp_path):
    """The signed daily head files of this test alone: a head anchored by one test must not
    be looked for in another's history."""
    settings.ACCORD_ANCHORS_DIR = tmp_path / "anchors"
