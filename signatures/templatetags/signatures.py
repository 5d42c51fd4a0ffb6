"""The contract page's document section, so that the contract view needs no change."""

from django import template

from signatures.document import certificate_display
from signatures.selectors import contract_document, signature_evidence

register = template.Library()


@register.inclusion_tag("signatures/_contract_document.html")
def contract_document_section(contract):
    document = contract_document(contract, with_pdf=False)
    certificate = document.certificate_data if document is not None else None
    evidence = signature_evidence(contract)
    return {
        "contract": contract,
        "document": document,
        "certificate": certificate_display(certificate) if certificate else None,
        "current_signatures": [e for e in evidence if e.voided_at is None],
        "voided_signatures": [e for e in evidence if e.voided_at is not None],
    }
