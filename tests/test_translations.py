"""The French catalogue: complete, faithful to its placeholders, compiled, and in use.

French is Accord's default language. A msgid left untranslated shows English to French
users, a placeholder lost or renamed breaks the message at run time, and a forgotten
``compilemessages`` leaves the pages on the previous translations: each of these fails here.
"""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import polib
import pytest
from django.utils import translation

from workflows import services
from workflows.errors import Conflict
from workflows.models import (
    ActionStatus,
    Contract,
    ContractKind,
    ContractStatus,
    SignatoryKind,
)

LC_MESSAGES = Path(__file__).resolve().parent.parent / "locale" / "fr" / "LC_MESSAGES"
PO_PATH = LC_MESSAGES / "django.po"
MO_PATH = LC_MESSAGES / "django.mo"

# %(name)s / %(name)d ..., bare %s / %d, and str.format {name} placeholders.
PLACEHOLDER = re.compile(r"%\([^)]+\)[-#0 +]*\d*(?:\.\d+)?[sdifrx]|%[sdifrx]|\{\w*\}")
NBSP = "\u00a0"
APOSTROPHE = "\u2019"  # French text uses the typographic apostrophe


def _catalogue() -> polib.POFile:
    return polib.pofile(str(PO_PATH))


def _entries() -> list[polib.POEntry]:
    return [entry for entry in _catalogue() if not entry.obsolete]


def _placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def _translations(entry: polib.POEntry) -> list[tuple[str, str]]:
    """(source, translation) pairs: msgstr[0] renders msgid, msgstr[1] msgid_plural."""
    if entry.msgid_plural:
        return [
            (entry.msgid, entry.msgstr_plural.get(0, "")),
            (entry.msgid_plural, entry.msgstr_plural.get(1, "")),
        ]
    return [(entry.msgid, entry.msgstr)]


def _label(entry: polib.POEntry) -> str:
    return f"{entry.msgid!r} ({', '.join(f'{f}:{n}' for f, n in entry.occurrences)})"


# --- The catalogue ------------------------------------------------------------------------


def test_the_catalogue_is_french_with_the_french_plural_rule():
    metadata = _catalogue().metadata
    assert metadata["Language"] == "fr"
    assert metadata["Plural-Forms"].replace(" ", "") == "nplurals=2;plural=(n>1);"
    assert "charset=UTF-8" in metadata["Content-Type"]
    assert metadata["Project-Id-Version"].startswith("Accord")


def test_the_catalogue_is_not_empty():
    # A catalogue emptied by mistake would pass every other check of this file.
    assert len(_entries()) > 300


def test_every_entry_is_translated_and_none_is_fuzzy():
    entries = _entries()
    fuzzy = [_label(entry) for entry in entries if "fuzzy" in entry.flags]
    untranslated = [
        _label(entry)
        for entry in entries
        if not all(translated.strip() for _source, translated in _translations(entry))
    ]
    assert not fuzzy, "fuzzy entries:\n" + "\n".join(fuzzy)
    assert not untranslated, "untranslated entries:\n" + "\n".join(untranslated)
    assert not _catalogue().metadata_is_fuzzy, "the header is marked fuzzy"


def test_every_translation_keeps_the_placeholders_of_its_source():
    mismatches = [
        f"{_label(entry)}: {_placeholders(source)} != {_placeholders(translated)}"
        for entry in _entries()
        for source, translated in _translations(entry)
        if _placeholders(source) != _placeholders(translated)
    ]
    assert not mismatches, "\n".join(mismatches)


def test_every_translation_keeps_the_leading_and_trailing_whitespace_of_its_source():
    def edges(text: str) -> tuple[str, str]:
        return text[: len(text) - len(text.lstrip())], text[len(text.rstrip()) :]

    mismatches = [
        _label(entry)
        for entry in _entries()
        for source, translated in _translations(entry)
        if edges(source) != edges(translated)
    ]
    assert not mismatches, "\n".join(mismatches)


def test_french_typography_puts_a_non_breaking_space_before_double_punctuation():
    """« : ; ! ? » take a non-breaking space; a plain one would let the line break there."""
    wrong = [
        f"{_label(entry)}: {translated!r}"
        for entry in _entries()
        for _source, translated in _translations(entry)
        if re.search(r" [:;!?»]|« ", translated)
    ]
    assert not wrong, "\n".join(wrong)


# --- The compiled catalogue ---------------------------------------------------------------


def test_the_compiled_catalogue_is_up_to_date():
    """The .mo answers every .po entry as the .po says: run compilemessages otherwise."""
    assert MO_PATH.exists(), "run: manage.py compilemessages -l fr --ignore=.venv"
    with MO_PATH.open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    stale = []
    for entry in _entries():
        context = entry.msgctxt
        if entry.msgid_plural:
            for count, index in ((1, 0), (2, 1)):
                got = (
                    compiled.npgettext(context, entry.msgid, entry.msgid_plural, count)
                    if context
                    else compiled.ngettext(entry.msgid, entry.msgid_plural, count)
                )
                if got != entry.msgstr_plural[index]:
                    stale.append(f"{_label(entry)} [n={count}]: {got!r}")
        else:
            got = (
                compiled.pgettext(context, entry.msgid)
                if context
                else compiled.gettext(entry.msgid)
            )
            if got != entry.msgstr:
                stale.append(f"{_label(entry)}: {got!r}")
    assert not stale, "the .mo is stale, run compilemessages:\n" + "\n".join(stale)


def test_the_compiled_catalogue_uses_the_french_plural_rule():
    with MO_PATH.open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    singular, plural = "%(counter)s commune", "%(counter)s communes"
    assert compiled.ngettext(singular, plural, 0) == "%(counter)s commune"
    assert compiled.ngettext(singular, plural, 1) == "%(counter)s commune"
    assert compiled.ngettext(singular, plural, 2) == "%(counter)s communes"


# --- In use -------------------------------------------------------------------------------


def test_labels_read_in_french():
    with translation.override("fr"):
        assert ContractStatus.SIGNED.label == "Signé"
        assert ContractStatus.REVIEW.label == "Revue des groupes de travail"
        assert ContractStatus.COMMITTEE.label == "Comité de pilotage"
        assert ContractStatus.SUSPENDED.label == "Suspendu"
        assert ActionStatus.CHANGES_REQUESTED.label == "Modifications demandées"
        assert ActionStatus.VALIDATED.label == "Validée"
        assert ContractKind.CLS.label == "Contrat local de santé (CLS)"
        assert SignatoryKind.MANDATORY.label == "Obligatoire"
        assert translation.gettext("Log in") == "Se connecter"
        assert translation.gettext("Error:") == f"Erreur{NBSP}:"


def test_english_stays_available():
    with translation.override("en"):
        assert ContractStatus.SIGNED.label == "Signed"
        assert translation.gettext("Log in") == "Log in"


@pytest.mark.django_db
def test_a_refusal_from_the_services_is_in_french(contract, coordinator):
    with translation.override("fr"), pytest.raises(Conflict) as refused:
        services.launch_review(contract=contract, actor=coordinator)
    assert refused.value.message == "Le contrat ne comporte aucune action à examiner."


@pytest.mark.django_db
def test_a_refused_transition_names_it_in_french(contract, coordinator):
    Contract.objects.filter(pk=contract.pk).update(status=ContractStatus.SIGNED)
    with translation.override("fr"), pytest.raises(Conflict) as refused:
        services.launch_review(contract=contract, actor=coordinator)
    assert refused.value.message == (
        f'"Lancer la revue" n{APOSTROPHE}est pas possible tant que le contrat est '
        f'à l{APOSTROPHE}état "Signé".'
    )


@pytest.mark.django_db
def test_the_log_in_page_is_in_french_by_default(client):
    page = client.get("/connexion/", HTTP_ACCEPT_LANGUAGE="").content.decode()
    assert '<html lang="fr">' in page
    assert "Se connecter à Accord" in page
    assert "Log in" not in page
