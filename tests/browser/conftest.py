"""Browser tests: Playwright drives Debian's Chromium against pytest-django's live server.

Fixtures:

- ``browser`` (session): one headless Chromium, ``/usr/bin/chromium`` or ``$ACCORD_CHROMIUM``
  (never a browser downloaded by ``playwright install``). Without it the tests are skipped,
  except under ``CI=true``, where they fail: CI must never skip them silently.
- ``page`` (per test): a page in a fresh browser context (own cookies, locale ``fr-FR``) whose
  base URL is the live server, so ``page.goto(reverse("login"))`` works.
- ``assert_accessible`` (per test): ``assert_accessible(page)`` runs axe-core (from the npm
  registry, ``tests/browser/axe/``, installed by ``dev.py``'s ``npm ci``) in the page and fails
  listing every violation of impact "serious" or "critical". Without its npm package the test
  is skipped, except under ``CI=true``, where it fails.

Every test in this folder is marked ``browser`` (``pytest -m "not browser"`` leaves them out),
uses ``transactional_db`` through ``live_server`` (the server thread must see the test's rows),
and gets the autouse fixtures of ``tests/conftest.py``, which the server thread sees too: MD5
password hashing, and static files served from ``static/`` without ``collectstatic``.

Playwright's sync API and Django's async-safety check
------------------------------------------------------
Playwright's sync API runs its asyncio loop in a greenlet of the main thread and, between two
calls, leaves that loop registered as the thread's *running* loop. Django then takes any ORM
call from the test as a call from async code and raises ``SynchronousOnlyOperation``;
asgiref's ``async_to_sync`` and pytest-asyncio's loops refuse to start as well. With a
session-wide browser this would not stop at the browser tests: every test run after them
(pytest-django runs the transactional ones, these included, before the tests without a
database) would see that loop. So:

- the loop is *parked* (unregistered from the thread) while no browser test runs, and
  registered again only for the duration of each browser test, by ``_playwright_drives``.
  Nothing can run on it meanwhile: it only advances when a Playwright call switches to its
  greenlet, and each call re-registers it anyway (``_impl/_greenlets.py``, wait_for_future);
- inside a browser test, ``DJANGO_ALLOW_ASYNC_UNSAFE`` is set for that test only. This is
  safe here: no coroutine ever runs concurrently with the test's ORM calls (the loop is idle
  in its greenlet until the next Playwright call, on the same thread), which is exactly the
  case Django's check cannot tell apart from a real one. Doing the ORM work before starting
  Playwright is not an option with a session-scoped browser: session fixtures are set up
  before the test's own fixtures, and a test often needs to check the database after a click.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("ACCORD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HERE = Path(__file__).resolve().parent
AXE_SCRIPT = HERE / "axe" / "node_modules" / "axe-core" / "axe.min.js"
# The impacts that fail a test: "serious" and "critical" stop or badly hinder someone (a field
# without a label, text without contrast); "minor" and "moderate" ones are reported by axe only.
AXE_FAILING_IMPACTS = ("serious", "critical")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)


def _unavailable(reason: str) -> None:
    """Skip, except on CI (``CI=true``) where a missing browser must fail the run."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: browser tests may not be skipped)", pytrace=False)
    pytest.skip(reason)


class _Driver:
    """Playwright and its Chromium, with its event loop parked between browser tests."""

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self.playwright = sync_playwright().start()
        self.loop = asyncio._get_running_loop()
        try:
            self.browser = self.playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
        except BaseException:
            self.playwright.stop()
            raise
        self.park()

    def park(self) -> None:
        asyncio._set_running_loop(None)

    def resume(self) -> None:
        asyncio._set_running_loop(self.loop)

    def close(self) -> None:
        self.resume()
        try:
            self.browser.close()
        finally:
            self.playwright.stop()  # unregisters the loop and closes it


@pytest.fixture(scope="session")
def _playwright_driver() -> Iterator[_Driver]:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium, or ACCORD_CHROMIUM)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[test]')")
    driver = _Driver()
    yield driver
    driver.close()


@pytest.fixture(scope="session")
def browser(_playwright_driver: _Driver):
    """The session's headless Chromium (``playwright.sync_api.Browser``)."""
    return _playwright_driver.browser


@pytest.fixture(autouse=True)
def _playwright_drives(_playwright_driver: _Driver, monkeypatch) -> Iterator[None]:
    """Registers Playwright's loop for this test only; see the module docstring."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    _playwright_driver.resume()
    try:
        yield
    finally:
        _playwright_driver.park()


@pytest.fixture
def own_event_loop(_playwright_driver: _Driver):
    """``with own_event_loop():`` around a test's own work that runs an event loop of its own
    in this thread (a committee vote decided: its minutes signed by pyHanko, which calls
    ``asyncio.run``), which refuses to start while Playwright's loop is registered."""

    @contextmanager
    def parked() -> Iterator[None]:
        _playwright_driver.park()
        try:
            yield
        finally:
            _playwright_driver.resume()

    return parked


@pytest.fixture
def page(browser, live_server):
    """A page in a fresh context: French locale, base URL of the live server."""
    context = browser.new_context(locale="fr-FR", base_url=live_server.url)
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def axe_violations(page) -> list[dict]:
    """The serious and critical violations axe-core finds in the page as it stands (rules of
    WCAG 2.x A and AA and axe's best practices, as RGAA builds on WCAG 2.1 AA)."""
    if not AXE_SCRIPT.is_file():
        _unavailable(f"axe-core is not installed (npm ci in {AXE_SCRIPT.parents[2]})")
    # Evaluated through the DevTools protocol, not as a <script>: the pages' Content Security
    # Policy refuses inline scripts, rightly, and the check must not loosen it.
    page.evaluate(AXE_SCRIPT.read_text(encoding="utf-8"))
    result = page.evaluate(
        """async () => await axe.run(document, {
            runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa",
                                             "best-practice"]},
            resultTypes: ["violations"],
        })"""
    )
    return [v for v in result["violations"] if v["impact"] in AXE_FAILING_IMPACTS]


def describe_violations(violations: list[dict]) -> str:
    """One paragraph per violation: the rule, its impact, and where (up to 5 elements)."""
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(f"    {' '.join(node['target'])}: {node['failureSummary']}")
        if len(violation["nodes"]) > 5:
            lines.append(f"    … and {len(violation['nodes']) - 5} more")
    return "\n".join(lines)


@pytest.fixture
def assert_accessible():
    """``assert_accessible(page)``: fails naming every serious or critical axe-core violation."""

    def check(page) -> None:
        violations = axe_violations(page)
        assert not violations, f"axe-core on {page.url}:\n" + describe_violations(violations)

    return check
