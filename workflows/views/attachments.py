"""A contract's attachments on its page: adding one (a coordinator, or an action's pilot for
its sheet's documents) and downloading one (whoever sees the contract)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from .. import services
from ..errors import ApplicationError
from ..http import AuthenticatedHttpRequest, attachment_response, refuse_oversized_attachment
from ..selectors import attachments_visible_to
from .contracts import _render_detail, _visible_contract, attachment_form


@login_required
@require_POST
def attachment_add(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    contract = _visible_contract(request, pk)
    try:
        refuse_oversized_attachment(request)
    except ApplicationError as exc:
        return _render_detail(request, contract, attachment_refusal=exc.message, status=413)
    form = attachment_form(contract, request.user, request.POST, request.FILES)
    if not form.is_valid():
        return _render_detail(request, contract, bound_attachment_form=form, status=400)
    code = form.cleaned_data["action"]
    try:
        attachment = services.attachment_add(
            contract=contract,
            actor=request.user,
            kind=form.cleaned_data["kind"],
            upload=form.cleaned_data["file"],
            action=contract.actions.in_contract().get(code=code) if code else None,
        )
    except ApplicationError as exc:
        return _render_detail(
            request,
            contract,
            bound_attachment_form=form,
            attachment_refusal=exc.message,
            status=exc.status_code,
        )
    messages.success(request, _("“%(name)s” is attached.") % {"name": attachment.name})
    return redirect(f"{reverse('workflows:contract_detail', args=[contract.pk])}#attachments")


@login_required
def attachment_download(request: AuthenticatedHttpRequest, pk: int) -> FileResponse:
    attachment = get_object_or_404(attachments_visible_to(request.user), pk=pk)
    return attachment_response(attachment)
