"""An organisation's own PKCS#12, uploaded in the admin, signs for it instead of Accord's."""

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
from cryptography.x509.oid import NameOID
from django.core.files.uploadedfile import SimpleUploadedFile

from signatures.models import ContractDocument, SignatureEvidence, SigningKey
from signatures.selectors import document_verify
from tests.factories import ActionFactory, SignatoryFactory, UserFactory
from tests.flows import walk_to_signed
from tests.two_factor import log_in_verified

pytestmark = pytest.mark.django_db


def make_pkcs12(
    common_name: str,
    password: bytes,
    *,
    days: int = 365,
    key: PrivateKeyTypes | None = None,
) -> bytes:
    """A certificate from the organisation's own authority, as a PKCS#12 file (with ``key``,
    else a new one)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    key = key or ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Autorité de l'ARS")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now - datetime.timedelta(days=2))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(ca_key, hashes.SHA256())
    )
    return pkcs12.serialize_key_and_certificates(
        b"ars", key, certificate, [ca], BestAvailableEncryption(password)
    )


@pytest.fixture
def admin_client(client):
    log_in_verified(client, UserFactory(is_staff=True, is_superuser=True))
    return client


def upload(admin_client, organisation, data: bytes, password: str):
    return admin_client.post(
        "/admin/signatures/signingkey/add/",
        {
            "organisation": organisation.pk,
            "pkcs12": SimpleUploadedFile("ars.p12", data),
            "password": password,
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )


def test_an_uploaded_certificate_signs_for_its_organisation(admin_client, contract, coordinator):
    ActionFactory(contract=contract)
    ars = SignatoryFactory(contract=contract)
    other = SignatoryFactory(contract=contract)

    response = upload(
        admin_client, ars.organisation, make_pkcs12("ARS Occitanie", b"s3cret"), "s3cret"
    )

    assert response.status_code == 302
    uploaded = SigningKey.objects.get(organisation=ars.organisation)
    walk_to_signed(contract, coordinator)
    assert SignatureEvidence.objects.get(signatory=ars).certificate_fingerprint == (
        uploaded.fingerprint
    )
    assert SignatureEvidence.objects.get(signatory=other).certificate_fingerprint == (
        SigningKey.objects.get(person=other.signer).fingerprint
    )
    document = ContractDocument.objects.get(contract=contract)
    check = document_verify(bytes(document.pdf), frozen=document)
    assert check.ok
    signed_by_ars = next(s for s in check.signatures if s.signer == "ARS Occitanie")
    # Intact and valid, though not issued by this installation's authority.
    assert (signed_by_ars.intact, signed_by_ars.trusted) == (True, False)


def test_a_wrong_password_or_an_expired_certificate_is_refused(admin_client, contract):
    ars = SignatoryFactory(contract=contract)

    wrong = upload(admin_client, ars.organisation, make_pkcs12("ARS", b"s3cret"), "nope")
    expired = upload(admin_client, ars.organisation, make_pkcs12("ARS", b"pw", days=-1), "pw")

    assert "the password does not open it" in wrong.content.decode()
    assert "This certificate has expired." in expired.content.decode()
    assert not SigningKey.objects.exists()


def _inconsistent_rsa_key() -> PrivateKeyTypes:
    """An RSA key with one CRT exponent off by two: it would sign wrongly (and a faulty
    RSA-CRT signature can give the key away)."""
    from asn1crypto import keys as asn1_keys
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    info = asn1_keys.PrivateKeyInfo.load(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    numbers = info["private_key"].parsed.native
    numbers["exponent1"] += 2
    broken = asn1_keys.PrivateKeyInfo(
        {
            "version": 0,
            "private_key_algorithm": info["private_key_algorithm"],
            "private_key": asn1_keys.RSAPrivateKey(numbers),
        }
    ).dump()
    return serialization.load_der_private_key(
        broken, password=None, unsafe_skip_rsa_key_validation=True
    )


def test_a_pkcs12_with_an_inconsistent_rsa_key_is_refused(admin_client, contract):
    """A stored key is checked once, as it comes in (signatures.keys._loaded does not check it
    again at each signature): an uploaded key that does not hold together never gets in."""
    ars = SignatoryFactory(contract=contract)

    data = make_pkcs12("ARS", b"pw", key=_inconsistent_rsa_key())

    refused = upload(admin_client, ars.organisation, data, "pw")

    assert refused.status_code == 200
    assert "This file is not a PKCS#12 file" in refused.content.decode()
    assert not SigningKey.objects.exists()


def test_the_same_certificate_uploaded_twice_is_refused_with_a_reason(admin_client, contract):
    ars = SignatoryFactory(contract=contract)
    data = make_pkcs12("ARS", b"pw")
    assert upload(admin_client, ars.organisation, data, "pw").status_code == 302

    again = upload(admin_client, ars.organisation, data, "pw")

    assert again.status_code == 200
    assert "This certificate is already in Accord" in again.content.decode()
    assert SigningKey.objects.count() == 1


def test_a_new_upload_replaces_the_previous_certificate(admin_client, contract):
    ars = SignatoryFactory(contract=contract)
    upload(admin_client, ars.organisation, make_pkcs12("ARS 2025", b"pw"), "pw")
    upload(admin_client, ars.organisation, make_pkcs12("ARS 2026", b"pw"), "pw")

    keys = SigningKey.objects.filter(organisation=ars.organisation).order_by("pk")
    assert [(k.subject, k.revoked_at is None) for k in keys] == [
        ("CN=ARS 2025", False),
        ("CN=ARS 2026", True),
    ]


@pytest.mark.parametrize("model", ["signingkey", "contractdocument", "signatureevidence"])
def test_the_admin_lists_certificates_documents_and_evidence_read_only(
    admin_client, contract, coordinator, model
):
    ActionFactory(contract=contract)
    walk_to_signed(contract, coordinator)
    listing = admin_client.get(f"/admin/signatures/{model}/")
    assert listing.status_code == 200
    first = {
        "signingkey": SigningKey,
        "contractdocument": ContractDocument,
        "signatureevidence": SignatureEvidence,
    }[model].objects.first()
    page = admin_client.get(f"/admin/signatures/{model}/{first.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert admin_client.post(f"/admin/signatures/{model}/{first.pk}/delete/").status_code == 403
