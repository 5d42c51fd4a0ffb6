"""The annual review of a signed contract: a coordinator launches a year, each pilot of an
action still running reports (progress, indicator values, comment), the collection closes
when every report is in or when a coordinator closes it, and the steering committee votes on
the annual report, which is kept as a PDF with a chart per indicator."""

import datetime
import hashlib

import pytest
from django.utils import timezone, translation

from tests.factories import ActionFactory, ContractFactory, UserFactory
from tests.flows import decide, open_tasks, vote, walk_to_signed
from tests.shared import making, module_transaction
from tests.signatures.pdf import pdf_text, pdf_text_and_images
from tests.workflows.conftest import action_followed, followed_of
from workflows import services
from workflows.errors import ApplicationError, Conflict, NotAllowed
from workflows.models import (
    ActionStatus,
    AnnualReview,
    CommitteeVote,
    Contract,
    HistoryEvent,
    Indicator,
    IndicatorValue,
    TaskKind,
    TaskStatus,
)
from workflows.reports import annual_report_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def second_pilot():
    return UserFactory(username="pilote2", first_name="Marc", last_name="Durand")


@pytest.fixture(scope="module")
def two_actions_once(django_db_setup, django_db_blocker):
    """A signed contract with A1 (`followed`, the `pilot`'s) and A2 (the `second_pilot`'s),
    each with an indicator: made once for the module's tests (tests/shared.py); the
    `coordinator`, `pilot` and `second_pilot` fixtures find its people."""
    with module_transaction(django_db_blocker):
        with making(django_db_blocker):
            coordinator = UserFactory(username="coordinatrice")
            contract = ContractFactory(coordinator=coordinator)
            pilot = UserFactory(username="pilote", first_name="Léa", last_name="Martin")
            action_followed(contract, pilot)
            second_pilot = UserFactory(username="pilote2", first_name="Marc", last_name="Durand")
            second = ActionFactory(contract=contract, code="A2", pilot=second_pilot)
            Indicator.objects.create(
                action=second, label="Ateliers tenus", unit="ateliers", baseline="2", target="10"
            )
            walk_to_signed(contract, coordinator)
        yield contract.pk


@pytest.fixture
def two_actions(two_actions_once, db) -> Contract:
    return Contract.objects.get(pk=two_actions_once)


@pytest.fixture
def followed(two_actions):
    return followed_of(two_actions)


def launch(contract, coordinator, year=2025):
    return services.launch_annual_review(contract=contract, year=year, actor=coordinator)


def submit(task, progress="in_progress", values=(), comment=""):
    return decide(
        task,
        "submit",
        progress=progress,
        indicators=[{"indicator": name, "value": value} for name, value in values],
        comment=comment,
    )


def test_each_pilot_of_a_running_action_gets_one_report_due_in_30_days(
    two_actions, coordinator, pilot, second_pilot
):
    review = launch(two_actions, coordinator)

    reports = open_tasks(two_actions, TaskKind.REPORT)
    assert review.status == "collecting"
    assert sorted(task.owner.username for task in reports) == ["pilote", "pilote2"]
    for task in reports:
        assert task.data["year"] == 2025
        assert task.due - task.assigned == datetime.timedelta(days=30)
    entry = two_actions.history.filter(event=HistoryEvent.ANNUAL_REVIEW_LAUNCHED).get()
    assert entry.data == {"year": 2025, "actions": ["A1", "A2"]}


def test_done_and_abandoned_actions_get_no_report(two_actions, coordinator, followed, pilot):
    services.action_follow_up(action=followed, name="abandon", actor=pilot, comment="Arrêt")

    launch(two_actions, coordinator)

    assert [task.action.code for task in open_tasks(two_actions, TaskKind.REPORT)] == ["A2"]


def test_only_a_coordinator_launches_on_a_signed_contract_once_a_year_within_its_period(
    contract, two_actions, coordinator, pilot
):
    with pytest.raises(NotAllowed):
        launch(two_actions, pilot)
    with pytest.raises(ApplicationError) as outside:
        launch(two_actions, coordinator, year=2031)
    launch(two_actions, coordinator)
    with pytest.raises(Conflict):
        launch(two_actions, coordinator)
    assert outside.value.status_code == 400
    assert AnnualReview.objects.count() == 1


def test_not_before_the_signature(contract, pilot, coordinator):
    action_followed(contract, pilot)  # on a draft, not the module's signed contract
    with pytest.raises(Conflict):
        launch(contract, coordinator)


def test_a_report_records_the_progress_the_values_and_the_history(
    two_actions, coordinator, followed, pilot
):
    launch(two_actions, coordinator)
    task = next(t for t in open_tasks(two_actions, TaskKind.REPORT) if t.action == followed)

    submit(task, "done", [("Médecins installés", "2")], comment="Deux installations")

    followed.refresh_from_db()
    assert followed.status == ActionStatus.DONE
    value = IndicatorValue.objects.get(action=followed, year=2025)
    assert (value.indicator, str(value.value.normalize())) == ("Médecins installés", "2")
    events = list(
        two_actions.history.filter(action=followed).order_by("seq").values_list("event", "name")
    )[-4:]
    assert events == [
        ("action_transition", "start"),
        ("action_transition", "complete"),
        ("indicator_value", ""),
        ("task_completed", "report"),
    ]


def test_a_report_refuses_an_unknown_indicator_or_a_missing_reason(
    two_actions, coordinator, followed
):
    launch(two_actions, coordinator)
    task = next(t for t in open_tasks(two_actions, TaskKind.REPORT) if t.action == followed)

    with pytest.raises(ApplicationError):
        submit(task, "in_progress", [("Inconnu", "1")])
    with pytest.raises(ApplicationError):
        submit(task, "abandoned")
    with pytest.raises(ApplicationError):
        submit(task, "paused")

    task.refresh_from_db()
    assert task.status == TaskStatus.ASSIGNED
    assert not IndicatorValue.objects.exists()


def test_all_reports_in_open_the_committee_vote_which_adopts_the_report(two_actions, coordinator):
    review = launch(two_actions, coordinator)
    for task in open_tasks(two_actions, TaskKind.REPORT):
        submit(task, "in_progress", [(task.action.indicators.first().label, "4")])

    review.refresh_from_db()
    votes = open_tasks(two_actions, TaskKind.VOTE)
    assert review.status == "voting"
    assert len(votes) == 3
    assert votes[0].committee_vote.annual_review == review
    vote(two_actions)

    review.refresh_from_db()
    assert review.status == "adopted"
    assert bytes(review.report_pdf).startswith(b"%PDF")
    decided = two_actions.history.get(event=HistoryEvent.ANNUAL_REPORT_DECIDED)
    assert decided.data["report_sha256"] == review.report_sha256
    assert decided.data["approvals"] == 2  # decided once two of three approved (quorum 2)
    # The round's minutes too, signed by the chair, named in the decision by their SHA-256.
    minutes = bytes(CommitteeVote.objects.get(annual_review=review).minutes_pdf)
    assert decided.data["minutes_sha256"] == hashlib.sha256(minutes).hexdigest()
    assert "Vote sur le rapport annuel" in pdf_text(minutes)
    two_actions.refresh_from_db()
    assert two_actions.status == "signed"


def test_a_coordinator_closes_the_collection_and_the_missing_reports_are_cancelled(
    two_actions, coordinator, followed
):
    launch(two_actions, coordinator)
    with pytest.raises(Conflict):  # nothing in yet
        services.close_report_collection(contract=two_actions, year=2025, actor=coordinator)
    first, second = open_tasks(two_actions, TaskKind.REPORT)
    submit(first, "in_progress")

    review = services.close_report_collection(contract=two_actions, year=2025, actor=coordinator)

    second.refresh_from_db()
    assert second.status == TaskStatus.CANCELED
    assert review.status == "voting"
    assert review.collection_closed_by == coordinator
    assert len(open_tasks(two_actions, TaskKind.VOTE)) == 3


def test_the_chair_closes_the_vote_once_the_quorum_is_reached(two_actions, coordinator):
    launch(two_actions, coordinator)
    for task in open_tasks(two_actions, TaskKind.REPORT):
        submit(task)
    votes = open_tasks(two_actions, TaskKind.VOTE)
    chair = two_actions.steering_committee.chair
    decide(votes[0], "approve")
    with pytest.raises(Conflict):
        services.close_report_vote(contract=two_actions, year=2025, actor=chair)
    decide(votes[1], "reject", comment="Indicateurs insuffisants")
    with pytest.raises(NotAllowed):
        services.close_report_vote(contract=two_actions, year=2025, actor=coordinator)

    review = services.close_report_vote(contract=two_actions, year=2025, actor=chair)

    assert review.status == "rejected"


def test_the_report_data(two_actions, coordinator, followed, pilot):
    services.indicator_value_record(
        action=followed,
        actor=pilot,
        measure=services.Measure(indicator="Médecins installés", year=2024, value="1"),
    )
    review = launch(two_actions, coordinator)
    task = next(t for t in open_tasks(two_actions, TaskKind.REPORT) if t.action == followed)
    submit(task, "in_progress", [("Médecins installés", "2,5")], comment="En bonne voie")

    data = annual_report_data(review)

    assert data["year"] == 2025
    assert data["reports"] == {"expected": 2, "submitted": 1}
    a1 = data["actions"][0]
    assert (a1["code"], a1["pilot"], a1["status"]) == ("A1", "Léa Martin", "in_progress")
    assert a1["report"]["progress"] == "in_progress"
    assert a1["report"]["comment"] == "En bonne voie"
    assert a1["indicators"] == [
        {
            "name": "Médecins installés",
            "unit": "médecins",
            "baseline": "0",
            "target": "3",
            "values": [{"year": 2024, "value": "1"}, {"year": 2025, "value": "2.5"}],
        }
    ]
    assert data["actions"][1]["report"]["status"] == "assigned"


def test_the_pdf_has_the_actions_and_a_chart_per_indicator(two_actions, coordinator, tmp_path):
    review = launch(two_actions, coordinator)
    for task in open_tasks(two_actions, TaskKind.REPORT):
        submit(task, "in_progress", [(task.action.indicators.first().label, "3")])
    vote(two_actions)
    review.refresh_from_db()
    text, images = pdf_text_and_images(bytes(review.report_pdf), tmp_path)

    assert "Rapport annuel 2025" in text
    assert "A1" in text
    assert "A2" in text
    assert "Médecins installés" in text
    assert "Ateliers tenus" in text
    assert "Adopté par le comité de pilotage" in text
    assert images == 2  # one chart per indicator


def test_report_tasks_are_reminded_like_every_task(two_actions, coordinator):
    launch(two_actions, coordinator)
    (task, _other) = open_tasks(two_actions, TaskKind.REPORT)

    sent = services.reminders_send(now=task.due - datetime.timedelta(days=1))

    assert sent["due_soon"] == 2
    reminder = two_actions.history.filter(event=HistoryEvent.REMINDER).latest("seq")
    assert reminder.name == "due_soon"


def test_the_pilots_are_told_of_their_report_and_the_members_of_the_decision(
    two_actions, coordinator, pilot
):
    from notifications.models import Notification

    launch(two_actions, coordinator)
    told = Notification.objects.filter(recipient=pilot).latest("pk")
    for task in open_tasks(two_actions, TaskKind.REPORT):
        submit(task)
    vote(two_actions)
    chair = two_actions.steering_committee.chair

    assert "rapport annuel 2025 de l\u2019action A1" in told.title
    decided = Notification.objects.filter(recipient=chair).latest("pk")
    assert decided.title.startswith("Rapport annuel 2025 de CLS-")
    assert "adopté par le comité de pilotage" in decided.title


def test_the_contract_closes_once_its_last_year_is_reviewed(two_actions, coordinator):
    """Its period over, a contract closes when the review of its last year is decided; while
    that review is under way, it does not."""
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    Contract.objects.filter(pk=two_actions.pk).update(period_end=yesterday)
    review = launch(two_actions, coordinator, year=yesterday.year)
    with translation.override("en"), pytest.raises(Conflict, match="under way"):
        services.close(contract=two_actions, actor=coordinator, without_final_review="Pressés")
    for task in open_tasks(two_actions, TaskKind.REPORT):
        submit(task, "done")
    vote(two_actions)
    review.refresh_from_db()
    assert review.status == "adopted"

    services.close(contract=two_actions, actor=coordinator)

    two_actions.refresh_from_db()
    assert two_actions.status == "closed"
    closing = two_actions.history.filter(name="close").get()
    assert closing.data == {"final_review": review.year}
