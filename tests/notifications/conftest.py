import pytest

from config.celery_app import app as celery_app


@pytest.fixture(autouse=True)
def _celery_in_process():
    """Tasks run in the test's process, as on the embedded default, whatever REDIS_URL says:
    no worker runs beside the tests and nothing is left queued in Redis."""
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = eager
