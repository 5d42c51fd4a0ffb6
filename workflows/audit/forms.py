"""The auditor's search, as a GET form (a search can be bookmarked and exported as it is)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from workflows.forms import ContractSetFilterForm, PlainSelect
from workflows.models import Contract, Organisation, User

from .labels import event_choices
from .selectors import (
    HistoryFilter,
    HistorySearch,
    contract_history_actions,
    contract_history_people,
    people_matching,
)

SEARCH_FIELDS = ("person", "organisation", "event", "since", "until", "contract")


class HistorySearchForm(ContractSetFilterForm):
    person = forms.CharField(
        label=_("Person"),
        required=False,
        max_length=150,
        help_text=_(
            "A name or a username: entries this person made, or that were made on their behalf."
        ),
    )
    organisation = forms.ModelChoiceField(
        label=_("Organisation"),
        queryset=Organisation.objects.order_by("name"),
        required=False,
        to_field_name="code",
        empty_label=_("All organisations"),
        widget=PlainSelect,
    )
    event = forms.ChoiceField(label=_("Event"), required=False, widget=PlainSelect)
    since = forms.DateField(
        label=_("Since"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    until = forms.DateField(
        label=_("Until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    # A reference typed in, not a list: a deployment has thousands of contracts, and a select
    # of them all took most of the page's time (benchmarks/audit.py).
    contract = forms.CharField(
        label=_("Contract"),
        required=False,
        max_length=60,
        help_text=_("Its reference, for example CLS-TDC-2019."),
    )

    def __init__(
        self,
        *args: Any,
        contracts: QuerySet[Contract],
        user: User | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        event = self.fields["event"]
        assert isinstance(event, forms.ChoiceField)
        event.choices = [("", _("All events")), *event_choices()]
        self.user = user
        # The people a name matched, when it matched several: the page offers each of them.
        self.person_matches: list[User] = []
        self.restrict_to(contracts, everything=user is not None and user.is_staff)

    def clean_person(self) -> User | None:
        text = self.cleaned_data["person"].strip()
        if not text:
            return None
        matches = people_matching(self.user, text) if self.user is not None else []
        if len(matches) > 1:
            self.person_matches = matches
            raise forms.ValidationError(
                _("Several people match “%(text)s”: %(names)s. Choose one of them."),
                params={
                    "text": text,
                    "names": ", ".join(
                        f"{person.display_name} ({person.username})" for person in matches
                    ),
                },
            )
        # Nobody matching is not told apart from a person with no entry here: both find
        # nothing, so that the search cannot be used to learn who has an account.
        return matches[0] if matches else User(username=text)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", _("The end of the period is before its start."))
        return data

    @staticmethod
    def empty_search() -> HistorySearch:
        return HistorySearch()

    def search(self) -> HistorySearch:
        """The valid search (call after is_valid())."""
        data = self.cleaned_data
        return HistorySearch(
            person=data.get("person"),
            organisation=data.get("organisation"),
            event=data.get("event") or "",
            since=data.get("since"),
            until=data.get("until"),
            contract=data.get("contract"),
        )


HISTORY_ORDERS = (("newest", _("Newest first")), ("oldest", _("Oldest first")))


class ContractHistoryForm(forms.Form):
    """The filters of a contract's history page (a GET form: a view can be bookmarked)."""

    event = forms.ChoiceField(label=_("Event"), required=False, widget=PlainSelect)
    person = forms.ModelChoiceField(
        label=_("Person"),
        queryset=User.objects.none(),
        required=False,
        to_field_name="username",
        empty_label=_("Everyone"),
    )
    action = forms.ChoiceField(label=_("Action sheet"), required=False)
    order = forms.ChoiceField(label=_("Order"), required=False, choices=HISTORY_ORDERS)

    def __init__(self, *args: Any, contract: Contract, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        event = self.fields["event"]
        assert isinstance(event, forms.ChoiceField)
        event.choices = [("", _("All events")), *event_choices()]
        people = contract_history_people(contract)
        person = self.fields["person"]
        assert isinstance(person, forms.ModelChoiceField)
        person.queryset = User.objects.filter(pk__in=[p.pk for p in people])
        # By name, in alphabetical order, as a reader looks for someone.
        person.choices = [("", _("Everyone")), *((p.username, p.display_name) for p in people)]
        action = self.fields["action"]
        assert isinstance(action, forms.ChoiceField)
        action.choices = [("", _("All action sheets")), *contract_history_actions(contract)]

    def filters(self) -> HistoryFilter:
        """The valid filters (call after is_valid()); nothing chosen: every change, newest
        first."""
        data = self.cleaned_data
        return HistoryFilter(
            event=data.get("event") or "",
            person=data.get("person"),
            action=data.get("action") or "",
            oldest_first=data.get("order") == "oldest",
        )
