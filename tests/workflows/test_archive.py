"""The signed contract's package for the public archives: a SEDA 2.2 manifest valid against
the standard's schemas, listing every file of the ZIP with its SHA-512 and size; who may take
it; only once signed."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
import xmlschema
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import (
    PASSWORD,
    ActionFactory,
    SignatoryFactory,
    UserFactory,
)
from tests.flows import (
    open_tasks,
    record_deliberation,
    sign_all,
    walk_to_deliberation,
    worker_seals,
)
from tests.shared import signed_contract_once
from tests.workflows.test_audit import run_script
from workflows.models import (
    Contract,
    ContractAuditor,
    SignatoryKind,
    SignatoryStatus,
    TaskKind,
    User,
)
from workflows.services import attachment_add

pytestmark = pytest.mark.django_db

SEDA_SCHEMA = Path(__file__).resolve().parents[3] / "shared/standards/seda-2.2/seda-2.2-main.xsd"
NS = {"seda": "fr:gouv:culture:archivesdefrance:seda:v2.2"}
SHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"


def _with_an_annex(contract: Contract, coordinator: User) -> None:
    attachment_add(
        contract=contract,
        actor=coordinator,
        kind="annex",
        upload=SimpleUploadedFile("annexe financière.txt", "Annexe : 10 000 €".encode()),
    )


@pytest.fixture(scope="module")
def signed_once(django_db_setup, django_db_blocker):
    """A signed contract with an attachment, made once for the module (tests/shared.py); the
    `coordinator` fixture finds its coordinator."""
    with signed_contract_once(django_db_blocker, before_signing=_with_an_annex) as pk:
        yield pk


@pytest.fixture
def signed(signed_once, db) -> Contract:
    return Contract.objects.get(pk=signed_once)


def parsed(manifest: bytes) -> ElementTree.Element:
    """The manifest Accord just wrote (no entity, no DTD: nothing for defusedxml to stop)."""
    return ElementTree.fromstring(manifest)  # noqa: S314


def archive_url(contract: Contract) -> str:
    return f"/api/v1/contracts/{contract.pk}/archive/"


def download(api_client, user, contract: Contract):
    api_client.force_authenticate(user)
    return api_client.get(archive_url(contract), HTTP_ACCEPT_LANGUAGE="en")


def test_the_manifest_is_a_valid_seda_transfer_listing_every_file_with_its_sha512(
    api_client, coordinator, signed
):
    response = download(api_client, coordinator, signed)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    package = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    manifest = package.read("manifest.xml")
    xmlschema.XMLSchema(str(SEDA_SCHEMA)).validate(io.BytesIO(manifest))
    root = parsed(manifest)
    objects = root.findall(".//seda:BinaryDataObject", NS)
    listed = {}
    for data_object in objects:
        uri = data_object.findtext("seda:Uri", namespaces=NS)
        digest = data_object.find("seda:MessageDigest", NS)
        assert digest.get("algorithm") == SHA512
        content = package.read(uri)
        assert hashlib.sha512(content).hexdigest() == digest.text
        assert int(data_object.findtext("seda:Size", namespaces=NS)) == len(content)
        assert data_object.findtext(".//seda:Filename", namespaces=NS) == uri.rsplit("/")[-1]
        listed[uri] = data_object
    assert set(package.namelist()) == {"manifest.xml", *listed}
    names = {uri.rsplit("/")[-1] for uri in listed}
    assert f"contrat-{signed.reference}.pdf" in names
    assert "certificat-d-achevement.pdf" in names
    assert "historique.json" in names
    assert f"accord-{signed.reference}-verification.zip" in names
    assert any(name.endswith("-annexe-financiere.txt") for name in names)
    # Every data object is described by a unit under the contract's, which references it.
    references = {ref.text for ref in root.iterfind(".//seda:DataObjectReferenceId", NS)}
    assert references == {data_object.get("id") for data_object in objects}


def package_of(response) -> zipfile.ZipFile:
    assert response.status_code == 200
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def as_owner(task) -> APIClient:
    client = APIClient()
    client.force_authenticate(task.owner)
    return client


def amendment_signed(api_client, contract: Contract) -> None:
    """Amendment no. 1, extending the period, through its circuit to its signatures."""
    url = f"/api/v1/contracts/{contract.pk}/amendments/"
    assert api_client.post(url, {}, format="json").status_code == 201
    api_client.patch(f"{url}1/", {"period_end": "2031-12-31"}, format="json")
    assert api_client.post(f"{url}1/transitions/launch_review/", {}).status_code == 200
    for kind in (TaskKind.REVIEW, TaskKind.VOTE):
        while tasks := open_tasks(contract, kind):
            as_owner(tasks[0]).post(
                f"/api/v1/tasks/{tasks[0].pk}/decision/", {"decision": "approve"}, format="json"
            )
    recorded = api_client.post(
        f"{url}1/transitions/record_deliberation/",
        {"number": "DEL-2026-12", "date": "2026-01-15"},
        format="json",
    )
    assert recorded.status_code == 200, recorded.json()
    while tasks := open_tasks(contract, TaskKind.SIGNATURE):
        signed = as_owner(tasks[0]).post(
            f"/api/v1/tasks/{tasks[0].pk}/decision/",
            {"decision": "sign", "password": PASSWORD, "consent": True},
            format="json",
        )
        assert signed.status_code == 200, signed.json()
    assert contract.amendments.get().status == "signed"


def test_the_archived_bundle_verifies_offline_and_its_history_is_the_archived_one(
    api_client, coordinator, signed, tmp_path
):
    entries = signed.history.count()

    package = package_of(download(api_client, coordinator, signed))

    bundle_path = f"content/accord-{signed.reference}-verification.zip"
    zipfile.ZipFile(io.BytesIO(package.read(bundle_path))).extractall(tmp_path)
    folder = tmp_path / f"accord-{signed.reference}-verification"
    result = run_script(folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VÉRIFIÉ" in result.stdout
    assert (folder / "history.json").read_bytes() == package.read("content/historique.json")
    assert (folder / f"{signed.reference}.pdf").read_bytes() == package.read(
        f"content/contrat-{signed.reference}.pdf"
    )
    # Taking the archive is a read: nothing was added to the history.
    assert signed.history.count() == entries


def test_a_signed_amendment_is_archived_beside_the_contract(api_client, coordinator, signed):
    api_client.force_authenticate(coordinator)
    amendment_signed(api_client, signed)

    package = package_of(api_client.get(archive_url(signed)))

    manifest = package.read("manifest.xml")
    xmlschema.XMLSchema(str(SEDA_SCHEMA)).validate(io.BytesIO(manifest))
    pdf = package.read("content/avenant-1.pdf")
    assert pdf == api_client.get(f"/api/v1/contracts/{signed.pk}/amendments/1/document/").content
    root = parsed(manifest)
    titles = [
        title.text for title in root.iterfind(".//seda:ArchiveUnit/seda:Content/seda:Title", NS)
    ]
    assert "Avenant n° 1 signé" in titles


def test_the_manifest_describes_the_contract_in_french(api_client, coordinator, signed):
    package = package_of(download(api_client, coordinator, signed))

    root = parsed(package.read("manifest.xml"))
    contract_unit = root.find(".//seda:DescriptiveMetadata/seda:ArchiveUnit", NS)
    content = contract_unit.find("seda:Content", NS)
    assert content.findtext("seda:DescriptionLevel", namespaces=NS) == "File"
    assert signed.title in content.findtext("seda:Title", namespaces=NS)
    assert content.findtext("seda:Title", namespaces=NS) == signed.title
    assert content.findtext("seda:Description", namespaces=NS).startswith(
        "Contrat local de santé (CLS) du territoire «\u00a0Communauté de communes de test\u00a0»"
    )
    assert content.findtext("seda:StartDate", namespaces=NS) == signed.period_start.isoformat()
    assert content.findtext("seda:EndDate", namespaces=NS) == signed.period_end.isoformat()
    agents = [
        agent.findtext("seda:Corpname", namespaces=NS)
        for agent in content.iterfind("seda:Agent", NS)
    ]
    assert "Agence régionale de santé" in agents
    titles = [
        unit.findtext("seda:Content/seda:Title", namespaces=NS)
        for unit in contract_unit.iterfind("seda:ArchiveUnit", NS)
    ]
    assert titles[0] == f"Contrat signé {signed.reference}"
    assert "Historique d\u2019approbation" in titles
    assert root.findtext("seda:Comment", namespaces=NS).startswith("Versement du contrat signé")
    appraisal = contract_unit.find("seda:Management/seda:AppraisalRule", NS)
    assert appraisal.findtext("seda:StartDate", namespaces=NS) == signed.period_end.isoformat()
    assert root.findtext("seda:ArchivalAgency/seda:Identifier", namespaces=NS)
    assert root.findtext("seda:TransferringAgency/seda:Identifier", namespaces=NS)


def test_an_associated_party_that_declined_is_named_so(api_client, coordinator, signed):
    SignatoryFactory(
        contract=signed,
        kind=SignatoryKind.ASSOCIATED,
        status=SignatoryStatus.DECLINED,
        organisation__name="MSA Bourgogne",
    )

    package = package_of(download(api_client, coordinator, signed))

    roles = {
        agent.findtext("seda:Corpname", namespaces=NS): agent.findtext("seda:Role", namespaces=NS)
        for agent in parsed(package.read("manifest.xml")).iterfind(".//seda:Agent", NS)
    }
    assert roles == {
        "Agence régionale de santé": "Signataire obligatoire",
        "MSA Bourgogne": "Signataire associé, a refusé de signer",
    }


def test_the_agencies_come_from_the_settings(api_client, coordinator, signed, settings):
    settings.ACCORD_ARCHIVAL_AGENCY_ID = "FRAD058"
    settings.ACCORD_ARCHIVAL_AGENCY_NAME = "Archives départementales de la Nièvre"

    package = package_of(download(api_client, coordinator, signed))

    root = parsed(package.read("manifest.xml"))
    assert root.findtext("seda:ArchivalAgency/seda:Identifier", namespaces=NS) == "FRAD058"
    assert root.findtext(
        ".//seda:ArchivalAgency//{http://purl.org/dc/terms/}title", namespaces=NS
    ) == ("Archives départementales de la Nièvre")


def test_an_auditor_and_the_staff_may_take_the_archive(api_client, signed):
    auditor = UserFactory()
    ContractAuditor.objects.create(contract=signed, user=auditor)

    assert download(api_client, auditor, signed).status_code == 200
    assert download(api_client, UserFactory(is_staff=True), signed).status_code == 200


def test_a_partner_who_sees_the_contract_may_not_take_its_archive(api_client, signed):
    lead = signed.working_groups.first().leads.first()

    response = download(api_client, lead, signed)

    assert response.status_code == 403
    assert "coordinators" in response.json()["detail"]


def test_a_stranger_gets_not_found(api_client, signed):
    assert download(api_client, UserFactory(), signed).status_code == 404


def test_an_unsigned_contract_has_no_archive(api_client, coordinator, contract):
    response = download(api_client, coordinator, contract)

    assert response.status_code == 409
    assert response.json()["detail"].startswith("Only a signed contract goes to the archives")


# --- The contract page ----------------------------------------------------------------------


def page_for(user, contract: Contract):
    client = Client(HTTP_ACCEPT_LANGUAGE="fr")
    client.force_login(user)
    return client, client.get(f"/contrats/{contract.pk}/")


def test_the_contract_page_offers_the_archive_to_its_coordinator(coordinator, signed):
    client, page = page_for(coordinator, signed)

    assert page.status_code == 200
    link = f'href="/contrats/{signed.pk}/archive/"'
    assert link in page.content.decode()
    assert "Télécharger l\u2019archive (SEDA 2.2)" in page.content.decode()
    download = client.get(f"/contrats/{signed.pk}/archive/")
    assert download.status_code == 200
    assert download["Content-Disposition"] == (
        f'attachment; filename="accord-{signed.reference}-archive.zip"'
    )
    package = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    assert "manifest.xml" in package.namelist()


def test_the_contract_page_offers_no_archive_to_a_lead(signed):
    lead = signed.working_groups.first().leads.first()

    client, page = page_for(lead, signed)

    assert page.status_code == 200
    assert f"/contrats/{signed.pk}/archive/" not in page.content.decode()
    assert client.get(f"/contrats/{signed.pk}/archive/").status_code == 403


def test_an_unsigned_contracts_page_offers_no_archive(coordinator, contract):
    client, page = page_for(coordinator, contract)

    assert f"/contrats/{contract.pk}/archive/" not in page.content.decode()
    refused = client.get(f"/contrats/{contract.pk}/archive/", follow=True)
    assert "Seul un contrat signé" in refused.content.decode()


def test_the_archive_waits_for_the_seal_after_the_last_signature(api_client, coordinator, contract):
    """Between the last signature and the worker's seal the archive would lack the sealed
    document and the completion certificate: the page says to come back, the download
    refuses, and both give it once the worker has sealed."""
    ActionFactory(contract=contract)
    SignatoryFactory(contract=contract)
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)
    sign_all(contract, worker_seals_then=False)

    client, page = page_for(coordinator, contract)
    assert "dès qu\u2019Accord aura scellé le document signé" in page.content.decode()
    assert "Télécharger l\u2019archive (SEDA 2.2)" not in page.content.decode()
    assert f'href="/contrats/{contract.pk}/archive/"' not in page.content.decode()
    refused = client.get(f"/contrats/{contract.pk}/archive/", follow=True)
    assert "Accord scelle le document et établit le certificat de signature" in (
        refused.content.decode()
    )
    response = download(api_client, coordinator, contract)
    assert response.status_code == 409
    assert response.json()["detail"].startswith("Every party has signed and Accord is sealing")

    worker_seals()
    _client, page = page_for(coordinator, contract)
    assert "Télécharger l\u2019archive (SEDA 2.2)" in page.content.decode()
    assert f'href="/contrats/{contract.pk}/archive/"' in page.content.decode()
    package = package_of(download(api_client, coordinator, contract))
    assert "content/certificat-d-achevement.pdf" in package.namelist()
