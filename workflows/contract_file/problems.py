"""A problem of a contract file: where it is, and what is wrong, said for the person fixing it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

# Where a value is: keys of objects and indices of lists, from the document's root.
Path = tuple[str | int, ...]


def place(path: Path) -> str:
    """``("themes", 2, "code")`` -> ``themes[2].code``, as people read it in their editor."""
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


def pattern(path: Path) -> str:
    """The place with its list indices left out: ``themes[].code``, the same for every theme."""
    return re.sub(r"\[\d+\]", "[]", place(path))


@dataclass(frozen=True)
class Problem:
    path: Path
    message: str

    def __str__(self) -> str:
        return f"{place(self.path)}: {self.message}"


def type_name(value: Any) -> str:
    """What a value is, in the words of the messages ("a list", "true/false")."""
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


def root_problems(document: Any) -> list[str]:
    """The one problem of a document that is not an object: nothing else can be checked."""
    return [
        _("file: must be an object with the contract's fields, not %(type)s")
        % {"type": type_name(document)}
    ]


def one_per_place(problems: Iterable[Problem]) -> list[Problem]:
    """The first problem found at each place.

    The schema and the cross-references may both see a broken value (an amount the schema
    refuses is not an amount to compare either): its first problem is the one to fix.
    """
    seen: set[Path] = set()
    kept = []
    for problem in problems:
        if problem.path not in seen:
            seen.add(problem.path)
            kept.append(problem)
    return kept


def in_file_order(problems: Iterable[Problem], document: dict) -> list[Problem]:
    """The problems in the order their places come in the file, to be fixed top to bottom.

    A missing field is told at the end of the object it is missing from. Problems at the same
    place keep the order in which they were found.
    """
    return sorted(problems, key=lambda problem: _position(document, problem.path))


def _position(document: dict, path: Path) -> tuple[int, ...]:
    position = []
    node: Any = document
    for step in path:
        if isinstance(node, dict):
            keys = [str(key) for key in node]
            index = keys.index(str(step)) if str(step) in keys else len(keys)
            node = node.get(step)
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            index, node = step, node[step]
        else:
            index, node = 0, None
        position.append(index)
    return tuple(position)
