from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.utils.translation import gettext_lazy as _


class SignaturesConfig(AppConfig):
    name = "signatures"
    verbose_name = _("Signatures")

    def ready(self) -> None:
        checks.register(signing_key_check)


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
