"""Staff's analytics over every contract, computed ahead (workflows.analytics.snapshots): the
page and the API serve the snapshot with the time it was computed; a task done since shows
once the periodic task ran again; a stale snapshot is computed again; a coordinator never
reads figures built over contracts they may not audit."""

from __future__ import annotations

import datetime

import pytest
from django.core.cache import cache
from django.test import Client, override_settings
from django.utils import dateformat, timezone, translation

from tests.factories import UserFactory
from tests.workflows.test_analytics import api_for, build_tasks, done_task
from tests.workflows.test_lockout import REDIS_DOWN
from workflows.analytics import snapshots
from workflows.models import TaskKind
from workflows.tasks import refresh_analytics

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_snapshot():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def tasks():
    return build_tasks()


@pytest.fixture
def staff():
    return UserFactory(username="analyste", is_staff=True)


def refreshed() -> datetime.datetime:
    """Run the periodic task as beat does; when it computed the figures."""
    return datetime.datetime.fromisoformat(refresh_analytics.apply().get())


def steps(user, **query) -> tuple[dict[str, int], set[str]]:
    """The tasks per kind over the default period, and the times the lines say."""
    lines = api_for(user).get("/api/v1/analytics/steps/", query).json()
    return {line["step"]: line["tasks"] for line in lines}, {line["computed_at"] for line in lines}


def a_review_done_since(tasks) -> None:
    done_task(tasks["second"], TaskKind.REVIEW, tasks["bob"], 3, days=6)


def test_the_snapshot_is_served_with_its_time_until_the_next_refresh(tasks, staff):
    at = refreshed()
    a_review_done_since(tasks)
    counts, times = steps(staff)
    assert counts == {"signature": 1, "review": 4, "vote": 1}  # as computed, not yet the new one
    assert {datetime.datetime.fromisoformat(time) for time in times} == {at}
    browser = Client()
    browser.force_login(staff)
    with translation.override("fr"):
        moment = timezone.localtime(at)
        day, hour = dateformat.format(moment, "j F Y"), dateformat.format(moment, r"G \h i")
    said = f"le {day} à {hour}"
    html = browser.get("/analyse/").content.decode()
    assert f"Chiffres calculés {said}." in html
    assert browser.get("/analyse/").context["tables"][0].lines[1].tasks == 4

    later = refreshed()
    assert later > at
    counts, times = steps(staff)
    assert counts == {"signature": 1, "review": 5, "vote": 1}
    assert {datetime.datetime.fromisoformat(time) for time in times} == {later}


def test_a_stale_snapshot_is_computed_again(tasks, staff, monkeypatch):
    at = refreshed()
    a_review_done_since(tasks)
    monkeypatch.setattr(snapshots, "MAX_AGE", datetime.timedelta(0))  # every snapshot stale
    counts, times = steps(staff)
    assert counts["review"] == 5
    (time,) = times
    assert datetime.datetime.fromisoformat(time) > at


def test_a_coordinator_never_reads_the_figures_over_every_contract(tasks, staff):
    refreshed()
    steps(staff)  # the snapshot read once by staff
    coordinator = tasks["first"].coordinators.get()
    counts, _ = steps(coordinator)
    assert counts == {"signature": 1, "review": 3}  # CLS-A only: no vote, no CLS-B review
    browser = Client()
    browser.force_login(coordinator)
    page = browser.get("/analyse/")
    assert [(line.key, line.tasks) for line in page.context["tables"][0].lines] == [
        ("signature", 1),
        ("review", 3),
    ]


def test_a_view_filtered_by_contract_is_computed_for_the_request(tasks, staff):
    refreshed()
    a_review_done_since(tasks)
    counts, _ = steps(staff, contract="CLS-B")
    assert counts == {"review": 2, "vote": 1}


def test_without_redis_the_figures_are_computed_for_the_request(tasks, staff, caplog):
    """The snapshot is a convenience: with the cache away (connection refused, short
    timeouts), the periodic task and the requests still answer, the figures computed live."""
    with override_settings(CACHES=REDIS_DOWN):
        refreshed()
        a_review_done_since(tasks)
        counts, _ = steps(staff)
    assert counts == {"signature": 1, "review": 5, "vote": 1}
    assert "analytics snapshot not read: the cache is unavailable" in caplog.messages
