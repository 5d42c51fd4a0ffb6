"""Asking someone's opinion on a task: the holder keeps the task, the person asked gets an
``opinion`` task, answered with a comment through ``task_decide`` (decision ``answer``)."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from ..errors import ApplicationError
from ..flows import OpinionFlow
from ..history import UnitOfWork
from ..models import HistoryEvent, Task, TaskKind, User
from ..selectors import contracts_visible_to
from .tasks import holder_refusal, state_refusal

OPINION_QUESTION_MISSING = gettext_noop("Write the question you ask.")
OPINION_OF_ONESELF = gettext_noop("You cannot ask yourself for an opinion.")
OPINION_PERSON_CANNOT_SEE = gettext_noop(
    "%(person)s does not see the contract %(reference)s: ask someone who takes part in it."
)
OPINION_ON_AN_OPINION = gettext_noop("An opinion is answered, not passed on: answer it yourself.")


@transaction.atomic
def opinion_ask(*, task: Task, actor: User, person: User, question: str) -> Task:
    """The holder of an open task asks ``person``, who sees the contract, for an opinion:
    an ``opinion`` task for that person (``OpinionFlow``), the question in its data and in
    the history (``opinion_asked``); the asking task stays with its holder. 403 for anyone
    but the holder, 409 once the task is closed, 400 for a missing question, oneself or
    someone who does not see the contract. Returns the opinion task."""
    with UnitOfWork.lock(task.contract_id) as unit:
        current = Task.objects.select_related("owner", "action").get(pk=task.pk)
        current.contract = unit.contract
        refusal = holder_refusal(current, actor) or state_refusal(current)
        if refusal is not None:
            raise refusal
        if current.kind == TaskKind.OPINION:
            raise ApplicationError(_(OPINION_ON_AN_OPINION))
        question = question.strip()
        if not question:
            raise ApplicationError(_(OPINION_QUESTION_MISSING))
        if person.pk == actor.pk:
            raise ApplicationError(_(OPINION_OF_ONESELF))
        if not (
            person.is_active and contracts_visible_to(person).filter(pk=unit.contract.pk).exists()
        ):
            raise ApplicationError(
                _(OPINION_PERSON_CANNOT_SEE)
                % {"person": person.display_name, "reference": unit.contract.reference}
            )
        OpinionFlow.start.run(asking=current, person=person, question=question, unit=unit)
        opinion = (
            Task.objects.filter(asked_by_task=current, kind=TaskKind.OPINION)
            .select_related("owner", "contract", "action")
            .latest("pk")
        )
        unit.record(
            event=HistoryEvent.OPINION_ASKED,
            actor=actor,
            on_behalf_of=current.on_behalf_of,
            name=current.kind,
            action=current.action,
            comment=question,
            data={"task": current.pk, "opinion_task": opinion.pk, "person": person.username},
        )
    return opinion
