"""The administration site, titled Accord (Django's "overriding the default admin site"),
open to staff whose session passed two-factor authentication (django-otp's OTPAdminSite).

Apart from config.admin, which INSTALLED_APPS loads before the models: this module needs
them, and AdminConfig imports it (``default_site``) once they are ready."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp.admin import OTPAdminSite

from workflows import two_factor


class AccordAdminSite(OTPAdminSite):
    site_header = gettext_lazy("Accord administration")
    site_title = gettext_lazy("Accord administration")
    index_title = gettext_lazy("Contracts, people and records")

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)  # "admin", not OTPAdminSite's "otpadmin": the URLs' namespace

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        """No log-in form of its own: the site's log-in page (password, then code) for whoever
        is not signed in with a staff account; then the code page for a staff session not
        verified yet, or the enrolment for staff without an authenticator."""
        index = reverse("admin:index", current_app=self.name)
        target = request.GET.get(REDIRECT_FIELD_NAME, "")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = index
        user = request.user
        if not (user.is_active and user.is_staff):
            return redirect_to_login(target)
        if self.has_permission(request):
            return redirect(target)
        query = "?" + urlencode({REDIRECT_FIELD_NAME: target})
        if two_factor.has_authenticator(user):
            return redirect(reverse("login_code") + query)
        messages.warning(
            request,
            _(
                "The administration requires two-factor authentication: set up an "
                "authenticator app to continue."
            ),
        )
        return redirect(reverse("workflows:account_two_factor_enrol") + query)
