"""Reading and checking a contract file (format ``accord.contract/1``), without writing anything.

An import is all or nothing, and a coordinator fixes a file in one go only if every problem is
reported at once, each with its place in the file (``themes[2].actions[4].working_group``). So
the checks below never stop at the first problem; they only skip what would merely repeat one
(a reference into a section that is itself broken, the value of a field of the wrong type).

Amounts are read as exact decimals, JSON and YAML numbers included: euros are never floats.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from .errors import ContractFileTooLarge, InvalidContractFile
from .models import Contract, ContractKind, SignatoryKind, User

FORMAT = "accord.contract/1"

# Limits of the model fields the values end up in: past them PostgreSQL would refuse the row.
MAX_INTEGER = 2_147_483_647
MAX_AMOUNT = Decimal("999999999999.99")  # FundingLine.amount: 14 digits, 2 of them decimals
CENT = Decimal("0.01")
USERNAME_RE = re.compile(r"^[\w.@+-]+\Z")  # as Django's UnicodeUsernameValidator
CODE_RE = re.compile(r"^[-a-zA-Z0-9_]+\Z")  # Organisation.code is a slug
AMOUNT_RE = re.compile(r"^-?\d+(\.\d+)?\Z")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}\Z")


# --- Parsing ------------------------------------------------------------------------------


class _ContractYamlLoader(yaml.SafeLoader):
    """YAML's safe loader, reading fractions as Decimal and dates as text, refusing aliases.

    Dates stay ``"2019-09-01"`` strings as in JSON, so both formats are checked the same way.
    Aliases are refused because a few of them can expand a small file into an enormous
    document (the "billion laughs"), and a contract file has no use for them.
    """

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, _("aliases (*name) are not accepted"), self.peek_event().start_mark
            )
        return super().compose_node(parent, index)


def _yaml_decimal(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    text = str(loader.construct_scalar(node))
    try:
        return Decimal(text.replace("_", ""))
    except InvalidOperation:  # .inf, .nan, 1:30.5 — refused later as amounts like any float
        return loader.construct_yaml_float(node)


_ContractYamlLoader.add_constructor("tag:yaml.org,2002:float", _yaml_decimal)
_ContractYamlLoader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_scalar)


def _at(line: int, column: int, problem: str) -> str:
    return _("line %(line)d, column %(column)d: %(problem)s") % {
        "line": line,
        "column": column,
        "problem": problem,
    }


def _load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_ContractYamlLoader)  # noqa: S506 — a SafeLoader subclass


def _yaml_problem(exc: yaml.YAMLError) -> str:
    problem = str(getattr(exc, "problem", None) or exc)
    mark = getattr(exc, "problem_mark", None)
    return _at(mark.line + 1, mark.column + 1, problem) if mark else problem


def _decode(text: str, filename: str) -> Any:
    """The file's content as Python values; InvalidContractFile with the parser's position.

    JSON when the name or the first character says so, YAML otherwise: a JSON file with a
    syntax error is told where its JSON goes wrong, not what YAML makes of it.
    """
    name = filename.lower()
    is_json = name.endswith(".json") or (
        not name.endswith((".yaml", ".yml")) and text.lstrip().startswith(("{", "["))
    )
    if is_json:
        try:
            return json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise InvalidContractFile(
                _("The contract file is not valid JSON."), [_at(exc.lineno, exc.colno, exc.msg)]
            ) from exc
    try:
        return _load_yaml(text)
    except yaml.YAMLError as exc:
        raise InvalidContractFile(
            _("The contract file is neither valid JSON nor valid YAML."), [_yaml_problem(exc)]
        ) from exc


def parse_contract_file(raw: bytes, *, filename: str = "") -> dict:
    """Read a contract file's bytes into a document, or raise saying where the file goes wrong.

    JSON or YAML (the same structure), since coordinators edit the example in whichever
    editor they have.
    """
    limit = settings.ACCORD_IMPORT_MAX_BYTES
    if len(raw) > limit:
        raise ContractFileTooLarge(
            _("The contract file is too large: %(size)d bytes, the limit is %(limit)d bytes.")
            % {"size": len(raw), "limit": limit},
            {"size": len(raw), "limit": limit},
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - raw.rfind(b"\n", 0, exc.start)
        raise InvalidContractFile(
            _("The contract file is not UTF-8 text."),
            [_at(line, column, _("this byte is not UTF-8 text"))],
        ) from exc
    if not text.strip():
        raise InvalidContractFile(_("The contract file is empty."), [_("file: the file is empty")])

    # Past a few thousand levels of nesting, or digits in one number, the parsers give up with
    # errors of their own: still the file's fault, to be told as such.
    try:
        document = _decode(text, filename)
    except RecursionError as exc:
        raise InvalidContractFile(
            _("The contract file is nested too deeply."),
            [_("file: the file is nested too deeply")],
        ) from exc
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise InvalidContractFile(
            _("The contract file holds a value that cannot be read."),
            [_("file: a value cannot be read (%(problem)s)") % {"problem": exc}],
        ) from exc

    if not isinstance(document, dict):
        raise InvalidContractFile(
            _("The contract file must hold one object."), _root_type_errors(document)
        )
    return document


def _canonical(value: Any) -> Any:
    """The document as plain JSON values, whatever YAML made of the parts no check reads."""
    if isinstance(value, dict):
        return {str(key): _canonical(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_canonical(item) for item in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if value is None or isinstance(value, str | int | float | Decimal | datetime.date):
        return value
    return str(value)


def contract_file_digest(document: dict) -> str:
    """SHA-256 of the document's canonical JSON: what the history records as imported."""
    canonical = json.dumps(
        _canonical(document),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        cls=DjangoJSONEncoder,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def reference_taken_error(reference: str) -> str:
    """The problem line for a reference already in use (also raised on a concurrent import)."""
    return _('reference: contract "%(reference)s" already exists') % {"reference": reference}


# --- Validation ---------------------------------------------------------------------------


def _type_name(value: Any) -> str:
    if value is None:
        return _("null")
    if isinstance(value, bool):
        return _("true/false")
    if isinstance(value, int | float | Decimal):
        return _("a number")
    if isinstance(value, str):
        return _("a string")
    if isinstance(value, list):
        return _("a list")
    if isinstance(value, dict):
        return _("an object")
    return type(value).__name__


def _root_type_errors(document: Any) -> list[str]:
    return [
        _("file: must be an object with the contract's fields, not %(type)s")
        % {"type": _type_name(document)}
    ]


def _amount_text(value: str | int | float | Decimal) -> str:
    # A float (from a caller that parsed JSON itself) is read back from its shortest spelling,
    # which is what was written; from there on all arithmetic is Decimal's.
    return repr(value) if isinstance(value, float) else str(value).strip()


def _decimal(value: str | int | float | Decimal) -> Decimal | None:
    text = _amount_text(value)
    if isinstance(value, str) and not AMOUNT_RE.match(text):
        return None  # "12,50", "1 000", "1e3": not written as the format says
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def amount_of(value: str | int | float | Decimal) -> Decimal:
    """A funding amount that passed validation, in exact euros and cents."""
    amount = _decimal(value)
    if amount is None:
        raise ValueError(value)
    return amount.quantize(CENT)


def _place(parent: str, key: str | int) -> str:
    """``themes`` + 2 -> ``themes[2]``; ``themes[2]`` + ``code`` -> ``themes[2].code``."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def _all_objects(values: list | None) -> bool:
    return values is not None and all(isinstance(value, dict) for value in values)


class _Defined(dict):
    """What a section defines: code -> place, or username -> organisation code.

    ``complete`` is False when the section or one of its entries is broken: a reference not
    found may then be to that entry, and is not reported, since the entry's problem already is.
    """

    complete = True

    def refers(self, value: str) -> bool | None:
        """True when defined, False when surely unknown, None when there is no telling."""
        if value in self:
            return True
        return False if self.complete else None


class _Checker:
    """Walks a document, collecting every problem as ``"<place>: <message>"``.

    The ``read_*`` helpers take an object, a key and the object's place; they report a
    missing required key or a wrong type and then return None, so that the caller's further
    checks skip that value instead of piling more errors on it. The ``check_*`` helpers do the
    same for a value already taken out (a list item).
    """

    def __init__(self) -> None:
        self.errors: list[str] = []
        # What the file defines, by section: organisation codes, usernames (with their
        # organisation's code) and working group codes.
        self.organisations = _Defined()
        self.people = _Defined()
        self.working_groups = _Defined()

    def error(self, place: str, message: str, **params: Any) -> None:
        self.errors.append(f"{place}: {message % params if params else message}")

    # --- Values ---------------------------------------------------------------------------

    def _get(self, obj: dict, key: str, place: str, required: bool) -> Any:
        """The value at ``key``; a missing (or null) required one is reported."""
        value = obj.get(key)
        if value is None and required:
            self.error(_place(place, key), _("this field is required"))
        return value

    def check_string(
        self, value: Any, place: str, *, blank: bool = False, max_length: int | None = None
    ) -> str | None:
        if not isinstance(value, str):
            self.error(place, _("must be a string, not %(type)s"), type=_type_name(value))
            return None
        if not blank and not value.strip():
            self.error(place, _("must not be empty"))
            return None
        if max_length is not None and len(value) > max_length:
            self.error(
                place,
                _("is too long (%(length)d characters, at most %(max)d)"),
                length=len(value),
                max=max_length,
            )
            return None
        return value

    def read_string(
        self,
        obj: dict,
        key: str,
        place: str,
        *,
        required: bool = True,
        blank: bool = False,
        max_length: int | None = None,
    ) -> str | None:
        value = self._get(obj, key, place, required)
        if value is None:
            return None
        return self.check_string(value, _place(place, key), blank=blank, max_length=max_length)

    def read_object(self, obj: dict, key: str, place: str, *, required: bool = True) -> dict | None:
        value = self._get(obj, key, place, required)
        if value is None or isinstance(value, dict):
            return value
        self.error(_place(place, key), _("must be an object, not %(type)s"), type=_type_name(value))
        return None

    def read_list(self, obj: dict, key: str, place: str, *, required: bool = True) -> list | None:
        value = self._get(obj, key, place, required)
        if value is None or isinstance(value, list):
            return value
        self.error(_place(place, key), _("must be a list, not %(type)s"), type=_type_name(value))
        return None

    def objects(self, values: list | None, place: str) -> Iterator[tuple[str, dict]]:
        """Each entry of a list of objects with its place; entries of another type reported."""
        for index, item in enumerate(values or []):
            item_place = _place(place, index)
            if isinstance(item, dict):
                yield item_place, item
            else:
                self.error(item_place, _("must be an object, not %(type)s"), type=_type_name(item))

    def read_integer(
        self, obj: dict, key: str, place: str, *, minimum: int = 0, required: bool = True
    ) -> int | None:
        value = self._get(obj, key, place, required)
        place = _place(place, key)
        if value is None:
            return None
        if isinstance(value, float | Decimal):
            self.error(place, _('must be a whole number, not "%(value)s"'), value=value)
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(place, _("must be a whole number, not %(type)s"), type=_type_name(value))
            return None
        if value < minimum:
            self.error(place, _("must be at least %(minimum)d"), minimum=minimum)
            return None
        if value > MAX_INTEGER:
            self.error(place, _("must be at most %(maximum)d"), maximum=MAX_INTEGER)
            return None
        return value

    def read_date(
        self, obj: dict, key: str, place: str, *, required: bool = True
    ) -> datetime.date | None:
        value = self._get(obj, key, place, required)
        place = _place(place, key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.error(
                place,
                _("must be a date written YYYY-MM-DD, not %(type)s"),
                type=_type_name(value),
            )
            return None
        try:
            if not DATE_RE.match(value):
                raise ValueError(value)
            return datetime.date.fromisoformat(value)
        except ValueError:
            self.error(place, _('must be a date written YYYY-MM-DD, not "%(value)s"'), value=value)
            return None

    def read_amount(self, obj: dict, key: str, place: str) -> Decimal | None:
        """Euros as ``"1250.50"`` (or a number): exact, not negative, at most 2 decimals."""
        value = self._get(obj, key, place, True)
        place = _place(place, key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
            self.error(
                place,
                _('must be an amount in euros such as "1250.50", not %(type)s'),
                type=_type_name(value),
            )
            return None
        text, amount = _amount_text(value), _decimal(value)
        if amount is None or not amount.is_finite():
            self.error(
                place,
                _('must be an amount in euros such as "1250.50", not "%(value)s"'),
                value=text,
            )
        elif amount < 0:
            self.error(place, _('must not be negative ("%(value)s")'), value=text)
        elif amount > MAX_AMOUNT:
            self.error(place, _('is too large ("%(value)s")'), value=text)
        elif amount != amount.quantize(CENT):
            self.error(place, _('has more than 2 decimal places ("%(value)s")'), value=text)
        else:
            return amount.quantize(CENT)
        return None

    # --- References -----------------------------------------------------------------------

    def check_organisation(self, value: Any, place: str) -> str | None:
        code = self.check_string(value, place, max_length=40)
        known = None if code is None else self.organisations.refers(code)
        if known is False:
            self.error(place, _('unknown organisation "%(code)s"'), code=code)
        return code if known else None

    def check_person(self, value: Any, place: str) -> str | None:
        username = self.check_string(value, place, max_length=150)
        known = None if username is None else self.people.refers(username)
        if known is False:
            self.error(place, _('unknown person "%(username)s"'), username=username)
        return username if known else None

    def read_organisation(self, obj: dict, key: str, place: str) -> str | None:
        value = self._get(obj, key, place, True)
        return None if value is None else self.check_organisation(value, _place(place, key))

    def read_person(self, obj: dict, key: str, place: str, *, required: bool = True) -> str | None:
        value = self._get(obj, key, place, required)
        return None if value is None else self.check_person(value, _place(place, key))

    def read_organisations(self, obj: dict, key: str, place: str) -> list[str] | None:
        values = self.read_list(obj, key, place)
        if values is None:
            return None
        checked = [
            self.check_organisation(value, _place(_place(place, key), index))
            for index, value in enumerate(values)
        ]
        return [code for code in checked if code is not None]

    def read_people(self, obj: dict, key: str, place: str) -> list[str] | None:
        """The known usernames of a list of people (unknown ones reported, left out)."""
        values = self.read_list(obj, key, place)
        if values is None:
            return None
        checked = [
            self.check_person(value, _place(_place(place, key), index))
            for index, value in enumerate(values)
        ]
        return [username for username in checked if username is not None]

    def unique(self, seen: dict[str, str], value: str | None, place: str, message: str) -> None:
        """Report ``value`` if an earlier entry had it; ``seen`` maps values to their place."""
        if value is None:
            return
        if value in seen:
            self.error(place, message, value=value, first=seen[value])
        else:
            seen[value] = place


def validate_contract_file(document: object) -> list[str]:
    """Every problem of a contract file, each as ``"<place>: <message>"``; empty when sound.

    Reads the database only to refuse a reference already taken and a username whose
    existing account belongs to another organisation than the file says.
    """
    if not isinstance(document, dict):
        return _root_type_errors(document)
    check = _Checker()
    # Sections that define what others refer to come first.
    _check_header(check, document)
    _check_organisations(check, document)
    _check_people(check, document)
    _check_diagnosis(check, document)
    _check_working_groups(check, document)
    _check_themes(check, document)
    _check_steering_committee(check, document)
    _check_coordinators(check, document)
    _check_signatories(check, document)
    return check.errors


def _check_header(check: _Checker, document: dict) -> None:
    format_ = check.read_string(document, "format", "")
    if format_ is not None and format_ != FORMAT:
        check.error(
            "format",
            _('unknown format "%(format)s" (expected "%(expected)s")'),
            format=format_,
            expected=FORMAT,
        )
    reference = check.read_string(document, "reference", "", max_length=60)
    if reference is not None and Contract.objects.filter(reference=reference).exists():
        check.errors.append(reference_taken_error(reference))
    check.read_string(document, "title", "", max_length=300)
    kind = check.read_string(document, "kind", "")
    if kind is not None and kind not in ContractKind.values:
        check.error(
            "kind",
            _('unknown kind "%(kind)s" (expected one of %(kinds)s)'),
            kind=kind,
            kinds=", ".join(ContractKind.values),
        )

    territory = check.read_object(document, "territory", "")
    if territory is not None:
        check.read_string(territory, "name", "territory", max_length=255)
        check.read_integer(territory, "communes", "territory")
        check.read_integer(territory, "population", "territory")

    period = check.read_object(document, "period", "")
    if period is not None:
        start = check.read_date(period, "start", "period")
        end = check.read_date(period, "end", "period")
        if start and end and end < start:
            check.error("period.end", _("the period ends before it starts"))


def _check_organisations(check: _Checker, document: dict) -> None:
    organisations = check.read_list(document, "organisations", "")
    check.organisations.complete = _all_objects(organisations)
    for place, organisation in check.objects(organisations, "organisations"):
        code = check.read_string(organisation, "code", place, max_length=40)
        if code is not None and not CODE_RE.match(code):
            check.error(
                _place(place, "code"),
                _('"%(code)s" is not a valid code (letters, digits, "-" and "_" only)'),
                code=code,
            )
        check.unique(
            check.organisations,
            code,
            _place(place, "code"),
            _('duplicate organisation code "%(value)s" (first at %(first)s)'),
        )
        if code is None:
            check.organisations.complete = False
        check.read_string(organisation, "name", place, max_length=255)
        check.read_string(organisation, "category", place, blank=True, max_length=40)


def _check_people(check: _Checker, document: dict) -> None:
    people = check.read_list(document, "people", "")
    check.people.complete = _all_objects(people)
    seen: dict[str, str] = {}
    organisation_places: dict[str, str] = {}  # username -> place of its (known) organisation
    for place, person in check.objects(people, "people"):
        username = check.read_string(person, "username", place, max_length=150)
        if username is not None and not USERNAME_RE.match(username):
            check.error(
                _place(place, "username"),
                _('"%(username)s" is not a valid username (letters, digits and @ . + - _ only)'),
                username=username,
            )
        check.unique(
            seen,
            username,
            _place(place, "username"),
            _('duplicate username "%(value)s" (first at %(first)s)'),
        )
        check.read_string(person, "full_name", place, max_length=255)
        email = check.read_string(person, "email", place, blank=True, max_length=254)
        if email:
            try:
                validate_email(email)
            except ValidationError:
                check.error(
                    _place(place, "email"),
                    _('"%(email)s" is not a valid e-mail address'),
                    email=email,
                )
        organisation = check.read_organisation(person, "organisation", place)
        check.read_string(person, "title", place, blank=True, max_length=255)
        if username is None:
            check.people.complete = False
        elif username not in check.people:
            check.people[username] = organisation
            if organisation is not None:
                organisation_places[username] = _place(place, "organisation")

    # An existing account is reused as it is: it must belong to the organisation the file says.
    existing = User.objects.filter(username__in=organisation_places).select_related("organisation")
    for user in existing:
        expected = check.people[user.username]
        actual = user.organisation.code if user.organisation else None
        if actual == expected:
            continue
        place = organisation_places[user.username]
        if actual is None:
            message = _('the existing account "%(username)s" has no organisation, not "%(code)s"')
        else:
            message = _(
                'the existing account "%(username)s" belongs to "%(actual)s", not "%(code)s"'
            )
        check.error(place, message, username=user.username, actual=actual, code=expected)


def _check_diagnosis(check: _Checker, document: dict) -> None:
    diagnosis = check.read_object(document, "diagnosis", "", required=False)
    if diagnosis is not None:
        check.read_organisation(diagnosis, "author", "diagnosis")
        check.read_date(diagnosis, "finalised_on", "diagnosis")
        check.read_string(diagnosis, "summary", "diagnosis", required=False, blank=True)


def _check_working_groups(check: _Checker, document: dict) -> None:
    groups = check.read_list(document, "working_groups", "")
    check.working_groups.complete = _all_objects(groups)
    for place, group in check.objects(groups, "working_groups"):
        code = check.read_string(group, "code", place, max_length=20)
        check.unique(
            check.working_groups,
            code,
            _place(place, "code"),
            _('duplicate working group code "%(value)s" (first at %(first)s)'),
        )
        if code is None:
            check.working_groups.complete = False
        check.read_string(group, "title", place, max_length=300)
        if check.read_people(group, "leads", place) is not None and not group["leads"]:
            check.error(_place(place, "leads"), _("a working group needs at least one lead"))
        check.read_people(group, "members", place)


def _check_themes(check: _Checker, document: dict) -> None:
    themes = check.read_list(document, "themes", "")
    theme_codes: dict[str, str] = {}
    action_codes: dict[str, str] = {}  # unique across themes: one contract, one numbering
    for place, theme in check.objects(themes, "themes"):
        code = check.read_string(theme, "code", place, max_length=20)
        check.unique(
            theme_codes,
            code,
            _place(place, "code"),
            _('duplicate theme code "%(value)s" (first at %(first)s)'),
        )
        check.read_string(theme, "title", place, max_length=300)
        actions = check.read_list(theme, "actions", place)
        for action_place, action in check.objects(actions, _place(place, "actions")):
            _check_action(check, action, action_place, action_codes)


def _check_action(check: _Checker, action: dict, place: str, codes: dict[str, str]) -> None:
    code = check.read_string(action, "code", place, max_length=20)
    check.unique(
        codes,
        code,
        _place(place, "code"),
        _('duplicate action code "%(value)s" (first at %(first)s)'),
    )
    check.read_string(action, "title", place, max_length=300)
    check.read_string(action, "objective", place, blank=True)
    check.read_person(action, "pilot", place)

    group_place = _place(place, "working_group")
    group = action.get("working_group")
    if group is None or (isinstance(group, str) and not group.strip()):
        check.error(group_place, _("an action needs a working group"))
    else:
        group = check.check_string(group, group_place, max_length=20)
        if group is not None and check.working_groups.refers(group) is False:
            check.error(group_place, _('unknown working group "%(code)s"'), code=group)

    check.read_organisations(action, "partners", place)
    funding = check.read_list(action, "funding", place)
    for line_place, line in check.objects(funding, _place(place, "funding")):
        check.read_organisation(line, "funder", line_place)
        check.read_amount(line, "amount", line_place)
    indicators = check.read_list(action, "indicators", place)
    for index, indicator in enumerate(indicators or []):
        check.check_string(indicator, _place(_place(place, "indicators"), index), max_length=500)


def _check_steering_committee(check: _Checker, document: dict) -> None:
    place = "steering_committee"
    committee = check.read_object(document, place, "")
    if committee is None:
        return
    chair = check.read_person(committee, "chair", place)
    members = check.read_people(committee, "members", place)
    quorum = check.read_integer(committee, "quorum", place, minimum=1)
    if members is None:
        return
    if not committee["members"]:
        check.error(_place(place, "members"), _("the committee needs at least one member"))
    # With an unknown member the committee's size is unknown: its errors are enough.
    if len(members) != len(committee["members"]):
        return
    if chair is not None and chair not in members:
        check.error(
            _place(place, "chair"),
            _('the chair "%(username)s" is not a member of the committee'),
            username=chair,
        )
    size = len(set(members))
    if quorum is not None and quorum > size:
        check.error(
            _place(place, "quorum"),
            _("the quorum (%(quorum)d) is above the committee's size (%(size)d)"),
            quorum=quorum,
            size=size,
        )


def _check_coordinators(check: _Checker, document: dict) -> None:
    if check.read_people(document, "coordinators", "") is not None and not document["coordinators"]:
        check.error("coordinators", _("a contract needs at least one coordinator"))


def _check_signatories(check: _Checker, document: dict) -> None:
    signatories = check.read_list(document, "signatories", "")
    if signatories is None:
        return
    seen: dict[str, str] = {}  # organisation code -> place of its signatory
    kinds: list[str] = []
    for place, signatory in check.objects(signatories, "signatories"):
        organisation = check.read_organisation(signatory, "organisation", place)
        if organisation is not None and organisation in seen:
            check.error(
                _place(place, "organisation"),
                _('organisation "%(code)s" already has a signatory (%(first)s)'),
                code=organisation,
                first=seen[organisation],
            )
        elif organisation is not None:
            seen[organisation] = place

        kind = check.read_string(signatory, "kind", place)
        if kind is not None and kind not in SignatoryKind.values:
            check.error(
                _place(place, "kind"),
                _('unknown signatory kind "%(kind)s" (expected one of %(kinds)s)'),
                kind=kind,
                kinds=", ".join(SignatoryKind.values),
            )
        elif kind is not None:
            kinds.append(kind)

        # Whoever signs, in person or as representative, does so for their own organisation.
        for key in ("signer", "represented_by"):
            username = check.read_person(signatory, key, place, required=key == "signer")
            belongs_to = check.people.get(username) if username else None
            if organisation and belongs_to and belongs_to != organisation:
                check.error(
                    _place(place, key),
                    _('"%(username)s" is not a member of organisation "%(code)s"'),
                    username=username,
                    code=organisation,
                )

        check.read_integer(signatory, "order", place, minimum=1, required=False)
        mandate = check.read_object(signatory, "mandate", place, required=False)
        if mandate is not None:
            check.read_string(mandate, "reference", _place(place, "mandate"), max_length=120)
            check.read_date(mandate, "date", _place(place, "mandate"))

    # Only when every kind could be read: otherwise the missing one may be the mandatory one.
    if len(kinds) == len(signatories) and SignatoryKind.MANDATORY not in kinds:
        check.error("signatories", _("there is no mandatory signatory"))
