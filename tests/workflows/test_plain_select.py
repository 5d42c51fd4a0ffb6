"""``PlainSelect`` writes the select Django's templates write: the same elements, attributes
and text, in the same order (only the whitespace between tags and the attributes' order
differ, which no browser or screen reader tells apart)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django import forms

from workflows.forms import PlainSelect

CHOICES = [
    ("", "All <kinds>"),
    ("a", 'A & "b"'),
    (3, "three"),
    ("Group", [("g1", "G1"), ("g2", "G2")]),
    ("z", "Zed"),
]


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.items: list[tuple] = []

    def handle_starttag(self, tag, attrs):
        self.items.append(("start", tag, sorted(attrs, key=lambda pair: pair[0])))

    def handle_endtag(self, tag):
        self.items.append(("end", tag))

    def handle_data(self, data):
        if data.strip():
            self.items.append(("text", data))


def elements(html: str) -> list[tuple]:
    parser = _Elements()
    parser.feed(html)
    return parser.items


@pytest.mark.parametrize("value", [None, "", "a", 3, "g2", ["a"], "unknown"])
@pytest.mark.parametrize(
    "attrs",
    [None, {"id": "id_kind", "aria-describedby": "id_kind_helptext", "required": True}],
)
def test_a_plain_select_is_the_select_django_writes(value, attrs):
    django_way = forms.Select(choices=CHOICES).render("kind", value, attrs)
    plain = PlainSelect(choices=CHOICES).render("kind", value, attrs)
    assert elements(plain) == elements(django_way)
