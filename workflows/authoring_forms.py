"""The forms of the guided writing of a contract, one per step.

They only turn what is typed into the parts of a contract file (``value``) and show, beside
each field, the problems the services find in it (``show``): the rules themselves are the
contract file's, checked by ``workflows.services.authoring``, the same for a typed contract
and an imported one. So fields are optional here: a missing value is sent as missing and the
service says so, in the same words as for a file.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, cast

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .contract_file import place
from .errors import Place
from .models import Civility, ContractKind, SignatoryKind

Choices = list[tuple[str, str]]
DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")

# Each part of a contract file in the reader's words, for a problem told away from its field.
PART_TITLES = {
    "reference": gettext_lazy("Reference"),
    "title": gettext_lazy("Title"),
    "kind": gettext_lazy("Kind"),
    "territory": gettext_lazy("Territory"),
    "period": gettext_lazy("Period"),
    "organisations": gettext_lazy("Organisations"),
    "diagnosis": gettext_lazy("Local health diagnosis"),
    "people": gettext_lazy("People"),
    "themes": gettext_lazy("Themes"),
    "working_groups": gettext_lazy("Working groups"),
    "steering_committee": gettext_lazy("Steering committee"),
    "coordinators": gettext_lazy("Coordination"),
    "signatories": gettext_lazy("Signatories"),
}


def in_words(path: Place, document: dict[str, Any]) -> str:
    """Where a problem is, as a coordinator reads it: ``Working groups “GT1”, leads[0]``
    rather than ``working_groups[0].leads[0]``."""
    if not path:
        return _("The contract")
    words = str(PART_TITLES.get(str(path[0]), path[0]))
    rest = path[1:]
    entries = document.get(str(path[0]))
    if rest and isinstance(rest[0], int) and isinstance(entries, list):
        index = rest[0]
        entry = entries[index] if 0 <= index < len(entries) else None
        name = next(
            (
                entry[key]
                for key in ("code", "username", "organisation")
                if isinstance(entry, dict) and entry.get(key)
            ),
            None,
        )
        words = (
            _("%(part)s “%(name)s”") % {"part": words, "name": name}
            if name
            else _("%(part)s, row %(number)d") % {"part": words, "number": index + 1}
        )
        rest = rest[1:]
    if rest:
        words = f"{words}, {place(rest)}"
    return words


def problem_text(path: Place, message: str, document: dict[str, Any]) -> str:
    return _("%(place)s: %(message)s") % {"place": in_words(path, document), "message": message}


def _field_for(keys: dict[Place, str], path: Place) -> str | None:
    """The field a place belongs to: the longest of ``keys`` the path starts with."""
    for length in range(len(path), 0, -1):
        if path[:length] in keys:
            return keys[path[:length]]
    return None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _date(value: datetime.date | None) -> str | None:
    return value.isoformat() if value else None


def _choice(value: str | None) -> str | None:
    """A choice left empty is a value not given (the service says whether it is needed)."""
    return value or None


class PartForm(forms.Form):
    """A step's form writing some parts of the contract file.

    ``keys`` maps a place in the file (from the root) to the field showing its problems.
    """

    parts: ClassVar[tuple[str, ...]] = ()
    keys: ClassVar[dict[Place, str]] = {}

    def __init__(self, *args: Any, choices: Options | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.choices = choices or Options()
        self.set_choices()

    def set_choices(self) -> None:
        """Fill the lists offered from the contract as it is (its organisations, people)."""

    @classmethod
    def initial_of(cls, document: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def value(self) -> dict[str, Any]:
        """The parts written, as the contract file writes them."""
        raise NotImplementedError

    def show(self, places: Iterable[tuple[Place, str]], document: dict[str, Any]) -> None:
        for path, message in places:
            field = _field_for(self.keys, tuple(path))
            if field is not None:
                self.add_error(field, message)
            else:
                self.add_error(None, problem_text(tuple(path), message, document))


class Options:
    """What the lists of a step offer, read from the contract file of the contract."""

    def __init__(self, document: dict[str, Any] | None = None) -> None:
        document = document or {}
        self.organisations: Choices = [
            (entry["code"], f"{entry['name']} ({entry['code']})")
            for entry in document.get("organisations") or []
        ]
        self.people: Choices = [
            (entry["username"], _person_label(entry)) for entry in document.get("people") or []
        ]
        self.groups: Choices = [
            (entry["code"], f"{entry['code']} — {entry['title']}")
            for entry in document.get("working_groups") or []
        ]
        self.themes: Choices = [
            (entry["code"], f"{entry['code']} — {entry['title']}")
            for entry in document.get("themes") or []
        ]


def _person_label(entry: dict[str, Any]) -> str:
    name = " ".join(part for part in (entry.get("first_name"), entry.get("last_name")) if part)
    return f"{name} ({entry['username']})" if name else entry["username"]


def _set(form: forms.Form, name: str, choices: Choices, empty: str | None = None) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = [("", empty), *choices] if empty is not None else choices


# --- The contract ---------------------------------------------------------------------------


class ContractForm(PartForm):
    """The contract's heading: what it is, where and when (step 1, and the first step)."""

    parts = ("title", "kind", "territory", "period")
    keys = {
        ("reference",): "reference",
        ("title",): "title",
        ("kind",): "kind",
        ("territory", "name"): "territory_name",
        ("territory", "communes"): "territory_communes",
        ("territory", "population"): "territory_population",
        ("period", "start"): "period_start",
        ("period", "end"): "period_end",
        ("period",): "period_end",
    }

    reference = forms.CharField(
        label=gettext_lazy("Reference"),
        required=False,
        max_length=60,
        help_text=gettext_lazy("Unique, for example CLS-TDC-2027. It cannot change afterwards."),
    )
    title = forms.CharField(label=gettext_lazy("Title"), required=False, max_length=300)
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind of contract"), required=False, choices=ContractKind.choices
    )
    territory_name = forms.CharField(
        label=gettext_lazy("Name of the territory"), required=False, max_length=255
    )
    territory_communes = forms.IntegerField(
        label=gettext_lazy("Number of communes"), required=False
    )
    territory_population = forms.IntegerField(label=gettext_lazy("Population"), required=False)
    period_start = forms.DateField(
        label=gettext_lazy("Start of the period"), required=False, widget=DATE_WIDGET
    )
    period_end = forms.DateField(
        label=gettext_lazy("End of the period"), required=False, widget=DATE_WIDGET
    )

    @classmethod
    def initial_of(cls, document: dict[str, Any]) -> dict[str, Any]:
        territory, period = document["territory"], document["period"]
        return {
            "reference": document["reference"],
            "title": document["title"],
            "kind": document["kind"],
            "territory_name": territory["name"],
            "territory_communes": territory.get("communes"),
            "territory_population": territory.get("population"),
            "period_start": period["start"],
            "period_end": period["end"],
        }

    def value(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "title": _text(data["title"]),
            "kind": _choice(data["kind"]),
            "territory": {
                "name": _text(data["territory_name"]),
                "communes": data["territory_communes"],
                "population": data["territory_population"],
            },
            "period": {"start": _date(data["period_start"]), "end": _date(data["period_end"])},
        }


class NewContractForm(ContractForm):
    """Step 1, creating the contract: its reference too."""

    def value(self) -> dict[str, Any]:
        return {"reference": _text(self.cleaned_data["reference"]), **super().value()}


# --- Diagnosis, committee, coordination -------------------------------------------------------


class DiagnosisForm(PartForm):
    parts = ("diagnosis",)
    keys = {
        ("diagnosis", "author"): "author",
        ("diagnosis", "finalised_on"): "finalised_on",
        ("diagnosis", "summary"): "summary",
        ("diagnosis",): "author",
    }

    author = forms.ChoiceField(
        label=gettext_lazy("Author of the diagnosis"),
        required=False,
        help_text=gettext_lazy("One of the contract's organisations."),
    )
    finalised_on = forms.DateField(
        label=gettext_lazy("Finalised on"), required=False, widget=DATE_WIDGET
    )
    summary = forms.CharField(
        label=gettext_lazy("Summary"), required=False, widget=forms.Textarea(attrs={"rows": 6})
    )

    def set_choices(self) -> None:
        _set(self, "author", self.choices.organisations, str(_("No diagnosis")))

    @classmethod
    def initial_of(cls, document: dict[str, Any]) -> dict[str, Any]:
        diagnosis = document.get("diagnosis") or {}
        return {
            "author": diagnosis.get("author", ""),
            "finalised_on": diagnosis.get("finalised_on"),
            "summary": diagnosis.get("summary", ""),
        }

    def value(self) -> dict[str, Any]:
        data = self.cleaned_data
        if not data["author"] and not data["finalised_on"] and not _text(data["summary"]):
            return {"diagnosis": None}
        return {
            "diagnosis": {
                "author": _choice(data["author"]),
                "finalised_on": _date(data["finalised_on"]),
                "summary": _text(data["summary"]),
            }
        }


class CommitteeForm(PartForm):
    parts = ("steering_committee",)
    keys = {
        ("steering_committee", "chair"): "chair",
        ("steering_committee", "members"): "members",
        ("steering_committee", "quorum"): "quorum",
    }

    chair = forms.ChoiceField(label=gettext_lazy("Chair"), required=False)
    members = forms.MultipleChoiceField(
        label=gettext_lazy("Members"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("The chair is one of them."),
    )
    quorum = forms.IntegerField(
        label=gettext_lazy("Quorum"),
        required=False,
        help_text=gettext_lazy("How many members must vote for the vote to be closed."),
    )

    def set_choices(self) -> None:
        _set(self, "chair", self.choices.people, str(_("Choose a person")))
        _set(self, "members", self.choices.people)

    @classmethod
    def initial_of(cls, document: dict[str, Any]) -> dict[str, Any]:
        committee = document.get("steering_committee") or {}
        return {
            "chair": committee.get("chair", ""),
            "members": committee.get("members", []),
            "quorum": committee.get("quorum"),
        }

    def value(self) -> dict[str, Any]:
        data = self.cleaned_data
        if not data["chair"] and not data["members"] and data["quorum"] is None:
            return {"steering_committee": None}
        return {
            "steering_committee": {
                "chair": _choice(data["chair"]),
                "members": list(data["members"]),
                "quorum": data["quorum"],
            }
        }


class CoordinatorsForm(PartForm):
    parts = ("coordinators",)
    keys = {("coordinators",): "coordinators"}

    coordinators = forms.MultipleChoiceField(
        label=gettext_lazy("Coordinators"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy(
            "They write the contract, launch its review and follow it to its signature."
        ),
    )

    def set_choices(self) -> None:
        _set(self, "coordinators", self.choices.people)

    @classmethod
    def initial_of(cls, document: dict[str, Any]) -> dict[str, Any]:
        return {"coordinators": document.get("coordinators", [])}

    def value(self) -> dict[str, Any]:
        return {"coordinators": list(self.cleaned_data["coordinators"])}


# --- Lists: one row per entry -----------------------------------------------------------------


class RowForm(forms.Form):
    """One entry of a list part; ``keys`` maps a place in the entry to its field."""

    keys: ClassVar[dict[Place, str]] = {}

    def __init__(
        self,
        *args: Any,
        choices: Options | None = None,
        row_number: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.row_number = row_number
        self.choices = choices or Options()
        self.set_choices()

    def set_choices(self) -> None:
        """Fill the lists offered from the contract as it is."""

    @classmethod
    def initial_of(cls, entry: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def entry(self) -> dict[str, Any]:
        raise NotImplementedError


class RowsFormSet(forms.BaseFormSet):
    """A list part (organisations, people...) as rows; blank rows and removed ones are left
    out, and the rows sent are remembered so that a problem of entry n finds its row."""

    part: ClassVar[str] = ""
    parts: ClassVar[tuple[str, ...]] = ()
    form: type[RowForm]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[RowForm] = []

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        # The row's number, for the page: "row 3" in the error summary.
        return {**self.form_kwargs, "row_number": None if index is None else index + 1}

    @classmethod
    def initial_of(cls, document: dict[str, Any]) -> list[dict[str, Any]]:
        return [cls.form.initial_of(entry) for entry in document.get(cls.part) or []]

    def value(self) -> dict[str, Any]:
        self.sent = [
            form
            for form in self.forms
            if form.cleaned_data
            and not form.cleaned_data.get("DELETE")
            and any(value for name, value in form.cleaned_data.items() if name != "DELETE")
        ]
        return {self.part: [form.entry() for form in self.sent]}

    def show(self, places: Iterable[tuple[Place, str]], document: dict[str, Any]) -> None:
        errors = self.non_form_errors()
        for path, message in places:
            path = tuple(path)
            row = path[1] if len(path) > 1 and path[0] == self.part else None
            if isinstance(row, int) and 0 <= row < len(self.sent):
                form = self.sent[row]
                field = _field_for(form.keys, path[2:])
                form.add_error(field, message if field else problem_text(path, message, document))
            else:
                errors.append(problem_text(path, message, document))


def rows(form: type[RowForm], part: str, extra: int = 2) -> type[RowsFormSet]:
    formset = cast(
        "type[RowsFormSet]",
        forms.formset_factory(form, formset=RowsFormSet, extra=extra, can_delete=True),
    )
    formset.part = part
    formset.parts = (part,)
    return formset


class OrganisationForm(RowForm):
    keys = {("code",): "code", ("name",): "name", ("category",): "category"}

    code = forms.CharField(label=gettext_lazy("Code"), required=False, max_length=40)
    name = forms.CharField(label=gettext_lazy("Name"), required=False, max_length=255)
    category = forms.CharField(
        label=gettext_lazy("Category"),
        required=False,
        max_length=40,
        help_text=gettext_lazy("For example collectivite, ARS, CAF, CPAM."),
    )

    @classmethod
    def initial_of(cls, entry: dict[str, Any]) -> dict[str, Any]:
        return {"code": entry["code"], "name": entry["name"], "category": entry["category"]}

    def entry(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {key: _text(data[key]) for key in ("code", "name", "category")}


class PersonForm(RowForm):
    keys = {
        ("username",): "username",
        ("civility",): "civility",
        ("first_name",): "first_name",
        ("last_name",): "last_name",
        ("email",): "email",
        ("organisation",): "organisation",
        ("title",): "position",
        ("full_name",): "last_name",
    }

    username = forms.CharField(label=gettext_lazy("Username"), required=False, max_length=150)
    civility = forms.ChoiceField(label=gettext_lazy("Civility"), required=False)
    first_name = forms.CharField(label=gettext_lazy("First name"), required=False, max_length=150)
    last_name = forms.CharField(label=gettext_lazy("Last name"), required=False, max_length=150)
    email = forms.CharField(label=gettext_lazy("E-mail"), required=False, max_length=254)
    organisation = forms.ChoiceField(label=gettext_lazy("Organisation"), required=False)
    position = forms.CharField(label=gettext_lazy("Position"), required=False, max_length=200)

    def set_choices(self) -> None:
        _set(self, "civility", [(c.value, str(c.value)) for c in Civility], "—")
        _set(self, "organisation", self.choices.organisations, str(_("Choose an organisation")))

    @classmethod
    def initial_of(cls, entry: dict[str, Any]) -> dict[str, Any]:
        return {
            "username": entry["username"],
            "civility": entry.get("civility", ""),
            "first_name": entry.get("first_name", ""),
            "last_name": entry.get("last_name", ""),
            "email": entry.get("email", ""),
            "organisation": entry.get("organisation", ""),
            "position": entry.get("title", ""),
        }

    def entry(self) -> dict[str, Any]:
        data = self.cleaned_data
        entry: dict[str, Any] = {"username": _text(data["username"]), "email": _text(data["email"])}
        if data["civility"]:
            entry["civility"] = data["civility"]
        return entry | {
            "first_name": _text(data["first_name"]),
            "last_name": _text(data["last_name"]),
            "organisation": _choice(data["organisation"]),
            "title": _text(data["position"]),
        }


class ThemeForm(RowForm):
    keys = {("code",): "code", ("title",): "title"}

    code = forms.CharField(label=gettext_lazy("Code"), required=False, max_length=20)
    title = forms.CharField(label=gettext_lazy("Title"), required=False, max_length=300)

    @classmethod
    def initial_of(cls, entry: dict[str, Any]) -> dict[str, Any]:
        return {"code": entry["code"], "title": entry["title"]}

    def entry(self) -> dict[str, Any]:
        return {
            "code": _text(self.cleaned_data["code"]),
            "title": _text(self.cleaned_data["title"]),
        }


class WorkingGroupForm(RowForm):
    keys = {("code",): "code", ("title",): "title", ("leads",): "leads", ("members",): "members"}

    code = forms.CharField(label=gettext_lazy("Code"), required=False, max_length=20)
    title = forms.CharField(label=gettext_lazy("Title"), required=False, max_length=300)
    leads = forms.MultipleChoiceField(
        label=gettext_lazy("Leads"),
        required=False,
        help_text=gettext_lazy("They review the group's action sheets."),
    )
    members = forms.MultipleChoiceField(label=gettext_lazy("Members"), required=False)

    def set_choices(self) -> None:
        size = str(min(max(len(self.choices.people), 2), 6))
        for name in ("leads", "members"):
            _set(self, name, self.choices.people)
            self.fields[name].widget.attrs["size"] = size

    @classmethod
    def initial_of(cls, entry: dict[str, Any]) -> dict[str, Any]:
        return {
            "code": entry["code"],
            "title": entry["title"],
            "leads": entry["leads"],
            "members": [name for name in entry["members"] if name not in entry["leads"]],
        }

    def entry(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "code": _text(data["code"]),
            "title": _text(data["title"]),
            "leads": list(data["leads"]),
            "members": list(data["members"]),
        }


class SignatoryForm(RowForm):
    keys = {
        ("organisation",): "organisation",
        ("kind",): "kind",
        ("signer",): "signer",
        ("represented_by",): "represented_by",
        ("order",): "order",
        ("mandate", "reference"): "mandate_reference",
        ("mandate", "date"): "mandate_date",
        ("mandate",): "mandate_reference",
    }

    organisation = forms.ChoiceField(label=gettext_lazy("Organisation"), required=False)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), required=False)
    signer = forms.ChoiceField(label=gettext_lazy("Signer"), required=False)
    represented_by = forms.ChoiceField(
        label=gettext_lazy("Represented by"),
        required=False,
        help_text=gettext_lazy("Optional: who signs in the signer's name."),
    )
    order = forms.IntegerField(
        label=gettext_lazy("Order"),
        required=False,
        help_text=gettext_lazy("Signatories of order 1 sign first, then order 2..."),
    )
    mandate_reference = forms.CharField(
        label=gettext_lazy("Mandate reference"), required=False, max_length=120
    )
    mandate_date = forms.DateField(
        label=gettext_lazy("Mandate date"), required=False, widget=DATE_WIDGET
    )

    def set_choices(self) -> None:
        _set(self, "organisation", self.choices.organisations, str(_("Choose an organisation")))
        _set(self, "kind", [(value, str(label)) for value, label in SignatoryKind.choices])
        _set(self, "signer", self.choices.people, str(_("Choose a person")))
        _set(self, "represented_by", self.choices.people, str(_("Nobody")))

    def has_changed(self) -> bool:
        # The kind always has a value: a row is filled in when something else is.
        return any(name != "kind" for name in self.changed_data)

    @classmethod
    def initial_of(cls, entry: dict[str, Any]) -> dict[str, Any]:
        mandate = entry.get("mandate") or {}
        return {
            "organisation": entry["organisation"],
            "kind": entry["kind"],
            "signer": entry["signer"],
            "represented_by": entry.get("represented_by", ""),
            "order": entry.get("order"),
            "mandate_reference": mandate.get("reference", ""),
            "mandate_date": mandate.get("date"),
        }

    def entry(self) -> dict[str, Any]:
        data = self.cleaned_data
        entry: dict[str, Any] = {
            "organisation": _choice(data["organisation"]),
            "kind": _choice(data["kind"]),
            "signer": _choice(data["signer"]),
        }
        if data["represented_by"]:
            entry["represented_by"] = data["represented_by"]
        if data["order"] is not None:
            entry["order"] = data["order"]
        if _text(data["mandate_reference"]) or data["mandate_date"]:
            entry["mandate"] = {
                "reference": _text(data["mandate_reference"]) or None,
                "date": _date(data["mandate_date"]),
            }
        return entry


OrganisationFormSet = rows(OrganisationForm, "organisations")
PersonFormSet = rows(PersonForm, "people", extra=3)
ThemeFormSet = rows(ThemeForm, "themes")
WorkingGroupFormSet = rows(WorkingGroupForm, "working_groups")
SignatoryFormSet = rows(SignatoryForm, "signatories", extra=1)


# --- A new action sheet -----------------------------------------------------------------------


class SheetAddForm(forms.Form):
    """The start of a sheet; the rest is written on the sheet's own page."""

    keys: ClassVar[dict[Place, str]] = {
        ("theme",): "theme",
        ("code",): "code",
        ("title",): "title",
        ("objective",): "objective",
        ("pilot",): "pilot",
        ("working_group",): "working_group",
    }

    theme = forms.ChoiceField(label=gettext_lazy("Theme"), required=False)
    code = forms.CharField(
        label=gettext_lazy("Code"),
        required=False,
        max_length=20,
        help_text=gettext_lazy("For example T1-A1."),
    )
    title = forms.CharField(label=gettext_lazy("Title"), required=False, max_length=300)
    objective = forms.CharField(
        label=gettext_lazy("General objective"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    pilot = forms.ChoiceField(label=gettext_lazy("Pilot"), required=False)
    working_group = forms.ChoiceField(label=gettext_lazy("Working group"), required=False)

    def __init__(self, *args: Any, choices: Options, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set(self, "theme", choices.themes, str(_("Choose a theme")))
        _set(self, "pilot", choices.people, str(_("Choose a person")))
        _set(self, "working_group", choices.groups, str(_("Choose a working group")))

    def sheet(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "code": _text(data["code"]),
            "title": _text(data["title"]),
            "objective": _text(data["objective"]),
            "pilot": _choice(data["pilot"]),
            "working_group": _choice(data["working_group"]),
            "partners": [],
            "funding": [],
            "indicators": [],
        }

    def show(self, places: Sequence[tuple[Place, str]], document: dict[str, Any]) -> None:
        for path, message in places:
            field = _field_for(self.keys, tuple(path))
            self.add_error(field, message if field else problem_text(path, message, document))
