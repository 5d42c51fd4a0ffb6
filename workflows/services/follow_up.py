"""Following a signed contract's actions up: their pilots (or the coordinators) record what
their indicators measure, year after year. (Moving an action to in progress, done or
abandoned is ``contracts.action_follow_up``; its step, ``follow_up_fire``, is here.) A pilot's
annual report (a ``report`` task, decided through ``tasks.task_decide``) runs the same two
steps: ``report_check`` and ``report_record``."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import transitions
from ..errors import ApplicationError, Conflict, NotAllowed
from ..history import UnitOfWork
from ..models import (
    Action,
    ActionStatus,
    ContractStatus,
    HistoryEvent,
    IndicatorValue,
    Task,
    User,
    is_pilot_or_coordinator,
)

VALUE_FIELD = IndicatorValue._meta.get_field("value")
SOURCE_MAX_LENGTH = IndicatorValue._meta.get_field("source").max_length


@dataclass(frozen=True)
class Measure:
    """An indicator's value for a year, as its pilot gives it."""

    indicator: str  # the indicator's name within its sheet
    year: int
    value: str  # as typed: "12", "12,5", "1 250"
    measured_on: datetime.date | None = None
    source: str = ""
    comment: str = ""


def _number(text: str) -> Decimal | None:
    """A value as a person types it ("1 250,5"); None when it is not a number the column
    holds."""
    cleaned = str(text).strip().replace("\u00a0", "").replace("\u202f", "").replace(" ", "")
    try:
        number = Decimal(cleaned.replace(",", "."))
    except InvalidOperation:
        return None
    places = VALUE_FIELD.decimal_places
    if not number.is_finite() or abs(number) >= Decimal(10) ** (VALUE_FIELD.max_digits - places):
        return None
    if number != number.quantize(Decimal(1).scaleb(-places)):
        return None
    return number


def _text(number: Decimal) -> str:
    """A value as the history writes it: "2.5", not "2.5000" nor "2.5E+0"."""
    return format(number.normalize(), "f")


@transaction.atomic
def indicator_value_record(*, action: Action, actor: User, measure: Measure) -> IndicatorValue:
    """Record (or correct) an indicator's value for a year; the history keeps both."""
    with UnitOfWork.lock(action.contract_id) as unit:
        action = unit.contract.actions.get(pk=action.pk)
        action.contract = unit.contract
        if not is_pilot_or_coordinator(action, actor):
            raise NotAllowed(_("Only the action's pilot or a coordinator may do this."))
        return measure_record(unit, action, actor=actor, measure=measure)


def measure_record(
    unit: UnitOfWork,
    action: Action,
    *,
    actor: User,
    measure: Measure,
    on_behalf_of: User | None = None,
    data: dict | None = None,
) -> IndicatorValue:
    """The step inside a verb's unit (``indicator_value_record``, a pilot's annual report),
    which has checked who acts: the contract's state, the measure's checks, the row and its
    history entry."""
    if unit.contract.status != ContractStatus.SIGNED:
        raise Conflict(
            _("Indicator values are recorded once the contract is signed; it is “%(state)s”.")
            % {"state": unit.contract.get_status_display()}
        )
    names = list(action.indicators.values_list("label", flat=True))
    problems: list[tuple[str, str]] = []  # (the measure's field, the problem)
    if measure.indicator not in names:
        problems.append(
            (
                "indicator",
                _("“%(name)s” is not an indicator of this sheet (%(names)s).")
                % {"name": measure.indicator, "names": ", ".join(names) or _("none")},
            )
        )
    period = unit.contract.period_start.year, unit.contract.period_end.year
    if not period[0] <= measure.year <= period[1]:
        problems.append(
            (
                "year",
                _("The year must be within the contract's period (%(start)d to %(end)d).")
                % {"start": period[0], "end": period[1]},
            )
        )
    value = _number(measure.value)
    if value is None:
        problems.append(
            (
                "value",
                _("“%(value)s” is not a number (at most %(places)d decimals).")
                % {"value": measure.value, "places": VALUE_FIELD.decimal_places},
            )
        )
    if measure.measured_on and measure.measured_on > timezone.localdate():
        problems.append(("measured_on", _("The measure's date is in the future.")))
    if len(measure.source.strip()) > (SOURCE_MAX_LENGTH or 0):
        problems.append(
            (
                "source",
                _("The source is too long (%(max)d characters at most).")
                % {"max": SOURCE_MAX_LENGTH},
            )
        )
    if problems:
        # Each problem with the field it is about, for a form to show it beside that field.
        messages = [message for _field, message in problems]
        raise ApplicationError(" ".join(messages), {"errors": messages, "fields": dict(problems)})
    assert value is not None
    previous = IndicatorValue.objects.filter(
        action=action, indicator=measure.indicator, year=measure.year
    ).first()
    recorded, _created = IndicatorValue.objects.update_or_create(
        action=action,
        indicator=measure.indicator,
        year=measure.year,
        defaults={
            "value": value,
            "measured_on": measure.measured_on,
            "source": measure.source.strip(),
            "comment": measure.comment.strip(),
            "recorded_by": actor,
            "recorded_at": timezone.now(),
        },
    )
    recorded_data = {
        "indicator": measure.indicator,
        "year": measure.year,
        "value": _text(value),
        **(data or {}),
    }
    if previous is not None:
        recorded_data["previous"] = _text(previous.value)
    unit.record(
        event=HistoryEvent.INDICATOR_VALUE,
        actor=actor,
        on_behalf_of=on_behalf_of,
        action=action,
        comment=measure.comment.strip(),
        data=recorded_data,
    )
    return recorded


def follow_up_fire(
    unit: UnitOfWork,
    action: Action,
    name: str,
    *,
    actor: User,
    on_behalf_of: User | None = None,
    comment: str = "",
) -> None:
    """An action's follow-up step inside a verb's unit (``contracts.action_follow_up``, a
    pilot's annual report), which has checked who acts."""
    if name == "abandon" and not (comment or "").strip():
        raise ApplicationError(_("A reason is required to abandon an action."))
    transitions.fire(unit, action, name, actor=actor, on_behalf_of=on_behalf_of, comment=comment)


# --- A pilot's annual report ----------------------------------------------------------------

# What a report may say of its action's progress: one of the follow-up states.
REPORT_PROGRESS = (ActionStatus.IN_PROGRESS, ActionStatus.DONE, ActionStatus.ABANDONED)
# The follow-up steps from the action's state to the progress reported.
PROGRESS_STEPS: dict[str, dict[str, tuple[str, ...]]] = {
    ActionStatus.VALIDATED: {
        ActionStatus.IN_PROGRESS: ("start",),
        ActionStatus.DONE: ("start", "complete"),
        ActionStatus.ABANDONED: ("abandon",),
    },
    ActionStatus.IN_PROGRESS: {
        ActionStatus.IN_PROGRESS: (),
        ActionStatus.DONE: ("complete",),
        ActionStatus.ABANDONED: ("abandon",),
    },
}


def report_check(*, progress: str, indicators: list, comment: str) -> dict:
    """Refuse a report that does not hold together (400); returns what the task keeps:
    the progress and the values given (blank ones left out)."""
    if progress not in REPORT_PROGRESS:
        raise ApplicationError(
            _("Say how the action stands: one of %(choices)s.")
            % {"choices": ", ".join(REPORT_PROGRESS)}
        )
    if progress == ActionStatus.ABANDONED and not comment.strip():
        raise ApplicationError(_("A reason is required to abandon an action."))
    values = []
    for item in indicators:
        if not isinstance(item, dict) or not str(item.get("indicator", "")).strip():
            raise ApplicationError(_("Each indicator value names its indicator."))
        value = str(item.get("value", "") if item.get("value") is not None else "").strip()
        if value:
            values.append({"indicator": str(item["indicator"]), "value": value})
    return {"progress": progress, "indicators": values}


def report_record(unit: UnitOfWork, task: Task, *, year: int, kept: dict) -> None:
    """What a submitted report records, in the decision's unit: the action moves to the
    progress reported (with the comment as the reason to abandon), and each value given
    becomes the indicator's value for the year, as ``indicator_value_record`` records it."""
    action = task.action
    assert action is not None  # a report task is opened about its action
    action.contract = unit.contract
    actor, on_behalf_of = task.owner, task.on_behalf_of
    assert actor is not None  # a completed task, held by whoever completed it
    progress = kept["progress"]
    steps = PROGRESS_STEPS.get(action.status, {}).get(progress)
    if steps is None and action.status != progress:
        raise Conflict(
            _("The action is “%(state)s”: its report cannot say “%(progress)s”.")
            % {
                "state": action.get_status_display(),
                "progress": ActionStatus(progress).label,
            }
        )
    for name in steps or ():
        follow_up_fire(
            unit,
            action,
            name,
            actor=actor,
            on_behalf_of=on_behalf_of,
            comment=task.comment if name == "abandon" else "",
        )
    for item in kept["indicators"]:
        measure_record(
            unit,
            action,
            actor=actor,
            on_behalf_of=on_behalf_of,
            measure=Measure(indicator=item["indicator"], year=year, value=item["value"]),
            data={"report": task.pk},
        )
