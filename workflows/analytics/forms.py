"""The filters of the analytics, as a GET form: the page and the API read the same query
string (``from``, ``to``, ``contract``, ``organisation``, ``step``) and refuse the same bad
values, each error under the parameter's name."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from workflows.forms import ContractSetFilterForm
from workflows.models import Organisation, TaskKind, User

from .selectors import AnalyticsFilter, contracts_auditable_by

FILTER_FIELDS = ("from", "to", "contract", "organisation", "step")
# Earlier than any contract Accord holds, later than any it will: a year outside is a typo.
FIRST_YEAR, LAST_YEAR = 2000, 2100


def _date_field(label: str) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
    )


class AnalyticsFilterForm(ContractSetFilterForm):
    unknown_contract_message = _("No contract you may audit has the reference “%(reference)s”.")

    step = forms.ChoiceField(label=_("Kind of task"), required=False)
    # A reference typed in, not a list: a deployment has thousands of contracts.
    contract = forms.CharField(
        label=_("Contract"),
        required=False,
        max_length=60,
        help_text=_("Its reference, for example CLS-TDC-2019."),
    )
    organisation = forms.ModelChoiceField(
        label=_("Organisation"),
        queryset=Organisation.objects.order_by("name"),
        required=False,
        to_field_name="code",
        empty_label=_("All organisations"),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # "from" is a Python keyword: the two dates are added by name, first in the form.
        self.fields = {
            "from": _date_field(str(pgettext_lazy("period", "From"))),
            "to": _date_field(str(pgettext_lazy("period", "To"))),
            **self.fields,
        }
        step = self.fields["step"]
        assert isinstance(step, forms.ChoiceField)
        step.choices = [("", _("All kinds of task")), *TaskKind.choices]
        self.user = user
        self.restrict_to(contracts_auditable_by(user), everything=user.is_staff)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in ("from", "to"):
            day = cleaned.get(name)
            if day is not None and not FIRST_YEAR <= day.year <= LAST_YEAR:
                self.add_error(
                    name,
                    _("Give a day between %(first)d and %(last)d.")
                    % {"first": FIRST_YEAR, "last": LAST_YEAR},
                )
        since, until = cleaned.get("from"), cleaned.get("to")
        if since and until and since > until:
            self.add_error("to", _("The end of the period comes before its start."))
        return cleaned

    def filters(self) -> AnalyticsFilter:
        """The valid filters; the period is the last twelve months up to ``to`` (or today)
        when a day is missing."""
        default_since, default_until = AnalyticsFilter.default_period()
        until = self.cleaned_data.get("to") or default_until
        since = self.cleaned_data.get("from")
        if since is None:
            since = min(until - (default_until - default_since), until)
        return AnalyticsFilter(
            since=since,
            until=until,
            contract=self.cleaned_data.get("contract"),
            organisation=self.cleaned_data.get("organisation"),
            step=self.cleaned_data.get("step") or "",
        )
