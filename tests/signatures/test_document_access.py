"""Getting the document, its check and the completion certificate: API and pages."""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from signatures.models import ContractDocument, SignatureEvidence
from signatures.selectors import contract_document_pdf
from tests.factories import ActionFactory, SignatoryFactory
from tests.flows import record_deliberation, walk_to_deliberation
from tests.signatures.pdf import pdf_text, tampered

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(coordinator) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="fr")
    client.force_login(coordinator)
    return client


def document_url(contract) -> str:
    return f"/api/v1/contracts/{contract.pk}/document/"


def test_the_api_returns_the_signed_pdf(api_client, coordinator, signed):
    api_client.force_authenticate(coordinator)

    response = api_client.get(document_url(signed), HTTP_ACCEPT="application/pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content == bytes(ContractDocument.objects.get(contract=signed).pdf)
    # The frozen document whose fingerprint the API gives is the start of the signed file.
    frozen = ContractDocument.objects.get(contract=signed)
    assert (
        hashlib.sha256(response.content[: frozen.frozen_size]).hexdigest()
        == (api_client.get(f"/api/v1/contracts/{signed.pk}/").json()["document_sha256"])
    )


def test_the_api_says_there_is_no_document_before_the_deliberation(
    api_client, coordinator, contract
):
    ActionFactory(contract=contract)
    walk_to_deliberation(contract, coordinator)
    api_client.force_authenticate(coordinator)

    response = api_client.get(document_url(contract), HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 404
    assert response.json()["detail"] == (
        "The contract document does not exist before the deliberation."
    )
    record_deliberation(contract)
    assert api_client.get(document_url(contract)).content.startswith(b"%PDF")


def test_the_document_is_hidden_from_strangers_and_anonymous_callers(api_client, stranger, signed):
    assert api_client.get(document_url(signed)).status_code == 401
    api_client.force_authenticate(stranger)
    assert api_client.get(document_url(signed)).status_code == 404
    assert api_client.get(f"/api/v1/contracts/{signed.pk}/completion-certificate/").status_code == (
        404
    )
    client = Client()
    client.force_login(stranger)
    assert client.get(f"/contrats/{signed.pk}/document.pdf").status_code == 404
    assert client.get(f"/contrats/{signed.pk}/document/verification/").status_code == 404


def test_the_completion_certificate_is_downloadable_once_signed(api_client, coordinator, signed):
    api_client.force_authenticate(coordinator)

    response = api_client.get(f"/api/v1/contracts/{signed.pk}/completion-certificate/")

    assert response.status_code == 200
    assert "Certificat de signature" in pdf_text(response.content)


def test_the_contract_page_shows_the_document_and_the_completion_certificate(browser, signed):
    page = browser.get(f"/contrats/{signed.pk}/").content.decode()

    assert "Document du contrat et signatures" in page
    assert f"/contrats/{signed.pk}/document.pdf" in page
    assert "Certificat de signature" in page
    assert "Agence régionale de santé" in page
    head = signed.history.order_by("-seq").first()
    assert head.hash[:8] in page
    download = browser.get(f"/contrats/{signed.pk}/certificat-de-signature.pdf")
    assert download["Content-Type"] == "application/pdf"
    assert download.content.startswith(b"%PDF")


def test_the_verification_page_reports_each_signature_intact(browser, signed):
    response = browser.get(f"/contrats/{signed.pk}/document/verification/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "2 signatures, toutes intactes." in page
    assert page.count("Intacte") == 2
    assert "accord-seal" in page
    assert "Accord — autorité de certification" in page
    # The document timestamp after the seal is nobody's signature; the root is a link away.
    assert "accord-archive-timestamp" not in page
    assert 'href="/autorite/"' in page


def test_the_verification_page_reports_an_altered_document_as_broken(browser, signed):
    document = ContractDocument.objects.get(contract=signed)
    pdf = bytes(document.pdf)
    index = pdf.index(b"/Creator (Accord)") + 10
    # An intruder changing one byte of the stored file, around the application.
    ContractDocument.objects.filter(pk=document.pk).update(
        pdf=pdf[:index] + b"X" + pdf[index + 1 :]
    )

    page = browser.get(f"/contrats/{signed.pk}/document/verification/").content.decode()

    assert "Le document est rompu" in page
    assert page.count("Rompue") == 2


def test_the_signature_task_page_links_to_the_document_it_signs(contract, coordinator):
    ActionFactory(contract=contract)
    signatory = SignatoryFactory(contract=contract)
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)
    task = signatory.tasks.get()
    client = Client(HTTP_ACCEPT_LANGUAGE="fr")
    client.force_login(signatory.signer)

    page = client.get(f"/taches/{task.pk}/").content.decode()

    assert f"/contrats/{contract.pk}/document.pdf" in page
    assert client.get(f"/contrats/{contract.pk}/document.pdf").content.startswith(b"%PDF")


def test_signing_through_the_api_keeps_the_client_in_the_evidence(
    api_client, contract, coordinator
):
    ActionFactory(contract=contract)
    signatory = SignatoryFactory(contract=contract)
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)
    task = signatory.tasks.get()
    api_client.force_authenticate(signatory.signer)

    response = api_client.post(
        f"/api/v1/tasks/{task.pk}/decision/",
        {"decision": "sign", "password": "correct-horse-battery-staple", "consent": True},
        format="json",
        REMOTE_ADDR="198.51.100.23",
        HTTP_USER_AGENT="AccordClient/1.0",
    )

    assert response.status_code == 200
    assert response.json()["contract"]["status"] == "signed"
    evidence = SignatureEvidence.objects.get(signatory=signatory)
    assert (evidence.ip_address, evidence.user_agent) == ("198.51.100.23", "AccordClient/1.0")
    assert api_client.get(document_url(contract)).content == bytes(
        ContractDocument.objects.get(contract=contract).pdf
    )


@pytest.mark.parametrize("through", ["api", "page"])
def test_a_very_long_user_agent_is_kept_as_far_as_the_evidence_holds(
    api_client, client, contract, coordinator, through
):
    """The page and the API cut it at the same length, the evidence's (a longer one used to
    fail the API's signature on PostgreSQL)."""
    ActionFactory(contract=contract)
    signatory = SignatoryFactory(contract=contract)
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)
    task = signatory.tasks.get()
    agent = "Mozilla/5.0 " + "x" * 600
    sign = {"decision": "sign", "password": "correct-horse-battery-staple", "consent": True}
    if through == "api":
        api_client.force_authenticate(signatory.signer)
        response = api_client.post(
            f"/api/v1/tasks/{task.pk}/decision/", sign, format="json", HTTP_USER_AGENT=agent
        )
        assert response.status_code == 200
    else:
        client.force_login(signatory.signer)
        response = client.post(f"/taches/{task.pk}/", sign, HTTP_USER_AGENT=agent)
        assert response.status_code == 302
    evidence = SignatureEvidence.objects.get(signatory=signatory)
    assert evidence.user_agent == agent[:500]


def check_copy(browser, contract, content: bytes):
    return browser.post(
        f"/contrats/{contract.pk}/document/verification/",
        {"copy": SimpleUploadedFile("copie.pdf", content, content_type="application/pdf")},
    )


def test_a_copy_someone_received_is_checked_on_the_verification_page(browser, signed):
    pdf = contract_document_pdf(signed)

    intact = check_copy(browser, signed, pdf).content.decode()
    broken = check_copy(browser, signed, tampered(pdf)).content.decode()
    not_pdf = check_copy(browser, signed, b"not a PDF at all")

    assert "Vérifié : la copie que vous avez envoyée." in intact.replace("\xa0", " ")
    assert "2 signatures, toutes intactes." in intact
    assert "Le document est rompu" in broken
    assert broken.count("Rompue") == 2
    assert not_pdf.status_code == 200
    assert "ne peut pas être lu comme un document PDF" in not_pdf.content.decode()


def test_checking_a_copy_needs_a_file(browser, signed):
    response = browser.post(f"/contrats/{signed.pk}/document/verification/", {})

    assert response.status_code == 400
    assert "Choisissez le fichier PDF à vérifier." in response.content.decode()
