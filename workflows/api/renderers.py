"""The API's renderers: JSON, and DRF's browsable API without its inline <style>.

The browsable API puts Pygments' colours for code blocks in a <style> element of the page,
which the Content-Security-Policy (style-src 'self') refuses and reports; without them the
code blocks of the descriptions are plain, the page otherwise unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import renderers


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    def get_context(
        self, data: Any, accepted_media_type: str | None, renderer_context: Mapping[str, Any]
    ) -> dict[str, Any]:
        context = super().get_context(data, accepted_media_type, renderer_context)
        context["code_style"] = None  # base.html writes <style> only when it has a value
        return context
