from django import forms
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

MAX_COPY_BYTES = 20 * 1024 * 1024


class DocumentCopyForm(forms.Form):
    """A copy of the contract document someone received, to check against Accord's."""

    copy = forms.FileField(
        label=_("A copy of the document (PDF)"),
        help_text=_("For example the file a partner sent you: its signatures are checked here."),
        error_messages={"required": _("Choose the PDF file to check.")},
    )

    def clean_copy(self) -> bytes:
        upload = self.cleaned_data["copy"]
        if upload.size > MAX_COPY_BYTES:
            raise forms.ValidationError(
                _("This file is too large (more than %(size)s).")
                % {"size": filesizeformat(MAX_COPY_BYTES)}
            )
        return upload.read()
