"""The floor's flow and its walk (see the package's docstring)."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from viewflow import this
from viewflow.workflow import flow, lock
from viewflow.workflow.activation import Activation
from viewflow.workflow.flow.views import UpdateProcessView
from viewflow.workflow.models import Task
from viewflow.workflow.nodes.split import Split, SplitActivation
from viewflow.workflow.status import STATUS

from ..measure import Figures, measured


class PerItemActivation(SplitActivation):
    @Activation.status.super()
    def activate(self):
        # viewflow 2's Split keeps the branches but ignores their data sources: one branch of
        # the split's single next node per item of ``process.data[key]`` (the task's data).
        node = self.flow_task._branches[0][0]
        self.next_tasks = [(node, item) for item in self.process.data[self.flow_task.key]]


class PerItem(Split):
    """A parallel split into one task per item (BPMN's multi-instance)."""

    activation_class = PerItemActivation

    def __init__(self, key: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key = key


def _task(title: str) -> flow.View:
    return flow.View(UpdateProcessView.as_view(fields=[])).Annotation(title=title)


class FloorFlow(flow.Flow):
    """Reviews, votes, deliberation, signatures; every task assigned to its person."""

    lock_impl = lock.select_for_update_lock  # viewflow's advice on PostgreSQL, with joins

    start = flow.StartHandle(this.begin).Next(this.reviews)
    reviews = PerItem("reviews").Next(this.review)
    review = _task("Review").Assign(this.owner).Next(this.reviews_in)
    reviews_in = flow.Join().Next(this.votes)
    votes = PerItem("votes").Next(this.vote)
    vote = _task("Vote").Assign(this.owner).Next(this.votes_in)
    votes_in = flow.Join(continue_on_condition=this.majority).Next(this.deliberation)
    deliberation = _task("Deliberation").Assign(this.owner).Next(this.signatures)
    signatures = PerItem("signatures").Next(this.sign)
    sign = _task("Signature").Assign(this.owner).Next(this.signatures_in)
    signatures_in = flow.Join().Next(this.end)
    end = flow.End()

    people: dict[int, Any] = {}  # the walk's people, read once (as Accord's walk does)

    def begin(self, activation: Activation, *, plan: dict[str, Any]) -> Any:
        activation.process.data = plan
        return activation.process

    def owner(self, activation: Activation) -> Any:
        """A split's task names its person; the deliberation's is the process's."""
        owner = activation.task.data.get("owner", activation.process.data["deliberation"])
        return self.people[owner]

    def majority(self, activation: Activation, active_tasks: Any) -> bool:
        done = activation.process.task_set.filter(flow_task=self.vote, status=STATUS.DONE)
        return done.count() * 2 > len(activation.process.data["votes"])


def plan_of(contract: Any) -> dict[str, Any]:
    """The same human work as the Accord walk of ``contract``: who reviews, votes,
    deliberates and signs (read before the walk, not measured)."""
    reviews = [
        {"owner": lead.pk}
        for action in contract.actions.order_by("pk").select_related("working_group")
        for lead in action.working_group.leads.order_by("pk")
    ]
    committee = contract.steering_committee
    return {
        "reviews": reviews,
        "votes": [
            {"owner": pk} for pk in committee.members.order_by("pk").values_list("pk", flat=True)
        ],
        "deliberation": contract.coordinators.order_by("pk").values_list("pk", flat=True)[0],
        "signatures": [
            {"owner": signatory.represented_by_id or signatory.signer_id}
            for signatory in contract.signatories.order_by("order", "pk")
        ],
    }


@dataclass
class FloorWalk:
    launch: Figures
    completions: list[Figures] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def statements(self) -> int:
        return self.launch.statements + sum(figures.statements for figures in self.completions)


def complete(process_pk: int, task_pk: int, user: Any) -> None:
    """What a POST to viewflow's task view does: ``wrap_view`` (the flow's lock, a
    transaction, the task read, ``can_execute``, ``start``), then
    ``UpdateProcessView.form_valid`` (the process form saved, ``execute``)."""
    with FloorFlow.lock(process_pk), transaction.atomic():
        task = FloorFlow.task_class._default_manager.get(pk=task_pk)
        if task.process.flow_class != FloorFlow:
            raise PermissionDenied
        activation = task.flow_task.activation_class(task)
        if not task.flow_task.can_execute(user, task):
            raise PermissionDenied
        activation.start(SimpleNamespace(user=user))
        activation.process.save()
        activation.execute()


def walk(plan: dict[str, Any]) -> FloorWalk:
    """Start the floor's process, then complete its oldest open task until none is left."""
    import time

    from workflows.models import User

    ids = {item["owner"] for key in ("reviews", "votes", "signatures") for item in plan[key]}
    FloorFlow.people = User.objects.in_bulk(ids | {plan["deliberation"]})
    started = time.perf_counter()
    with measured() as launch:
        process = FloorFlow.start.run(plan=plan)
    result = FloorWalk(launch=launch)
    while True:
        task = (
            Task.objects.filter(process=process, status=STATUS.ASSIGNED)
            .only("pk", "owner_id")
            .order_by("pk")
            .first()
        )
        if task is None:
            break
        with measured() as figures:
            complete(process.pk, task.pk, FloorFlow.people[task.owner_id])
        result.completions.append(figures)
    result.seconds = time.perf_counter() - started
    process.refresh_from_db()
    if process.status != "DONE":
        raise RuntimeError(f"the floor's walk ended in {process.status}, not done")
    return result
