"""Administration: certificates (an organisation may upload its own PKCS#12), read-only
documents and evidence. Nothing here edits or deletes a signature."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters

from workflows.admin import ReadOnlyAdmin
from workflows.errors import ApplicationError

from . import keys
from .models import ContractDocument, KeyKind, SignatureEvidence, SigningKey


class OrganisationCertificateForm(forms.ModelForm):
    """Upload of an organisation's own certificate and key, used for all its signatures."""

    pkcs12 = forms.FileField(
        label=_("PKCS#12 file (.p12, .pfx)"),
        help_text=_("The certificate, its private key and its issuers' certificates."),
    )
    password = forms.CharField(
        label=_("Password of the file"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
    )

    class Meta:
        model = SigningKey
        fields = ["organisation"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organisation"].required = True

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        upload = data.get("pkcs12")
        if upload is not None:
            self.pkcs12_data = upload.read()
            try:
                keys.read_pkcs12(self.pkcs12_data, data.get("password") or "")
            except ApplicationError as exc:
                raise ValidationError(exc.message) from exc
        return data


@admin.register(SigningKey)
class SigningKeyAdmin(admin.ModelAdmin):
    list_display = ["subject", "kind", "person", "organisation", "not_after", "revoked_at"]
    list_filter = ["kind", "revoked_at"]
    search_fields = ["subject", "fingerprint", "person__username", "organisation__code"]
    readonly_fields = [
        "kind",
        "person",
        "organisation",
        "subject",
        "fingerprint",
        "not_before",
        "not_after",
        "created_at",
        "revoked_at",
    ]
    exclude = ["certificate", "chain", "private_key"]
    actions = ["withdraw"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            return OrganisationCertificateForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_exclude(self, request, obj=None):
        return self.exclude if obj is not None else None

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["organisation", "pkcs12", "password"]
        return self.readonly_fields

    @method_decorator(sensitive_post_parameters("password"))
    def add_view(self, request, form_url="", extra_context=None):
        return super().add_view(request, form_url, extra_context)

    def save_form(self, request, form, change):
        if change:
            return super().save_form(request, form, change)
        return keys.import_pkcs12(
            organisation=form.cleaned_data["organisation"],
            data=form.pkcs12_data,
            password=form.cleaned_data.get("password") or "",
        )

    def save_model(self, request, obj, form, change):
        """Saved by ``save_form`` (import) already; certificates are never edited."""

    def save_related(self, request, form, formsets, change):
        """A certificate has no related objects to save."""

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Withdraw the selected organisations' certificates"))
    def withdraw(self, request, queryset):
        count = 0
        for key in queryset.filter(kind=KeyKind.ORGANISATION, revoked_at__isnull=True):
            count += keys.withdraw_organisation_key(key.organisation)
        messages.success(request, _("%(count)d certificate(s) withdrawn.") % {"count": count})


@admin.register(ContractDocument)
class ContractDocumentAdmin(ReadOnlyAdmin):
    list_display = ["contract", "contract_version", "frozen_at", "sealed_at", "voided_at"]
    list_filter = ["sealed_at", "voided_at"]
    search_fields = ["contract__reference", "sha256"]
    exclude = ["pdf", "certificate_pdf"]


@admin.register(SignatureEvidence)
class SignatureEvidenceAdmin(ReadOnlyAdmin):
    list_display = [
        "contract",
        "contract_version",
        "organisation",
        "signed_by_name",
        "signer_name",
        "signed_at",
        "voided_at",
    ]
    list_filter = ["voided_at", "authentication"]
    search_fields = ["contract__reference", "organisation", "signer_name", "signed_by_name"]
