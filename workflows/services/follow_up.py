"""Following a signed contract's actions up: their pilots (or the coordinators) record what
their indicators measure, year after year. (Moving an action to in progress, done or
abandoned is ``contracts.action_follow_up``.)"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..errors import ApplicationError, Conflict, NotAllowed
from ..history import UnitOfWork
from ..models import (
    Action,
    ContractStatus,
    HistoryEvent,
    IndicatorValue,
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
            messages = [message for _field, message in problems]
            raise ApplicationError(
                " ".join(messages), {"errors": messages, "fields": dict(problems)}
            )
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
        data = {"indicator": measure.indicator, "year": measure.year, "value": _text(value)}
        if previous is not None:
            data["previous"] = _text(previous.value)
        unit.record(
            event=HistoryEvent.INDICATOR_VALUE,
            actor=actor,
            action=action,
            comment=measure.comment.strip(),
            data=data,
        )
    return recorded
