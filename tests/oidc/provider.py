"""A real OpenID provider for the single sign-on tests: ``provider.mjs`` (panva's oidc-provider,
shaped like ProConnect) in a Node.js process of its own.

Its npm packages come from ``package-lock.json`` (``npm ci`` in this folder, which
``dev.py test`` runs, and so CI). Without Node.js or those packages the tests that need the
provider are skipped, except under ``CI=true``, where they fail: CI must never skip them.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.urls import reverse

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "provider.mjs"
STARTUP_SECONDS = 15


def unavailable(reason: str) -> NoReturn:
    """Skip, except on CI (``CI=true``) where a missing provider must fail the run."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(
            f"{reason} (CI=true: the single sign-on tests may not be skipped)", pytrace=False
        )
    pytest.skip(reason)


def sso_settings(
    *, issuer: str, client_id: str, client_secret: str, base_url: str
) -> dict[str, Any]:
    """The settings that ACCORD_OIDC_CLIENT_ID, ACCORD_OIDC_CLIENT_SECRET and ACCORD_OIDC_ISSUER
    give (config/settings.py), ProConnect's endpoints under the issuer, Accord at base_url."""
    policy = settings.CONTENT_SECURITY_POLICY
    issuer_origin = urlsplit(issuer)._replace(path="", query="", fragment="").geturl()
    backends = [
        backend
        for backend in settings.AUTHENTICATION_BACKENDS
        if backend != "workflows.sso.ProConnectBackend"
    ]
    return {
        "ACCORD_OIDC_ENABLED": True,
        "ACCORD_OIDC_CLIENT_ID": client_id,
        "ACCORD_OIDC_ISSUER": issuer,
        "OIDC_RP_CLIENT_ID": client_id,
        "OIDC_RP_CLIENT_SECRET": client_secret,
        "OIDC_OP_AUTHORIZATION_ENDPOINT": f"{issuer}/authorize",
        "OIDC_OP_TOKEN_ENDPOINT": f"{issuer}/token",
        "OIDC_OP_USER_ENDPOINT": f"{issuer}/userinfo",
        "OIDC_OP_JWKS_ENDPOINT": f"{issuer}/jwks",
        "ACCORD_OIDC_END_SESSION_ENDPOINT": f"{issuer}/session/end",
        "ACCORD_BASE_URL": base_url,
        "AUTHENTICATION_BACKENDS": [*backends, "workflows.sso.ProConnectBackend"],
        # As config/settings.py allows the log-out's redirect to the provider's end_session.
        "CONTENT_SECURITY_POLICY": {
            **policy,
            "DIRECTIVES": {
                **policy["DIRECTIVES"],
                "form-action": [*policy["DIRECTIVES"]["form-action"], issuer_origin],
            },
        },
    }


@dataclass(frozen=True)
class OpenIDProvider:
    issuer: str
    client_id: str
    client_secret: str

    def settings_for(self, base_url: str) -> dict[str, Any]:
        """Accord, served at base_url, set up with this provider as its ProConnect."""
        return sso_settings(
            issuer=self.issuer,
            client_id=self.client_id,
            client_secret=self.client_secret,
            base_url=base_url,
        )


@contextmanager
def running_provider(base_url: str) -> Iterator[OpenIDProvider]:
    """The provider, with one client: Accord served at base_url."""
    node = shutil.which("node")
    if node is None:
        unavailable("Node.js is not installed (apt-get install nodejs npm)")
    if not (HERE / "node_modules" / "oidc-provider").is_dir():
        unavailable(f"the provider's npm packages are not installed (npm ci in {HERE})")
    client_id = "accord-tests"
    client_secret = secrets.token_urlsafe(32)
    base_url = base_url.rstrip("/")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "OIDC_CLIENT_ID": client_id,
        "OIDC_CLIENT_SECRET": client_secret,
        "OIDC_REDIRECT_URI": base_url + reverse("proconnect_callback"),
        "OIDC_POST_LOGOUT_REDIRECT_URI": base_url + reverse("login"),
    }
    with tempfile.TemporaryFile(mode="w+") as errors:
        process = subprocess.Popen(
            [str(node), str(SCRIPT)],
            cwd=HERE,
            env=env,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        try:
            ready, _, _ = select.select([process.stdout], [], [], STARTUP_SECONDS)
            line = process.stdout.readline() if ready and process.stdout else ""
            if not line:
                errors.seek(0)
                raise RuntimeError(f"the OpenID provider did not start:\n{errors.read()}")
            yield OpenIDProvider(json.loads(line)["issuer"], client_id, client_secret)
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
