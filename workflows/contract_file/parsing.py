"""A contract file's bytes, JSON or YAML, read into a document; the document's fingerprint.

JSON or YAML with the same structure, since coordinators edit the example in whichever editor
they have. Numbers with a fraction are read as Decimal, so that amounts stay exact euros, and
YAML dates as text, so that both formats reach the checks alike.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..errors import ContractFileTooLarge, InvalidContractFile
from .problems import Path, place, root_problems

NUL = "\x00"


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


def _yaml_decimal(loader: _ContractYamlLoader, node: yaml.ScalarNode) -> Any:
    text = str(loader.construct_scalar(node))
    try:
        return Decimal(text.replace("_", ""))
    except InvalidOperation:  # .inf, .nan, 1:30.5 — refused later as amounts like any float
        return loader.construct_yaml_float(node)


def _yaml_text(loader: _ContractYamlLoader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


_ContractYamlLoader.add_constructor("tag:yaml.org,2002:float", _yaml_decimal)
_ContractYamlLoader.add_constructor("tag:yaml.org,2002:timestamp", _yaml_text)


def _at(line: int, column: int, problem: str) -> str:
    return _("line %(line)d, column %(column)d: %(problem)s") % {
        "line": line,
        "column": column,
        "problem": problem,
    }


# What Python's JSON parser says, in the reader's language (json.decoder's messages).
JSON_PROBLEMS = {
    "Expecting value": gettext_lazy("a value is expected here"),
    "Expecting property name enclosed in double quotes": gettext_lazy(
        "a field name in double quotes is expected here"
    ),
    "Expecting ':' delimiter": gettext_lazy("a colon (:) is expected here"),
    "Expecting ',' delimiter": gettext_lazy("a comma (,) is expected here"),
    "Unterminated string starting at": gettext_lazy("this text is not closed by a double quote"),
    "Invalid control character at": gettext_lazy(
        "a line break or tab inside a text (write it \\n or \\t)"
    ),
    "Invalid \\escape": gettext_lazy("an unknown escape (\\) in a text"),
    "Invalid \\uXXXX escape": gettext_lazy("an invalid \\u escape in a text"),
    "Extra data": gettext_lazy("more text after the end of the document"),
}


def _json_problem(exc: json.JSONDecodeError) -> str:
    problem = JSON_PROBLEMS.get(exc.msg)
    return _at(exc.lineno, exc.colno, str(problem) if problem else exc.msg)


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
                _("The contract file is not valid JSON."), [_json_problem(exc)]
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
            _("The contract file must hold one object."), root_problems(document)
        )
    if nul_places := list(nul_character_paths(document)):
        # PostgreSQL stores no NUL in a text: refused here, with its places, before any write.
        raise InvalidContractFile(
            _("The contract file holds a NUL character (\\u0000), which no text may contain."),
            [
                _("%(place)s: a NUL character (\\u0000) is not allowed in a text")
                % {"place": place(path) or _("file")}
                for path in nul_places
            ],
        )
    return document


def nul_character_paths(value: Any, path: Path = ()) -> Any:
    """The places of the texts (values or keys) holding a NUL character, in document order."""
    if isinstance(value, str):
        if NUL in value:
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and NUL in key:
                yield (*path, key.replace(NUL, "\\u0000"))
            else:
                yield from nul_character_paths(item, (*path, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from nul_character_paths(item, (*path, index))


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
