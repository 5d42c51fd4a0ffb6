"""The contract file's structure, checked against ``contract.schema.json`` with jsonschema.

The schema is the format's reference for Accord and for the people writing files (editors
validate against it as they type); this module only turns jsonschema's findings into problems
that name their place and say in the reader's language what is wrong. jsonschema's own messages
are English and speak of schemas, so each kind of finding has a message of its own here.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path as FilePath
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from .problems import Path, Problem, pattern, type_name

SCHEMA_PATH = FilePath(__file__).with_name("contract.schema.json")
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")

# Where a finding means more than its kind says; keyed by the place with its list indices left
# out and by the jsonschema keyword ("blank": a pattern or length refused an empty string).
SPECIFIC: dict[tuple[str, str], Promise] = {
    ("format", "const"): gettext_lazy('unknown format "%(value)s" (expected "%(expected)s")'),
    ("kind", "enum"): gettext_lazy('unknown kind "%(value)s" (expected one of %(expected)s)'),
    ("organisations[].code", "pattern"): gettext_lazy(
        '"%(value)s" is not a valid code (letters, digits, "-" and "_" only)'
    ),
    ("people[].username", "pattern"): gettext_lazy(
        '"%(value)s" is not a valid username (letters, digits and @ . + - _ only)'
    ),
    ("people[].civility", "enum"): gettext_lazy(
        'unknown civility "%(value)s" (expected one of %(expected)s)'
    ),
    ("themes[].actions[].working_group", "required"): gettext_lazy(
        "an action needs a working group"
    ),
    ("themes[].actions[].working_group", "blank"): gettext_lazy("an action needs a working group"),
    ("themes[].actions[].funding[].amount", "type"): gettext_lazy(
        'must be an amount in euros such as "1250.50", not %(type)s'
    ),
    ("themes[].actions[].funding[].amount", "pattern"): gettext_lazy(
        'must be an amount in euros such as "1250.50", not "%(value)s"'
    ),
    ("working_groups[].leads", "minItems"): gettext_lazy("a working group needs at least one lead"),
    ("steering_committee.members", "minItems"): gettext_lazy(
        "the committee needs at least one member"
    ),
    ("coordinators", "minItems"): gettext_lazy("a contract needs at least one coordinator"),
    ("signatories", "contains"): gettext_lazy("there is no mandatory signatory"),
    ("signatories[].kind", "enum"): gettext_lazy(
        'unknown signatory kind "%(value)s" (expected one of %(expected)s)'
    ),
}


def _is_date(value: object) -> bool:
    # Stricter than date.fromisoformat, which also reads "20190901" and week dates.
    if not isinstance(value, str):
        return True
    try:
        return bool(DATE_RE.fullmatch(value) and datetime.date.fromisoformat(value))
    except ValueError:
        return False


def _is_email(value: object) -> bool:
    # Django's rule rather than jsonschema's, which only looks for an "@".
    if not isinstance(value, str):
        return True
    try:
        validate_email(value)
    except DjangoValidationError:
        return False
    return True


@cache
def _validator() -> Draft202012Validator:
    checker = FormatChecker(formats=())
    checker.checks("date")(_is_date)
    checker.checks("email")(_is_email)
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=checker)


def structure_problems(document: dict) -> list[Problem]:
    """Everything wrong with the document's shape, types and values, as the schema says.

    Null counts as absent, as it always has for Accord: a required field left null is
    missing, an optional one is simply not there.
    """
    findings = [_Finding.of(error) for error in _validator().iter_errors(_without_nulls(document))]
    return [
        problem
        for finding in findings
        if not (finding.keyword == "contains" and _echoes_a_broken_item(finding, findings))
        for problem in _problems(finding)
    ]


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


@dataclass(frozen=True)
class _Finding:
    """What this module reads of a jsonschema error, typed (jsonschema's may be unset)."""

    path: Path  # of the value found wrong
    keyword: str  # the schema's keyword it fails
    rule: Any  # that keyword's value in the schema
    value: Any
    schema: dict[str, Any]  # the subschema holding the keyword

    @classmethod
    def of(cls, error: ValidationError) -> _Finding:
        schema = error.schema if isinstance(error.schema, dict) else {}
        return cls(
            tuple(error.absolute_path),
            str(error.validator),
            error.validator_value,
            error.instance,
            schema,
        )


def _echoes_a_broken_item(contains: _Finding, findings: list[_Finding]) -> bool:
    """Whether ``contains`` may have failed only because the item it looks for is broken.

    "No mandatory signatory" is not worth telling while a signatory or its kind is unreadable:
    that signatory may be the mandatory one, and its own problem is told already.
    """
    looked_at = set(contains.rule.get("properties", {}))
    depth = len(contains.path)
    for other in findings:
        if len(other.path) <= depth or other.path[:depth] != contains.path:
            continue
        field = other.path[depth + 1 :]
        if not field and other.keyword == "type":
            return True
        if not field and other.keyword == "required":
            if looked_at & (set(other.rule) - set(other.value)):
                return True
        elif len(field) == 1 and field[0] in looked_at:
            return True
    return False


def _problems(finding: _Finding) -> Iterator[Problem]:
    if finding.keyword == "required":
        # One error per missing field, told at its object and not saying which field: each
        # missing field is told at its own place here (the repeats are dropped later).
        for key in finding.rule:
            if key not in finding.value:
                path = (*finding.path, key)
                yield Problem(path, _message(finding, path, "required"))
    elif finding.keyword == "additionalProperties":
        known = finding.schema.get("properties", {})
        expected = ", ".join(name for name in known if not name.startswith("$"))
        for key in finding.value:
            if key not in known:
                yield Problem(
                    (*finding.path, str(key)),
                    _("unknown field (expected one of %(expected)s)") % {"expected": expected},
                )
    else:
        keyword = finding.keyword
        if keyword in {"pattern", "minLength"} and not str(finding.value).strip():
            keyword = "blank"
        yield Problem(finding.path, _message(finding, finding.path, keyword))


def _message(finding: _Finding, path: Path, keyword: str) -> str:
    params = {"value": finding.value, "type": type_name(finding.value)}
    if keyword == "enum":
        params["expected"] = ", ".join(str(value) for value in finding.rule)
    elif keyword == "const":
        params["expected"] = finding.rule
    specific = SPECIFIC.get((pattern(path), keyword))
    if specific is not None:
        return str(specific) % params
    return _generic_message(finding, keyword, params)


def _generic_message(finding: _Finding, keyword: str, params: dict[str, Any]) -> str:
    rule = finding.rule
    match keyword:
        case "required":
            return _("this field is required")
        case "blank":
            return _("must not be empty")
        case "type":
            return _type_message(finding, params)
        case "maxLength":
            return _("is too long (%(length)d characters, at most %(max)d)") % {
                "length": len(finding.value),
                "max": rule,
            }
        case "minimum":
            return _("must be at least %(minimum)d") % {"minimum": rule}
        case "maximum":
            return _("must be at most %(maximum)d") % {"maximum": rule}
        case "format" if rule == "date":
            return _('must be a date written YYYY-MM-DD, not "%(value)s"') % params
        case "format" if rule == "email":
            return _('"%(value)s" is not a valid e-mail address') % params
        case "pattern":
            return _('"%(value)s" is not written as expected here') % params
        case "enum":
            return _('unknown value "%(value)s" (expected one of %(expected)s)') % params
        case "const":
            return _('unknown value "%(value)s" (expected "%(expected)s")') % params
        case "minItems":
            return ngettext(
                "needs at least %(count)d entry", "needs at least %(count)d entries", rule
            ) % {"count": rule}
    # A keyword the schema gained without a message here: still translated, and placed.
    return _("does not follow the contract file's format (rule %(rule)s)") % {"rule": keyword}


def _type_message(finding: _Finding, params: dict[str, Any]) -> str:
    if finding.schema.get("format") == "date":
        return _("must be a date written YYYY-MM-DD, not %(type)s") % params
    match finding.rule:
        case "integer" if isinstance(finding.value, float | Decimal):
            return _('must be a whole number, not "%(value)s"') % params
        case "integer":
            return _("must be a whole number, not %(type)s") % params
        case "string":
            return _("must be a string, not %(type)s") % params
        case "object":
            return _("must be an object, not %(type)s") % params
        case "array":
            return _("must be a list, not %(type)s") % params
    if finding.rule == ["string", "object"]:
        return _("must be a text or an object, not %(type)s") % params
    expected = finding.rule
    return _("must be %(expected)s, not %(type)s") % {
        "expected": " | ".join(expected) if isinstance(expected, list) else expected,
        "type": params["type"],
    }
