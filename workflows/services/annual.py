"""The annual review of a signed contract: a coordinator launches a year's review, each pilot
of an action still running reports on it (a ``report`` task, decided through
``tasks.task_decide``: ``follow_up.report_check`` and ``report_record``), a coordinator may
close the collection before every report is in, and the steering committee votes on the
annual report (its chair may close that vote once the quorum is reached).

The steps are ``flows.AnnualReviewFlow``'s, one process per review: the reports and the votes
are the same parallel human tasks as the contract's reviews and votes, so they are completed
exactly once, follow absences, and are reminded of like every task (``reminders``: by their
due date). ``AnnualReview`` is the row that pages, the API and the report find a year by.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from ..documents import decide_outside
from ..errors import ApplicationError, Conflict
from ..flows import ANNUAL_REPORT_STATES, AnnualReviewFlow
from ..history import Preparations, UnitOfWork
from ..models import (
    AnnualReview,
    AnnualReviewStatus,
    Contract,
    ContractStatus,
    HistoryEvent,
    Process,
    TaskStatus,
    User,
)
from .contracts import require_coordinator
from .voting import close_committee_vote, require_chair

# Stable messages, so that tests and API clients can rely on them.
NOT_SIGNED = gettext_noop(
    "An annual review is launched on a signed contract; this one is “%(state)s”."
)
ALREADY_LAUNCHED = gettext_noop("The annual review of %(year)d is already launched.")
YEAR_OUTSIDE_PERIOD = gettext_noop(
    "The year must be within the contract's period (%(start)d to %(end)d)."
)
NO_ACTION_RUNNING = gettext_noop(
    "No action is running (every one is done or abandoned): nobody has a report to write."
)
NO_ANNUAL_REVIEW = gettext_noop("There is no annual review of %(year)d for this contract.")
NOT_COLLECTING = gettext_noop("The reports of %(year)d are no longer being collected.")
NO_REPORT_YET = gettext_noop(
    "No report is in yet: the collection closes once at least one pilot has reported."
)
NO_VOTE_IN_PROGRESS = gettext_noop("There is no vote in progress on the %(year)d annual report.")


class AnnualReviewNotFound(ApplicationError):
    status_code = 404


def _review(contract: Contract, year: int) -> AnnualReview:
    review = AnnualReview.objects.filter(contract=contract, year=year).first()
    if review is None:
        raise AnnualReviewNotFound(_(NO_ANNUAL_REVIEW) % {"year": year})
    return review


def _process(unit: UnitOfWork, review: AnnualReview) -> Process:
    return unit.drive(
        Process.objects.get(
            contract=unit.contract, flow_class=AnnualReviewFlow, data__review=review.pk
        )
    )


@transaction.atomic
def launch_annual_review(*, contract: Contract, year: int, actor: User) -> AnnualReview:
    """Open the review of ``year``: one ``report`` task for the pilot of each action neither
    done nor abandoned, due in ``ACCORD_TASK_DUE_DAYS["report"]`` days."""
    with UnitOfWork.lock(contract.pk) as unit:
        contract = unit.contract
        require_coordinator(contract, actor)
        if contract.status != ContractStatus.SIGNED:
            raise Conflict(
                _(NOT_SIGNED) % {"state": contract.get_status_display()},
                {"state": contract.status},
            )
        start, end = contract.period_start.year, contract.period_end.year
        if not start <= year <= end:
            raise ApplicationError(_(YEAR_OUTSIDE_PERIOD) % {"start": start, "end": end})
        if AnnualReview.objects.filter(contract=contract, year=year).exists():
            raise Conflict(_(ALREADY_LAUNCHED) % {"year": year}, {"year": year})
        running = list(
            contract.actions.filter(status__in=ANNUAL_REPORT_STATES)
            .order_by("position", "pk")
            .values_list("code", flat=True)
        )
        if not running:
            raise Conflict(_(NO_ACTION_RUNNING))
        review = AnnualReview(contract=contract, year=year, opened_by=actor)
        review.full_clean()
        review.save()
        unit.record(
            event=HistoryEvent.ANNUAL_REVIEW_LAUNCHED,
            actor=actor,
            name=str(year),
            data={"year": year, "actions": running},
        )
        AnnualReviewFlow.start.run(review=review, unit=unit)
    return review


@transaction.atomic
def close_report_collection(*, contract: Contract, year: int, actor: User) -> AnnualReview:
    """A coordinator closes the collection before every report is in: the reports still
    open are cancelled and the committee votes on what came in."""
    with UnitOfWork.lock(contract.pk) as unit:
        require_coordinator(unit.contract, actor)
        review = _review(unit.contract, year)
        if review.status != AnnualReviewStatus.COLLECTING:
            raise Conflict(_(NOT_COLLECTING) % {"year": year}, {"status": review.status})
        process = _process(unit, review)
        open_reports = process.task_set.filter(
            flow_task=AnnualReviewFlow.report, status=TaskStatus.ASSIGNED
        ).count()
        review.collection_closed_at = timezone.now()
        review.collection_closed_by = actor
        review.save(update_fields=["collection_closed_at", "collection_closed_by"])
        unit.record(
            event=HistoryEvent.REPORT_COLLECTION_CLOSED,
            actor=actor,
            name=str(year),
            data={"year": year, "reports_missing": open_reports},
        )
        # The join exists from the first report in on (nodes.GatherActivation).
        if not AnnualReviewFlow.reports_in.close(process):
            raise Conflict(_(NO_REPORT_YET))
        review.refresh_from_db()
    return review


def close_report_vote(*, contract: Contract, year: int, actor: User) -> AnnualReview:
    """The chair ends the committee's vote on the annual report once the quorum is reached,
    as for the contract's vote (``contracts.close_vote``): the minutes' signature prepared
    before the vote's transaction."""
    return decide_outside(
        lambda preparations: _close_report_vote(
            contract=contract, year=year, actor=actor, preparations=preparations
        )
    )


@transaction.atomic
def _close_report_vote(
    *, contract: Contract, year: int, actor: User, preparations: Preparations
) -> AnnualReview:
    with UnitOfWork.lock(contract.pk, preparations=preparations) as unit:
        require_chair(unit.contract, actor)
        review = _review(unit.contract, year)
        if review.status != AnnualReviewStatus.VOTING:
            raise Conflict(_(NO_VOTE_IN_PROGRESS) % {"year": year}, {"status": review.status})
        close_committee_vote(
            unit, process=_process(unit, review), votes_in=AnnualReviewFlow.votes_in, actor=actor
        )
        review.refresh_from_db()
    return review
