"""Checking a change by the contract file's rules, shared by every verb that writes part of a
contract as a contract file writes it: a draft's parts and sheets (``authoring``) and an
amendment's proposals (``amendments``).

The contract as it would be after the change is written as a contract file and validated;
the change is refused for the problems it brings, not for those the contract already had
(a contract being written is incomplete; a contract imported long ago may predate a rule).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.translation import ngettext

from ..contract_file import Path, Problem, contract_file_problems
from ..errors import InvalidContractFile
from ..models import Contract


def refused(problems: list[Problem]) -> InvalidContractFile:
    """The refusal of a change (400), each problem with its place."""
    message = ngettext(
        "The contract has %(count)d problem; nothing was saved.",
        "The contract has %(count)d problems; nothing was saved.",
        len(problems),
    ) % {"count": len(problems)}
    return InvalidContractFile(
        message,
        [str(problem) for problem in problems],
        [(problem.path, problem.message) for problem in problems],
    )


def problems_brought(
    before: dict[str, Any], after: dict[str, Any], contract: Contract, written: Iterable[Path]
) -> list[Problem]:
    """The problems of ``after`` the change is answerable for: every one at or under a place
    it wrote (``written``: places, ``("themes", 0, "actions", 3)`` or ``("period",)``), and any
    other the contract did not have before (a person removed while a group still names them).
    """
    places = [tuple(place) for place in written]
    had = {str(problem) for problem in contract_file_problems(before, contract=contract)}
    return [
        problem
        for problem in contract_file_problems(after, contract=contract)
        if any(tuple(problem.path[: len(place)]) == place for place in places)
        or str(problem) not in had
    ]
