"""Certificates issued before the authority published its revocation list name no CRL
distribution point: ``manage.py reissue_certificates`` replaces them, without revoking the
old ones (their past signatures carry their own validation data)."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from django.core.management import call_command
from django.utils import timezone

from signatures import keys, pki
from signatures.models import SigningKey
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def as_issued_before_the_crl(stored: SigningKey) -> SigningKey:
    """The stored certificate re-drawn as Accord issued it before: the same key and
    subject, no CRL distribution point."""
    certificate = x509.load_der_x509_certificate(bytes(stored.certificate))
    private = serialization.load_der_private_key(keys.private_key_info(stored).dump(), None)
    authority = keys.authority_certificate()
    builder = (
        x509.CertificateBuilder()
        .subject_name(certificate.subject)
        .issuer_name(authority.subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(certificate.not_valid_before_utc)
        .not_valid_after(certificate.not_valid_after_utc)
    )
    for extension in certificate.extensions:
        if not isinstance(extension.value, x509.CRLDistributionPoints):
            builder = builder.add_extension(extension.value, critical=extension.critical)
    old = builder.sign(keys.authority_key(), hashes.SHA256())
    der = old.public_bytes(serialization.Encoding.DER)
    SigningKey.objects.filter(pk=stored.pk).update(
        certificate=der, fingerprint=keys.fingerprint(der)
    )
    stored.refresh_from_db()
    return stored


def distribution_points(stored: SigningKey) -> list[str]:
    certificate = x509.load_der_x509_certificate(bytes(stored.certificate))
    try:
        points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    except x509.ExtensionNotFound:
        return []
    return [name.value for point in points.value for name in point.full_name or []]


def test_a_certificate_without_distribution_point_is_reissued_and_not_revoked():
    person = UserFactory()
    old_person = as_issued_before_the_crl(keys.person_key(person))
    old_seal = as_issued_before_the_crl(keys.seal_key())
    current = keys.timestamping_key()  # issued with its distribution point: left alone
    assert distribution_points(old_person) == []

    out = StringIO()
    call_command("reissue_certificates", "--dry-run", stdout=out)
    assert "2 certificates to reissue." in out.getvalue()
    assert keys.person_key(person).pk == old_person.pk

    out = StringIO()
    call_command("reissue_certificates", stdout=out)
    assert "2 certificates reissued." in out.getvalue()
    new_person, new_seal = keys.person_key(person), keys.seal_key()
    assert new_person.pk != old_person.pk
    assert new_seal.pk != old_seal.pk
    assert distribution_points(new_person) == [keys.revocation_list_url()]
    assert distribution_points(new_seal) == [keys.revocation_list_url()]
    assert keys.timestamping_key().pk == current.pk
    # Superseded, not revoked: the published list names neither.
    from cryptography.x509 import load_der_x509_crl

    revoked = load_der_x509_crl(pki.revocation_list())
    for old in (old_person, old_seal):
        serial = x509.load_der_x509_certificate(bytes(old.certificate)).serial_number
        assert revoked.get_revoked_certificate_by_serial_number(serial) is None
        old.refresh_from_db()
        assert old.revoked_at is not None
        assert old.revoked_at <= timezone.now() + datetime.timedelta(seconds=1)

    out = StringIO()
    call_command("reissue_certificates", stdout=out)
    assert "0 certificates reissued." in out.getvalue()
