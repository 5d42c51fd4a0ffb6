"""Reading and checking a contract file (format ``accord.contract/1``), without writing anything.

An import is all or nothing, and a coordinator fixes a file in one go only if every problem is
reported at once, each with its place in the file (``themes[2].actions[4].working_group``) and
in the reader's language. The structure (fields, types, formats, lengths) is the JSON Schema
``contract.schema.json``, checked by jsonschema (``schema``); what a schema cannot say, how the
parts refer to each other and what the database already holds, is code (``consistency``).

- ``parsing``: bytes (JSON or YAML) -> document; the document's digest.
- ``schema``: the schema, and jsonschema's findings as translated problems.
- ``consistency``: references, unique codes, signatories, committee, period, database.
- ``amounts``: euros as exact decimals.
- ``export``: a contract in the database -> its contract file (the import's way back).
- ``problems``: a problem's place, and the order problems are told in.
"""

from __future__ import annotations

from ..models import Contract
from .amounts import amount_of
from .consistency import consistency_problems, reference_taken_error, reference_taken_problem
from .export import EXPORT_FORMATS, FORMAT, contract_file_of, contract_file_text
from .parsing import contract_file_digest, parse_contract_file
from .problems import Path, Problem, in_file_order, one_per_place, place, root_problems
from .schema import SCHEMA_PATH, structure_problems

__all__ = [
    "EXPORT_FORMATS",
    "FORMAT",
    "SCHEMA_PATH",
    "Path",
    "Problem",
    "amount_of",
    "contract_file_digest",
    "contract_file_of",
    "contract_file_problems",
    "contract_file_text",
    "parse_contract_file",
    "place",
    "reference_taken_error",
    "reference_taken_problem",
    "validate_contract_file",
]


def validate_contract_file(document: object) -> list[str]:
    """Every problem of a contract file, each as ``"<place>: <message>"``; empty when sound.

    The problems come in the order of their places in the file, one per place: the first one
    found there, the schema's before the cross-references'. Reads the database only to refuse
    a reference already taken and an existing account of another organisation than the file
    says.
    """
    if not isinstance(document, dict):
        return root_problems(document)
    return [str(problem) for problem in contract_file_problems(document)]


def contract_file_problems(document: dict, *, contract: Contract | None = None) -> list[Problem]:
    """Every problem of a contract file as a ``Problem`` (its place, its message), in file
    order, one per place. ``contract``: the contract the document describes when it exists
    already (a draft written in Accord, checked after each change), whose reference is its
    own."""
    problems = [
        *structure_problems(document),
        *consistency_problems(document, contract=contract),
    ]
    return in_file_order(one_per_place(problems), document)
