"""The notification centre and the preferences page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from workflows.models import Contract

from . import selectors, services
from .forms import NotificationFilterForm, PreferencesForm

PAGE_SIZE = 30


@login_required
def notification_centre(request: HttpRequest) -> HttpResponse:
    """Unread first, then the newest; filters by kind, contract and read state."""
    contracts = Contract.objects.filter(notifications__recipient=request.user).distinct()
    form = NotificationFilterForm(
        request.GET if ({"unread", "event", "contract"} & set(request.GET)) else None,
        contracts=contracts.order_by("reference"),
    )
    filters = form.filters()
    page = Paginator(selectors.notifications_of(request.user, **filters), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "notifications/centre.html",
        {
            "form": form,
            "page": page,
            "notifications": page.object_list,
            "filtered": any(filters.values()),
            "nav_section": "notifications",
        },
    )


@login_required
@require_POST
def mark_read(request: HttpRequest) -> HttpResponse:
    """Mark one notification (``id``) or all of them read, then go back or follow its link."""
    ids = [int(pk) for pk in request.POST.getlist("id") if pk.isdigit()] or None
    services.notifications_mark_read(user=request.user, ids=ids)
    next_url = request.POST.get("next", "")
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(next_url)
    return redirect("notifications:centre")


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    """How the person wants to hear of each kind of event."""
    form = PreferencesForm(
        request.POST or None, initial_modes=selectors.email_modes_of(request.user)
    )
    if request.method == "POST":
        if form.is_valid():
            services.preferences_save(user=request.user, modes=form.cleaned_data)
            messages.success(request, _("Your notification preferences are saved."))
            return redirect("notifications:preferences")
        return render(
            request,
            "notifications/preferences.html",
            {"form": form, "nav_section": "notifications"},
            status=400,
        )
    return render(
        request, "notifications/preferences.html", {"form": form, "nav_section": "notifications"}
    )
