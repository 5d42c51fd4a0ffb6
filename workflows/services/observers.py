"""Following a contract: a coordinator adds or removes its observers; whoever sees the
contract comments on an action sheet, and the people the comment names (``@username``) who
see the contract too are told (the history entry lists them; ``notifications`` reacts)."""

from __future__ import annotations

import re

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from ..errors import ApplicationError, Conflict, NotAllowed
from ..history import UnitOfWork
from ..models import (
    COMMENT_MAX_LENGTH,
    Action,
    Contract,
    ContractObserver,
    HistoryEvent,
    SheetComment,
    User,
    is_coordinator,
)
from ..selectors import contracts_visible_to
from ..transitions import NOT_A_COORDINATOR

UNKNOWN_PERSON = gettext_noop("No active person has the username “%(username)s”.")
ALREADY_OBSERVER = gettext_noop("%(name)s already observes this contract.")
NOT_AN_OBSERVER = gettext_noop("%(name)s does not observe this contract.")
COMMENT_EMPTY = gettext_noop("Write the comment's text.")
COMMENT_TOO_LONG = gettext_noop("A comment may have at most %(limit)d characters.")
NOT_VISIBLE = gettext_noop("Only the people who see the contract may comment on its sheets.")
# ``@`` not preceded by a word character (not an e-mail address), then a Django username.
MENTION = re.compile(r"(?<![\w@.+-])@([\w.@+-]+)")
# More names than this in one comment are not read: a comment is not a mailing list.
MENTIONS_READ = 20


def _person(username: str) -> User:
    # No username holds a NUL, and PostgreSQL refuses one in a query: nobody, not a 500.
    person = (
        User.objects.filter(username=username, is_active=True).first()
        if username and "\x00" not in username
        else None
    )
    if person is None:
        raise ApplicationError(_(UNKNOWN_PERSON) % {"username": username.replace("\x00", "")})
    return person


@transaction.atomic
def observer_add(*, contract: Contract, actor: User, person: str) -> ContractObserver:
    """Let ``person`` (a username) follow the contract: a coordinator only (403); an unknown
    person is refused (400), one who already observes it too (409)."""
    with UnitOfWork.lock(contract.pk) as unit:
        if not is_coordinator(unit.contract, actor):
            raise NotAllowed(_(NOT_A_COORDINATOR))
        user = _person(person)
        if ContractObserver.objects.filter(contract=unit.contract, user=user).exists():
            raise Conflict(_(ALREADY_OBSERVER) % {"name": user.display_name})
        observer = ContractObserver(contract=unit.contract, user=user, added_by=actor)
        observer.full_clean(exclude=["contract", "user", "added_by"])
        observer.save()
        unit.record(
            event=HistoryEvent.OBSERVER_ADDED,
            actor=actor,
            name=user.username,
            data={"observer": user.username},
        )
    return observer


@transaction.atomic
def observer_remove(*, contract: Contract, actor: User, person: str) -> None:
    """``person`` (a username) no longer follows the contract: a coordinator only (403)."""
    with UnitOfWork.lock(contract.pk) as unit:
        if not is_coordinator(unit.contract, actor):
            raise NotAllowed(_(NOT_A_COORDINATOR))
        user = _person(person)
        removed, _rows = ContractObserver.objects.filter(contract=unit.contract, user=user).delete()
        if not removed:
            raise ApplicationError(_(NOT_AN_OBSERVER) % {"name": user.display_name})
        unit.record(
            event=HistoryEvent.OBSERVER_REMOVED,
            actor=actor,
            name=user.username,
            data={"observer": user.username},
        )


def mentioned_in(text: str, contract: Contract, *, author: User) -> list[User]:
    """The active people ``text`` names with ``@username`` who see ``contract`` (the author
    aside), in the order first named; names of no one, or of strangers, are ignored."""
    names: list[str] = []
    for match in MENTION.finditer(text):
        name = match.group(1).rstrip(".-")
        if name and name not in names:
            names.append(name)
    names = names[:MENTIONS_READ]
    people = {
        user.username: user
        for user in User.objects.filter(username__in=names, is_active=True).exclude(pk=author.pk)
    }
    return [
        people[name]
        for name in names
        if name in people and contracts_visible_to(people[name]).filter(pk=contract.pk).exists()
    ]


@transaction.atomic
def comment_add(*, action: Action, actor: User, text: str) -> SheetComment:
    """Write a comment on ``action``'s sheet: anyone who sees its contract (observers
    included; 403 otherwise); text required and at most ``COMMENT_MAX_LENGTH`` characters
    (400). The people it mentions who see the contract are told."""
    text = (text or "").strip()
    if not text:
        raise ApplicationError(_(COMMENT_EMPTY))
    if len(text) > COMMENT_MAX_LENGTH:
        raise ApplicationError(_(COMMENT_TOO_LONG) % {"limit": COMMENT_MAX_LENGTH})
    with UnitOfWork.lock(action.contract_id) as unit:
        if not contracts_visible_to(actor).filter(pk=unit.contract.pk).exists():
            raise NotAllowed(_(NOT_VISIBLE))
        comment = SheetComment(action=action, author=actor, text=text)
        comment.full_clean(exclude=["action", "author"])
        comment.save()
        mentioned = mentioned_in(text, unit.contract, author=actor)
        unit.record(
            event=HistoryEvent.COMMENT_ADDED,
            actor=actor,
            action=action,
            name=action.code,
            data={"comment": comment.pk, "mentioned": [person.pk for person in mentioned]},
        )
    return comment
