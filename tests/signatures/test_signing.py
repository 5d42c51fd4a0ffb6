"""The contract document, its PAdES signatures, the evidence and the seal, through the flows."""

import datetime
import hashlib
import os
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from signatures.document import unicode_font_files
from signatures.models import ContractDocument, KeyKind, SignatureEvidence, SigningKey
from signatures.selectors import (
    completion_certificate,
    completion_certificate_pdf,
    contract_document_pdf,
    document_verify,
)
from tests.factories import (
    ActionFactory,
    FundingLineFactory,
    OrganisationFactory,
    SignatoryFactory,
    UserFactory,
)
from tests.flows import (
    decide,
    open_tasks,
    record_deliberation,
    sign_all,
    walk_to_deliberation,
    walk_to_signed,
    worker_seals,
)
from tests.signatures.pdf import pdf_text, tampered
from workflows import services
from workflows.errors import ApplicationError
from workflows.models import HistoryEntry, HistoryEvent, TaskKind
from workflows.services import ClientInfo, Decision

pytestmark = pytest.mark.django_db

# The keys of the installation itself: its authority and its time-stamping service.
INSTALLATION_KINDS = [KeyKind.AUTHORITY, KeyKind.TIMESTAMPING]


@pytest.fixture
def dejavu() -> dict[str, Path]:
    """DejaVu Sans's files by style: .ci/run installs them; elsewhere the test is skipped."""
    fonts = unicode_font_files()
    if fonts is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("DejaVu Sans is missing: .ci/run installs fonts-dejavu-core")
        pytest.skip("DejaVu Sans is not installed here (fonts-dejavu-core)")
    return fonts


@pytest.fixture
def parties(contract):
    """An action with funding, a mandatory signatory and a represented one with its mandate."""
    action = ActionFactory(contract=contract, title="Maison de santé de Lafrançaise")
    FundingLineFactory(action=action, funder=OrganisationFactory(name="Caisse d'allocations"))
    mayor = SignatoryFactory(contract=contract, organisation__name="Communauté de communes")
    hospital = SignatoryFactory(
        contract=contract,
        kind="associated",
        organisation__name="Centre hospitalier",
        signer=UserFactory(
            civility="M.", first_name="Jean", last_name="Directeur", position="directeur"
        ),
        represented_by=UserFactory(
            civility="Mme",
            first_name="Élodie",
            last_name="Adjointe",
            position="directrice adjointe",
        ),
        mandate_reference="Décision 2019-12",
        mandate_date=datetime.date(2019, 1, 15),
    )
    return mayor, hospital


def test_the_document_is_generated_and_frozen_when_the_deliberation_is_recorded(
    contract, coordinator, parties
):
    walk_to_deliberation(contract, coordinator)
    assert contract_document_pdf(contract) is None

    record_deliberation(contract, number="DEL-2024-031")

    contract.refresh_from_db()
    pdf = contract_document_pdf(contract)
    assert pdf.startswith(b"%PDF")
    assert hashlib.sha256(pdf).hexdigest() == contract.document_sha256
    text = pdf_text(pdf)
    for expected in (
        contract.title,
        "Communauté de communes de test",
        "Maison de santé de Lafrançaise",
        "Caisse d'allocations",
        "DEL-2024-031",
        "Centre hospitalier",
        # The parties by their names and positions, their representatives by their names.
        "(associé) : M. Jean Directeur, directeur, représenté par Mme Élodie Adjointe (mandat : "
        "Décision 2019-12",
        "Décision 2019-12",
        "Signatures",
        # Each action sheet by the version its leads approved.
        "Fiche en version 1, empreinte",
    ):
        assert expected in text, expected
    # Recording the deliberation signs nothing: no key is made before a signature, but the
    # chair's, which signed the committee's minutes.
    assert list(SigningKey.objects.exclude(kind__in=INSTALLATION_KINDS).values_list("person")) == [
        (contract.steering_committee.chair_id,)
    ]
    assert document_verify(pdf).signatures == []


def test_each_signature_is_a_pades_signature_in_the_party_block_and_a_seal_closes_it(
    contract, coordinator, parties
):
    mayor, hospital = parties
    walk_to_signed(contract, coordinator)

    document = ContractDocument.objects.get(contract=contract)
    pdf = bytes(document.pdf)
    # Incremental updates only: the frozen document is still the file's beginning.
    assert hashlib.sha256(pdf[: document.frozen_size]).hexdigest() == contract.document_sha256
    check = document_verify(pdf, frozen=document)
    assert check.ok
    assert [s.field_name for s in check.signatures] == [
        f"signature-{mayor.organisation.code}",
        f"signature-{hospital.organisation.code}",
        "accord-seal",
    ]
    assert all(s.intact and s.valid and s.trusted for s in check.signatures)
    assert check.signatures[1].signer == "Élodie Adjointe"
    assert check.signatures[1].chain[-1] == "Élodie Adjointe"
    assert "Accord — autorité de certification" in check.signatures[1].chain
    text = pdf_text(pdf)
    # The signature block, then the signature's text in it.
    assert "M. Jean Directeur, directeur représenté par Mme Élodie Adjointe" in text
    assert "Signé par Mme Élodie Adjointe pour M. Jean Directeur, Centre hospitalier, le" in text
    assert "mandat : Décision 2019-12 du 15 janvier 2019" in text
    assert "Scellé par Accord le" in text
    assert document.sealed_at is not None


def test_the_last_signature_leaves_the_seal_to_the_worker_and_the_page_says_it_is_coming(
    contract, coordinator, parties, client, django_capture_on_commit_callbacks
):
    """The last signer's decision signs and asks for the seal; the worker seals after the
    commit (its step run here: a test's transaction never commits), with the head that
    signature's unit left."""
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)
    first, last = open_tasks(contract, TaskKind.SIGNATURE)
    decide(first, "sign")
    with django_capture_on_commit_callbacks() as after_commit:
        decide(last, "sign")
    contract.refresh_from_db()
    document = ContractDocument.objects.get(contract=contract)
    head = HistoryEntry.objects.filter(contract=contract).order_by("-seq").first()
    assert contract.status == "signed"
    assert document.sealed_at is None
    assert document.seal_requested_at is not None
    assert {s.field_name for s in document_verify(bytes(document.pdf)).signatures} == {
        f"signature-{p.organisation.code}" for p in parties
    }
    client.force_login(coordinator)
    page = client.get(f"/contrats/{contract.pk}/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Accord scelle le document et établit le certificat de signature" in page
    assert "Télécharger le certificat (PDF)" not in page

    assert after_commit  # the seal's task, queued once the signature commits
    worker_seals()
    document.refresh_from_db()
    assert document.sealed_at is not None
    assert document.certificate_data["history_head"] == {"seq": head.seq, "hash": head.hash}
    assert document_verify(bytes(document.pdf), frozen=document).signatures[-1].field_name == (
        "accord-seal"
    )
    page = client.get(f"/contrats/{contract.pk}/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Accord scelle le document" not in page
    assert "Télécharger le certificat (PDF)" in page


def test_the_evidence_names_the_document_the_signer_the_mandate_and_the_certificate(
    contract, coordinator, parties
):
    _mayor, hospital = parties
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)
    contract.refresh_from_db()
    task = next(t for t in open_tasks(contract, TaskKind.SIGNATURE) if t.signatory == hospital)
    services.task_decide(
        task=task,
        actor=task.owner,
        decision=Decision("sign", password="correct-horse-battery-staple", consent=True),
        client=ClientInfo(ip_address="203.0.113.7", user_agent="Firefox/130"),
    )

    evidence = SignatureEvidence.objects.get(signatory=hospital)
    key = SigningKey.objects.get(person=hospital.represented_by)
    assert evidence.document_sha256 == contract.document_sha256
    assert (evidence.signer, evidence.signed_by) == (hospital.signer, hospital.represented_by)
    assert (evidence.mandate_reference, evidence.mandate_date) == (
        "Décision 2019-12",
        datetime.date(2019, 1, 15),
    )
    assert (evidence.authentication, evidence.ip_address, evidence.user_agent) == (
        "password",
        "203.0.113.7",
        "Firefox/130",
    )
    assert evidence.certificate_fingerprint == key.fingerprint
    assert evidence.signed_pdf_sha256 == hashlib.sha256(contract_document_pdf(contract)).hexdigest()
    entry = HistoryEntry.objects.get(contract=contract, event=HistoryEvent.SIGNATURE)
    assert entry.data["certificate_sha256"] == key.fingerprint
    # The private key is stored encrypted, never as a plain key.
    assert b"PRIVATE KEY" not in bytes(key.private_key)
    assert not bytes(key.private_key).startswith(b"\x30\x82")


def test_a_wrong_password_signs_nothing(contract, coordinator, parties):
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)
    before = contract_document_pdf(contract)
    task = open_tasks(contract, TaskKind.SIGNATURE)[0]

    with pytest.raises(ApplicationError):
        decide(task, "sign", password="not-the-password")

    assert contract_document_pdf(contract) == before
    assert not SignatureEvidence.objects.exists()
    # No key for the signer: only the chair's, which signed the committee's minutes.
    assert list(SigningKey.objects.exclude(kind__in=INSTALLATION_KINDS).values_list("person")) == [
        (contract.steering_committee.chair_id,)
    ]


def test_a_failing_signature_rolls_the_whole_decision_back(
    contract, coordinator, parties, monkeypatch
):
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)
    task = open_tasks(contract, TaskKind.SIGNATURE)[0]

    def broken(*args, **kwargs):
        raise RuntimeError("signing device unplugged")

    monkeypatch.setattr("signatures.services.sign_pdf", broken)
    with pytest.raises(RuntimeError):
        decide(task, "sign")

    task.refresh_from_db()
    task.signatory.refresh_from_db()
    assert (task.status, task.signatory.status) == ("ASSIGNED", "pending")
    assert not HistoryEntry.objects.filter(event=HistoryEvent.SIGNATURE).exists()
    assert not SignatureEvidence.objects.exists()


def test_a_mandatory_decline_voids_the_signatures_and_the_new_version_is_signed_cleanly(
    contract, coordinator, parties
):
    mayor, hospital = parties
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)
    contract.refresh_from_db()
    first_sha = contract.document_sha256
    tasks = {t.signatory_id: t for t in open_tasks(contract, TaskKind.SIGNATURE)}
    decide(tasks[hospital.pk], "sign")
    decide(tasks[mayor.pk], "decline", comment="Le plan de financement a changé.")

    contract.refresh_from_db()
    assert (contract.status, contract.version) == ("draft", 2)
    voided = SignatureEvidence.objects.get(signatory=hospital)
    assert voided.voided_at is not None
    assert voided.void_reason == "Le plan de financement a changé."
    assert ContractDocument.objects.get(contract_version=1).voided_at is not None
    assert contract_document_pdf(contract) is None
    with pytest.raises(TypeError):
        voided.delete()

    walk_to_signed(contract, coordinator)

    contract.refresh_from_db()
    assert contract.document_sha256 != first_sha
    document = ContractDocument.objects.get(contract=contract, contract_version=2)
    check = document_verify(bytes(document.pdf), frozen=document)
    assert check.ok
    assert len(check.signatures) == 3  # two parties and the seal, none of version 1
    current = SignatureEvidence.objects.filter(document=document, voided_at__isnull=True)
    assert current.count() == 2
    assert SignatureEvidence.objects.count() == 3  # the voided one is kept
    certificate = completion_certificate(contract)
    assert [s["organisation"] for s in certificate["signatures"]] == [
        "Communauté de communes",
        "Centre hospitalier",
    ]


def test_a_tampered_copy_is_reported_broken(contract, coordinator, parties):
    walk_to_signed(contract, coordinator)
    document = ContractDocument.objects.get(contract=contract)

    check = document_verify(tampered(bytes(document.pdf)), frozen=document)

    assert not check.ok
    assert check.frozen_prefix_intact is False
    assert len(check.signatures) == 3
    assert not any(s.intact for s in check.signatures)


def test_the_completion_certificate_names_the_signatures_and_the_history_head(
    contract, coordinator, parties
):
    _mayor, hospital = parties
    walk_to_signed(contract, coordinator)

    certificate = completion_certificate(contract)
    head = HistoryEntry.objects.filter(contract=contract).order_by("-seq").first()
    assert certificate["history_head"] == {"seq": head.seq, "hash": head.hash}
    assert certificate["document_sha256"] == contract.document_sha256
    signed = certificate["signatures"][1]
    assert (signed["signer"], signed["signed_by"]) == ("M. Jean Directeur", "Mme Élodie Adjointe")
    assert signed["mandate"] == "mandat\xa0: Décision 2019-12 du 15 janvier 2019"
    assert (
        signed["certificate_sha256"]
        == SigningKey.objects.get(person=hospital.represented_by).fingerprint
    )
    text = pdf_text(completion_certificate_pdf(contract))
    assert "Certificat de signature" in text
    assert head.hash in text
    assert "Mme Élodie Adjointe pour M. Jean Directeur" in text
    assert "M. Jean Directeur, directeur, représenté par Mme Élodie Adjointe" in text


def test_no_certificate_before_the_contract_is_signed(contract, coordinator, parties):
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)
    sign_all_but_one = open_tasks(contract, TaskKind.SIGNATURE)[0]
    decide(sign_all_but_one, "sign")

    assert completion_certificate(contract) is None
    assert completion_certificate_pdf(contract) is None
    sign_all(contract)
    assert completion_certificate(contract) is not None


def test_verify_document_reports_each_signature_and_fails_on_a_tampered_copy(
    contract, coordinator, parties, capsys, tmp_path
):
    walk_to_signed(contract, coordinator)

    call_command("verify_document", contract.reference)
    out = capsys.readouterr().out
    assert "signed by Mme Élodie Adjointe for M. Jean Directeur, Centre hospitalier" in out
    assert out.count(": intact;") == 3
    assert "mandate: Décision 2019-12 2019-01-15" in out
    assert f"{contract.reference}: OK (3 signatures)" in out

    copy = tmp_path / "copy.pdf"
    copy.write_bytes(tampered(contract_document_pdf(contract)))
    with pytest.raises(CommandError) as error:
        call_command("verify_document", contract.reference, "--file", str(copy))
    assert error.value.returncode == 1
    assert capsys.readouterr().out.count(": BROKEN;") == 3


def test_verify_document_names_an_unknown_contract():
    with pytest.raises(CommandError, match='No contract with reference "NOPE"'):
        call_command("verify_document", "NOPE")


def test_a_delegate_signs_with_their_own_certificate_for_the_absent_signer(
    contract, coordinator, parties
):
    mayor, _hospital = parties
    delegate = UserFactory(first_name="Paul", last_name="Délégué")
    today = timezone.localdate()
    services.delegation_declare(user=mayor.signer, delegate=delegate, start=today, end=today)
    walk_to_signed(contract, coordinator)

    evidence = SignatureEvidence.objects.get(signatory=mayor)
    assert (evidence.signed_by, evidence.signer) == (delegate, mayor.signer)
    assert evidence.certificate_fingerprint == SigningKey.objects.get(person=delegate).fingerprint
    text = pdf_text(contract_document_pdf(contract))
    assert f"Signé par Paul Délégué pour {mayor.signer.display_name}, Communauté de" in text


@pytest.mark.parametrize(
    ("first_name", "last_name"), [("Zofia", "Wiśniewska-Đặng"), ("Ελένη", "Παπαδοπούλου")]
)
def test_every_name_prints_in_the_document(
    contract, coordinator, parties, dejavu, first_name, last_name
):
    """Names outside Windows-1252 print as written (DejaVu Sans is embedded), not as "?",
    in the document and in the signature's stamp: a Latin name with the stamp's Latin copy of
    the font, a Greek one with the whole font."""
    mayor, _hospital = parties
    mayor.signer.first_name, mayor.signer.last_name = first_name, last_name
    mayor.signer.save(update_fields=["first_name", "last_name"])
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)

    text = pdf_text(contract_document_pdf(contract))

    assert f"{first_name} {last_name}" in text
    assert "?" not in text.split(first_name, 1)[1][:40]
    # Signed: the stamp in the signature's block names the signer as written too.
    (task,) = (t for t in open_tasks(contract, TaskKind.SIGNATURE) if t.owner == mayor.signer)
    decide(task, "sign")
    signed = pdf_text(contract_document_pdf(contract))
    assert f"Signé par {first_name} {last_name}" in signed
    assert "?" not in signed.split("Signé par", 1)[1][:60]


@pytest.mark.parametrize(
    ("lines", "latin"),
    [
        (["Signé par Mme Zofia Wiśniewska-Đặng", "le 6 décembre 2026 à 09 h 20"], True),
        (["Signé par Ελένη Παπαδοπούλου", "Agence régionale de santé"], False),
        (["Signé par Иван Петров"], False),
    ],
)
def test_a_stamp_is_drawn_with_a_font_that_has_every_character_it_prints(dejavu, lines, latin):
    """The Latin copy of the font when it is enough (a quarter of the parsing at each
    signature), the whole font otherwise: never a missing glyph."""
    from fontTools.ttLib import TTFont

    from signatures.services import stamp_font_file, stamp_style

    font = stamp_style(lines).text_box_style.font
    assert font is not None
    printed = {ord(character) for line in lines for character in line}

    assert printed <= set(TTFont(font.font_file).getBestCmap())
    assert font.font_file == str(stamp_font_file(dejavu[""], latin_only=latin))


def test_the_stamps_font_keeps_every_character_without_hinting_nor_layout_tables(dejavu):
    """pyHanko parses and subsets the stamp's font at each signature: its copy keeps every
    character of DejaVu Sans at 1,000 units per em, without the hinting instructions and the
    layout features that made up most of that work (signatures.services.stamp_font_file)."""
    from fontTools.ttLib import TTFont

    from signatures.services import STAMP_UNITS_PER_EM, stamp_font_file

    original = TTFont(dejavu[""])
    stamp = TTFont(stamp_font_file(dejavu[""]))

    assert stamp["head"].unitsPerEm == STAMP_UNITS_PER_EM
    assert set(stamp.getBestCmap()) == set(original.getBestCmap())
    assert not {"fpgm", "prep", "cvt "} & set(stamp.keys())
    assert not stamp["GSUB"].table.FeatureList.FeatureRecord
    assert not stamp["GPOS"].table.FeatureList.FeatureRecord


def test_the_stamps_latin_font_keeps_every_latin_character_and_little_else(dejavu):
    """Most stamps are drawn with a copy of the stamp's font reduced to the Latin scripts
    (about a fifth of the glyphs, a quarter of the parsing at each signature): every Latin
    letter, punctuation mark and symbol DejaVu Sans has is in it, Greek and Cyrillic not."""
    from fontTools.ttLib import TTFont

    from signatures.services import LATIN_STAMP_RANGES, stamp_font_file

    original = set(TTFont(dejavu[""]).getBestCmap())
    latin = TTFont(stamp_font_file(dejavu[""], latin_only=True))
    kept = set(latin.getBestCmap())

    expected = {c for c in original if any(a <= c <= b for a, b in LATIN_STAMP_RANGES)}
    assert kept == expected
    assert {ord(c) for c in "éèàçœŒÎ«»€№ặĐś\u202f"} <= kept
    assert not {ord("Ω"), ord("Ж")} & kept
    assert len(latin.getGlyphOrder()) < len(TTFont(dejavu[""]).getGlyphOrder()) / 4


def test_the_people_asked_to_sign_have_their_certificates_before_they_sign(
    contract, coordinator, parties, monkeypatch, django_capture_on_commit_callbacks
):
    """Recording the deliberation opens the signatures; after its commit the worker issues
    each holder's certificate (``signatures.tasks.issue_signing_certificates``), so that no
    signature generates a key while it holds the contract's lock. A party that signs with its
    organisation's own certificate gets none from Accord."""
    from signatures import keys
    from signatures import tasks as signing_tasks
    from tests.signatures.test_organisation_certificate import make_pkcs12

    mayor, hospital = parties
    keys.import_pkcs12(
        organisation=hospital.organisation,
        data=make_pkcs12("Centre hospitalier", b"pw"),
        password="pw",
    )
    queued: list[list[int]] = []
    monkeypatch.setattr(signing_tasks.issue_signing_certificates, "delay", queued.append)
    walk_to_deliberation(contract, coordinator)
    people = SigningKey.objects.filter(kind=KeyKind.PERSON)
    before = set(people.values_list("person", flat=True))  # the committee's minutes' signer

    with django_capture_on_commit_callbacks(execute=True):
        record_deliberation(contract)

    asked = open_tasks(contract, TaskKind.SIGNATURE)
    assert sorted(pk for ids in queued for pk in ids) == sorted(task.pk for task in asked)
    assert set(people.values_list("person", flat=True)) == before
    for ids in queued:
        signing_tasks.issue_signing_certificates(ids)
    mayors_task = next(task for task in asked if task.signatory_id == mayor.pk)
    issued = set(people.values_list("person", flat=True)) - before
    assert issued == {mayors_task.owner_id}
    # Run again (the broker delivered it twice): nothing more.
    signing_tasks.issue_signing_certificates([task.pk for task in asked])
    assert set(people.values_list("person", flat=True)) - before == issued

    sign_all(contract)

    assert set(people.values_list("person", flat=True)) - before == issued
    evidence = SignatureEvidence.objects.get(signatory=mayor)
    assert evidence.certificate_fingerprint == people.get(person=mayors_task.owner_id).fingerprint
