"""Accord's authority and the signing keys, encrypted at rest with ACCORD_SIGNING_KEY."""

import pytest
from cryptography import x509
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from signatures import keys
from signatures.models import KeyKind, SigningKey
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_person_certificate_is_issued_once_by_the_installation_authority():
    person = UserFactory(first_name="Élodie", last_name="Adjointe")

    first, again = keys.person_key(person), keys.person_key(person)

    assert first.pk == again.pk
    assert SigningKey.objects.filter(kind=KeyKind.AUTHORITY).count() == 1
    certificate = x509.load_der_x509_certificate(bytes(first.certificate))
    authority = keys.authority_certificate()
    assert certificate.issuer == authority.subject
    certificate.verify_directly_issued_by(authority)
    assert "Élodie Adjointe" in first.subject


def test_the_keys_cannot_be_opened_with_another_signing_key(settings):
    stored = keys.person_key(UserFactory())
    keys.signer_for(stored)  # opens with the key it was made with

    settings.ACCORD_SIGNING_KEY = "another-key"
    with pytest.raises(ImproperlyConfigured, match="ACCORD_SIGNING_KEY does not open"):
        keys.signer_for(stored)


def test_accord_refuses_to_start_without_a_signing_key(settings):
    settings.ACCORD_SIGNING_KEY = ""

    with pytest.raises(SystemCheckError, match="ACCORD_SIGNING_KEY is not set"):
        call_command("check")
