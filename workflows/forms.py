"""The small forms of Accord's pages; the rules themselves live in workflows.services."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

IMPORT_EXTENSIONS = (".json", ".yaml", ".yml")


class LaunchReviewForm(forms.Form):
    """Nothing to fill in: the button is the confirmation."""


class RecordDeliberationForm(forms.Form):
    number = forms.CharField(
        label=_("Deliberation number"),
        max_length=60,
        help_text=_("As written on the council's deliberation, for example DCC-2019-42."),
    )
    date = forms.DateField(
        label=_("Date of the council's vote"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def clean_date(self):
        date = self.cleaned_data["date"]
        if date > timezone.localdate():
            raise forms.ValidationError(_("The deliberation date cannot be in the future."))
        return date


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Please give a reason.")},
    )


class SuspendForm(ReasonForm):
    reason = forms.CharField(
        label=_("Reason for the suspension"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("It is shown on the contract page and kept in the history."),
        error_messages={"required": _("Please give the reason for the suspension.")},
    )


class ResumeForm(forms.Form):
    """Nothing to fill in: the contract returns to the state it was suspended in."""


class WithdrawForm(ReasonForm):
    reason = forms.CharField(
        label=_("Reason for the withdrawal"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("It is shown on the contract page and kept in the history."),
        error_messages={"required": _("Please give the reason for the withdrawal.")},
    )
    confirm = forms.BooleanField(
        label=_("I understand that withdrawing is final: the contract cannot be resumed."),
        error_messages={"required": _("Please confirm that you want to withdraw for good.")},
    )


class CloseForm(forms.Form):
    """Nothing to fill in: closing follows the end of the contract's period."""


# One form per coordinator transition, in the order the controls are shown.
TRANSITION_FORMS: dict[str, type[forms.Form]] = {
    "launch_review": LaunchReviewForm,
    "record_deliberation": RecordDeliberationForm,
    "suspend": SuspendForm,
    "resume": ResumeForm,
    "withdraw": WithdrawForm,
    "close": CloseForm,
}


class ContractImportForm(forms.Form):
    file = forms.FileField(
        label=_("Contract file"),
        help_text=_("A JSON or YAML file (.json, .yaml or .yml)."),
        error_messages={"required": _("Please choose the contract file to import.")},
        widget=forms.FileInput(
            attrs={"accept": ".json,.yaml,.yml,application/json,application/yaml,text/yaml"}
        ),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(IMPORT_EXTENSIONS):
            raise forms.ValidationError(
                _("The file must be a JSON or YAML file (.json, .yaml or .yml).")
            )
        return upload

    def read(self) -> bytes:
        """The file's bytes, read no further than one byte past the size limit.

        parse_contract_file refuses an oversized file; reading more would only waste memory.
        """
        upload = self.cleaned_data["file"]
        upload.seek(0)
        return upload.read(settings.ACCORD_IMPORT_MAX_BYTES + 1)
