"""Accord's own certification authority and the certificates it issues.

The authority is created on first use. Every private key is stored encrypted with a Fernet
key derived from ACCORD_SIGNING_KEY, so that a copy of the database alone signs nothing. The
key can be rotated: the previous ones, in ACCORD_SIGNING_KEY_PREVIOUS, still open what they
encrypted until ``signing_keys_rotate`` (``manage.py rotate_signing_key``) re-encrypts it.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from pyhanko.sign.signers import SimpleSigner
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash, process_pss_params

from workflows.errors import ApplicationError
from workflows.models import Organisation, User

from .models import KeyKind, SigningKey

AUTHORITY_YEARS = 20
CERTIFICATE_YEARS = 3
KEY_SIZE = 2048
# Signers kept ready per process (``signer_for``): a few hundred people signing in a week.
SIGNERS_KEPT = 256


def _fernet_of(secret: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))


def _current_fernet() -> Fernet:
    secret = settings.ACCORD_SIGNING_KEY
    if not secret:
        raise ImproperlyConfigured("ACCORD_SIGNING_KEY must be set when DATABASE_URL is set.")
    return _fernet_of(secret)


def _fernet() -> MultiFernet:
    """Encrypts with ACCORD_SIGNING_KEY; decrypts with it or any of the previous keys
    (ACCORD_SIGNING_KEY_PREVIOUS), so that a rotation under way signs on."""
    previous = [_fernet_of(secret) for secret in settings.ACCORD_SIGNING_KEY_PREVIOUS if secret]
    return MultiFernet([_current_fernet(), *previous])


def _encrypt(key: PrivateKeyTypes) -> bytes:
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return _fernet().encrypt(der)


def _decrypt(stored: SigningKey) -> bytes:
    try:
        return _fernet().decrypt(bytes(stored.private_key))
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "ACCORD_SIGNING_KEY does not open the stored signing keys: it changed since they "
            "were created (put the previous one in ACCORD_SIGNING_KEY_PREVIOUS, then run "
            "`manage.py rotate_signing_key`)."
        ) from exc


def _private_key(stored: SigningKey) -> PrivateKeyTypes:
    return _loaded(_decrypt(stored))


def _loaded(der: bytes) -> PrivateKeyTypes:
    """A stored private key (decrypted), loaded without checking it again.

    cryptography checks an RSA key's mathematics when it loads one (about 30 ms of CPU for a
    2,048-bit key here, several times the signature itself). Every stored key was checked
    when it came in: generated here, or read from an organisation's PKCS#12 (which cryptography
    checks); since then it is kept under Fernet, whose authentication refuses any change, so
    what decrypts is what was checked. ``unsafe_skip_rsa_key_validation`` is cryptography's
    documented switch for exactly that case (a key from a trusted source)."""
    return serialization.load_der_private_key(
        der, password=None, unsafe_skip_rsa_key_validation=True
    )


@dataclass(frozen=True)
class Rotation:
    """What a rotation did: keys re-encrypted now, keys already under the current key."""

    rotated: int
    current: int


@transaction.atomic
def signing_keys_rotate() -> Rotation:
    """Re-encrypt every stored private key with ACCORD_SIGNING_KEY, opening it with that key
    or a previous one; keys already under the current key are left as they are, so running
    it again changes nothing. All or nothing: one key no known secret opens stops it."""
    transaction.on_commit(signers_forget)
    current, every = _current_fernet(), _fernet()
    rotated = already = 0
    for stored in SigningKey.objects.select_for_update().order_by("pk"):
        token = bytes(stored.private_key)
        try:
            current.decrypt(token)
        except InvalidToken:
            pass
        else:
            already += 1
            continue
        try:
            stored.private_key = every.rotate(token)
        except InvalidToken as exc:
            raise ImproperlyConfigured(
                f"Signing key {stored.pk} ({stored.subject}) opens with neither "
                "ACCORD_SIGNING_KEY nor ACCORD_SIGNING_KEY_PREVIOUS: nothing was re-encrypted."
            ) from exc
        stored.save(update_fields=["private_key"])
        rotated += 1
    return Rotation(rotated=rotated, current=already)


def fingerprint(certificate_der: bytes) -> str:
    return hashlib.sha256(certificate_der).hexdigest()


def _name(common_name: str, organisation: str = "") -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COUNTRY_NAME, "FR")]
    if organisation:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation[:64]))
    parts.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]))
    return x509.Name(parts)


def _store(
    kind: str,
    certificate: x509.Certificate,
    key: PrivateKeyTypes,
    *,
    chain: Sequence[x509.Certificate] = (),
    person: User | None = None,
    organisation: Organisation | None = None,
) -> SigningKey:
    der = certificate.public_bytes(serialization.Encoding.DER)
    return SigningKey.objects.create(
        kind=kind,
        person=person,
        organisation=organisation,
        subject=certificate.subject.rfc4514_string()[:500],
        certificate=der,
        chain=b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain),
        private_key=_encrypt(key),
        fingerprint=fingerprint(der),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
    )


def _current(kind: str, **lookup: Any) -> SigningKey | None:
    return SigningKey.objects.filter(
        kind=kind, revoked_at__isnull=True, not_after__gt=timezone.now(), **lookup
    ).first()


def _create_once(kind: str, create: Callable[[], SigningKey], **lookup: Any) -> SigningKey:
    """Create a key unless another process just did: the unique constraint decides. An
    expired key is retired first, so that it neither blocks its successor nor comes back."""
    now = timezone.now()
    SigningKey.objects.filter(
        kind=kind, revoked_at__isnull=True, not_after__lte=now, **lookup
    ).update(revoked_at=now)
    try:
        with transaction.atomic():
            return create()
    except IntegrityError:
        return SigningKey.objects.get(
            kind=kind, revoked_at__isnull=True, not_after__gt=now, **lookup
        )


def authority() -> SigningKey:
    """The installation's root certificate, created on first use."""
    existing = _current(KeyKind.AUTHORITY)
    if existing is not None:
        return existing

    def create() -> SigningKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
        name = _name("Accord — autorité de certification", "Accord")
        now = timezone.now()
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=365 * AUTHORITY_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        return _store(KeyKind.AUTHORITY, certificate, key)

    return _create_once(KeyKind.AUTHORITY, create)


def authority_certificate() -> x509.Certificate:
    return x509.load_der_x509_certificate(bytes(authority().certificate))


def revocation_list_url() -> str:
    """Where Accord publishes its authority's CRL: written in every certificate it issues, so
    that a reader, years later, knows where to ask whether it was revoked."""
    return settings.ACCORD_BASE_URL.rstrip("/") + reverse("signatures:pki_crl")


def _issue(
    kind: str,
    subject: x509.Name,
    *,
    usage: Sequence[x509.ObjectIdentifier] = (ExtendedKeyUsageOID.EMAIL_PROTECTION,),
    **owner: Any,
) -> SigningKey:
    ca = authority()
    ca_certificate = x509.load_der_x509_certificate(bytes(ca.certificate))
    ca_key = _private_key(ca)
    if not isinstance(ca_key, rsa.RSAPrivateKey):  # authority() always makes an RSA key
        raise ImproperlyConfigured("The stored key of Accord's authority is not an RSA key.")
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    now = timezone.now()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365 * CERTIFICATE_YEARS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        # RFC 3161 wants a time-stamping certificate's only usage, marked critical.
        .add_extension(
            x509.ExtendedKeyUsage(list(usage)),
            critical=ExtendedKeyUsageOID.TIME_STAMPING in usage,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        full_name=[x509.UniformResourceIdentifier(revocation_list_url())],
                        relative_name=None,
                        reasons=None,
                        crl_issuer=None,
                    )
                ]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return _store(kind, certificate, key, chain=[ca_certificate], **owner)


def person_key(person: User) -> SigningKey:
    """The person's certificate from Accord's authority, issued once: by the worker when a
    signature is first asked of them (``tasks.issue_signing_certificates``), else at their
    first signature."""
    existing = _current(KeyKind.PERSON, person=person)
    if existing is not None:
        return existing
    organisation = person.organisation.name if person.organisation else ""
    return _create_once(
        KeyKind.PERSON,
        lambda: _issue(KeyKind.PERSON, _name(person.display_name, organisation), person=person),
        person=person,
    )


def signing_key(organisation: Organisation, person: User) -> SigningKey:
    """The key a party's signature uses: its organisation's own certificate when it uploaded
    one, else the signing person's from Accord's authority (issued now if they have none)."""
    return organisation_key(organisation) or person_key(person)


def seal_key() -> SigningKey:
    """Accord's own seal, closing a signed document."""
    existing = _current(KeyKind.SEAL)
    if existing is not None:
        return existing
    return _create_once(
        KeyKind.SEAL, lambda: _issue(KeyKind.SEAL, _name("Accord — cachet serveur", "Accord"))
    )


def timestamping_key() -> SigningKey:
    """The certificate of Accord's own time-stamping service (RFC 3161), used when no outside
    authority is configured (ACCORD_TSA_URL)."""
    existing = _current(KeyKind.TIMESTAMPING)
    if existing is not None:
        return existing
    return _create_once(
        KeyKind.TIMESTAMPING,
        lambda: _issue(
            KeyKind.TIMESTAMPING,
            _name("Accord — horodatage", "Accord"),
            usage=[ExtendedKeyUsageOID.TIME_STAMPING],
        ),
    )


def authority_key() -> rsa.RSAPrivateKey:
    """The authority's private key, to sign what it publishes (its revocation list)."""
    key = _private_key(authority())
    if not isinstance(key, rsa.RSAPrivateKey):  # authority() always makes an RSA key
        raise ImproperlyConfigured("The stored key of Accord's authority is not an RSA key.")
    return key


def private_key_info(stored: SigningKey) -> asn1_keys.PrivateKeyInfo:
    return asn1_keys.PrivateKeyInfo.load(_decrypt(stored))


def organisation_key(organisation: Organisation) -> SigningKey | None:
    """The certificate an organisation uploaded for its signatures, if any."""
    return _current(KeyKind.ORGANISATION, organisation=organisation)


def read_pkcs12(
    data: bytes, password: str
) -> tuple[PrivateKeyTypes, x509.Certificate, list[x509.Certificate]]:
    """(key, certificate, chain) from a PKCS#12 file, or a clear refusal."""
    try:
        key, certificate, extra = pkcs12.load_key_and_certificates(
            data, password.encode() if password else None
        )
    except ValueError as exc:
        raise ApplicationError(
            _("This file is not a PKCS#12 file, or the password does not open it.")
        ) from exc
    if key is None or certificate is None:
        raise ApplicationError(_("The PKCS#12 file must hold a certificate and its private key."))
    if certificate.not_valid_after_utc <= timezone.now():
        raise ApplicationError(_("This certificate has expired."))
    if SigningKey.objects.filter(
        fingerprint=fingerprint(certificate.public_bytes(serialization.Encoding.DER))
    ).exists():
        raise ApplicationError(
            _("This certificate is already in Accord: a certificate is uploaded only once.")
        )
    return key, certificate, list(extra or [])


@transaction.atomic
def import_pkcs12(*, organisation: Organisation, data: bytes, password: str) -> SigningKey:
    """Keep an organisation's own PKCS#12 for its signatures, replacing the previous one."""
    key, certificate, chain = read_pkcs12(data, password)
    withdraw_organisation_key(organisation)
    return _store(KeyKind.ORGANISATION, certificate, key, chain=chain, organisation=organisation)


def withdraw_organisation_key(organisation: Organisation) -> int:
    """The organisation's signatures go back to its people's certificates from Accord."""
    return SigningKey.objects.filter(
        kind=KeyKind.ORGANISATION, organisation=organisation, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())


class LoadedKeySigner(SimpleSigner):
    """pyHanko's in-memory signer with its private key loaded once. ``SimpleSigner`` loads
    (and, for RSA, checks) the key again at each signature: about 40 ms here, against a
    quarter of a millisecond for the signature itself."""

    def __init__(self, *args: Any, private_key: PrivateKeyTypes, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.private_key = private_key

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
        try:
            algorithm = mechanism.signature_algo  # "sha256_rsa" → "rsassa_pkcs1v15"
        except ValueError:
            algorithm = mechanism["algorithm"].native
        key = self.private_key
        if isinstance(key, rsa.RSAPrivateKey) and algorithm == "rsassa_pkcs1v15":
            return key.sign(data, padding.PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))
        if isinstance(key, rsa.RSAPrivateKey) and algorithm == "rsassa_pss":
            pss, digest = process_pss_params(mechanism["parameters"])
            return key.sign(data, pss, digest)
        if isinstance(key, ec.EllipticCurvePrivateKey) and algorithm == "ecdsa":
            return key.sign(data, ec.ECDSA(get_pyca_cryptography_hash(digest_algorithm)))
        # Any other mechanism (an organisation's own key of another kind): pyHanko's way.
        return super().sign_raw(data, digest_algorithm)


_signers_lock = threading.Lock()
_signers: OrderedDict[tuple[int, str, bytes, bytes], LoadedKeySigner] = OrderedDict()


def _secrets_digest() -> bytes:
    """Which secrets open the keys now: a signer decrypted under others is not reused."""
    secrets = [settings.ACCORD_SIGNING_KEY, *settings.ACCORD_SIGNING_KEY_PREVIOUS]
    return hashlib.sha256("\0".join(secrets).encode()).digest()


def signers_forget() -> None:
    """Drop every ready signer of this process (after a rotation; the next signature
    decrypts again). Other processes notice by themselves: a signer is kept under its
    stored row's certificate and encrypted key, which a rotation or a renewal changes."""
    with _signers_lock:
        _signers.clear()


def signer_for(stored: SigningKey) -> LoadedKeySigner:
    """A pyHanko signer holding the decrypted key, its certificate and its issuers, ready
    once per process: decrypting, loading and checking the key cost more than signing.
    It is looked up by the stored row (its certificate and its encrypted key, as read by the
    caller's query) and the secrets configured, so that a renewed certificate, a rotation
    or a changed ACCORD_SIGNING_KEY is never answered from memory."""
    cache_key = (
        stored.pk,
        stored.fingerprint,
        hashlib.sha256(bytes(stored.private_key)).digest(),
        _secrets_digest(),
    )
    with _signers_lock:
        signer = _signers.get(cache_key)
        if signer is not None:
            _signers.move_to_end(cache_key)
            return signer
    signer = _signer_of(stored)
    with _signers_lock:
        _signers[cache_key] = signer
        while len(_signers) > SIGNERS_KEPT:
            _signers.popitem(last=False)
    return signer


def _signer_of(stored: SigningKey) -> LoadedKeySigner:
    der = _decrypt(stored)
    chain = (
        [
            asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
            for c in x509.load_pem_x509_certificates(bytes(stored.chain))
        ]
        if stored.chain
        else []
    )
    return LoadedKeySigner(
        signing_cert=asn1_x509.Certificate.load(bytes(stored.certificate)),
        signing_key=asn1_keys.PrivateKeyInfo.load(der),
        cert_registry=SimpleCertificateStore.from_certs(chain),
        private_key=_loaded(der),
    )
