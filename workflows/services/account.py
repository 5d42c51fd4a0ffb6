"""A person's own two-factor authentication: enrol an authenticator app (with recovery codes),
draw new recovery codes, remove the authenticator. Each acts on the caller's own account
only; nothing here concerns a contract, so nothing is written to a contract's history.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from .. import lockout, two_factor
from ..errors import ApplicationError, Conflict
from ..models import User
from .tasks import ClientInfo

ALREADY_ENROLLED = gettext_noop("Two-factor authentication is already set up on your account.")
NOT_ENROLLED = gettext_noop("Two-factor authentication is not set up on your account.")
ENROL_CODE_MISSING = gettext_noop("Enter the code your authenticator app shows.")
ENROL_CODE_REFUSED = gettext_noop(
    "This code does not match: check that the app shows the Accord account you just added, "
    "and type its current code."
)
REMOVE_PASSWORD_REFUSED = gettext_noop("The password is incorrect.")


class TwoFactorLockedOut(ApplicationError):
    """Too many wrong passwords or codes from this account or address (workflows.lockout)."""

    status_code = 429


@transaction.atomic
def two_factor_enrol(*, user: User, secret: str, code: str) -> tuple[TOTPDevice, list[str]]:
    """Enrol the authenticator app set up with ``secret`` (shown to the person, kept in their
    session), confirmed by one of its current codes; with a fresh set of recovery codes.
    Returns the authenticator and the recovery codes, to show once."""
    # The person's row locked: two confirmations at once make one authenticator, not two.
    User.objects.select_for_update().filter(pk=user.pk).first()
    if two_factor.has_authenticator(user):
        raise Conflict(_(ALREADY_ENROLLED))
    if not two_factor.normalise(code):
        raise ApplicationError(_(ENROL_CODE_MISSING))
    match = two_factor.first_code_match(secret, code)
    if match is None:
        raise ApplicationError(_(ENROL_CODE_REFUSED))
    time_step, drift = match
    TOTPDevice.objects.filter(user=user).delete()  # unconfirmed leftovers (the admin's)
    device = TOTPDevice(
        user=user,
        name=two_factor.AUTHENTICATOR_NAME,
        key=secret,
        digits=two_factor.TOTP_DIGITS,
        step=two_factor.TOTP_STEP,
        tolerance=two_factor.TOTP_TOLERANCE,
        drift=drift,
        last_t=time_step,  # this code is used: it cannot log in or sign
        confirmed=True,
    )
    device.full_clean()
    device.save()
    return device, _replace_recovery_codes(user)


@transaction.atomic
def recovery_codes_regenerate(*, user: User) -> list[str]:
    """New recovery codes for the person; the previous ones no longer work. Returns them, to
    show once."""
    User.objects.select_for_update().filter(pk=user.pk).first()
    if not two_factor.has_authenticator(user):
        raise Conflict(_(NOT_ENROLLED))
    return _replace_recovery_codes(user)


def two_factor_remove(*, user: User, password: str, client: ClientInfo) -> None:
    """Remove the person's authenticator and recovery codes, once they typed their password
    again (a wrong one counts towards the log-in lockout)."""
    attempt = lockout.signing_request(client.ip_address, client.user_agent, lockout.ACCOUNT_PATH)
    credentials = {"username": user.username}
    if not lockout.credential_allowed(user.username, attempt):
        raise TwoFactorLockedOut(lockout.lockout_message(attempt, credentials))
    if not user.check_password(password):
        if lockout.credential_failed(user.username, attempt):
            raise TwoFactorLockedOut(lockout.lockout_message(attempt, credentials))
        raise ApplicationError(_(REMOVE_PASSWORD_REFUSED))
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()
        if not two_factor.has_authenticator(user):
            raise Conflict(_(NOT_ENROLLED))
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()


def _replace_recovery_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=two_factor.RECOVERY_NAME, confirmed=True)
    codes = two_factor.new_recovery_codes()
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes
