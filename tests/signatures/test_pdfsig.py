"""poppler's pdfsig, a PDF reader independent of Accord, checks the signed demo contract.

pdfsig comes with poppler-utils, which .ci/run installs: under ``CI=true`` a missing pdfsig
fails the run instead of skipping it.
"""

import re

import pytest
from django.core.management import call_command

from signatures.selectors import contract_document_pdf
from tests.flows import approve_reviews, decide, open_tasks, record_deliberation, vote, worker_seals
from tests.signatures.pdf import run_pdfsig, tampered
from workflows.management.commands.load_demo import DEMO_PASSWORD
from workflows.models import Contract, TaskKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_demo(settings, capsys) -> Contract:
    """The demo contract walked to signed by its people's decisions."""
    settings.EMBEDDED = True
    call_command("load_demo")
    capsys.readouterr()
    contract = Contract.objects.get(reference="CLS-TDC-2019")
    approve_reviews(contract)
    vote(contract)
    record_deliberation(contract)
    while tasks := open_tasks(contract, TaskKind.SIGNATURE):
        decide(tasks[0], "sign", password=DEMO_PASSWORD)
    worker_seals()
    contract.refresh_from_db()
    assert contract.status == "signed"
    return contract


def test_pdfsig_finds_every_signature_valid_and_a_tampered_copy_invalid(
    pdfsig, signed_demo, tmp_path
):
    """One test: walking the demo to signed takes a while."""
    pdf = contract_document_pdf(signed_demo)
    out = run_pdfsig(pdfsig, pdf, tmp_path, "signed.pdf")

    fields = re.findall(r"Signature Field Name: (\S+)", out)
    parties = [
        f"signature-{code}"
        for code in signed_demo.signatories.values_list("organisation__code", flat=True)
    ]
    assert sorted(fields) == sorted([*parties, "accord-seal", "accord-archive-timestamp"])
    # The seal, then the document timestamp over everything (PAdES B-LTA), which poppler
    # lists without checking it.
    assert fields[-2:] == ["accord-seal", "accord-archive-timestamp"]
    assert out.count("Signature Validation: Signature is Valid.") == len(parties) + 1 == 9
    assert "Signer Certificate Common Name: Accord — cachet serveur" in out
    assert out.count("Total document signed") == 1  # the timestamp, last, covers the whole file

    out = run_pdfsig(pdfsig, tampered(pdf), tmp_path, "tampered.pdf")

    assert len(re.findall(r"Signature Field Name:", out)) == 10
    assert "Signature is Valid." not in out
    assert out.count("Signature Validation: Digest Mismatch.") == 9
