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
it in the same chain. Exit status: 0 verified, 1 verification failed, 2 unreadable bundle.
"""

import argparse
import hashlib
import json
import os
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
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as error:
        print(MESSAGES[args.lang]["unreadable"].format(error=error), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
