"""The document's pages: the PDF, its completion certificate, the check of its signatures."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, serialization
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from workflows.amending import amendment_pdf
from workflows.http import AuthenticatedHttpRequest
from workflows.models import Amendment, Contract, is_coordinator
from workflows.selectors import contracts_visible_to

from . import keys, pki
from .document import render_contract_document
from .forms import DocumentCopyForm
from .selectors import (
    DocumentCheck,
    annual_report_pdf,
    committee_minutes,
    completion_certificate_pdf,
    contract_document,
    contract_document_check,
    contract_document_pdf,
    document_verify,
    signature_evidence,
)


def _visible_contract(request: AuthenticatedHttpRequest, pk: int) -> Contract:
    """404 for a contract the person takes no part in, so as not to reveal it."""
    return get_object_or_404(contracts_visible_to(request.user), pk=pk)


def pdf_response(pdf: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def annual_report_filename(contract: Contract, year: int) -> str:
    return f"{contract.reference}-rapport-annuel-{year}.pdf"


def amendment_filename(amendment: Amendment) -> str:
    return f"{amendment.contract.reference}-avenant-{amendment.number}.pdf"


def minutes_filename(contract: Contract, round: int) -> str:
    return f"{contract.reference}-proces-verbal-tour-{round}.pdf"


def document_filename(contract: Contract) -> str:
    return f"{contract.reference}-v{contract.version}.pdf"


@login_required
def contract_document_download(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    contract = _visible_contract(request, pk)
    pdf = contract_document_pdf(contract)
    if pdf is None:
        raise Http404(_("The contract document does not exist before the deliberation."))
    return pdf_response(pdf, document_filename(contract))


@login_required
def contract_document_preview(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The contract document as it would be frozen now, marked as a draft in its footer: for
    its coordinators while they write it, until the deliberation freezes the real one."""
    contract = _visible_contract(request, pk)
    if not is_coordinator(contract, request.user):
        raise PermissionDenied(_("Only a coordinator of the contract may preview its document."))
    if contract_document(contract, with_pdf=False) is not None:
        raise Http404(_("The contract document is frozen: download it rather than a preview."))
    pdf = render_contract_document(contract, when=timezone.now(), preview=True)
    response = pdf_response(pdf, f"{contract.reference}-apercu.pdf")
    response["Content-Disposition"] = f'inline; filename="{contract.reference}-apercu.pdf"'
    return response


@login_required
def annual_report_download(request: AuthenticatedHttpRequest, pk: int, year: int) -> HttpResponse:
    """The year's annual report (a draft, marked so, until the committee decided), opened in
    the browser."""
    contract = _visible_contract(request, pk)
    pdf = annual_report_pdf(contract, year)
    if pdf is None:
        raise Http404(_("This contract has no annual review of that year."))
    response = pdf_response(pdf, annual_report_filename(contract, year))
    response["Content-Disposition"] = f'inline; filename="{annual_report_filename(contract, year)}"'
    return response


@login_required
def committee_minutes_download(
    request: AuthenticatedHttpRequest, pk: int, round: int
) -> HttpResponse:
    """A decided round's minutes, signed by the chair, for whoever may see the contract."""
    contract = _visible_contract(request, pk)
    vote = committee_minutes(contract, round)
    if vote is None:
        raise Http404(_("This contract has no minutes of that round."))
    return pdf_response(bytes(vote.minutes_pdf), minutes_filename(contract, round))


@login_required
def completion_certificate_download(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    contract = _visible_contract(request, pk)
    pdf = completion_certificate_pdf(contract)
    if pdf is None:
        raise Http404(
            _(
                "The completion certificate exists once every party has signed and Accord has "
                "sealed the document."
            )
        )
    return pdf_response(pdf, f"{contract.reference}-v{contract.version}-certificat.pdf")


@login_required
def document_verification(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Each signature of the current document, or of a copy someone sent, as pyHanko's
    validation reports it."""
    contract = _visible_contract(request, pk)
    document = contract_document(contract)
    form = (
        DocumentCopyForm(request.POST, request.FILES)
        if request.method == "POST"
        else DocumentCopyForm()
    )
    checked_copy = request.method == "POST" and document is not None and form.is_valid()
    check: DocumentCheck | None
    if checked_copy:
        check = document_verify(form.cleaned_data["copy"], frozen=document)
    else:
        check = contract_document_check(contract)
    evidence = {
        e.field_name: e
        for e in signature_evidence(contract)
        if document is not None and e.document_id == document.pk
    }
    signatures = [
        {"check": item, "evidence": evidence.get(item.field_name)}
        for item in (check.signatures if check else [])
    ]
    return render(
        request,
        "signatures/document_verification.html",
        {
            "contract": contract,
            "document": document,
            "check": check,
            "checked_copy": checked_copy,
            "signatures": signatures,
            "form": form,
            "nav_section": "contracts",
        },
        status=400 if request.method == "POST" and not checked_copy else 200,
    )


@login_required
def amendment_document_download(
    request: AuthenticatedHttpRequest, pk: int, number: int
) -> HttpResponse:
    """An amendment's document (a draft, marked so, until it is signed), opened in the
    browser."""
    contract = _visible_contract(request, pk)
    amendment = get_object_or_404(Amendment, contract=contract, number=number)
    filename = amendment_filename(amendment)
    response = pdf_response(amendment_pdf(amendment), filename)
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


ROOT_FILENAME = "accord-autorite"


@require_GET
def trust_root(request: HttpRequest) -> HttpResponse:
    """Public: the installation's root certificate, its fingerprint, and how to trust it in a
    PDF reader, for whoever received a signed document."""
    root = pki.root_certificate()
    return render(
        request,
        "signatures/trust_root.html",
        {
            "root": root,
            "subject": root.subject.rfc4514_string(),
            "sha256": root.fingerprint(hashes.SHA256()).hex(),
            "crl_url": keys.revocation_list_url(),
        },
    )


@require_GET
def trust_root_download(request: HttpRequest, encoding: str) -> HttpResponse:
    """The root certificate as a file, PEM (text) or DER (what Windows and Acrobat open)."""
    root = pki.root_certificate()
    if encoding == "pem":
        data, content_type, extension = (
            root.public_bytes(serialization.Encoding.PEM),
            "application/x-pem-file",
            "pem",
        )
    else:
        data, content_type, extension = (
            root.public_bytes(serialization.Encoding.DER),
            "application/pkix-cert",
            "cer",
        )
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{ROOT_FILENAME}.{extension}"'
    return response


@require_GET
def revocation_list(request: HttpRequest) -> HttpResponse:
    """Public: the authority's CRL, at the address written in every certificate it issues."""
    response = HttpResponse(pki.revocation_list(), content_type="application/pkix-crl")
    response["Cache-Control"] = f"public, max-age={pki.CRL_REFRESH_SECONDS}"
    return response


@csrf_exempt  # RFC 3161 clients post a DER request, with no cookie nor token
@require_POST
def timestamping(request: HttpRequest) -> HttpResponse:
    """Public: Accord's time-stamping service over HTTP (RFC 3161, section 3.4): a
    ``TimeStampReq`` in, a ``TimeStampResp`` out; a refused request answers 400 with the
    rejection's ``TimeStampResp``."""
    if request.content_type != "application/timestamp-query":
        return HttpResponse(
            _("Send an RFC 3161 request, of type application/timestamp-query."),
            status=415,
            content_type="text/plain; charset=utf-8",
        )
    reply, granted = pki.timestamp_reply(request.body)
    return HttpResponse(
        reply, content_type="application/timestamp-reply", status=200 if granted else 400
    )
