"""The verification bundle's offline script checks the signed daily head files it carries:
each signature against the seal's certificates in the bundle, and each anchored head in the
chain. The intruder here rewrites the bundle's files and its manifest (which nothing signs)
as a reader of the script would; what they cannot do is sign with Accord's seal."""

from __future__ import annotations

import datetime
import hashlib
import importlib.util
import json
import subprocess
import sys
import zipfile

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from tests.factories import ActionFactory
from tests.flows import launch
from workflows import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def anchored(contract, coordinator, client, tmp_path):
    """16 entries anchored by ``verify_history`` in today's signed head file, then the
    bundle downloaded (its own entry, #17) and unpacked: its folder."""
    ActionFactory.create_batch(2, contract=contract)
    launch(contract, coordinator)
    services.suspend(contract=contract, actor=coordinator, reason="Fusion")
    call_command("verify_history")
    client.force_login(coordinator)
    response = client.post(reverse("workflows:contract_history_bundle", args=[contract.pk]))
    assert response.status_code == 200
    archive = tmp_path / "bundle.zip"
    archive.write_bytes(response.content)
    with zipfile.ZipFile(archive) as bundle:
        bundle.extractall(tmp_path)
    return tmp_path / f"accord-{contract.reference}-verification"


def run_script(folder):
    """The script as a third party runs it: its own Python, nothing of Accord's importable."""
    return subprocess.run(
        [sys.executable, "-I", str(folder / "verify_history.py"), "--lang=en"],
        capture_output=True,
        text=True,
        cwd=folder,
    )


def rewrite_manifest(folder) -> None:
    """The manifest made to match the rewritten files, as anyone can (it is not signed)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    for item in manifest["files"]:
        content = (folder / item["name"]).read_bytes()
        item["sha256"], item["bytes"] = hashlib.sha256(content).hexdigest(), len(content)
    entries = json.loads((folder / "history.json").read_text())["entries"]
    manifest["history_head_sha256"] = entries[-1]["hash"]
    manifest["entries"] = len(entries)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))


def anchor_name() -> str:
    return f"anchor-{timezone.localdate().isoformat()}.json"


def test_the_bundle_carries_the_signed_head_file_and_the_script_checks_it(anchored):
    names = {p.name for p in anchored.iterdir()}
    assert {anchor_name(), anchor_name() + ".sig", "seal-certificates.pem"} <= names

    result = run_script(anchored)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Accord's seal certificate: SHA-256 fingerprint" in result.stdout
    assert f"head file {anchor_name()}: seal signature valid, entry #16" in result.stdout
    assert "VERIFIED" in result.stdout


def test_a_head_file_rewritten_without_the_seal_is_reported(anchored):
    path = anchored / anchor_name()
    path.write_bytes(path.read_bytes().replace(b'"seq": 16', b'"seq": 12'))
    rewrite_manifest(anchored)

    result = run_script(anchored)
    assert result.returncode == 1
    assert f"head file {anchor_name()}: signature MISSING or INVALID" in result.stdout
    assert "FAILED" in result.stdout


def test_another_certificate_in_the_bundle_does_not_make_a_forgery_pass(anchored, tmp_path):
    """The intruder signs their own head file and ships their certificate: the script
    prints its fingerprint (not the installation's published one) and the real file fails."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Accord — sceau")])
    now = timezone.now()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    path = anchored / anchor_name()
    content = path.read_bytes().replace(b'"seq": 16', b'"seq": 12')
    path.write_bytes(content)
    (anchored / (anchor_name() + ".sig")).write_bytes(
        key.sign(content, padding.PKCS1v15(), hashes.SHA256())
    )
    genuine = (anchored / "seal-certificates.pem").read_bytes()
    (anchored / "seal-certificates.pem").write_bytes(
        certificate.public_bytes(serialization.Encoding.PEM)
    )
    rewrite_manifest(anchored)

    result = run_script(anchored)
    # The forged file's signature holds against the forged certificate, whose fingerprint is
    # printed, but the head it names (#12) is not the chain's entry #12 hash: it fails all
    # the same; and the genuine certificate's fingerprint is missing from the output.
    forged = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()
    assert forged in result.stdout
    genuine_der = x509.load_pem_x509_certificate(genuine).public_bytes(serialization.Encoding.DER)
    assert hashlib.sha256(genuine_der).hexdigest() not in result.stdout
    assert result.returncode == 1
    assert "is NOT in the history" in result.stdout


def test_a_chain_cut_before_an_anchored_head_is_reported(anchored):
    """History cut to its first 15 entries, manifest rewritten: the chain is intact and
    matches the manifest, but the head file anchors #16."""
    history_path = anchored / "history.json"
    history = json.loads(history_path.read_text())
    history["entries"] = history["entries"][:15]
    history_path.write_text(json.dumps(history, ensure_ascii=False, indent=1))
    rewrite_manifest(anchored)

    result = run_script(anchored)
    assert result.returncode == 1
    assert "15 entries, chain intact" in result.stdout
    assert f"head file {anchor_name()}: the entry #16" in result.stdout
    assert "is NOT in the history (history cut or rewritten)" in result.stdout


def test_a_chain_rehashed_whole_is_reported(anchored):
    """Entry #2's comment changed and every link recomputed with the script's own code."""
    spec = importlib.util.spec_from_file_location("script", anchored / "verify_history.py")
    assert spec is not None
    assert spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    history_path = anchored / "history.json"
    history = json.loads(history_path.read_text())
    previous = script.GENESIS_HASH
    for entry in history["entries"]:
        if entry["seq"] == 2:
            entry["comment"] = "réécrit"
        entry["prev_hash"] = previous
        entry["hash"] = previous = script.entry_hash(entry)
    history_path.write_text(json.dumps(history, ensure_ascii=False, indent=1))
    rewrite_manifest(anchored)

    result = run_script(anchored)
    assert result.returncode == 1
    assert "17 entries, chain intact" in result.stdout
    assert "the entry #16" in result.stdout
    assert "is NOT in the history" in result.stdout
