"""The README's run command collects the static files with the production storage."""

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_collectstatic_succeeds_with_the_manifest_storage(settings, tmp_path):
    """An installed app whose CSS points at missing files breaks `python3 dev.py run`."""
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }

    call_command("collectstatic", "--noinput", verbosity=0)

    assert (tmp_path / "staticfiles.json").exists()
    assert (tmp_path / "accord.css").exists()
