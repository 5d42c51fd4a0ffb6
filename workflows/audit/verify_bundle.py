#!/usr/bin/env python3
"""Check an Accord verification bundle offline: Python 3.8 or newer, standard library only.

    python3 verify_history.py                     # the bundle this script is in
    python3 verify_history.py BUNDLE.zip          # or a bundle's folder or ZIP file
    python3 verify_history.py --expected-head SHA256   # a head hash you hold from elsewhere

It recomputes the SHA-256 chain of the contract's history (history.json) the way Accord
writes it, checks every file against the manifest, and checks that the history contains the
head hash printed on the completion certificate (certificate.json, when the bundle has one)
and the one given with --expected-head. The certified head is the history's last entry when
the contract was signed; entries written later (follow-up of the actions, exports) come after
it in the same chain. The signed daily head files (anchor-YYYY-MM-DD.json) are checked too:
each signature (RSA PKCS#1 v1.5, SHA-256) against the seal's certificates carried in the
bundle (seal-certificates.pem, whose SHA-256 fingerprints it prints: compare them with the
ones the installation publishes), and the head each file gives for the contract must be in
the chain at its place. Exit status: 0 verified, 1 verification failed, 2 unreadable bundle.
"""

import argparse
import base64
import binascii
import hashlib
import json
import os
import re
import sys
import zipfile

GENESIS_HASH = "0" * 64
CHAINED_FIELDS = (
    "contract",
    "seq",
    "at",
    "actor",
    "on_behalf_of",
    "event",
    "name",
    "action",
    "from_state",
    "to_state",
    "comment",
    "data",
    "contract_version",
)
# Version 2 (entries written since Accord 2026-12) also covers the accounts, action and
# contract as the pages and the search read them; an entry without "hash_version" is version 1.
CHAINED_FIELDS_V2 = (
    *CHAINED_FIELDS,
    "hash_version",
    "contract_id",
    "actor_id",
    "on_behalf_of_id",
    "action_id",
)
FIELDS_BY_VERSION = {1: CHAINED_FIELDS, 2: CHAINED_FIELDS_V2}
ANCHOR_FILE = re.compile(r"^anchor-\d{4}-\d{2}-\d{2}\.json$")
SEAL_CERTIFICATES = "seal-certificates.pem"
# DER prefix of a SHA-256 DigestInfo (RFC 8017, 9.2): what PKCS#1 v1.5 signs.
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
MESSAGES = {
    "fr": {
        "file_ok": "fichier {name} : empreinte conforme au manifeste",
        "file_missing": "fichier {name} : ABSENT du dossier",
        "file_changed": "fichier {name} : MODIFIÉ (empreinte différente de celle du manifeste)",
        "file_unlisted": "fichier {name} : absent du manifeste, non vérifié",
        "missing_entry": "entrée n° {seq} : ABSENTE (la suite de numéros est interrompue)",
        "broken_link": "entrée n° {seq} : ne suit PAS l'entrée précédente",
        "altered": "entrée n° {seq} : MODIFIÉE (son empreinte ne correspond plus à son contenu)",
        "chain_ok": "historique de {contract} : {count} entrées, chaîne intacte, tête {head}",
        "head_mismatch": "tête de l'historique {head} DIFFÉRENTE de celle du manifeste {expected}",
        "found": "{source} : empreinte {head} trouvée, entrée n° {seq} ({later} entrées après)",
        "not_found": "{source} : empreinte {head} ABSENTE de l'historique",
        "certificate": "certificat d'achèvement",
        "command_line": "empreinte attendue",
        "no_certificate": "pas de certificat d'achèvement dans le dossier",
        "verified": "VÉRIFIÉ : l'historique n'a pas été modifié.",
        "failed": "ÉCHEC : l'historique ou le dossier a été modifié.",
        "unreadable": "Dossier illisible : {error}",
        "seal_certificate": "certificat du sceau d'Accord : empreinte SHA-256 {fingerprint}",
        "no_anchor": "pas de fichier de têtes signé dans le dossier",
        "anchor_ok": "fichier de têtes {name} : signature du sceau valide, entrée n° {seq} {head} "
        "présente dans l'historique",
        "anchor_forged": "fichier de têtes {name} : signature ABSENTE ou NON VALIDE "
        "(fichier modifié ou non signé par le sceau d'Accord)",
        "anchor_missing_head": "fichier de têtes {name} : l'entrée n° {seq} {head} qu'il ancre est "
        "ABSENTE de l'historique (historique tronqué ou réécrit)",
        "anchor_unreadable": "fichier de têtes {name} : illisible ({error})",
    },
    "en": {
        "file_ok": "file {name}: fingerprint matches the manifest",
        "file_missing": "file {name}: MISSING from the bundle",
        "file_changed": "file {name}: CHANGED (fingerprint differs from the manifest's)",
        "file_unlisted": "file {name}: not in the manifest, not checked",
        "missing_entry": "entry #{seq}: MISSING (the numbering is interrupted)",
        "broken_link": "entry #{seq}: does NOT follow the previous entry",
        "altered": "entry #{seq}: ALTERED (its hash no longer matches its content)",
        "chain_ok": "history of {contract}: {count} entries, chain intact, head {head}",
        "head_mismatch": "history head {head} DIFFERS from the manifest's {expected}",
        "found": "{source}: hash {head} found, entry #{seq} ({later} entries after it)",
        "not_found": "{source}: hash {head} NOT in the history",
        "certificate": "completion certificate",
        "command_line": "expected head",
        "no_certificate": "no completion certificate in the bundle",
        "verified": "VERIFIED: the history was not modified.",
        "failed": "FAILED: the history or the bundle was modified.",
        "unreadable": "Unreadable bundle: {error}",
        "seal_certificate": "Accord's seal certificate: SHA-256 fingerprint {fingerprint}",
        "no_anchor": "no signed head file in the bundle",
        "anchor_ok": "head file {name}: seal signature valid, entry #{seq} {head} is in the "
        "history",
        "anchor_forged": "head file {name}: signature MISSING or INVALID (file changed or not "
        "signed by Accord's seal)",
        "anchor_missing_head": "head file {name}: the entry #{seq} {head} it anchors is NOT in the "
        "history (history cut or rewritten)",
        "anchor_unreadable": "head file {name}: unreadable ({error})",
    },
}


def entry_version(entry):
    """The entry's hash version: 1 when it names none."""
    return entry.get("hash_version", 1)


def entry_hash(entry):
    """The entry's SHA-256, computed exactly as Accord computes it, in the entry's version."""
    payload = {field: entry[field] for field in FIELDS_BY_VERSION[entry_version(entry)]}
    payload["prev_hash"] = entry["prev_hash"]
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def verify_chain(entries):
    """(first bad seq or None, problem key, {hash: seq}) for entries in seq order."""
    previous = GENESIS_HASH
    previous_version = 1
    positions: dict[str, int] = {}  # a local annotation: never evaluated, fine on Python 3.8
    for expected_seq, entry in enumerate(entries, start=1):
        if entry["seq"] != expected_seq:
            return expected_seq, "missing_entry", positions
        if entry["prev_hash"] != previous:
            return entry["seq"], "broken_link", positions
        # An unknown version, or one older than the previous entry's: the algorithm was chosen.
        version = entry_version(entry)
        if version not in FIELDS_BY_VERSION or version < previous_version:
            return entry["seq"], "altered", positions
        if entry_hash(entry) != entry["hash"]:
            return entry["seq"], "altered", positions
        previous, previous_version = entry["hash"], version
        positions[entry["hash"]] = entry["seq"]
    return None, "", positions


def der_read(data, offset):
    """(tag, content start, content end) of the DER element at ``offset``."""
    tag = data[offset]
    length = data[offset + 1]
    start = offset + 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    return tag, start, start + length


def der_children(data, start, end):
    """(tag, content start, content end) of each element between ``start`` and ``end``."""
    children = []
    while start < end:
        tag, content, after = der_read(data, start)
        children.append((tag, content, after))
        start = after
    return children


def rsa_public_key(der):
    """(n, e) of an X.509 certificate's RSA public key."""
    _tag, start, end = der_read(der, 0)
    _tag, start, end = der_children(der, start, end)[0]  # tbsCertificate
    fields = der_children(der, start, end)
    if fields[0][0] == 0xA0:  # [0] version
        fields = fields[1:]
    _tag, start, end = fields[5]  # serial, signature, issuer, validity, subject, *key*
    _algorithm, (tag, start, end) = der_children(der, start, end)
    if tag != 0x03 or der[start] != 0:  # a BIT STRING, no unused bit
        raise ValueError("not an RSA public key")
    _tag, start, end = der_read(der, start + 1)
    (_t1, n_start, n_end), (_t2, e_start, e_end) = der_children(der, start, end)[:2]
    return int.from_bytes(der[n_start:n_end], "big"), int.from_bytes(der[e_start:e_end], "big")


def pem_certificates(pem):
    """The DER of each certificate of a PEM file."""
    blocks = re.findall(
        rb"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", pem, flags=re.DOTALL
    )
    return [base64.b64decode(b"".join(block.split())) for block in blocks]


def rsa_verifies(public_key, content, signature):
    """Whether ``signature`` is an RSA PKCS#1 v1.5 signature of ``content``'s SHA-256."""
    n, e = public_key
    size = (n.bit_length() + 7) // 8
    if len(signature) != size:
        return False
    value = int.from_bytes(signature, "big")
    if value >= n:
        return False
    encoded = pow(value, e, n).to_bytes(size, "big")
    digest_info = SHA256_DIGEST_INFO + hashlib.sha256(content).digest()
    padding_length = size - len(digest_info) - 3
    if padding_length < 8:
        return False
    return encoded == b"\x00\x01" + b"\xff" * padding_length + b"\x00" + digest_info


def verify_anchors(files, contract, positions, say, text):
    """True when every signed head file of the bundle is the seal's and the head it gives
    for ``contract`` is in the chain, at its place."""
    names = sorted(name for name in files if ANCHOR_FILE.match(name))
    if not names:
        say(text["no_anchor"])
        return True
    keys = []
    for der in pem_certificates(files.get(SEAL_CERTIFICATES, b"")):
        say(text["seal_certificate"].format(fingerprint=hashlib.sha256(der).hexdigest()))
        keys.append(rsa_public_key(der))
    ok = True
    for name in names:
        content, signature = files[name], files.get(name + ".sig", b"")
        if not any(rsa_verifies(key, content, signature) for key in keys):
            say(text["anchor_forged"].format(name=name))
            ok = False
            continue
        try:
            head = json.loads(content.decode("utf-8"))["heads"][contract]
            seq, digest = int(head["seq"]), str(head["hash"])
        except (ValueError, KeyError, TypeError) as error:
            say(text["anchor_unreadable"].format(name=name, error=error))
            ok = False
            continue
        if positions.get(digest) != seq:
            say(text["anchor_missing_head"].format(name=name, seq=seq, head=digest))
            ok = False
        else:
            say(text["anchor_ok"].format(name=name, seq=seq, head=digest))
    return ok


def read_bundle(path):
    """{name: bytes} of the bundle's files, from its folder or its ZIP file."""
    files = {}
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.is_dir():
                    files[info.filename.rsplit("/", 1)[-1]] = archive.read(info)
        return files
    for name in os.listdir(path):
        full = os.path.join(path, name)
        if os.path.isfile(full):
            with open(full, "rb") as handle:
                files[name] = handle.read()
    return files


def verify(files, expected_heads=(), say=print, lang="fr"):
    """True when the bundle's files, chain and head hashes all check out."""
    text = MESSAGES[lang]
    ok = True
    manifest = json.loads(files["manifest.json"].decode("utf-8"))
    listed = set()
    for item in manifest["files"]:
        listed.add(item["name"])
        content = files.get(item["name"])
        if content is None:
            say(text["file_missing"].format(name=item["name"]))
            ok = False
        elif hashlib.sha256(content).hexdigest() != item["sha256"]:
            say(text["file_changed"].format(name=item["name"]))
            ok = False
        else:
            say(text["file_ok"].format(name=item["name"]))
    for name in sorted(set(files) - listed - {"manifest.json"}):
        say(text["file_unlisted"].format(name=name))

    history = json.loads(files["history.json"].decode("utf-8"))
    entries = history["entries"]
    bad_seq, problem, positions = verify_chain(entries)
    if bad_seq is not None:
        say(text[problem].format(seq=bad_seq))
        ok = False
    else:
        head = entries[-1]["hash"] if entries else GENESIS_HASH
        say(text["chain_ok"].format(contract=history["contract"], count=len(entries), head=head))
        if head != manifest["history_head_sha256"]:
            say(text["head_mismatch"].format(head=head, expected=manifest["history_head_sha256"]))
            ok = False

    heads = []
    if "certificate.json" in files:
        certificate = json.loads(files["certificate.json"].decode("utf-8"))
        heads.append((text["certificate"], certificate["history_head_sha256"]))
    else:
        say(text["no_certificate"])
    heads.extend((text["command_line"], head) for head in expected_heads)
    for source, head in heads:
        head = head.strip().lower()
        if head in positions:
            later = len(entries) - positions[head]
            say(text["found"].format(source=source, head=head, seq=positions[head], later=later))
        else:
            say(text["not_found"].format(source=source, head=head))
            ok = False
    if not verify_anchors(files, history["contract"], positions, say, text):
        ok = False
    say(text["verified"] if ok else text["failed"])
    return ok


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("bundle", nargs="?", default=here, help="folder or ZIP file")
    parser.add_argument("--expected-head", action="append", default=[], metavar="SHA256")
    parser.add_argument("--lang", choices=sorted(MESSAGES), default="fr")
    args = parser.parse_args(argv)
    try:
        files = read_bundle(args.bundle)
        return 0 if verify(files, args.expected_head, lang=args.lang) else 1
    except (
        OSError,
        ValueError,
        KeyError,
        TypeError,
        IndexError,
        binascii.Error,
        zipfile.BadZipFile,
    ) as error:
        print(MESSAGES[args.lang]["unreadable"].format(error=error), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
