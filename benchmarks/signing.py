"""One PAdES signature, with the signer kept ready per process (``keys.signer_for``) and as
before it: pyHanko's ``SimpleSigner`` built at each signature, which loads and checks the RSA
key at each one. The two ways alternate signature by signature on the same PDF and the same
key, so that a machine's drift touches both alike."""

from __future__ import annotations

from unittest import mock

from fpdf import FPDF
from pyhanko.sign.signers import SimpleSigner
from pyhanko_certvalidator.registry import SimpleCertificateStore

from .measure import measured, ms, percentile

SIGNATURES = 18  # as many as the 38-action demo's walk makes


def _unsigned_pdf() -> bytes:
    from signatures.document import FieldBox, _with_fields

    pdf = FPDF()
    pdf.add_page()
    return _with_fields(bytes(pdf.output()), [FieldBox("signature", 0, (60, 60, 260, 120))])


def _signer_built_each_time(stored) -> SimpleSigner:
    """What ``keys.signer_for`` did before the signers were kept ready."""
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from signatures import keys

    chain = [
        asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
        for c in x509.load_pem_x509_certificates(bytes(stored.chain))
    ]
    return SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(bytes(stored.certificate)),
        signing_key=keys.private_key_info(stored),
        cert_registry=SimpleCertificateStore.from_certs(chain),
    )


def run() -> list[str]:
    from signatures import keys
    from signatures.services import sign_pdf
    from tests.factories import UserFactory

    stored = keys.person_key(UserFactory())
    pdf = _unsigned_pdf()

    def sign() -> bytes:
        return sign_pdf(
            pdf,
            field_name="signature",
            stored_key=stored,
            name="Banc",
            reason="bench",
            stamp=["Banc"],
        )

    sign()  # imports, the time-stamping key, the revocation list
    ways: dict[str, tuple[list[float], list[float]]] = {"ready": ([], []), "each": ([], [])}
    for _ in range(SIGNATURES):
        for way, (wall, cpu) in ways.items():
            if way == "ready":
                with measured() as figures:
                    sign()
            else:
                with (
                    mock.patch.object(keys, "signer_for", _signer_built_each_time),
                    measured() as figures,
                ):
                    sign()
            wall.append(figures.seconds)
            cpu.append(figures.cpu_seconds)
    lines = []
    for way, label in (("each", "signer built at each signature"), ("ready", "signer ready")):
        wall, cpu = ways[way]
        lines.append(
            f"  {label:<32} p50 {ms(percentile(wall, 0.5))}, p95 {ms(percentile(wall, 0.95))}, "
            f"CPU p50 {ms(percentile(cpu, 0.5))} ({SIGNATURES} signatures)"
        )
    saved = sum(ways["each"][1]) - sum(ways["ready"][1])
    lines.append(f"  CPU saved over {SIGNATURES} signatures: {saved:.2f} s")
    return lines
