"""The API's parsers: DRF's own, refusing a NUL character anywhere in what they read.

PostgreSQL stores no NUL (``\\u0000``) in a text: a body holding one would reach the database
and fail there as a server error. Refused here, for every view at once, as bad input (400)
naming its places.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework import exceptions, parsers

from workflows.contract_file.parsing import nul_character_paths
from workflows.contract_file.problems import place


def refuse_nul_characters(data: Any) -> None:
    """Nothing when ``data`` holds no NUL character; otherwise a 400 naming every place."""
    if hasattr(data, "lists"):  # a QueryDict: its keys and every value of each
        data = dict(data.lists())
    paths = list(nul_character_paths(data))
    if paths:
        errors = {
            place(path) or "body": [_("a NUL character (\\u0000) is not allowed in a text")]
            for path in paths
        }
        raise exceptions.ValidationError(errors)


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        refuse_nul_characters(data)
        return data


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        refuse_nul_characters(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        result = super().parse(stream, media_type, parser_context)
        refuse_nul_characters(result.data)
        return result
