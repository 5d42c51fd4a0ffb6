"""A web process, once its application is built, keeps start-up's objects out of the garbage
collector's walks (config/process.py): a full collection inside a request would otherwise
cost up to 200 ms (docs/benchmarks.md)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_asgi_application_settles_its_start_up_heap():
    script = (
        "import gc, json, config.asgi; "
        "print(json.dumps([gc.get_freeze_count(), gc.get_threshold()[0]]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    frozen, young_threshold = json.loads(result.stdout.strip().splitlines()[-1])
    from config.process import YOUNG_COLLECTION_THRESHOLD

    # Django, the apps and their modules: tens of thousands of objects at least.
    assert frozen > 10_000
    assert young_threshold == YOUNG_COLLECTION_THRESHOLD
