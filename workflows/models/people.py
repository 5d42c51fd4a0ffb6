"""Organisations and the people who act for them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Organisation(models.Model):
    """A partner institution: the local authority, the ARS, the CAF, a hospital..."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=255)
    category = models.CharField(_("category"), max_length=40, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self) -> str:
        return self.name


class Civility(models.TextChoices):
    """How a person is addressed; the values are written the French way, in files too."""

    MME = "Mme", _("Ms")
    M = "M.", _("Mr")


class User(AbstractUser):
    """A person of a partner organisation; every human step of a contract is theirs.

    The name (``civility``, ``first_name``, ``last_name``) says who the person is, the
    ``position`` what they do; pages and e-mails name people by ``display_name`` ("Claire
    Martin"), formal statements (the signatures, a representation) by ``formal_name`` ("Mme
    Claire Martin"), and a party to the contract by ``name_with_position`` ("Mme Claire
    Martin, cheffe de projet ARS"). The username only stands in for a name nobody gave.
    """

    civility = models.CharField(_("civility"), max_length=4, choices=Civility, blank=True)
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisation"),
        on_delete=models.PROTECT,
        related_name="people",
        null=True,
        blank=True,
    )
    position = models.CharField(
        pgettext_lazy("a person's job", "position"),
        max_length=255,
        blank=True,
        help_text=_("The job title, never the name: the name has its own fields."),
    )

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")

    def __str__(self) -> str:
        return self.display_name

    @property
    def has_name(self) -> bool:
        return bool(self.get_full_name())

    @property
    def display_name(self) -> str:
        """ "Claire Martin"; the username when no name is known."""
        return self.get_full_name() or self.username

    @property
    def formal_name(self) -> str:
        """ "Mme Claire Martin": the name with its civility, when both are known."""
        name = self.get_full_name()
        if not name:
            return self.username
        return f"{self.get_civility_display()} {name}" if self.civility else name

    @property
    def name_with_position(self) -> str:
        """ "Mme Claire Martin, cheffe de projet ARS"."""
        return ", ".join(part for part in (self.formal_name, self.position.strip()) if part)


class VisaStep(models.Model):
    """One person's internal visa in a circuit, at its rank: the lowest gives it first."""

    person = models.ForeignKey(
        "User", verbose_name=_("person giving the visa"), on_delete=models.PROTECT, related_name="+"
    )
    order = models.PositiveIntegerField(_("rank in the circuit"), default=1)

    class Meta:
        abstract = True
        ordering = ["order", "pk"]

    def __str__(self) -> str:
        return f"{self.order}. {self.person}"


class OrganisationVisa(VisaStep):
    """The organisation's visa circuit (legal, then finance...): the default for its
    signatories, before they sign."""

    organisation = models.ForeignKey(
        Organisation, verbose_name=_("organisation"), on_delete=models.CASCADE, related_name="visas"
    )

    class Meta(VisaStep.Meta):
        verbose_name = _("internal visa of the organisation")
        verbose_name_plural = _("internal visas of the organisation")

    def clean(self) -> None:
        if (
            self.person_id
            and self.organisation_id
            and self.person.organisation_id != self.organisation_id
        ):
            raise ValidationError(
                {"person": _("Only a person of the organisation gives its internal visa.")}
            )


def organisation_visa_holders(organisation_id: int) -> list[int]:
    """The people of the organisation's default circuit, in order."""
    return list(
        OrganisationVisa.objects.filter(organisation_id=organisation_id)
        .order_by("order", "pk")
        .values_list("person_id", flat=True)
    )


# --- What a former full_name says ---------------------------------------------------------
# Before people had a civility, a first and a last name, one free text ("full_name") said who
# they were; most files, the demo's among them, put a position there ("Chargée de mission
# animation territoriale ARS"). The contract import still reads that field in the files written
# before, and migration 0011 read it in the databases; both by the rules below.

# Civilities as written before a name in a free text ("Mme Claire Martin", "Monsieur Dupont").
CIVILITY_WORDS = {
    "mme": Civility.MME,
    "mme.": Civility.MME,
    "madame": Civility.MME,
    "mlle": Civility.MME,
    "mademoiselle": Civility.MME,
    "m.": Civility.M,
    "monsieur": Civility.M,
    "mr": Civility.M,
    "mr.": Civility.M,
}
# A word of a name: letters, parts joined by a hyphen or an apostrophe ("Jean-Marc", "N'Diaye").
NAME_WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")
POSITION_MAX_LENGTH = 255


@dataclass(frozen=True)
class PersonName:
    civility: str
    first_name: str
    last_name: str


def _is_name_word(word: str) -> bool:
    """A capital first, and not all in capitals: "Martin", not "de" nor the acronym "ARS"."""
    letters = [character for character in word if character.isalpha()]
    return (
        NAME_WORD.fullmatch(word) is not None
        and word[0].isupper()
        and not (len(letters) > 1 and all(letter.isupper() for letter in letters))
    )


def name_in_full_name(text: str) -> PersonName | None:
    """The name a former ``full_name`` holds, or None when it reads as a position.

    A name is a civility and one to four name words ("Mme Martin"), or two to four name words
    ("Claire Martin", "Jean-Marc Lacombe"); the first word is then the first name. Anything
    else ("Directrice de la DDCSPP", "Coordinateur CLS", "M. le Maire") is a position.
    """
    words = text.split()
    civility = CIVILITY_WORDS.get(words[0].casefold(), "") if words else ""
    if civility:
        words = words[1:]
    minimum = 1 if civility else 2
    if not minimum <= len(words) <= 4 or not all(_is_name_word(word) for word in words):
        return None
    if len(words) == 1:
        return PersonName(civility, "", words[0])
    return PersonName(civility, words[0], " ".join(words[1:]))


def position_with(position: str, text: str) -> str:
    """The position once a former ``full_name`` that told a position is added to it.

    The longer wording is kept when one holds the other ("Président de la Communauté de
    communes" and "Président"); otherwise the ``full_name`` comes first, as it was the text
    shown, and the former title follows in brackets: nothing said is lost.
    """
    position, text = position.strip(), text.strip()
    if not text or text.casefold() in position.casefold():
        return position
    if not position or position.casefold() in text.casefold():
        merged = text
    else:
        merged = f"{text} ({position})"
    if len(merged) > POSITION_MAX_LENGTH:
        merged = merged[: POSITION_MAX_LENGTH - 1].rstrip() + "…"
    return merged


def fields_with_full_name(
    full_name: str,
    *,
    civility: str = "",
    first_name: str = "",
    last_name: str = "",
    position: str = "",
) -> dict[str, str]:
    """A person's name and position once a former ``full_name`` is read beside them.

    The fields given win: a name in ``full_name`` fills the name only when none is given (and
    the civility when it is the same name); a ``full_name`` that tells a position, or another
    name than the one given, goes to the position.
    """
    fields = {
        "civility": civility,
        "first_name": first_name,
        "last_name": last_name,
        "position": position,
    }
    name = name_in_full_name(full_name)
    given = " ".join(part for part in (first_name, last_name) if part).casefold()
    if name is not None and not given:
        fields.update(
            civility=civility or name.civility,
            first_name=name.first_name,
            last_name=name.last_name,
        )
    elif name is not None and " ".join(
        part for part in (name.first_name, name.last_name) if part
    ).casefold() in {given, last_name.casefold()}:
        fields["civility"] = civility or name.civility
    else:
        fields["position"] = position_with(position, full_name)
    return fields
