"""Two-factor authentication in tests: an authenticator app's codes computed as the app
computes them (django-otp's TOTP), and a staff session verified for the administration."""

from __future__ import annotations

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP, hotp
from django_otp.plugins.otp_totp.models import TOTPDevice

from workflows import two_factor
from workflows.models import User
from workflows.services.account import two_factor_enrol


def code_for_secret(secret: str | bytes, *, steps_ahead: int = 0) -> str:
    """What an app set up with ``secret`` (hex, as stored, or raw bytes) shows now, or
    ``steps_ahead`` periods of 30 seconds from now."""
    key = bytes.fromhex(secret) if isinstance(secret, str) else secret
    totp = TOTP(key, step=two_factor.TOTP_STEP, digits=two_factor.TOTP_DIGITS)
    totp.time = totp.time + steps_ahead * two_factor.TOTP_STEP
    return f"{totp.token():0{two_factor.TOTP_DIGITS}d}"


def enrol(user: User) -> tuple[TOTPDevice, list[str]]:
    """The person enrols an authenticator app (the service the page calls, with the app's
    first code); returns it and the recovery codes."""
    secret = two_factor.new_secret()
    return two_factor_enrol(user=user, secret=secret, code=code_for_secret(secret))


def next_code(device: TOTPDevice) -> str:
    """The app's next code that the device accepts: each code is accepted once, and the
    device allows one period of drift around its clock, so the next period's code once the
    current one is used; when both are, as if the app were read 30 seconds later."""
    device.refresh_from_db()
    now = TOTP(
        device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift
    ).t()
    if device.last_t >= now + 1:
        device.last_t = now - 1
        TOTPDevice.objects.filter(pk=device.pk).update(last_t=device.last_t)
    step = max(now, device.last_t + 1)
    return f"{hotp(device.bin_key, step, digits=device.digits):0{device.digits}d}"


def log_in_verified(client: Client, user: User) -> TOTPDevice:
    """``force_login`` for a session that also passed the second step (as the code page leaves
    it: django-otp's device id in the session), the person's authenticator enrolled."""
    device = two_factor.authenticator(user) or enrol(user)[0]
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device
