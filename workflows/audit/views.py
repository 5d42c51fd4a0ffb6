"""The auditor's pages: a contract's history as a timeline, the search across contracts, the
exports and the verification bundle. Thin: access and rules live in selectors and services."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseNotAllowed, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_POST

from workflows.errors import Conflict, NotAllowed
from workflows.http import AuthenticatedHttpRequest
from workflows.models import Contract, HistoryExport, User
from workflows.selectors import contracts_visible_to, history_verify

from . import services
from .archive import archive_name, archive_zip_chunks, contract_archive
from .forms import SEARCH_FIELDS, ContractHistoryForm, HistorySearchForm
from .selectors import (
    HistoryFilter,
    HistorySearch,
    bundle_folder,
    contract_auditors,
    contract_history_page,
    history_csv_lines,
    history_json_chunks,
    history_lines,
    history_search,
    history_search_page,
)

EXPORT_ROWS_PER_READ = 2000
EXPORT_FORMATS = (HistoryExport.Format.CSV, HistoryExport.Format.JSON)


def _visible_contract(request: AuthenticatedHttpRequest, pk: int) -> Contract:
    """404 for a contract the person may not read, so as not to reveal it."""
    return get_object_or_404(contracts_visible_to(request.user), pk=pk)


def search_form(request: AuthenticatedHttpRequest) -> HistorySearchForm:
    """The search form, bound when the query string has a criterion."""
    bound = bool(set(SEARCH_FIELDS) & set(request.GET))
    return HistorySearchForm(
        request.GET if bound else None,
        contracts=contracts_visible_to(request.user),
        user=request.user,
    )


@login_required
def contract_history(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """One contract's history in words, newest first, a page at a time, filtered by event,
    person and action sheet; with its integrity and its auditors."""
    contract = _visible_contract(request, pk)
    form = ContractHistoryForm(request.GET or None, contract=contract)
    valid = not form.is_bound or form.is_valid()
    filters = form.filters() if form.is_bound and valid else HistoryFilter()
    history = contract_history_page(contract, filters, request.GET.get("page") or 1)
    return render(
        request,
        "workflows/audit/contract_history.html",
        {
            "contract": contract,
            "form": form,
            "error_forms": [form],
            "history": history,
            "filtered": form.is_bound and valid and filters != HistoryFilter(),
            "verification": history_verify(contract),
            "auditors": contract_auditors(contract),
            "nav_section": "audit",
        },
        status=200 if valid else 400,
    )


@login_required
@require_POST
def contract_history_bundle(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The verification bundle (ZIP); its reading goes into the contract's history."""
    contract = _visible_contract(request, pk)
    content = services.contract_verification_bundle(contract=contract, user=request.user)
    response = HttpResponse(content, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{bundle_folder(contract)}.zip"'
    return response


@login_required
def contract_archive_download(request: AuthenticatedHttpRequest, pk: int) -> HttpResponseBase:
    """The signed contract's package for the public archives (ZIP, SEDA 2.2 manifest), as
    the API gives it; a read, so a link (a GET)."""
    contract = _visible_contract(request, pk)
    try:
        files, manifest = contract_archive(contract=contract, user=request.user)
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc
    except Conflict as exc:
        messages.error(request, exc.message)
        return redirect("workflows:contract_detail", pk=contract.pk)
    response = StreamingHttpResponse(
        archive_zip_chunks(files, manifest), content_type="application/zip"
    )
    response["Content-Disposition"] = f'attachment; filename="{archive_name(contract)}"'
    return response


MAX_PAGE = 100_000  # 5 million entries at 50 a page: a larger number is a typo or a probe


@login_required
def history_search_page_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Search the history of every contract the person may read, newest first."""
    form = search_form(request)
    page = None
    if form.is_bound and form.is_valid():
        entries = history_search(request.user, form.search())
        try:
            number = min(int(request.GET.get("page", 1)), MAX_PAGE)
        except ValueError:
            number = 1
        page = history_search_page(entries, number)
    elif not form.is_bound:
        entries = history_search(request.user, HistorySearchForm.empty_search())
        page = history_search_page(entries, 1)
    return render(
        request,
        "workflows/audit/search.html",
        {
            "form": form,
            "error_forms": [form],
            "page": page,
            "lines": history_lines(page.entries, fold_notices=False) if page else [],
            "nav_section": "audit",
        },
        status=400 if form.is_bound and not form.is_valid() else 200,
    )


EXPORT_IS_POST = gettext_noop(
    "An export is recorded in the history: ask for it with POST (the search stays in the query "
    "string), not by following a link."
)


@login_required
def history_export(request: AuthenticatedHttpRequest, format: str) -> HttpResponseBase:
    """The search's entries as CSV (for a French spreadsheet) or JSON; recorded first.

    A POST with its CSRF token: since it writes a record, a link on another site must not be
    able to add lines to someone's export log. The search is read from the query string."""
    if format not in EXPORT_FORMATS:
        raise Http404
    if request.method != "POST":
        response = HttpResponseNotAllowed(["POST"], content=_(EXPORT_IS_POST))
        response["Content-Type"] = "text/plain; charset=utf-8"
        return response
    form = search_form(request)
    if form.is_bound and not form.is_valid():
        return render(
            request,
            "workflows/audit/search.html",
            {"form": form, "error_forms": [form], "page": None, "nav_section": "audit"},
            status=400,
        )
    search = form.search() if form.is_bound else HistorySearchForm.empty_search()
    return export_response(request.user, search, format)


def export_response(user: User, search: HistorySearch, format: str) -> StreamingHttpResponse:
    """The export as a streamed download, recorded before the first byte is sent."""
    entries = history_search(user, search)
    services.history_export_record(
        user=user, format=format, search=search.as_dict(), entries=entries
    )
    rows = entries.iterator(chunk_size=EXPORT_ROWS_PER_READ)
    language = translation.get_language()
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    if format == HistoryExport.Format.CSV:
        response = StreamingHttpResponse(
            _encoded(history_csv_lines(rows), language),
            content_type="text/csv; charset=utf-8",
        )
    else:
        response = StreamingHttpResponse(
            _encoded(history_json_chunks(rows, search=search.as_dict()), language),
            content_type="application/json",
        )
    response["Content-Disposition"] = f'attachment; filename="accord-historique-{stamp}.{format}"'
    return response


def _encoded(chunks: Iterable[str], language: str) -> Iterator[bytes]:
    """The chunks in UTF-8, written in the request's language even though they are produced
    after the view has returned (as the response streams)."""
    with translation.override(language):
        for chunk in chunks:
            yield chunk.encode("utf-8")
