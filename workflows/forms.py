"""The small forms of Accord's pages; the rules themselves live in workflows.services."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.forms.utils import flatatt
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .conventions import TEXT_MAX_LENGTH, TITLE_MAX_LENGTH
from .models import COMMENT_MAX_LENGTH, Contract, FundingStatus, Organisation, TaskDecision

if TYPE_CHECKING:
    from django.db.models import QuerySet
    from django_stubs_ext import StrOrPromise

    from .models import User

IMPORT_EXTENSIONS = (".json", ".yaml", ".yml")


class PlainSelect(forms.Select):
    """A select written in one pass, the same HTML as Django's: its templates render each
    option through two includes, 15 ms of CPU for the 152 actions of a large contract, and
    about a fifth of the audit search page's time for its events and organisations."""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        parts = []
        for group, options, _index in widget["optgroups"]:
            rendered = format_html_join(
                "",
                '<option value="{}"{}>{}</option>',
                (
                    (option["value"], flatatt(option["attrs"]), option["label"])
                    for option in options
                ),
            )
            parts.append(
                format_html('<optgroup label="{}">{}</optgroup>', group, rendered)
                if group
                else rendered
            )
        return format_html(
            '<select name="{}"{}>{}</select>',
            widget["name"],
            flatatt(widget["attrs"]),
            mark_safe("".join(parts)),  # noqa: S308 (each part built by format_html)
        )


class ContractSetFilterForm(forms.Form):
    """A filter form over the contracts a person may read (the audit search, the analytics):
    its ``organisation`` choice offers only the organisations of those contracts, and its
    ``contract``, a reference typed in, must be one of them. Both forms declare the two
    fields where they want them; this holds what they share."""

    contracts: QuerySet[Contract]
    # Unknown, or not one the person may read: the same answer (never "it exists").
    unknown_contract_message: StrOrPromise = _(
        "No contract you may read has the reference “%(reference)s”."
    )

    def restrict_to(self, contracts: QuerySet[Contract], *, everything: bool) -> None:
        """Filter over ``contracts``; ``everything`` (staff) keeps every organisation: the
        list must not tell anyone else which organisations exist elsewhere."""
        self.contracts = contracts
        organisation = self.fields["organisation"]
        assert isinstance(organisation, forms.ModelChoiceField)
        if not everything:
            organisation.queryset = Organisation.objects.filter(
                pk__in=Contract.organisations.through.objects.filter(contract__in=contracts).values(
                    "organisation"
                )
            ).order_by("name")

        # The options read when the select is drawn, by one ordinary query: the field's own
        # list reads them through a server-side cursor (DECLARE, FETCH, CLOSE: three round
        # trips on PostgreSQL), a tenth of the audit page's time (docs/benchmarks.md). The
        # queryset still decides which choice is valid.
        def options() -> list[tuple[Any, StrOrPromise]]:
            queryset = organisation.queryset
            assert queryset is not None
            empty = organisation.empty_label
            return [
                *([("", empty)] if empty is not None else []),
                *(
                    (organisation.prepare_value(choice), organisation.label_from_instance(choice))
                    for choice in queryset
                ),
            ]

        organisation.choices = options

    def clean_contract(self) -> Contract | None:
        reference = self.cleaned_data["contract"].strip()
        if not reference:
            return None
        contract = self.contracts.filter(reference=reference).first()
        if contract is None:
            raise forms.ValidationError(
                self.unknown_contract_message, params={"reference": reference}
            )
        return contract


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
    """Closing follows the end of the contract's period and the review of its last year; the
    reason is for closing without that review."""

    without_final_review = forms.CharField(
        label=_("Reason for closing without the last year's annual review"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_(
            "Only if the annual review of the contract's last year did not take place; "
            "it is kept in the history."
        ),
    )
    # Closing cannot be undone either: the page asks for the same explicit consent as a
    # withdrawal (the API's callers say so by calling the step).
    confirm = forms.BooleanField(
        label=_("I understand that closing is final: the contract's follow-up ends."),
        error_messages={"required": _("Please confirm that you want to close the contract.")},
    )


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


# --- Tasks ------------------------------------------------------------------------------------
#
# The decision itself comes from the button pressed (``name="decision"``): each task page offers
# one button per decision, so nobody has to pick a radio button and then find "Send". The
# rules (comment required to ask for changes, password and consent to sign...) are enforced by
# ``workflows.services.task_decide``; the forms check the same things first, so that the
# message appears next to the field concerned.


class TaskDecisionForm(forms.Form):
    """A decision on a task, with an optional comment."""

    decisions: tuple[str, ...] = ()
    comment_required_for: tuple[str, ...] = ()
    comment_required_message = _("Please write a comment.")

    decision = forms.ChoiceField(
        choices=(),
        error_messages={
            "required": _("Choose a decision with one of the buttons."),
            "invalid_choice": _("Choose a decision with one of the buttons."),
        },
    )
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        decision = self.fields["decision"]
        assert isinstance(decision, forms.ChoiceField)
        decision.choices = [(value, value) for value in self.decisions]

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        decision = cleaned.get("decision")
        if decision in self.comment_required_for and not cleaned.get("comment", "").strip():
            self.add_error("comment", self.comment_required_message)
        return cleaned

    def visible_fields(self):
        # The decision is carried by the buttons, not by a field of its own.
        return [field for field in super().visible_fields() if field.name != "decision"]


class ReviewDecisionForm(TaskDecisionForm):
    decisions = (TaskDecision.APPROVE, TaskDecision.REQUEST_CHANGES)
    comment_required_for = (TaskDecision.REQUEST_CHANGES,)
    comment_required_message = _("Say in a comment what must change.")

    comment = forms.CharField(
        label=_("Your comment"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_(
            "Optional to approve. Required to request changes: say what must change, the pilot "
            "will read it."
        ),
    )


class VisaDecisionForm(TaskDecisionForm):
    decisions = (TaskDecision.APPROVE, TaskDecision.REFUSE)
    comment_required_for = (TaskDecision.REFUSE,)
    comment_required_message = _("Say in a comment why you refuse the visa.")

    comment = forms.CharField(
        label=_("Your comment"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "Optional to give your visa. Required to refuse it: say why, the coordinators and "
            "your organisation's signer will read it."
        ),
    )


class OpinionDecisionForm(TaskDecisionForm):
    decisions = (TaskDecision.ANSWER,)
    comment_required_for = (TaskDecision.ANSWER,)
    comment_required_message = _("Write your opinion in the comment.")

    comment = forms.CharField(
        label=_("Your opinion"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("Whoever asked reads it on their task's page."),
    )


class RevisionDecisionForm(TaskDecisionForm):
    decisions = (TaskDecision.RESUBMIT,)

    comment = forms.CharField(
        label=_("What you changed"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("Optional: a word for the working-group leads, who review the sheet again."),
    )


class VoteDecisionForm(TaskDecisionForm):
    """The committee member's vote, with an optional objection per action."""

    decisions = (TaskDecision.APPROVE, TaskDecision.REJECT, TaskDecision.ABSTAIN)
    comment_required_for = (TaskDecision.REJECT,)
    comment_required_message = _("A comment is required to reject.")

    comment = forms.CharField(
        label=_("Your comment"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_(
            "Optional to approve or abstain. Required to reject: explain why. An abstention "
            "counts toward the quorum, not in the majority."
        ),
    )

    def __init__(self, *args, actions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.actions = list(actions)
        for action in self.actions:
            self.fields[self.objection_field(action)] = forms.CharField(
                label=_("Objection to action %(code)s, “%(title)s”")
                % {"code": action.code, "title": action.title},
                required=False,
                widget=forms.Textarea(attrs={"rows": 2}),
            )

    @staticmethod
    def objection_field(action) -> str:
        return f"objection_{action.pk}"

    def objection_fields(self):
        """(action, bound field) pairs, in the contract's order."""
        return [(action, self[self.objection_field(action)]) for action in self.actions]

    def visible_fields(self):
        return [self["comment"]]

    def objections(self) -> dict[str, str]:
        """The actions objected to, by code: only those with a text."""
        texts = {
            action.code: self.cleaned_data.get(self.objection_field(action), "").strip()
            for action in self.actions
        }
        return {code: text for code, text in texts.items() if text}


class DeliberationDecisionForm(RecordDeliberationForm, TaskDecisionForm):
    decisions = (TaskDecision.RECORD,)

    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Optional. It is kept in the history."),
    )

    field_order = ["number", "date", "comment"]


class SignDecisionForm(TaskDecisionForm):
    decisions = (TaskDecision.SIGN,)

    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text=_("The password you log in with: it confirms that you are the one signing."),
        error_messages={"required": _("Enter your password to sign.")},
    )
    consent = forms.BooleanField(
        error_messages={"required": _("Tick the consent box to sign.")},
    )

    field_order = ["password", "otp", "consent"]

    def __init__(self, *args, consent_label: str = "", ask_code: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["comment"]
        self.fields["consent"].label = consent_label
        if ask_code:  # ACCORD_REQUIRE_2FA_FOR_SIGNING
            self.fields["otp"] = two_factor_code_field(
                required_message=_(
                    "Enter the code from your authenticator app (or one of your recovery "
                    "codes) to sign."
                )
            )
            self.order_fields(self.field_order)


def two_factor_code_field(*, required_message: StrOrPromise) -> forms.CharField:
    """A second factor: an authenticator app's current code, or one of the recovery codes."""
    return forms.CharField(
        label=_("Two-factor authentication code"),
        max_length=32,
        help_text=_(
            "The 6-digit code your authenticator app shows now, or one of your recovery codes."
        ),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "off", "spellcheck": "false"}
        ),
        error_messages={"required": required_message},
    )


class DeclineDecisionForm(TaskDecisionForm):
    decisions = (TaskDecision.DECLINE,)
    comment_required_for = (TaskDecision.DECLINE,)
    comment_required_message = _("A reason is required to decline.")

    comment = forms.CharField(
        label=_("Reason for declining"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Required. It is kept in the history and shown to the coordinators."),
    )


class ReportDecisionForm(TaskDecisionForm):
    """A pilot's annual report: how the action stands, the year's value of each of its
    indicators (prefilled with the value already recorded), a comment."""

    decisions = (TaskDecision.SUBMIT,)

    progress = forms.ChoiceField(
        label=_("Where the action stands"),
        choices=(),
        help_text=_("Abandoning the action needs a reason in the comment."),
    )
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("What was done this year, what is left; the reason when abandoning."),
    )

    def __init__(
        self,
        *args: Any,
        progress_choices: list[tuple[str, str]],
        indicators: list[tuple[str, str, str]],
        **kwargs: Any,
    ) -> None:
        """``indicators``: (name, unit, value already recorded for the year) of each."""
        super().__init__(*args, **kwargs)
        progress = self.fields["progress"]
        assert isinstance(progress, forms.ChoiceField)
        progress.choices = progress_choices
        self.indicator_names: dict[str, str] = {}
        for index, (name, unit, value) in enumerate(indicators):
            field_name = f"indicator_{index}"
            self.indicator_names[field_name] = name
            self.fields[field_name] = forms.CharField(
                label=f"{name} ({unit})" if unit else name,
                required=False,
                initial=value,
                max_length=40,
                widget=forms.TextInput(attrs={"inputmode": "decimal"}),
            )

    def indicator_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.indicator_names]

    def indicator_values(self) -> list[dict[str, str]]:
        return [
            {"indicator": name, "value": self.cleaned_data.get(field_name, "")}
            for field_name, name in self.indicator_names.items()
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("progress") == "abandoned" and not cleaned.get("comment", "").strip():
            self.add_error("comment", _("A reason is required to abandon an action."))
        return cleaned


# --- The convention's text ------------------------------------------------------------------


class ConventionForm(forms.Form):
    """The convention's preamble; its articles are a formset (``ArticleFormSet``)."""

    base_sha256 = forms.CharField(widget=forms.HiddenInput, required=False)
    preamble = forms.CharField(
        label=_("Preamble"),
        required=False,
        max_length=TEXT_MAX_LENGTH,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 12}),
        help_text=_(
            "The “Vu …” and “Considérant …” lines, one per line, before “Il est convenu ce qui "
            "suit”."
        ),
    )


class ArticleForm(forms.Form):
    title = forms.CharField(
        label=_("Title of the article"),
        max_length=TITLE_MAX_LENGTH,
        error_messages={"required": _("Give the article a title.")},
    )
    text = forms.CharField(
        label=_("Text of the article"),
        max_length=TEXT_MAX_LENGTH,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        error_messages={"required": _("Write the article's text.")},
    )


class _ArticleFormSet(forms.BaseFormSet):
    def add_fields(self, form: forms.Form, index: int | None) -> None:
        super().add_fields(form, index)
        form.fields["ORDER"].label = _("Position")
        form.fields["ORDER"].widget.attrs["min"] = 1
        form.fields["DELETE"].label = _("Remove this article")


ArticleFormSet = forms.formset_factory(
    ArticleForm, formset=_ArticleFormSet, extra=1, can_order=True, can_delete=True
)


# --- Inbox and absences -----------------------------------------------------------------------


class InboxFilterForm(forms.Form):
    """The inbox's filters (a GET form: a filtered inbox can be bookmarked)."""

    kind = forms.ChoiceField(label=_("Kind of task"), required=False, widget=PlainSelect)
    contract = forms.TypedChoiceField(
        label=_("Contract"), required=False, coerce=int, empty_value=None, widget=PlainSelect
    )
    overdue = forms.BooleanField(label=_("Overdue tasks only"), required=False)

    def __init__(
        self,
        *args: Any,
        kinds: Iterable[tuple[str, StrOrPromise]] = (),
        contracts: Iterable[Contract] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        kind, contract = self.fields["kind"], self.fields["contract"]
        assert isinstance(kind, forms.ChoiceField)
        assert isinstance(contract, forms.ChoiceField)
        kind.choices = [("", _("All kinds")), *kinds]
        contract.choices = [
            ("", _("All contracts")),
            *((contract.pk, contract.reference) for contract in contracts),
        ]

    def filters(self) -> dict:
        """The valid filters; a value that is not offered (an old link) is ignored."""
        if self.is_bound:
            self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            "kind": data.get("kind") or None,
            "contract_id": data.get("contract") or None,
            "overdue": bool(data.get("overdue")),
        }


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        if obj.organisation_id:
            return f"{obj.display_name} ({obj.organisation.name})"
        return obj.display_name


class AbsenceForm(forms.Form):
    delegate = PersonChoiceField(
        queryset=None,
        label=_("Who handles your tasks while you are away"),
        help_text=_("People who take part in your contracts, or who work in your organisation."),
        empty_label=_("Choose a person"),
        error_messages={
            "required": _("Choose the person who handles your tasks."),
            "invalid_choice": _("Choose the person in the list."),
        },
    )
    start = forms.DateField(
        label=_("First day of absence"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": _("Give the first day of your absence.")},
    )
    end = forms.DateField(
        label=_("Last day of absence"),
        help_text=_("Included: your tasks come back to you the day after."),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": _("Give the last day of your absence.")},
    )

    def __init__(self, *args: Any, delegates: QuerySet[User] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        delegate = self.fields["delegate"]
        assert isinstance(delegate, forms.ModelChoiceField)
        delegate.queryset = delegates

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and end < start:
            self.add_error("end", _("The absence ends before it starts."))
        elif end and end < timezone.localdate():
            self.add_error("end", _("The absence is already over."))
        return cleaned


# --- Action sheets ------------------------------------------------------------------------


class SheetForm(forms.Form):
    """An action sheet's text and partners; its funding lines and indicators are formsets."""

    base_version = forms.IntegerField(widget=forms.HiddenInput)
    title = forms.CharField(
        label=_("Title"),
        max_length=300,
        error_messages={"required": _("Give the action a title.")},
    )
    objective = forms.CharField(
        label=_("Objective"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("What the action will achieve, for whom, where."),
    )
    operational_objectives = forms.CharField(
        label=_("Operational objectives"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One per line."),
    )
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 6})
    )
    target_public = forms.CharField(
        label=_("Target public"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    place = forms.CharField(
        label=_("Place"),
        required=False,
        max_length=300,
        help_text=_("Where the action takes place: communes, sites."),
    )
    starts_on = forms.DateField(
        label=pgettext_lazy("schedule", "Start"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    ends_on = forms.DateField(
        label=pgettext_lazy("schedule", "End"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    partners = forms.MultipleChoiceField(
        label=_("Partners"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("The organisations of the contract taking part in the action."),
    )

    def __init__(self, *args: Any, organisations: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        partners = self.fields["partners"]
        assert isinstance(partners, forms.MultipleChoiceField)
        partners.choices = organisations


class FundingLineForm(forms.Form):
    funder = forms.ChoiceField(
        label=_("Funder"), error_messages={"required": _("Choose who funds this line.")}
    )
    amount = forms.CharField(
        label=_("Amount (€)"),
        max_length=30,
        help_text=_("In euros, for example 12 500 or 12 500,50."),
        error_messages={"required": _("Give the amount in euros.")},
    )
    year = forms.IntegerField(label=_("Year"), required=False, min_value=1900, max_value=2200)
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("Not said")), *FundingStatus.choices],
    )

    def __init__(self, *args: Any, organisations: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        funder = self.fields["funder"]
        assert isinstance(funder, forms.ChoiceField)
        funder.choices = [("", _("Choose an organisation")), *organisations]


class IndicatorForm(forms.Form):
    label = forms.CharField(
        label=_("Indicator"),
        max_length=500,
        error_messages={"required": _("Give the indicator a label, or remove it.")},
    )
    unit = forms.CharField(label=_("Unit"), required=False, max_length=50)
    baseline = forms.CharField(label=_("Baseline"), required=False, max_length=100)
    target = forms.CharField(label=_("Target"), required=False, max_length=100)
    source = forms.CharField(label=_("Source"), required=False, max_length=300)


class MilestoneForm(forms.Form):
    date = forms.DateField(
        label=_("Date"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": _("Give the milestone's date, or remove it.")},
    )
    label = forms.CharField(
        label=_("Milestone"),
        max_length=300,
        error_messages={"required": _("Say what the milestone is, or remove it.")},
    )


FundingLineFormSet = forms.formset_factory(FundingLineForm, extra=1, can_delete=True)
IndicatorFormSet = forms.formset_factory(IndicatorForm, extra=1, can_delete=True)
MilestoneFormSet = forms.formset_factory(MilestoneForm, extra=1, can_delete=True)


class AttachmentForm(forms.Form):
    """A file joined to the contract, or to one of the actions its sender may document."""

    file = forms.FileField(
        label=_("File"),
        help_text=_(
            "PDF, OpenDocument, Office (Word, Excel, PowerPoint), image (PNG, JPEG, GIF, WebP) "
            "or plain text; its type is judged from its content."
        ),
        error_messages={"required": _("Please choose the file to attach.")},
        allow_empty_file=True,  # the service refuses it, in its own words
    )
    kind = forms.ChoiceField(label=_("Kind"))
    action = forms.ChoiceField(
        label=_("Action"),
        required=False,
        help_text=_("For an action sheet's document: the action it documents."),
        widget=PlainSelect,  # a large contract offers every one of its actions
    )

    def __init__(
        self,
        *args: Any,
        kinds: Iterable[tuple[str, StrOrPromise]] = (),
        actions: Iterable[tuple[str, str]] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        kind, action = self.fields["kind"], self.fields["action"]
        assert isinstance(kind, forms.ChoiceField)
        assert isinstance(action, forms.ChoiceField)
        kind.choices = list(kinds)
        action.choices = [("", "—"), *actions]


# --- Follow-up ----------------------------------------------------------------------------


class FollowUpStepForm(forms.Form):
    """Moving a signed contract's action on; a reason is the service's to require (abandon)."""

    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required to abandon the action."),
    )


class IndicatorValueForm(forms.Form):
    """An indicator's value for a year, as its pilot records it."""

    indicator = forms.ChoiceField(label=_("Indicator"))
    year = forms.IntegerField(label=_("Year"), min_value=1900, max_value=2200)
    value = forms.CharField(
        label=_("Value"), max_length=30, help_text=_("A number, such as 12 or 12,5.")
    )
    measured_on = forms.DateField(
        label=_("Measured on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    source = forms.CharField(label=_("Source"), max_length=300, required=False)
    comment = forms.CharField(
        label=_("Comment"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, indicators: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["indicator"].choices = [(name, name) for name in indicators]  # type: ignore[attr-defined]


# --- Account security (two-factor authentication) ---------------------------------------------


class LoginCodeForm(forms.Form):
    """The log-in's second step."""

    otp = two_factor_code_field(required_message=_("Enter the code to log in."))


class TwoFactorEnrolForm(forms.Form):
    """The first code of a newly added authenticator app, which confirms it."""

    code = forms.CharField(
        label=_("Code shown by the app"),
        max_length=16,
        help_text=_("Six digits; a new code appears every 30 seconds."),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"}
        ),
        error_messages={"required": _("Enter the code your authenticator app shows.")},
    )


class TwoFactorRemoveForm(forms.Form):
    """Removing the authenticator: the password again."""

    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        error_messages={"required": _("Enter your password to remove two-factor authentication.")},
    )


class OpinionAskForm(forms.Form):
    """« Ask for an opinion » on a task's page: someone who sees the contract, a question."""

    prefix = "opinion"  # beside the decision's form, on the same page

    person: PersonChoiceField = PersonChoiceField(
        label=_("Whom to ask"),
        queryset=None,
        empty_label=_("Choose a person"),
        error_messages={"required": _("Choose whom to ask.")},
        help_text=_("The people who take part in the contract."),
    )
    question = forms.CharField(
        label=_("Your question"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Write the question you ask.")},
    )

    def __init__(self, *args: Any, people: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        person = self.fields["person"]
        assert isinstance(person, forms.ModelChoiceField)
        person.queryset = people


class ObserverForm(forms.Form):
    """The person a coordinator adds to (or removes from) the contract's observers."""

    person = forms.CharField(
        label=_("Username"),
        max_length=150,
        help_text=_("The username the person logs in with."),
        error_messages={"required": _("Please give the person's username.")},
    )


class CommentForm(forms.Form):
    """A comment on an action sheet; ``@username`` tells that person."""

    text = forms.CharField(
        label=_("Comment on the sheet"),
        max_length=COMMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Write @username to let that person know (if they see the contract)."),
        error_messages={"required": _("Write the comment's text.")},
    )
