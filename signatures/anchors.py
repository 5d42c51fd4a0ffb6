"""Accord's seal vouching for the history's heads (``workflows.anchors.HistorySeal``, named
by ``settings.ACCORD_HISTORY_SEAL``): it signs the daily head files and reads the head each
completion certificate's seal certifies.

A seal is trusted only when its stored key is genuine: its private key, encrypted with
``ACCORD_SIGNING_KEY`` (authenticated encryption, the key outside the database), opens and
matches its certificate. Whoever holds the database alone cannot store a key of their own that
passes, so they can neither sign a head file nor re-seal a document naming another head.
"""

from __future__ import annotations

import datetime
import io
import re

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from workflows.models import Contract

from . import keys, pki
from .document import SEAL_FIELD
from .models import ContractDocument, KeyKind, SigningKey

# How the seal's reason names the head: "#<seq> <sha256>", whatever the language around it.
HEAD_IN_REASON = re.compile(r"#(\d+) ([0-9a-f]{64})")


def head_in_reason(seq: int, digest: str) -> str:
    """The history's head as the seal's reason carries it (``HEAD_IN_REASON``)."""
    return f"#{seq} {digest}"


def _private_key(stored: SigningKey) -> rsa.RSAPrivateKey | None:
    """The stored key's private key, when it is genuine: it opens with ACCORD_SIGNING_KEY and
    matches the stored certificate."""
    try:
        private = keys.signer_for(stored).private_key  # loaded once per process
    except ImproperlyConfigured:
        return None
    certificate = x509.load_der_x509_certificate(bytes(stored.certificate))
    if not isinstance(private, rsa.RSAPrivateKey):
        return None
    public = certificate.public_key()
    if not isinstance(public, rsa.RSAPublicKey):
        return None
    if private.public_key().public_numbers() != public.public_numbers():
        return None
    return private


def _genuine_seals() -> dict[str, rsa.RSAPublicKey]:
    """The public key of every genuine seal the installation ever had, by certificate
    SHA-256 (a renewed seal still vouches for the files signed by the one before)."""
    found = {}
    for stored in SigningKey.objects.filter(kind=KeyKind.SEAL):
        private = _private_key(stored)
        if private is not None:
            found[stored.fingerprint] = private.public_key()
    return found


class SealedHeads:
    """The domain's ``HistorySeal``."""

    def sign(self, content: bytes) -> tuple[bytes, bytes]:
        stored = keys.seal_key()
        private = _private_key(stored)
        if private is None:
            raise ImproperlyConfigured("Accord's seal key does not open: it cannot sign.")
        signature = private.sign(content, padding.PKCS1v15(), hashes.SHA256())
        certificate = x509.load_der_x509_certificate(bytes(stored.certificate))
        return signature, certificate.public_bytes(serialization.Encoding.PEM)

    def certificates(self) -> list[bytes]:
        """The certificate (PEM) of every genuine seal, for the bundle's offline check."""
        genuine = _genuine_seals()
        return [
            x509.load_der_x509_certificate(bytes(stored.certificate)).public_bytes(
                serialization.Encoding.PEM
            )
            for stored in SigningKey.objects.filter(kind=KeyKind.SEAL).order_by("pk")
            if stored.fingerprint in genuine
        ]

    def verify(self, content: bytes, signature: bytes) -> bool:
        for public in _genuine_seals().values():
            try:
                public.verify(signature, content, padding.PKCS1v15(), hashes.SHA256())
            except InvalidSignature:
                continue
            return True
        return False

    def certified_heads(self, contract: Contract) -> list[tuple[int, str, datetime.date]]:
        """The head named by the seal of each of the contract's documents, voided or not
        (the chain only grows: a head certified once stays on it), when the seal's signature
        is intact and made by a genuine seal."""
        seals = _genuine_seals()
        timestamps: ValidationContext | None = None
        heads = []
        for pdf in ContractDocument.objects.filter(contract=contract).values_list("pdf", flat=True):
            try:
                reader = PdfFileReader(io.BytesIO(bytes(pdf)), strict=False)
                embedded = [s for s in reader.embedded_signatures if s.field_name == SEAL_FIELD]
            except (PdfError, ValueError, KeyError, TypeError):
                continue
            for seal in embedded:
                found = HEAD_IN_REASON.search(str(seal.sig_object.get("/Reason", "")))
                if found is None:
                    continue
                try:
                    if keys.fingerprint(seal.signer_cert.dump()) not in seals:
                        continue
                    # The seal is trusted as a genuine one (above); its timestamp, from
                    # Accord's time-stamping service or an outside one, under its own roots.
                    if timestamps is None:
                        timestamps = ValidationContext(
                            trust_roots=pki.timestamp_trust_roots(), allow_fetching=False
                        )
                    status = validate_pdf_signature(
                        seal,
                        ValidationContext(trust_roots=[seal.signer_cert], allow_fetching=False),
                        ts_validation_context=timestamps,
                    )
                except (PdfError, ValueError, KeyError, TypeError):
                    continue
                if status.intact and status.valid:
                    when = seal.self_reported_timestamp or timezone.now()
                    heads.append((int(found[1]), found[2], timezone.localdate(when)))
        return heads
