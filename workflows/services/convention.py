"""Writing the contract as a convention: a coordinator adjusts its preamble and articles
while the contract is a draft, or puts back its kind's default text. Each save is recorded in
the history with the text's fingerprint; the text is frozen with the document when the
council's deliberation is recorded, and cannot change after (an amendment changes a signed
contract)."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from ..conventions import (
    ARTICLES_MAX,
    PLACEHOLDERS,
    TEXT_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Article,
    ConventionText,
    convention_of,
    default_convention,
    unknown_placeholders,
)
from ..errors import ApplicationError, Conflict, NotAllowed
from ..history import UnitOfWork
from ..models import Contract, ContractStatus, HistoryEvent, User, is_coordinator

ONLY_A_COORDINATOR = gettext_noop("Only a coordinator of the contract may edit its convention.")
CONVENTION_NOT_DRAFT = gettext_noop(
    "The convention's text can change only while the contract is a draft; it is “%(state)s”."
)
CONVENTION_CHANGED_MEANWHILE = gettext_noop(
    "Someone saved the convention's text meanwhile: reload it, then make your changes again."
)


def convention_problems(text: ConventionText) -> list[str]:
    """Every reason ``text`` cannot be saved, in the reader's language (empty: it can)."""
    problems = []
    if len(text.preamble) > TEXT_MAX_LENGTH:
        problems.append(
            _("The preamble is too long (%(max)d characters at most).") % {"max": TEXT_MAX_LENGTH}
        )
    if not text.articles:
        problems.append(_("A convention has at least one article."))
    if len(text.articles) > ARTICLES_MAX:
        problems.append(_("At most %(max)d articles.") % {"max": ARTICLES_MAX})
    for number, article in enumerate(text.articles, start=1):
        if not article.title.strip():
            problems.append(_("Article %(number)d needs a title.") % {"number": number})
        elif len(article.title) > TITLE_MAX_LENGTH:
            problems.append(
                _("The title of article %(number)d is too long (%(max)d characters at most).")
                % {"number": number, "max": TITLE_MAX_LENGTH}
            )
        if not article.text.strip():
            problems.append(_("Article %(number)d needs a text.") % {"number": number})
        elif len(article.text) > TEXT_MAX_LENGTH:
            problems.append(
                _("The text of article %(number)d is too long (%(max)d characters at most).")
                % {"number": number, "max": TEXT_MAX_LENGTH}
            )
    unknown = unknown_placeholders(
        "\n".join([text.preamble, *(f"{a.title}\n{a.text}" for a in text.articles)])
    )
    if unknown:
        problems.append(
            _("Unknown placeholders: %(unknown)s. Those known are: %(known)s.")
            % {
                "unknown": ", ".join(unknown),
                "known": ", ".join(p.token for p in PLACEHOLDERS.values()),
            }
        )
    return problems


def _cleaned(preamble: str, articles: Sequence[Article]) -> ConventionText:
    """The text as stored: line ends as ``\\n``, no blank around a part."""

    def clean(text: str) -> str:
        return text.replace("\r\n", "\n").replace("\r", "\n").strip()

    return ConventionText(
        clean(preamble),
        tuple(Article(clean(a.title), clean(a.text)) for a in articles),
    )


@transaction.atomic
def convention_update(
    *,
    contract: Contract,
    actor: User,
    preamble: str = "",
    articles: Sequence[Article] = (),
    reset: bool = False,
    base_sha256: str | None = None,
) -> ConventionText:
    """Save the contract's convention text as written (``reset``: its kind's default again),
    on top of the text whose fingerprint is ``base_sha256`` when given (a conflict when someone
    saved another text meanwhile). A coordinator of the contract, while it is a draft."""
    with UnitOfWork.lock(contract.pk) as unit:
        contract = unit.contract
        if not is_coordinator(contract, actor):
            raise NotAllowed(_(ONLY_A_COORDINATOR))
        if contract.status != ContractStatus.DRAFT:
            raise Conflict(
                _(CONVENTION_NOT_DRAFT) % {"state": contract.get_status_display()},
                {"state": contract.status},
            )
        before = convention_of(contract)
        if base_sha256 is not None and base_sha256 != before.sha256:
            raise Conflict(_(CONVENTION_CHANGED_MEANWHILE), {"sha256": before.sha256})
        text = default_convention(contract.kind) if reset else _cleaned(preamble, articles)
        problems = convention_problems(text)
        if problems:
            raise ApplicationError(" ".join(problems), {"errors": problems})
        data = text.as_data()
        contract.convention_preamble = data["preamble"]
        contract.convention_articles = data["articles"]
        contract.save(update_fields=["convention_preamble", "convention_articles"])
        unit.record(
            event=HistoryEvent.CONVENTION_EDITED,
            actor=actor,
            name="reset" if reset else "",
            data={
                "sha256": text.sha256,
                "previous_sha256": before.sha256,
                "articles": len(text.articles),
                "reset": reset,
            },
        )
    return text
