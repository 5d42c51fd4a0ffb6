"""Celery application: e-mail, reminders and other background work.

On the embedded default (no REDIS_URL) tasks run eagerly in the web process.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("accord")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
