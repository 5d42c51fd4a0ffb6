"""Rotating ACCORD_SIGNING_KEY: the previous keys still open the stored signing keys until
`manage.py rotate_signing_key` re-encrypts them all with the new one, after which the old one
can go and signing goes on."""

import secrets
from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from fpdf import FPDF

from signatures import keys
from signatures.document import FieldBox, _with_fields
from signatures.models import SigningKey
from signatures.selectors import document_verify
from signatures.services import sign_pdf
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

OLD, NEW = secrets.token_urlsafe(50), secrets.token_urlsafe(50)


def unsigned_pdf() -> bytes:
    """One page with one empty signature field, "signature"."""
    pdf = FPDF()
    pdf.add_page()
    return _with_fields(bytes(pdf.output()), [FieldBox("signature", 0, (60, 60, 260, 120))])


def rotate() -> str:
    out = StringIO()
    call_command("rotate_signing_key", stdout=out)
    return out.getvalue()


def test_rotation_re_encrypts_every_key_and_signing_goes_on_without_the_old_key(settings):
    settings.ACCORD_SIGNING_KEY = OLD
    person = keys.person_key(UserFactory())  # and the authority that issued it
    before = {k.pk: bytes(k.private_key) for k in SigningKey.objects.all()}
    assert len(before) == 2

    settings.ACCORD_SIGNING_KEY, settings.ACCORD_SIGNING_KEY_PREVIOUS = NEW, [OLD]
    keys.signer_for(person)  # before the rotation: the previous key still opens it

    assert rotate() == "2 signing keys re-encrypted with ACCORD_SIGNING_KEY, 0 already were.\n"
    after = {k.pk: bytes(k.private_key) for k in SigningKey.objects.all()}
    assert all(after[pk] != before[pk] for pk in before)
    # Idempotent: a second run finds everything under the new key and changes nothing.
    assert rotate() == "0 signing keys re-encrypted with ACCORD_SIGNING_KEY, 2 already were.\n"
    assert {k.pk: bytes(k.private_key) for k in SigningKey.objects.all()} == after

    settings.ACCORD_SIGNING_KEY_PREVIOUS = []  # the old key removed
    signed = sign_pdf(
        unsigned_pdf(),
        field_name="signature",
        stored_key=keys.person_key(person.person),
        name="Rotation",
        reason="test",
        stamp=["Rotation"],
    )
    assert [s.ok for s in document_verify(signed).signatures] == [True]
    person.refresh_from_db()
    settings.ACCORD_SIGNING_KEY = OLD  # and the old key alone no longer opens anything
    with pytest.raises(ImproperlyConfigured, match="ACCORD_SIGNING_KEY does not open"):
        keys.signer_for(person)


def test_rotation_without_the_old_key_changes_nothing_and_says_why(settings):
    settings.ACCORD_SIGNING_KEY = OLD
    keys.person_key(UserFactory())
    before = sorted(bytes(k.private_key) for k in SigningKey.objects.all())

    settings.ACCORD_SIGNING_KEY, settings.ACCORD_SIGNING_KEY_PREVIOUS = NEW, []
    with pytest.raises(CommandError, match="opens with neither ACCORD_SIGNING_KEY nor"):
        rotate()

    assert sorted(bytes(k.private_key) for k in SigningKey.objects.all()) == before


def test_a_signer_is_ready_once_per_process_and_a_rotation_drops_it(settings):
    settings.ACCORD_SIGNING_KEY = OLD
    person = keys.person_key(UserFactory())
    ready = keys.signer_for(person)
    assert keys.signer_for(keys.person_key(person.person)) is ready  # not decrypted again

    settings.ACCORD_SIGNING_KEY, settings.ACCORD_SIGNING_KEY_PREVIOUS = NEW, [OLD]
    under_both = keys.signer_for(person)
    assert under_both is not ready  # other secrets: decrypted again, not answered from memory
    rotate()

    settings.ACCORD_SIGNING_KEY_PREVIOUS = []
    rotated = keys.signer_for(keys.person_key(person.person))
    assert rotated is not under_both
    assert rotated.signing_cert.dump() == bytes(person.certificate)
