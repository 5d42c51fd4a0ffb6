"""Long-term validation (PAdES B-LT / B-LTA): trusted time and revocation data.

A signature made with a certificate that expires in three years must still be checkable in
ten. Each signature therefore carries an RFC 3161 timestamp (an outside authority's when
ACCORD_TSA_URL is set, else Accord's own time-stamping service below), and the document's
security store (DSS) receives, with each signature, the certificates and the authority's
revocation list (CRL) that prove it was valid then; the seal adds a document timestamp over
all of it (B-LTA).

The CRL is built and signed in-process and handed to pyHanko ready-made, so that signing
never asks Accord itself, over HTTP, for what it publishes at ``revocation_list_url()``.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import cms, core, crl, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone
from pyhanko.sign import general
from pyhanko.sign.general import simple_cms_attribute
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from . import keys
from .models import KeyKind, SigningKey

# The policy under which Accord's time-stamping service answers (RFC 3161 TSTInfo.policy):
# an OID of the UUID arc (ITU-T X.667), Accord having no registered arc of its own.
TSA_POLICY = "2.25.212019468457373127395574216932771016341"
# Message imprints the service accepts, with their digest length: no MD5, no SHA-1.
TSA_DIGESTS = {"sha256": 32, "sha384": 48, "sha512": 64}
TSA_MAX_REQUEST = 4096  # bytes; a real request is about 60
# How long a published CRL is good for, and how often a process signs a fresh one.
CRL_VALIDITY = datetime.timedelta(days=7)
CRL_REFRESH_SECONDS = 3600
# The certificates Accord's authority issues (an organisation's own comes from elsewhere).
ISSUED_KINDS = (KeyKind.PERSON, KeyKind.SEAL, KeyKind.TIMESTAMPING)


def _not_the_fetching_warning(record: logging.LogRecord) -> bool:
    """Signing fetches nothing on purpose (the CRL is built here): pyHanko's warning that it
    cannot, logged at each signature, says nothing an operator can act on."""
    return "fetching is not allowed" not in record.getMessage()


logging.getLogger("pyhanko.sign.signers.pdf_signer").addFilter(_not_the_fetching_warning)


class AccordTimeStamper(DummyTimeStamper):
    """pyHanko's in-process time-stamper, made fit to answer requests from anyone: its own
    policy and long random serial numbers (the parent's are a test policy and 64 bits), the
    request checked (version, digest, policy, extensions) and refused as RFC 3161 says, and
    its certificate included only when asked (``certReq``). Its key is loaded once: loading
    (and checking) an RSA key costs more than the signature itself."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        key = serialization.load_der_private_key(self.tsa_key.dump(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):  # keys._issue makes RSA keys
            raise ImproperlyConfigured("The time-stamping key is not an RSA key.")
        self._private_key = key

    def _sign_tst_info(
        self, tst_info_data: bytes, md_algorithm: str, dt: datetime.datetime
    ) -> tuple[bytes, cms.CMSAttributes]:
        digest = hashes.Hash(get_pyca_cryptography_hash(md_algorithm))
        digest.update(tst_info_data)
        signed_attrs = cms.CMSAttributes(
            [
                simple_cms_attribute("content_type", "tst_info"),
                simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(dt)})),
                simple_cms_attribute(
                    "signing_certificate", general.as_signing_certificate(self.tsa_cert)
                ),
                simple_cms_attribute("message_digest", digest.finalize()),
            ]
        )
        signature = self._private_key.sign(
            signed_attrs.dump(), padding.PKCS1v15(), get_pyca_cryptography_hash(md_algorithm)
        )
        return signature, signed_attrs

    def _build_tst_info(
        self, message_imprint: tsp.MessageImprint, dt: datetime.datetime, req: tsp.TimeStampReq
    ) -> tsp.TSTInfo:
        info = {
            "version": "v1",
            "policy": TSA_POLICY,
            "message_imprint": message_imprint,
            "serial_number": x509.random_serial_number(),
            "gen_time": dt.astimezone(datetime.UTC),
            "tsa": asn1_x509.GeneralName(name="directory_name", value=self.tsa_cert.subject),
        }
        if req["nonce"].native is not None:
            info["nonce"] = req["nonce"]
        return tsp.TSTInfo(info)

    def request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        refusal = _refusal(req)
        if refusal is not None:
            return refusal
        response = super().request_tsa_response(req)
        if not req["cert_req"].native:
            token = response["time_stamp_token"]
            signed = token["content"]
            response = tsp.TimeStampResp(
                {
                    "status": response["status"],
                    "time_stamp_token": cms.ContentInfo(
                        {
                            "content_type": "signed_data",
                            "content": cms.SignedData(
                                {
                                    name: signed[name]
                                    for name in (
                                        "version",
                                        "digest_algorithms",
                                        "encap_content_info",
                                        "signer_infos",
                                    )
                                }
                            ),
                        }
                    ),
                }
            )
        return response


class TimeStampReply(tsp.TimeStampResp):
    """asn1crypto's TimeStampResp, whose token RFC 3161 makes optional (a rejection has
    none)."""

    _fields = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


def _rejection(failure: str, text: str) -> tsp.TimeStampResp:
    return TimeStampReply(
        {
            "status": tsp.PKIStatusInfo(
                {
                    "status": "rejection",
                    "status_string": [text],
                    "fail_info": tsp.PKIFailureInfo({failure}),
                }
            )
        }
    )


def _refusal(req: tsp.TimeStampReq) -> tsp.TimeStampResp | None:
    """The rejection RFC 3161 prescribes for a request the service does not accept."""
    imprint = req["message_imprint"]
    algorithm = imprint["hash_algorithm"]["algorithm"].native
    if req["version"].native != "v1":
        return _rejection("bad_data_format", "Only version 1 requests are accepted.")
    if algorithm not in TSA_DIGESTS:
        return _rejection("bad_alg", "Accepted digests: SHA-256, SHA-384, SHA-512.")
    if len(imprint["hashed_message"].native) != TSA_DIGESTS[algorithm]:
        return _rejection("bad_data_format", "The digest's length does not match its algorithm.")
    if req["req_policy"].native not in (None, TSA_POLICY):
        return _rejection("unaccepted_policy", f"The only policy is {TSA_POLICY}.")
    if req["extensions"].native:
        return _rejection("unaccepted_extension", "No extension is accepted.")
    return None


def timestamp_reply(body: bytes) -> tuple[bytes, bool]:
    """The service's DER reply to a DER ``TimeStampReq`` from anyone, and whether it was
    granted; a body that is not a request gets a rejection (badDataFormat)."""
    if len(body) > TSA_MAX_REQUEST:
        return _rejection("bad_data_format", "The request is too long.").dump(), False
    try:
        req = tsp.TimeStampReq.load(body, strict=True)
        req.native  # noqa: B018 -- asn1crypto parses lazily: malformed content raises here
        response = local_timestamper().request_tsa_response(req)
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        return _rejection("bad_data_format", f"Not a time-stamp request: {exc}").dump(), False
    return response.dump(), response["status"]["status"].native == "granted"


_lock = threading.Lock()
_stampers: dict[str, AccordTimeStamper] = {}


def local_timestamper() -> AccordTimeStamper:
    """Accord's own time-stamping service, its key decrypted once per process (one query per
    call finds the current certificate, so that a renewed one is picked up)."""
    stored = keys.timestamping_key()
    with _lock:
        stamper = _stampers.get(stored.fingerprint)
        if stamper is None:
            chain = [asn1_x509.Certificate.load(bytes(keys.authority().certificate))]
            stamper = AccordTimeStamper(
                tsa_cert=asn1_x509.Certificate.load(bytes(stored.certificate)),
                tsa_key=keys.private_key_info(stored),
                certs_to_embed=chain,
            )
            _stampers.clear()
            _stampers[stored.fingerprint] = stamper
        return stamper


def timestamper() -> TimeStamper:
    """The outside authority at ACCORD_TSA_URL, or Accord's own service."""
    if settings.ACCORD_TSA_URL:
        return HTTPTimeStamper(settings.ACCORD_TSA_URL, timeout=settings.ACCORD_TSA_TIMEOUT)
    return local_timestamper()


@dataclass(frozen=True)
class _PublishedList:
    key: tuple[str, tuple[int, ...]]
    der: bytes
    built: float


_published: _PublishedList | None = None


def _revoked(authority_pem: bytes) -> list[tuple[int, datetime.datetime]]:
    """(serial, when) of each certificate of the authority withdrawn before it expired (an
    expired one is retired, not revoked: its past signatures stay good)."""
    rows = SigningKey.objects.filter(kind__in=ISSUED_KINDS, revoked_at__isnull=False).values_list(
        "certificate", "chain", "revoked_at", "not_after"
    )
    return sorted(
        (x509.load_der_x509_certificate(bytes(der)).serial_number, revoked_at)
        for der, chain, revoked_at, not_after in rows
        if revoked_at is not None and bytes(chain) == authority_pem and revoked_at < not_after
    )


def revocation_list() -> bytes:
    """The authority's CRL (DER), signed afresh when a certificate was revoked or after an
    hour, else the process's last one."""
    global _published
    authority = keys.authority()
    certificate = x509.load_der_x509_certificate(bytes(authority.certificate))
    revoked = _revoked(certificate.public_bytes(serialization.Encoding.PEM))
    key = (authority.fingerprint, tuple(serial for serial, _ in revoked))
    with _lock:
        current = _published
        if (
            current is not None
            and current.key == key
            and time.monotonic() - current.built < CRL_REFRESH_SECONDS
        ):
            return current.der
    signing_key = keys.authority_key()
    # A minute back: the list exists before the signature that embeds it is timestamped.
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(certificate.subject)
        .last_update(now)
        .next_update(now + CRL_VALIDITY)
        .add_extension(x509.CRLNumber(int(time.time() * 1000)), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()),
            critical=False,
        )
    )
    for serial, revoked_at in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(revoked_at)
            .build()
        )
    der = builder.sign(signing_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    with _lock:
        _published = _PublishedList(key, der, time.monotonic())
    return der


def outside_tsa_roots() -> list[asn1_x509.Certificate]:
    """The trust anchors of the outside time-stamping authority (ACCORD_TSA_ROOTS, PEM):
    ImproperlyConfigured without the setting, OSError or ValueError when the file cannot be
    read as certificates (``apps.timestamp_roots_check`` turns both into start-up errors)."""
    path = settings.ACCORD_TSA_ROOTS
    if not path:
        raise ImproperlyConfigured(
            "ACCORD_TSA_URL is set: set ACCORD_TSA_ROOTS too, the PEM file of the root "
            "certificates of that time-stamping authority."
        )
    return [
        asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
        for c in x509.load_pem_x509_certificates(Path(path).read_bytes())
    ]


def authority_roots() -> list[asn1_x509.Certificate]:
    """Every root certificate Accord's authority ever had, oldest first: what the certificates
    it issued (people's, the seal's, its own time-stamping service's) chain to."""
    return [
        asn1_x509.Certificate.load(bytes(der))
        for der in SigningKey.objects.filter(kind=KeyKind.AUTHORITY)
        .order_by("pk")
        .values_list("certificate", flat=True)
    ]


def timestamp_trust_roots(
    authority: Sequence[asn1_x509.Certificate] | None = None,
) -> list[asn1_x509.Certificate]:
    """What a timestamp in Accord's documents is checked against, offline: every root
    certificate Accord's authority ever had (its own time-stamping service's certificates
    come from it; ``authority``, when the caller has read them already) and, when
    ACCORD_TSA_ROOTS is set, the outside authority's roots."""
    roots = list(authority_roots() if authority is None else authority)
    if settings.ACCORD_TSA_ROOTS:
        roots += outside_tsa_roots()
    return roots


def validation_context() -> ValidationContext:
    """What signing checks the signer's and the time-stamper's certificates against, and
    whose revocation data it embeds: the installation's root and its CRL, built here. With
    an outside time-stamping authority, that authority's roots too, and fetching allowed
    for its own revocation data only (Accord's CRL is already complete, so it is not asked
    for)."""
    root = asn1_x509.Certificate.load(bytes(keys.authority().certificate))
    revocations = crl.CertificateList.load(revocation_list())
    if not settings.ACCORD_TSA_URL:
        return ValidationContext(
            trust_roots=[root],
            crls=[revocations],
            other_certs=[local_timestamper().tsa_cert],
            allow_fetching=False,
            revocation_mode="hard-fail",
        )
    return ValidationContext(
        trust_roots=[root, *outside_tsa_roots()],
        crls=[revocations],
        allow_fetching=True,
        fetcher_backend=RequestsFetcherBackend(per_request_timeout=settings.ACCORD_TSA_TIMEOUT),
        revocation_mode="hard-fail",
    )


def _has_revocation_url(stored: SigningKey) -> bool:
    certificate = x509.load_der_x509_certificate(bytes(stored.certificate))
    try:
        certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    except x509.ExtensionNotFound:
        return False
    return True


def certificates_reissue(*, dry_run: bool = False) -> list[tuple[SigningKey, SigningKey | None]]:
    """Replace each valid certificate of Accord's authority issued before it wrote where its
    revocation list is published (no CRL distribution point): a reader could not check it.
    The old one is superseded, not revoked (its ``revoked_at`` equal to its new end of
    validity keeps it out of the CRL): the signatures it made carry their own validation
    data and stay good. Returns (old, new) pairs; ``dry_run``: new is None, nothing changes."""
    now = timezone.now()
    lacking = [
        stored
        for stored in SigningKey.objects.filter(
            kind__in=ISSUED_KINDS, revoked_at__isnull=True, not_after__gt=now
        ).order_by("pk")
        if not _has_revocation_url(stored)
    ]
    if dry_run:
        return [(stored, None) for stored in lacking]
    reissued: list[tuple[SigningKey, SigningKey | None]] = []
    for stored in lacking:
        with transaction.atomic():
            SigningKey.objects.filter(pk=stored.pk, revoked_at__isnull=True).update(
                revoked_at=now, not_after=now
            )
        if stored.kind == KeyKind.PERSON:
            assert stored.person is not None  # a person's certificate names its person
            successor = keys.person_key(stored.person)
        elif stored.kind == KeyKind.SEAL:
            successor = keys.seal_key()
        else:
            successor = keys.timestamping_key()
        reissued.append((stored, successor))
    return reissued


def root_certificate() -> x509.Certificate:
    """The installation's root, as readers import it to trust Accord's signatures."""
    return keys.authority_certificate()


def root_name() -> str:
    names = root_certificate().subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""
