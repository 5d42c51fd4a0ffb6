"""Accord's settings, with the floor's app (benchmarks/floor/) installed: benchmarks only."""

from config.settings import *  # noqa: F403 (the same settings, one app more)
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "benchmarks.floor"]
