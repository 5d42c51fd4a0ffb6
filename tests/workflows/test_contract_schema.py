"""The contract file's JSON Schema: valid, shipped, faithful to the models, and fully told.

People writing contract files validate them against the schema in their editor, without
Accord: the demo file must pass there too, and the limits the schema states must be those of
the columns the values end up in.
"""

import json
from importlib import resources

import pytest
from jsonschema import Draft202012Validator

from workflows.contract_file import FORMAT, SCHEMA_PATH
from workflows.contract_file.schema import SPECIFIC
from workflows.models import (
    Action,
    Civility,
    Contract,
    ContractKind,
    Indicator,
    Organisation,
    Signatory,
    SignatoryKind,
    Theme,
    User,
    WorkingGroup,
)

SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))

# Keywords that say something of the value (rather than where to look next): each has a
# message of its own in workflows/contract_file/schema.py. Adding one to the schema means
# adding its message there, then here.
TOLD = {
    "type",
    "required",
    "additionalProperties",
    "const",
    "enum",
    "pattern",
    "maxLength",
    "minimum",
    "maximum",
    "format",
    "minItems",
    "contains",
}
NOT_ASSERTIONS = {"$schema", "$ref", "$defs", "$comment", "title", "description"}
NOT_ASSERTIONS |= {"properties", "items", "if", "then"}


def at(place: str) -> dict:
    """The subschema for a place such as ``themes[].actions[].code``, references followed."""
    node = SCHEMA
    for step in place.replace("[]", ".[]").split("."):
        while "$ref" in node and "properties" not in node and "items" not in node:
            node = SCHEMA["$defs"][node["$ref"].removeprefix("#/$defs/")]
        node = node["items"] if step == "[]" else node["properties"][step]
    if "$ref" in node:  # a reference with siblings: both apply
        node = {**SCHEMA["$defs"][node["$ref"].removeprefix("#/$defs/")], **node}
    return node


def keywords(node: object) -> set[str]:
    if isinstance(node, list):
        return set().union(*(keywords(item) for item in node))
    if not isinstance(node, dict):
        return set()
    found = set(node)
    for key, value in node.items():
        if key in {"properties", "$defs"}:
            found |= keywords(list(value.values()))
        elif key in {"items", "then", "contains"}:  # "if" only tests, never refuses
            found |= keywords(value)
    return found


def test_the_schema_is_a_draft_2020_12_schema():
    Draft202012Validator.check_schema(SCHEMA)


def test_the_schema_ships_inside_the_package():
    shipped = resources.files("workflows.contract_file") / "contract.schema.json"
    assert shipped.is_file()
    assert json.loads(shipped.read_text(encoding="utf-8")) == SCHEMA


def test_the_demo_file_passes_in_an_editor_as_well(scenario):
    # jsonschema's own format checks, as an editor would apply them: no Accord code involved.
    validator = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
    assert [error.message for error in validator.iter_errors(scenario)] == []


def test_the_schema_names_the_format_the_kinds_and_the_signatory_kinds_of_the_models():
    assert at("format")["const"] == FORMAT
    assert at("kind")["enum"] == ContractKind.values
    assert at("signatories[].kind")["enum"] == SignatoryKind.values
    assert at("people[].civility")["enum"] == Civility.values


@pytest.mark.parametrize(
    ("place", "model", "field"),
    [
        ("reference", Contract, "reference"),
        ("title", Contract, "title"),
        ("territory.name", Contract, "territory_name"),
        ("organisations[].code", Organisation, "code"),
        ("organisations[].name", Organisation, "name"),
        ("organisations[].category", Organisation, "category"),
        ("people[].username", User, "username"),
        ("people[].first_name", User, "first_name"),
        ("people[].last_name", User, "last_name"),
        # A former full_name that is no name goes to the position.
        ("people[].full_name", User, "position"),
        ("people[].email", User, "email"),
        ("people[].title", User, "position"),
        ("people[].organisation", Organisation, "code"),
        ("themes[].code", Theme, "code"),
        ("themes[].title", Theme, "title"),
        ("themes[].actions[].code", Action, "code"),
        ("themes[].actions[].title", Action, "title"),
        ("themes[].actions[].working_group", WorkingGroup, "code"),
        ("themes[].actions[].indicators[]", Indicator, "label"),
        ("working_groups[].code", WorkingGroup, "code"),
        ("working_groups[].title", WorkingGroup, "title"),
        ("signatories[].mandate.reference", Signatory, "mandate_reference"),
    ],
)
def test_the_schema_limits_lengths_as_the_columns_do(place, model, field):
    assert at(place)["maxLength"] == model._meta.get_field(field).max_length


def test_every_rule_of_the_schema_has_a_message_of_its_own():
    assert keywords(SCHEMA) - NOT_ASSERTIONS == TOLD


@pytest.mark.parametrize(("place", "keyword"), sorted(SPECIFIC))
def test_every_specific_message_is_for_a_rule_the_schema_has(place, keyword):
    node = at(place)
    if keyword == "required":
        parent, _dot, field = place.rpartition(".")
        assert field in at(parent)["required"]
    elif keyword == "blank":
        assert node["pattern"] == "\\S"
    else:
        assert keyword in node
