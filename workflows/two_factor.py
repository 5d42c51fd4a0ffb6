"""Two-factor authentication (django-otp): the codes of an authenticator app (TOTP, RFC 6238)
and single-use recovery codes (django-otp's static tokens).

A person has at most one confirmed authenticator (``TOTPDevice``) and one set of recovery
codes (``StaticDevice`` and its tokens), created together when they enrol
(``workflows.services.account``). Who has an authenticator types a code after the password to
log in; the administration requires a session verified so; signing asks for a code with the
password when ``ACCORD_REQUIRE_2FA_FOR_SIGNING`` is on (``workflows.services.tasks``).

A code is checked against the one device its form points to (six digits: the authenticator;
anything else: a recovery code), never against every device in turn: a device that refuses a
code counts a failure (django-otp's throttling), which would slow down the other device for
every code typed for this one.
"""

from __future__ import annotations

import re
from base64 import b32encode
from binascii import unhexlify
from typing import TYPE_CHECKING

from django.conf import settings
from django_otp import verify_token
from django_otp.models import Device
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.util import random_hex

if TYPE_CHECKING:
    from .models import User

# How many recovery codes a person gets at once, each usable once.
RECOVERY_CODE_COUNT = 10
# The authenticator's codes: six digits, a new one every 30 seconds (django-otp's defaults,
# what every authenticator app expects); one step before or after is accepted (clock drift).
TOTP_DIGITS = 6
TOTP_STEP = 30
TOTP_TOLERANCE = 1
AUTHENTICATOR_NAME = "authenticator"
RECOVERY_NAME = "recovery codes"

_TOTP_CODE = re.compile(rf"\d{{{TOTP_DIGITS}}}")


def normalise(code: str) -> str:
    """A code as typed, without the spaces and dashes people add when they copy it."""
    return re.sub(r"[\s-]+", "", code or "").lower()


def authenticator(user: User) -> TOTPDevice | None:
    """The person's confirmed authenticator app, if they enrolled one."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def has_authenticator(user: User) -> bool:
    """Whether the person enrolled an authenticator app (and so must give its codes)."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def recovery_codes_left(user: User) -> int:
    """How many of the person's recovery codes are still unused."""
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def verify(user: User, code: str) -> Device | None:
    """The device that accepts ``code`` for this person (the authenticator for six digits,
    the recovery codes otherwise), or None. A recovery code is used up, an authenticator's
    code cannot be given twice; in the caller's transaction when there is one."""
    code = normalise(code)
    if not code:
        return None
    model: type[Device] = TOTPDevice if _TOTP_CODE.fullmatch(code) else StaticDevice
    device = model.objects.filter(user=user, confirmed=True).order_by("pk").first()
    if device is None:
        return None
    return verify_token(user, device.persistent_id, code)


# --- Enrolment --------------------------------------------------------------------------------


def new_secret() -> str:
    """A new authenticator secret (20 random bytes, hex), kept in the session until the
    person confirms it with a first code."""
    return random_hex(20)


def secret_for_humans(secret: str) -> str:
    """The secret as authenticator apps ask to type it: base32, in groups of four."""
    text = b32encode(unhexlify(secret)).decode("ascii")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def provisioning_uri(user: User, secret: str) -> str:
    """The ``otpauth://totp/...`` URI of the QR code (issuer OTP_TOTP_ISSUER, the account's
    username)."""
    return TOTPDevice(user=user, key=secret, digits=TOTP_DIGITS, step=TOTP_STEP).config_url


def first_code_match(secret: str, code: str) -> tuple[int, int] | None:
    """The time step and clock drift of ``code`` if it is a current code of ``secret`` (None
    otherwise): a person confirms their enrolment with it; the device keeps both, as it does
    for every code it accepts (django-otp's TOTPDevice.verify_token), so that this code
    cannot be given again."""
    code = normalise(code)
    if not _TOTP_CODE.fullmatch(code):
        return None
    totp = TOTP(unhexlify(secret), step=TOTP_STEP, digits=TOTP_DIGITS)
    if not totp.verify(int(code), tolerance=TOTP_TOLERANCE):
        return None
    return totp.t(), totp.drift


def new_recovery_codes() -> list[str]:
    """Fresh recovery codes, as django-otp draws them (eight base32 characters each)."""
    return [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]


def signing_requires_code() -> bool:
    """Whether signing asks for a second factor (ACCORD_REQUIRE_2FA_FOR_SIGNING)."""
    return bool(settings.ACCORD_REQUIRE_2FA_FOR_SIGNING)


def factor_of(device: Device) -> str:
    """What a device is, as a signature's evidence names it: ``totp`` (an authenticator's
    code) or ``recovery_code``."""
    return "totp" if isinstance(device, TOTPDevice) else "recovery_code"
