"""PAdES B-LT / B-LTA: the signatures stay verifiable once their certificates expire.

Each signature carries an RFC 3161 timestamp from Accord's own time-stamping service and,
in the document's security store, the authority's revocation list; the seal adds a document
timestamp. Checked by pyHanko's AdES long-term validation with the installation's root as
sole trust anchor and revocation information required, now and ten years on, and by poppler's
pdfsig with the root in a fresh NSS database.
"""

from __future__ import annotations

import asyncio
import datetime
import io
import re
import subprocess
from unittest import mock

import pytest
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESPassed
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.sign.validation import ades
from pyhanko.sign.validation.policy_decl import (
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager

from signatures import keys, pki
from signatures.selectors import contract_document_pdf
from tests.factories import ActionFactory, SignatoryFactory
from tests.flows import walk_to_signed
from tests.signatures.documents import blank_with_a_seal_field, sealed_blank
from tests.signatures.pdf import required_tool

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_pdf(contract, coordinator) -> bytes:
    """A contract signed by two parties and sealed, as Accord keeps it."""
    ActionFactory(contract=contract)
    SignatoryFactory(contract=contract, organisation__name="Communauté de communes")
    SignatoryFactory(contract=contract, kind="associated", organisation__name="Hôpital")
    walk_to_signed(contract, coordinator)
    pdf = contract_document_pdf(contract)
    assert pdf is not None
    return pdf


def _root() -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(bytes(keys.authority().certificate))


def _spec() -> PdfSignatureValidationSpec:
    """The installation's root as sole trust anchor, revocation information required for
    every certificate under it, nothing fetched: only what the PDF carries."""
    policy = CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(trust_roots=[_root()]),
        revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
    )
    return PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=policy,
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY
            ),
        )
    )


def _signatures(pdf: bytes):
    return PdfFileReader(io.BytesIO(pdf)).embedded_regular_signatures


def test_every_signature_is_lta_valid_with_the_root_as_sole_anchor(signed_pdf):
    signatures = _signatures(signed_pdf)
    assert [s.field_name for s in signatures][-1] == "accord-seal"
    assert len(signatures) == 3
    for embedded in signatures:
        result = asyncio.run(ades.ades_lta_validation(embedded, _spec()))
        assert result.ades_subindic == AdESPassed.OK, (embedded.field_name, result.ades_subindic)
        status = result.api_status
        assert status.bottom_line, embedded.field_name
        # Revocation required and checked against the CRL the document carries, the time
        # proven by the signature's own timestamp and the seal's document timestamp after it.
        assert status.timestamp_validity is not None
        assert status.timestamp_validity.trusted
        assert result.oldest_evidence_record_timestamp is not None


def test_the_signatures_still_validate_after_every_certificate_expired(signed_pdf):
    """Ten years on (the signers' certificates last three): what the document carries is
    enough, given the archive timestamps renewed meanwhile."""
    ten_years = timezone.now() + datetime.timedelta(days=3650)
    for embedded in _signatures(signed_pdf):
        assert embedded.signer_cert.not_valid_after < ten_years
        result = asyncio.run(
            ades.simulate_future_ades_lta_validation(
                embedded, _spec(), future_validation_time=ten_years
            )
        )
        # The certificates have expired by then: the long-term validation says OK all the same.
        assert result.ades_subindic == AdESPassed.OK, (embedded.field_name, result.ades_subindic)


def test_the_seal_is_followed_by_a_document_timestamp_and_the_revocation_data(signed_pdf):
    reader = PdfFileReader(io.BytesIO(signed_pdf))
    timestamps = reader.embedded_timestamp_signatures
    assert len(timestamps) == 1
    *_, after, rest = timestamps[0].sig_object["/ByteRange"]
    assert timestamps[0].field_name == "accord-archive-timestamp"
    assert after + rest == len(signed_pdf)  # the last revision: the seal and its DSS covered
    dss = reader.root["/DSS"]
    assert len(dss["/CRLs"]) >= 1
    crl = x509.load_der_x509_crl(dss["/CRLs"][0].get_object().data)
    assert crl.issuer == keys.authority_certificate().subject
    assert crl.is_signature_valid(keys.authority_certificate().public_key())


def test_pdfsig_trusts_every_signature_with_the_root_in_its_nss_database(
    pdfsig, signed_pdf, tmp_path
):
    certutil = required_tool("certutil", "libnss3-tools")
    database = tmp_path / "nss"
    database.mkdir()
    root = tmp_path / "accord.cer"
    root.write_bytes(bytes(keys.authority().certificate))
    subprocess.run([certutil, "-N", "-d", f"sql:{database}", "--empty-password"], check=True)
    subprocess.run(
        [certutil, "-A", "-d", f"sql:{database}", "-n", "Accord", "-t", "C,C,C", "-i", str(root)],
        check=True,
    )
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed_pdf)
    out = subprocess.run(
        [pdfsig, "-nssdir", f"sql:{database}", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    ).stdout

    fields = re.findall(r"Signature Field Name: (\S+)", out)
    assert len(fields) == 4  # two parties, the seal, then the document timestamp
    signatures = out.split("Signature #")[1:]
    for signature in signatures[:3]:
        assert "Signature Validation: Signature is Valid." in signature
        assert "Certificate Validation: Certificate is Trusted." in signature
    # poppler lists the document timestamp, by Accord's time-stamping service, without
    # checking it: it checks signatures only (pyHanko checks it above).
    assert fields[3] == "accord-archive-timestamp"
    assert "Signer Certificate Common Name: Accord — horodatage" in signatures[3]


def test_the_certificates_name_the_published_revocation_list():
    url = keys.revocation_list_url()
    for stored in (keys.seal_key(), keys.timestamping_key()):
        certificate = x509.load_der_x509_certificate(bytes(stored.certificate))
        points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints)
        assert [n.value for p in points.value for n in p.full_name] == [url]
    assert url == "http://testserver/autorite/revocations.crl" or url.endswith(
        "/autorite/revocations.crl"
    )


def test_the_timestamping_certificate_is_for_timestamping_only():
    certificate = x509.load_der_x509_certificate(bytes(keys.timestamping_key().certificate))
    usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert usage.critical
    assert list(usage.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    assert certificate.issuer == keys.authority_certificate().subject


def test_the_crl_is_published_signed_by_the_authority_and_lists_a_revoked_certificate(client):
    seal = keys.seal_key()
    response = client.get(reverse("signatures:pki_crl"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(response.content)
    assert crl.is_signature_valid(keys.authority_certificate().public_key())
    assert crl.next_update_utc > timezone.now()
    assert len(crl) == 0

    seal.revoked_at = timezone.now()
    seal.save(update_fields=["revoked_at"])
    crl = x509.load_der_x509_crl(client.get(reverse("signatures:pki_crl")).content)
    serial = x509.load_der_x509_certificate(bytes(seal.certificate)).serial_number
    assert [r.serial_number for r in crl] == [serial]


def test_an_expired_certificate_is_retired_not_listed_as_revoked(client):
    seal = keys.seal_key()
    seal.revoked_at = seal.not_after + datetime.timedelta(days=1)
    seal.save(update_fields=["revoked_at"])
    crl = x509.load_der_x509_crl(client.get(reverse("signatures:pki_crl")).content)
    assert len(crl) == 0


@pytest.mark.django_db(transaction=True)
def test_the_timestamping_endpoint_answers_a_request_built_by_pyhanko(live_server):
    """Over real HTTP: pyHanko's own client asks, checks the nonce and the imprint."""
    stamper = HTTPTimeStamper(live_server.url + reverse("signatures:timestamping"), timeout=10)
    token = asyncio.run(stamper.async_timestamp(b"\x01" * 32, "sha256"))
    info = token["content"]["encap_content_info"]["content"].parsed
    assert info["message_imprint"]["hashed_message"].native == b"\x01" * 32
    assert info["policy"].dotted == pki.TSA_POLICY
    names = {c.chosen.subject.native["common_name"] for c in token["content"]["certificates"]}
    assert "Accord — horodatage" in names
    moment = info["gen_time"].native
    assert abs((moment - timezone.now()).total_seconds()) < 60


def _request(**fields) -> bytes:
    values = {
        "version": "v1",
        "message_imprint": tsp.MessageImprint(
            {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": b"\x02" * 32}
        ),
        "nonce": 12345,
        "cert_req": False,
        **fields,
    }
    return tsp.TimeStampReq(values).dump()


def _post(client: Client, body: bytes, content_type: str = "application/timestamp-query"):
    return client.post(reverse("signatures:timestamping"), body, content_type=content_type)


def test_the_endpoint_grants_a_token_without_its_certificate_unless_asked(client):
    response = _post(client, _request())
    assert response.status_code == 200
    assert response["Content-Type"] == "application/timestamp-reply"
    reply = tsp.TimeStampResp.load(response.content)
    assert reply["status"]["status"].native == "granted"
    signed = reply["time_stamp_token"]["content"]
    assert signed["certificates"].native is None
    assert signed["encap_content_info"]["content"].parsed["nonce"].native == 12345

    reply = tsp.TimeStampResp.load(_post(client, _request(cert_req=True)).content)
    assert len(reply["time_stamp_token"]["content"]["certificates"]) == 2  # TSA and root


@pytest.mark.parametrize(
    ("body", "failure"),
    [
        (b"not a request", "bad_data_format"),
        (
            _request(
                message_imprint=tsp.MessageImprint(
                    {"hash_algorithm": {"algorithm": "sha1"}, "hashed_message": b"\x02" * 20}
                )
            ),
            "bad_alg",
        ),
        (
            _request(
                message_imprint=tsp.MessageImprint(
                    {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": b"\x02" * 5}
                )
            ),
            "bad_data_format",
        ),
        (_request(req_policy="1.2.3.4"), "unaccepted_policy"),
        (b"\x30" + b"\x82\xff\xff" + b"\x00" * 5000, "bad_data_format"),
    ],
)
def test_the_endpoint_rejects_what_it_does_not_accept_as_rfc_3161_says(client, body, failure):
    response = _post(client, body)
    assert response.status_code == 400
    reply = pki.TimeStampReply.load(response.content)
    assert reply["status"]["status"].native == "rejection"
    assert reply["status"]["fail_info"].native == {failure}
    assert reply["time_stamp_token"].native is None


def test_the_endpoint_wants_a_timestamp_query(client):
    assert _post(client, _request(), content_type="application/json").status_code == 415
    assert client.get(reverse("signatures:timestamping")).status_code == 405


def test_anyone_downloads_the_root_certificate_and_reads_how_to_trust_it(client):
    page = client.get(reverse("signatures:trust_root"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Identités et certificats de confiance" in text
    root = keys.authority_certificate()
    assert root.fingerprint(hashes.SHA256()).hex()[:8] in text.replace(" ", "")

    der = client.get(reverse("signatures:trust_root_der"))
    assert der["Content-Type"] == "application/pkix-cert"
    assert x509.load_der_x509_certificate(der.content) == root
    pem = client.get(reverse("signatures:trust_root_pem"))
    assert x509.load_pem_x509_certificate(pem.content) == root
    assert 'filename="accord-autorite.pem"' in pem["Content-Disposition"]


@pytest.mark.django_db(transaction=True)
def test_with_an_outside_authority_the_signature_is_timestamped_by_it(
    live_server, settings, tmp_path
):
    """ACCORD_TSA_URL: the timestamp comes over HTTP, through pyHanko's client, from the
    authority named there (here Accord's own endpoint, served apart), trusted through
    ACCORD_TSA_ROOTS; the signature is LTA-valid as with the embedded service."""
    roots = tmp_path / "tsa-roots.pem"
    roots.write_bytes(keys.authority_certificate().public_bytes(serialization.Encoding.PEM))
    settings.ACCORD_TSA_URL = live_server.url + reverse("signatures:timestamping")
    settings.ACCORD_TSA_ROOTS = str(roots)
    settings.ACCORD_TSA_TIMEOUT = 10
    pdf = blank_with_a_seal_field()
    requests_seen = []
    original = pki.timestamp_reply

    def counted(body: bytes) -> tuple[bytes, bool]:
        requests_seen.append(body)
        return original(body)

    with mock.patch.object(pki, "timestamp_reply", counted):
        signed = sealed_blank(pdf, archive=True)
    # pyHanko's size estimate, the signature's timestamp, then the document's.
    assert len(requests_seen) >= 2
    (embedded,) = _signatures(signed)
    result = asyncio.run(ades.ades_lta_validation(embedded, _spec()))
    assert result.ades_subindic == AdESPassed.OK
