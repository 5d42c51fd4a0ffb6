"""tests/workers.py: each pytest-xdist worker gets the next Redis database."""

import pytest

from tests.workers import redis_url_for_worker


@pytest.mark.parametrize(
    ("url", "index", "expected"),
    [
        ("redis://127.0.0.1:6379/5", 0, "redis://127.0.0.1:6379/5"),
        ("redis://127.0.0.1:6379/5", 1, "redis://127.0.0.1:6379/6"),
        ("redis://127.0.0.1:6379", 1, "redis://127.0.0.1:6379/1"),
        ("redis://:secret@redis.example:6380/0", 2, "redis://:secret@redis.example:6380/2"),
        ("unix:///run/redis.sock?db=2", 1, "unix:///run/redis.sock?db=3"),
        ("unix:///run/redis.sock", 1, "unix:///run/redis.sock?db=1"),
        ("redis://127.0.0.1/3?db=1", 1, "redis://127.0.0.1/3?db=2"),  # redis-py reads db= first
    ],
)
def test_each_worker_moves_the_database_up_by_its_number(url, index, expected):
    assert redis_url_for_worker(url, index) == expected
