"""Finishing touches to the OpenAPI document (drf-spectacular postprocessing hooks): what holds
for every operation, said once here rather than on each view."""

from __future__ import annotations

from typing import Any

ERROR_OUTPUT = {"$ref": "#/components/schemas/ErrorOutput"}


def empty_query_values_are_absent(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Every optional query parameter says ``allowEmptyValue``: the API reads an empty value
    (``?status=``, as an HTML form sends an unset filter) as no value, the filter or the
    default it would have without it. DRF's serializers and Django's forms, which read the
    filters, do so; the few views that read a parameter themselves do the same
    (tests/workflows/test_api_schema.py holds them to it)."""
    for operation in _operations(result):
        for parameter in operation.get("parameters", []):
            if parameter.get("in") == "query" and not parameter.get("required"):
                parameter["allowEmptyValue"] = True
    return result


def a_nul_character_is_a_400(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Every operation may answer 400: a NUL character in its path or query string is refused
    before any view (workflows.middleware.RefuseNulCharacters), in the API's JSON error."""
    for operation in _operations(result):
        operation["responses"].setdefault(
            "400",
            {
                "description": "A NUL character in the path or the query string.",
                "content": {"application/json": {"schema": ERROR_OUTPUT}},
            },
        )
    return result


def _operations(result: dict[str, Any]):
    for path in result.get("paths", {}).values():
        yield from path.values()
