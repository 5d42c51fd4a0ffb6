"""The contract as a convention: its preamble ("Vu …") and its articles, per contract, from a
default text per kind of contract.

The defaults are plain text files beside this module (``cls.txt``, ``ctg.txt``, ``csf.txt``,
``other.txt``), not Python strings nor database rows: they are legal text that a legal
department reads and amends as text, their changes read as plain diffs in review, and they
ship with the version of Accord that renders them. A contract copies its kind's text when it
is created, so that changing a default later never changes a contract already written, let
alone one signed; a contract with no text of its own (written before conventions existed)
reads its kind's default.

A file holds the preamble, then each article as a line ``## Title`` followed by its text.
Paragraphs are separated by a blank line; a paragraph whose lines all start with ``- `` is a
list.

Texts name the contract's data with placeholders, ``{territoire}``, from the closed list
``PLACEHOLDERS``: a plain substitution rather than Django's template language, so that what a
coordinator types is never code and reaches nothing but these values; an unknown name is
refused when a coordinator saves the text, and printed as written otherwise. A placeholder
alone in its paragraph that stands for a list (``{partenaires}``, ``{comite}``…) becomes that
list in the document.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from django.db.models import Count, Q, Sum
from django.utils import formats
from django.utils.formats import date_format
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from ..models import (
    ActionStatus,
    Contract,
    ContractKind,
    FundingLine,
    FundingStatus,
    Organisation,
    SteeringCommittee,
    User,
)

FOLDER = Path(__file__).resolve().parent
DEFAULT_FILES = {
    ContractKind.CLS: "cls.txt",
    ContractKind.CTG: "ctg.txt",
    ContractKind.CSF: "csf.txt",
    ContractKind.OTHER: "other.txt",
}
TITLE_MAX_LENGTH = 200
TEXT_MAX_LENGTH = 20_000
ARTICLES_MAX = 50
PLACEHOLDER_RE = re.compile(r"\{([a-z_]+)\}")
NBSP = "\u00a0"
DASH = "\u2013"  # the en dash between a code and its title


@dataclass(frozen=True)
class Placeholder:
    """A name a convention's text may use, what it stands for, and whether it is a list."""

    name: str
    description: Promise
    is_list: bool = False

    @property
    def token(self) -> str:
        return "{" + self.name + "}"


PLACEHOLDERS = {
    placeholder.name: placeholder
    for placeholder in (
        Placeholder("titre", _("the contract's title")),
        Placeholder("reference", _("the contract's reference")),
        Placeholder("territoire", _("the territory's name")),
        Placeholder("communes", _("the number of communes of the territory")),
        Placeholder("habitants", _("the territory's population")),
        Placeholder("date_debut", _("the first day of the period, as 1er septembre 2019")),
        Placeholder("date_fin", _("the last day of the period")),
        Placeholder("duree", _("the period's length, as 3 ans et 4 mois")),
        Placeholder("signataires", _("the signatory organisations, one after the other")),
        Placeholder("president_comite", _("the chair of the steering committee")),
        Placeholder(
            "deliberation",
            _("the council deliberation, as n° DCC-2019-42 du 16 octobre 2019, once recorded"),
        ),
        Placeholder(
            "diagnostic", _("the shared diagnosis: who wrote it and when it was finalised")
        ),
        Placeholder("synthese_diagnostic", _("the summary of the shared diagnosis")),
        Placeholder("axes", _("the themes and their number of actions"), is_list=True),
        Placeholder(
            "partenaires",
            _("the partners with the funding each brings, and the total"),
            is_list=True,
        ),
        Placeholder("comite", _("the members of the steering committee"), is_list=True),
        Placeholder("groupes_de_travail", _("the working groups and their leads"), is_list=True),
    )
}


@dataclass(frozen=True)
class Article:
    title: str
    text: str


@dataclass(frozen=True)
class ConventionText:
    """A convention as written, placeholders included: what a coordinator edits, what the
    contract file carries."""

    preamble: str
    articles: tuple[Article, ...]

    def as_data(self) -> dict[str, Any]:
        """The contract file's ``convention`` object (and the API's)."""
        return {
            "preamble": self.preamble,
            "articles": [{"title": a.title, "text": a.text} for a in self.articles],
        }

    @property
    def sha256(self) -> str:
        """Fingerprint of the text (canonical JSON), recorded in the history when it changes
        and sent back by an editor to say which text its changes start from."""
        canonical = json.dumps(self.as_data(), ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()

    @classmethod
    def of_data(cls, data: dict[str, Any]) -> ConventionText:
        return cls(
            preamble=data.get("preamble") or "",
            articles=tuple(
                Article(str(item.get("title") or ""), str(item.get("text") or ""))
                for item in data.get("articles") or []
            ),
        )


def parse_default(text: str) -> ConventionText:
    """A default file's text: the preamble, then one article per ``## Title`` line."""
    preamble, *parts = re.split(r"^## ", text, flags=re.MULTILINE)
    articles = []
    for part in parts:
        title, _newline, body = part.partition("\n")
        articles.append(Article(title.strip(), body.strip()))
    return ConventionText(preamble.strip(), tuple(articles))


@cache
def default_convention(kind: str) -> ConventionText:
    """The kind's default text, as its file in this folder writes it."""
    name = DEFAULT_FILES.get(ContractKind(kind), DEFAULT_FILES[ContractKind.OTHER])
    return parse_default((FOLDER / name).read_text(encoding="utf-8"))


def stored_convention(contract: Contract) -> ConventionText | None:
    """The contract's own text, None when it has none (a contract written before them)."""
    if not contract.convention_articles:
        return None
    return ConventionText.of_data(
        {"preamble": contract.convention_preamble, "articles": contract.convention_articles}
    )


def convention_of(contract: Contract) -> ConventionText:
    """The contract's text, else its kind's default."""
    return stored_convention(contract) or default_convention(contract.kind)


def unknown_placeholders(text: str) -> list[str]:
    """The ``{names}`` of ``text`` that are no placeholder, each once, in order."""
    return list(
        dict.fromkeys(
            match.group(0)
            for match in PLACEHOLDER_RE.finditer(text)
            if match.group(1) not in PLACEHOLDERS
        )
    )


# --- The text as the document prints it -----------------------------------------------


@dataclass(frozen=True)
class Block:
    """A paragraph (``text``, its lines kept), or a list (``items``)."""

    text: str = ""
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class PrintedArticle:
    number: int
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class PrintedConvention:
    preamble: tuple[Block, ...]
    articles: tuple[PrintedArticle, ...]


@dataclass
class _Values:
    """What the placeholders stand for, for one contract."""

    text: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[Block]] = field(default_factory=dict)


def french_spacing(text: str) -> str:
    """French typography: a non-breaking space before ; : ! ? » and after «, so that a
    line never starts with one of them."""
    text = re.sub(r"[ \t]+([;:!?»])", NBSP + r"\1", text)
    return re.sub(r"«[ \t]+", "«" + NBSP, text)


def french_date(day: datetime.date) -> str:
    """ "1er septembre 2019": the first of the month as French writes it."""
    text = date_format(day, "j F Y")
    return "1er" + text[1:] if day.day == 1 else text


def euros(amount: Decimal) -> str:
    grouped = formats.number_format(amount, decimal_pos=2, use_l10n=True, force_grouping=True)
    return f"{grouped}{NBSP}€"


def _grouped(number: int | None) -> str:
    if number is None:
        return "—"
    return formats.number_format(number, use_l10n=True, force_grouping=True)


def duration_text(start: datetime.date, end: datetime.date) -> str:
    """The period's length in years and months ("3 ans et 4 mois"), counting its last day."""
    after = end + datetime.timedelta(days=1)
    months = (after.year - start.year) * 12 + after.month - start.month
    if after.day < start.day:
        months -= 1
    years, months = divmod(max(months, 0), 12)
    parts = []
    if years:
        parts.append(f"{years}{NBSP}an" + ("s" if years > 1 else ""))
    if months or not years:
        parts.append(f"{months}{NBSP}mois")
    return " et ".join(parts)


def _enumeration(names: Iterable[str]) -> str:
    names = list(names)
    if len(names) < 2:
        return "".join(names)
    return ", ".join(names[:-1]) + " et " + names[-1]


def _person(person: User) -> str:
    organisation = f" ({person.organisation.name})" if person.organisation else ""
    return person.name_with_position + organisation


def placeholder_values(contract: Contract) -> _Values:
    """Every placeholder's value for ``contract``, read from the database once."""
    values = _Values()
    signatories = contract.signatories.select_related("organisation").order_by("order", "pk")
    committee = (
        SteeringCommittee.objects.select_related("chair__organisation")
        .prefetch_related("members__organisation")
        .filter(contract=contract)
        .first()
    )
    if contract.deliberation_number and contract.deliberation_date:
        deliberation = (
            f"n°{NBSP}{contract.deliberation_number} du {french_date(contract.deliberation_date)}"
        )
    else:
        deliberation = "n°\u00a0… du …"
    diagnosis = "le diagnostic territorial partagé"
    if contract.diagnosis_finalised_on is not None:
        diagnosis += f" finalisé le {french_date(contract.diagnosis_finalised_on)}"
    if contract.diagnosis_author is not None:
        diagnosis += f" ({contract.diagnosis_author.name})"
    values.text = {
        "titre": contract.title,
        "reference": contract.reference,
        "territoire": contract.territory_name,
        "communes": _grouped(contract.territory_communes),
        "habitants": _grouped(contract.territory_population),
        "date_debut": french_date(contract.period_start),
        "date_fin": french_date(contract.period_end),
        "duree": duration_text(contract.period_start, contract.period_end),
        "signataires": _enumeration(s.organisation.name for s in signatories),
        "president_comite": committee.chair.name_with_position if committee else "…",
        "deliberation": deliberation,
        "diagnostic": diagnosis,
        "synthese_diagnostic": contract.diagnosis_summary,
    }
    values.lists = {
        "axes": _themes(contract),
        "partenaires": _partners(contract),
        "comite": (
            [
                Block(
                    items=tuple(
                        _person(member)
                        + (" — présidence" if member.pk == committee.chair_id else "")
                        for member in sorted(
                            committee.members.all(),
                            key=lambda m: (m.pk != committee.chair_id, m.last_name, m.pk),
                        )
                    )
                )
            ]
            if committee
            else []
        ),
        "groupes_de_travail": _working_groups(contract),
    }
    for name, blocks in values.lists.items():
        values.text[name] = " ; ".join(
            part for block in blocks for part in (block.items or (block.text,))
        )
    return values


def _themes(contract: Contract) -> list[Block]:
    held = ~Q(actions__status=ActionStatus.REMOVED)
    themes = contract.themes.annotate(actions_count=Count("actions", filter=held)).order_by(
        "position"
    )
    items = []
    for theme in themes:
        count = theme.actions_count
        actions = f"{count}{NBSP}action" + ("s" if count > 1 else "")
        items.append(f"{theme.code} {DASH} {theme.title} ({actions})")
    return [Block(items=tuple(items))] if items else []


def _partners(contract: Contract) -> list[Block]:
    """Each partner organisation with what it funds (secured and requested), and the total."""
    lines = FundingLine.objects.filter(action__contract=contract)
    funding: dict[int, dict[str, Decimal]] = {}
    for funder, status, total in (
        lines.values_list("funder_id", "status").annotate(total=Sum("amount")).order_by()
    ):
        funding.setdefault(funder, {}).setdefault(status or "", Decimal("0"))
        funding[funder][status or ""] += total
    # The partners named anywhere in the contract: its organisations and its funders.
    organisations = (
        Organisation.objects.filter(Q(contracts=contract) | Q(pk__in=lines.values("funder_id")))
        .distinct()
        .order_by("name")
    )
    items = []
    for organisation in organisations:
        by_status = funding.get(organisation.pk)
        if not by_status:
            items.append(f"{organisation.name} : partenaire, sans financement inscrit")
            continue
        detail = [
            f"{euros(by_status[status])} {word}"
            for status, word in (
                (FundingStatus.SECURED, "acquis"),
                (FundingStatus.REQUESTED, "sollicités"),
            )
            if by_status.get(status)
        ]
        text = f"{organisation.name} : {euros(sum(by_status.values(), Decimal('0')))}"
        items.append(text + (f" (dont {', '.join(detail)})" if detail else ""))
    total = lines.aggregate(total=Sum("amount"))["total"] or Decimal("0")
    blocks = [Block(items=tuple(items))] if items else []
    blocks.append(Block(text=f"Montant total des financements du plan d'actions : {euros(total)}."))
    return blocks


def _natural_key(code: str) -> list[tuple[int, int | str]]:
    """GT2 before GT10."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", code)]


def _working_groups(contract: Contract) -> list[Block]:
    groups = sorted(
        contract.working_groups.prefetch_related("leads__organisation"),
        key=lambda group: _natural_key(group.code),
    )
    items = []
    for group in groups:
        leads = _enumeration(
            lead.formal_name + (f" ({lead.organisation.name})" if lead.organisation else "")
            for lead in group.leads.all()
        )
        led = f", animé par {leads}" if leads else ""
        items.append(f"{group.code} {DASH} {group.title}{led}")
    return [Block(items=tuple(items))] if items else []


def _fill(text: str, values: _Values) -> str:
    return PLACEHOLDER_RE.sub(lambda m: values.text.get(m.group(1), m.group(0)), text)


def _blocks(text: str, values: _Values) -> tuple[Block, ...]:
    blocks: list[Block] = []
    for paragraph in re.split(r"\n[ \t]*\n", text.strip()):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        alone = PLACEHOLDER_RE.fullmatch(paragraph)
        if alone and alone.group(1) in values.lists:
            blocks += values.lists[alone.group(1)] or [Block(text="Néant.")]
            continue
        lines = [line.strip() for line in paragraph.splitlines()]
        if all(line.startswith("- ") for line in lines):
            items = tuple(french_spacing(_fill(line[2:].strip(), values)) for line in lines)
            blocks.append(Block(items=items))
        else:
            blocks.append(Block(text=french_spacing(_fill("\n".join(lines), values))))
    return tuple(blocks)


def printed_convention(contract: Contract) -> PrintedConvention:
    """The contract's convention as its document prints it: placeholders filled, paragraphs
    and lists apart, articles numbered."""
    text = convention_of(contract)
    values = placeholder_values(contract)
    return PrintedConvention(
        preamble=_blocks(text.preamble, values),
        articles=tuple(
            PrintedArticle(number, french_spacing(article.title), _blocks(article.text, values))
            for number, article in enumerate(text.articles, start=1)
        ),
    )
