"""A signing key that has expired is replaced, never used again."""

import datetime

import pytest
from django.utils import timezone

from signatures import keys
from signatures.models import SigningKey
from signatures.selectors import document_verify
from signatures.services import sign_pdf
from tests.factories import UserFactory
from tests.signatures.test_key_rotation import unsigned_pdf

pytestmark = pytest.mark.django_db


def test_an_expired_personal_key_is_retired_and_replaced():
    person = UserFactory()
    first = keys.person_key(person)
    SigningKey.objects.filter(pk=first.pk).update(
        not_after=timezone.now() - datetime.timedelta(days=1)
    )

    second = keys.person_key(person)

    assert second.pk != first.pk
    assert second.not_after > timezone.now()
    first.refresh_from_db()
    assert first.revoked_at is not None
    assert keys.person_key(person).pk == second.pk


def test_an_expired_seal_is_replaced():
    first = keys.seal_key()
    SigningKey.objects.filter(pk=first.pk).update(
        not_after=timezone.now() - datetime.timedelta(days=1)
    )

    assert keys.seal_key().pk != first.pk


def test_a_renewed_certificate_signs_instead_of_the_ready_signer_of_the_old_one():
    """The signers kept ready per process follow the stored certificate."""
    person = UserFactory()
    first = keys.person_key(person)
    assert keys.signer_for(first) is keys.signer_for(keys.person_key(person))
    SigningKey.objects.filter(pk=first.pk).update(
        not_after=timezone.now() - datetime.timedelta(days=1)
    )

    renewed = keys.person_key(person)
    signed = sign_pdf(
        unsigned_pdf(),
        field_name="signature",
        stored_key=renewed,
        name="Renouvellement",
        reason="test",
        stamp=["Renouvellement"],
    )

    (signature,) = document_verify(signed).signatures
    assert signature.ok
    assert signature.certificate_sha256 == renewed.fingerprint != first.fingerprint
