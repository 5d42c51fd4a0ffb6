from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import EmailMode, NotificationEvent

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    from workflows.models import Contract


class NotificationFilterForm(forms.Form):
    unread = forms.BooleanField(label=_("Unread only"), required=False)
    event = forms.ChoiceField(label=_("Kind"), required=False)
    contract = forms.TypedChoiceField(label=_("Contract"), required=False, coerce=int)

    def __init__(self, *args: Any, contracts: Iterable[Contract] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        event, contract = self.fields["event"], self.fields["contract"]
        assert isinstance(event, forms.ChoiceField)
        assert isinstance(contract, forms.ChoiceField)
        event.choices = [("", _("All kinds")), *NotificationEvent.choices]
        contract.choices = [
            ("", _("All contracts")),
            *((contract.pk, contract.reference) for contract in contracts),
        ]

    def filters(self) -> dict:
        if not self.is_bound or not self.is_valid():
            return {"unread": False, "event": "", "contract": None}
        data = self.cleaned_data
        return {
            "unread": data["unread"],
            "event": data["event"],
            "contract": data["contract"] or None,
        }


class PreferencesForm(forms.Form):
    """One choice per kind of event: e-mail at once, in a daily digest, or in Accord only."""

    def __init__(self, *args: Any, initial_modes: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for event, label in NotificationEvent.choices:
            self.fields[event] = forms.ChoiceField(
                label=label,
                choices=EmailMode.choices,
                initial=initial_modes[event],
                widget=forms.RadioSelect,
            )


def _moment(label: StrOrPromise) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


class MeetingForm(forms.Form):
    starts_at = _moment(_("Starts at"))
    ends_at = _moment(_("Ends at"))
    place = forms.CharField(
        label=_("Place"), required=False, max_length=300, help_text=_("Address and room.")
    )
    video_link = forms.URLField(
        label=_("Video link"),
        assume_scheme="https",
        required=False,
        help_text=_("For a meeting held by video, or to join from afar."),
    )
    agenda = forms.CharField(
        label=_("Agenda"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Left empty: the validation of the contract awaiting the committee."),
    )
