"""Content-Security-Policy: every page says script-src and style-src 'self', and no page
template has anything inline that the policy would refuse (tests/browser/test_csp.py loads the
main pages in Chromium and counts the violations)."""

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent
# Not pages: e-mails (their inline styles are for mail readers, which load no stylesheet) and
# the sources fpdf2 lays out into PDF documents.
NOT_PAGES = {
    "notifications/templates/notifications/email",
    "templates/signatures/contract_document.html",
    "templates/signatures/contract_document_annexes.html",
    "templates/signatures/amendment_document.html",
}
INLINE = {
    "inline <script>": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "event handler attribute": re.compile(r"\son[a-z]+\s*=", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
    "style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "<style> element": re.compile(r"<style[\s>]", re.IGNORECASE),
}


def page_templates() -> list[Path]:
    found = [
        path
        for folder in [ROOT / "templates", *ROOT.glob("*/templates")]
        for path in folder.rglob("*.html")
        if not any(str(path.relative_to(ROOT)).startswith(skip) for skip in NOT_PAGES)
    ]
    assert len(found) > 40  # the scan found the templates
    return found


def test_no_page_template_has_an_inline_script_handler_or_style():
    found = [
        f"{path.relative_to(ROOT)}: {what}"
        for path in page_templates()
        for what, pattern in INLINE.items()
        if pattern.search(path.read_text())
    ]
    assert found == []


@pytest.mark.django_db
def test_pages_carry_the_policy(client, coordinator):
    client.force_login(coordinator)
    policy = client.get(reverse("workflows:contract_list"))["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy


@pytest.mark.django_db
def test_the_flow_diagram_opened_alone_may_use_its_own_style_and_nothing_else(
    client, contract, coordinator
):
    client.force_login(coordinator)
    chart = client.get(reverse("workflows:contract_flow_chart", args=[contract.pk]))
    assert chart.status_code == 200
    policy = sorted(part.strip() for part in chart["Content-Security-Policy"].split(";"))
    assert policy == ["default-src 'none'", "style-src 'unsafe-inline'"]


def test_the_server_error_page_takes_its_style_from_a_file(settings):
    settings.DEBUG = False
    html = render_to_string("500.html")
    assert '<link rel="stylesheet" href="/static/error.css">' in html
    assert finders.find("error.css")
