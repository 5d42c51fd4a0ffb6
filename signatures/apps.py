from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.utils.translation import gettext_lazy as _


class SignaturesConfig(AppConfig):
    name = "signatures"
    verbose_name = _("Signatures")

    def ready(self) -> None:
        checks.register(signing_key_check)
        checks.register(timestamp_roots_check)


def signing_key_check(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Refuse to start (migrate, check) without the key that encrypts the signing keys, so
    that a production set-up fails at deployment rather than at its first signature."""
    if settings.ACCORD_SIGNING_KEY:
        return []
    return [
        checks.Error(
            "ACCORD_SIGNING_KEY is not set.",
            hint="Set it to a long random secret, kept as carefully as DJANGO_SECRET_KEY and "
            "never changed: the signing keys stored by Accord are encrypted with it.",
            id="signatures.E001",
        )
    ]


def timestamp_roots_check(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """An outside time-stamping authority's roots must be readable certificates: every
    signature (ACCORD_TSA_URL) and every check of a document or of the history reads them
    (``pki.outside_tsa_roots``), and a file gone or broken would otherwise show first as an
    error on those pages."""
    from django.core.exceptions import ImproperlyConfigured

    from . import pki

    if not settings.ACCORD_TSA_URL and not settings.ACCORD_TSA_ROOTS:
        return []
    try:
        pki.outside_tsa_roots()
    except ImproperlyConfigured:
        return [
            checks.Error(
                "ACCORD_TSA_URL is set without ACCORD_TSA_ROOTS.",
                hint="Set ACCORD_TSA_ROOTS to the PEM file of the root certificates of "
                "that time-stamping authority.",
                id="signatures.E002",
            )
        ]
    except (OSError, ValueError) as exc:
        return [
            checks.Error(
                f"ACCORD_TSA_ROOTS ({settings.ACCORD_TSA_ROOTS}) cannot be read as PEM "
                f"certificates: {exc}",
                hint="Keep the outside time-stamping authority's roots there for as long as "
                "documents it timestamped are checked (docs/deploy.md).",
                id="signatures.E003",
            )
        ]
    return []
