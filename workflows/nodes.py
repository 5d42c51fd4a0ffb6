"""What Accord adds to viewflow's nodes: one human task per person, and the contract lock.

Open-source viewflow creates one task per node activation, and its ``Split`` takes no data
source. A contract needs "one review task per lead", "one vote per committee member", "one
signature per signatory": ``ForEach`` splits into one branch per item (BPMN's multi-instance
pattern) and ``Gather`` (viewflow's ``Join``, asking the database once per arrival) gathers
them, with ``continue_on_condition`` deciding early (a request for changes, a vote whose
outcome can no longer change, a mandatory decline).

viewflow runs each gateway, join, start and end in a savepoint of its own, so that a background
job's failure can keep the node's error state; Accord's flows move only inside a person's
decision (a verb's unit of work), whose transaction any error aborts whole. ``Begin``,
``Gather``, ``Conclude`` and ``Finish`` do viewflow's work without that savepoint: two
statements fewer per node, 252 of the demo walk's 2,835. ``Conclude`` and ``Finish`` also
write their task once, already done (``WrittenOnceActivation``), where viewflow inserts it
and updates it a moment later: one statement fewer per gateway and per end.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from viewflow import this
from viewflow.workflow.activation import Activation
from viewflow.workflow.exceptions import FlowRuntimeError
from viewflow.workflow.nodes.end import End, EndActivation
from viewflow.workflow.nodes.if_gate import If, IfActivation
from viewflow.workflow.nodes.join import Join, JoinActivation
from viewflow.workflow.nodes.split import Split, SplitActivation
from viewflow.workflow.nodes.start import StartHandle, StartHandleActivation
from viewflow.workflow.nodes.view import View, ViewActivation
from viewflow.workflow.signals import flow_finished, flow_started, task_finished, task_started
from viewflow.workflow.status import PROCESS

from .assignments import Assignment, task_open, task_record_cancelled
from .models import Task, TaskStatus


class ContractLock:
    """A flow's lock is its contract's row lock, which the unit of work driving it took first.

    Flows move only inside a ``history.UnitOfWork`` (``history.unit_of`` refuses a process
    driven without one), opened by a verb of ``workflows.services`` under the contract's row
    lock: every flow of the contract is already serialised when viewflow asks for its lock, and
    a flow never waits for a lock its own transaction does not hold (no lock-order deadlock
    between a contract's flow and its actions' flows).
    """

    @contextmanager
    def __call__(self, flow_class, process_pk):
        # No savepoint: an error here aborts the caller's transaction anyway (each verb has
        # its own), and a savepoint costs two statements a node.
        with transaction.atomic(savepoint=False):
            yield


contract_lock = ContractLock()


class BeginActivation(StartHandleActivation):
    @Activation.status.transition(source=TaskStatus.NEW)
    def execute(self):
        """viewflow's ``StartActivation.execute`` (pinned), in the caller's transaction rather
        than in a savepoint of its own: a flow starts inside a verb's unit of work, whose
        transaction any error aborts whole (see ``GatherActivation.complete``)."""
        task_started.send(sender=self.flow_class, process=self.process, task=self.task)
        with transaction.atomic(savepoint=False):
            self.process.save()
            with self.flow_class.lock(self.process.pk):
                self.complete()
                flow_started.send(sender=self.flow_class, process=self.process, task=self.task)
                self.activate_next()


class Begin(StartHandle):
    """viewflow's ``StartHandle``, without a savepoint of its own (``BeginActivation``)."""

    activation_class = BeginActivation


class WrittenOnceActivation(Activation):
    """A split's, a gateway's or an end's task written once, already done, instead of written
    new and then updated: viewflow's ``Activation.create`` (pinned) saves the task and links it to
    the one before it, and ``Activation.complete`` (pinned) saves it again a moment later,
    in the same call of ``_activate_next``. Here ``create`` builds the task unsaved and
    ``complete`` writes it (one INSERT) and then the link: one statement fewer per node.
    The node's own ``activate`` runs between them with the task unsaved, so it must not
    need the task's row (a gateway's condition reading ``activation.task``'s links, as one
    rebuilt from a stored task would, gets a saved task: see ``ConcludeActivation``)."""

    _previous: Task | None = None

    def __hash__(self) -> int:
        # ``Activation.__hash__`` (pinned) hashes the task, which an unsaved model refuses;
        # ``_activate_next`` keeps activations in sets. The task is new and wrapped by this
        # activation only, so its identity is what ``Activation.__eq__`` compares anyway.
        return id(self.task)

    def __eq__(self, other: Any) -> bool:
        return super().__eq__(other)

    @classmethod
    def create(cls, flow_task, prev_activation, token, data=None, seed=None):
        task = flow_task.flow_class.task_class(
            process=prev_activation.process, flow_task=flow_task, token=token
        )
        task.data = data if data is not None else {}
        task.seed = seed
        activation = cls(task)
        activation._previous = prev_activation.task
        return activation

    @Activation.status.super()
    def complete(self):
        """``Activation.complete`` (pinned) through ``.original()``: its save is the task's
        first, then the link to the task before it, as ``Activation.create`` writes it."""
        super().complete.original()
        if self._previous is not None:
            self.task.previous.add(self._previous)
            self._previous = None


class ForEachActivation(WrittenOnceActivation, SplitActivation):
    """The split's task written once, already done (``WrittenOnceActivation``): its branches
    are created after ``complete`` has saved it, so that their links and their round's token
    prefix (``SplitActivation.create_next``, pinned) name its row."""

    @Activation.status.super()
    def activate(self):
        items = self.flow_task._items(self)
        if not items:
            raise FlowRuntimeError(f"{self.flow_task.name}: nobody to give the task to")
        # ``next_tasks`` as stock ``SplitActivation.create_next`` reads it: (node, task data).
        self.next_tasks = [(self.flow_task._branch, item) for item in items]


class ForEach(Split):
    """Parallel split into one branch of ``node`` per item that ``items(activation)`` returns;
    each item (a dict of ids) becomes the new task's ``data``."""

    activation_class = ForEachActivation

    def __init__(self, items: Callable[[Activation], list[dict[str, Any]]], **kwargs):
        super().__init__(**kwargs)
        self._items = items
        self._branch: Any = None  # kept here, not read back from Split's private branch list

    def _resolve(self, instance):
        super()._resolve(instance)
        self._items = this.resolve(instance, self._items)
        self._branch = this.resolve(instance, self._branch)

    def _ready(self):
        super()._ready()
        # Private flag, read by viewflow's chart: viewflow sets it only for data-source branches.
        self._branch._multi_instance = True  # drawn with BPMN's ||| marker

    def Next(self, node, case=None):  # noqa: N802 (viewflow's naming)
        if self._branch is not None:
            raise ValueError("ForEach has exactly one next node")
        self._branch = node
        return super().Next(node)


class _ReadTasks(list):
    """Tasks already read, answering what viewflow's join asks of a queryset of them."""

    def exists(self) -> bool:
        return bool(self)


class GatherActivation(JoinActivation):
    """viewflow's join activation, asking the database as little as an arrival needs.

    viewflow evaluates ``is_done`` twice (``complete.can_proceed()``, then the transition's
    own guard) and recomputes the token prefixes and the early-decision condition once more
    inside ``complete``. Nothing changes in between (all of it runs under the contract's
    lock, in one call of ``_activate_next``), so each answer is kept on the activation.

    An arrival reads, in one query, the open join task and the round's tasks still open
    (the round's token prefix is the arriving task's, which ``ForEach`` gave to every branch
    of the round); a first arrival writes the join task once, already started. ``arrived``
    is the task whose completion reached the join (None for a join read back from the
    database, which asks viewflow's own questions): early-decision conditions read it, and
    the node after the join gets it too.

    Kept over a stock ``Join``, which costs 3 more statements on a first arrival and 8 more on
    the last (two reviews); the viewflow code overridden or re-implemented here is pinned by
    ``tests/workflows/test_viewflow_contract.py``.
    """

    def __init__(self, *args, **kwargs):
        self._answers: dict[str, Any] = {}
        self.arrived: Task | None = None
        super().__init__(*args, **kwargs)

    @classmethod
    def create(cls, flow_task, prev_activation, token, data=None, seed=None):
        process, arrived = prev_activation.process, prev_activation.task
        join_token = token.get_base_split_token() if token.is_split_token() else token
        prefix = arrived.token.get_common_split_prefix(join_token, arrived.pk)
        read = flow_task.flow_class.task_class._default_manager.filter(process=process).filter(
            Q(flow_task=flow_task, status__in=[TaskStatus.NEW, TaskStatus.STARTED])
            | Q(token__startswith=prefix)
            & ~Q(status__in=[TaskStatus.DONE, TaskStatus.CANCELED, TaskStatus.REVIVED])
        )
        open_joins: list[Task] = []
        still_open = _ReadTasks()
        for task in read:
            task.process = process
            (open_joins if task.flow_task == flow_task else still_open).append(task)
        if len(open_joins) > 1:
            raise FlowRuntimeError("More than one join instance for process found")
        if open_joins:
            task = open_joins[0]
        else:
            task = flow_task.flow_class.task_class(
                process=process,
                flow_task=flow_task,
                token=join_token,
                status=TaskStatus.STARTED,
                started=timezone.now(),
            )
            task.data = data if data is not None else {}
            task.seed = seed
            task.save()
        task.previous.add(arrived)
        activation = cls(task)
        activation.arrived = arrived
        activation._answers["prefixes"] = {prefix}
        activation._answers[f"active {prefix}"] = still_open
        return activation

    def _once(self, key: str, ask: Callable[[], Any]) -> Any:
        if key not in self._answers:
            self._answers[key] = ask()
        return self._answers[key]

    def _join_token_prefixes(self):
        # Private override (pinned): answered from the arriving task, no read of task.previous.
        return self._once("prefixes", super()._join_token_prefixes)

    def is_done(self):
        return self._once("done", super().is_done)

    @Activation.status.transition(
        source=TaskStatus.STARTED, target=TaskStatus.DONE, conditions=[this.is_done]
    )
    def complete(self):
        """viewflow's ``JoinActivation.complete`` (pinned), without its savepoint.

        viewflow opens one so that a background job's failing join keeps its error state
        while the join's partial cancellations roll back. A join of Accord's is reached only
        inside a person's decision, in that decision's transaction: any error aborts the
        whole decision, so the savepoint bought nothing and cost two statements a round."""
        with self.exception_guard():
            join_prefixes = self._join_token_prefixes()
            if len(join_prefixes) > 1:
                raise FlowRuntimeError(
                    f"Multiple tokens {join_prefixes} came to join {self.flow_task.name}"
                )
            condition = self.flow_task._continue_on_condition
            if join_prefixes and condition:
                active_tasks = self._active_join_tasks(next(iter(join_prefixes)))
                if active_tasks.exists() and condition(self, active_tasks):
                    self.cancel_active_tasks(active_tasks)
            # The base activation's completion, as JoinActivation's own ``super()`` call.
            super(JoinActivation, self).complete.original()

    def _active_join_tasks(self, join_token_prefix):
        # Private override (pinned). Read once (with the join task, for an arrival):
        # ``is_done`` and ``complete`` both ask whether any remain, and ``complete`` cancels
        # the same ones.
        return self._once(f"active {join_token_prefix}", lambda: self._read(join_token_prefix))

    def _read(self, join_token_prefix) -> _ReadTasks:
        tasks = _ReadTasks(super()._active_join_tasks(join_token_prefix))
        for task in tasks:
            task.process = self.process  # driven by the decision's unit of work
        return tasks


class Gather(Join):
    """viewflow's ``Join`` (with its ``continue_on_condition``), for the branches of a
    ``ForEach``; see ``GatherActivation``."""

    activation_class = GatherActivation
    # Set by Join (a resolved ``continue_on_condition``), wrapped by ``_resolve`` below.
    _continue_on_condition: Callable[[Any, Any], bool] | None

    def _resolve(self, instance):
        super()._resolve(instance)
        # Join's private attribute (pinned): asked by ``is_done`` and ``complete``, answered once.
        condition = self._continue_on_condition
        if condition is not None:

            def continue_on_condition(activation, active_tasks):
                return activation._once("condition", lambda: condition(activation, active_tasks))

            self._continue_on_condition = continue_on_condition

    def close(self, process: Any) -> bool:
        """Go on past this join now, whatever branches are still open (they are cancelled):
        a chair closing a vote, a coordinator closing a collection. False when no branch has
        arrived yet, so that there is no join to go past. ``process`` is the caller's, driven
        by its unit of work."""
        join = self.flow_class.task_class._default_manager.filter(
            process=process, flow_task=self, status=TaskStatus.STARTED
        ).first()
        if join is None:
            return False
        join.process = process
        with self.flow_class.lock(process.pk):
            activation = self.activation_class(join)
            activation.complete()
            activation.activate_next()
        return True


class ConcludeActivation(WrittenOnceActivation, IfActivation):
    arrived: Task | None = None  # unknown for an activation rebuilt from a stored task

    @Activation.status.super()
    def activate(self):
        """viewflow's ``IfActivation.activate`` (pinned), without its savepoint: the outcome
        fires inside the decision's transaction, which any error aborts whole (see
        ``GatherActivation.complete``)."""
        with self.exception_guard():
            self._condition_result = self.flow_task._condition(self)

    @classmethod
    def create(cls, flow_task, prev_activation, token, data=None, seed=None):
        arrived = getattr(prev_activation, "arrived", None)
        if arrived is None:
            # The condition reads the stored task's links (``fire_review_outcome``): saved now,
            # as viewflow saves it.
            activation = Activation.create.__func__(
                cls, flow_task, prev_activation, token, data=data, seed=seed
            )
        else:
            activation = super().create(flow_task, prev_activation, token, data=data, seed=seed)
        activation.arrived = arrived
        return activation


class Conclude(If):
    """An exclusive gateway that first concludes what came in: its function fires the
    outcome (through ``workflows.transitions``) and answers which way the flow goes on. viewflow's
    ``Function`` then ``If`` do the same with one more task row and five more statements.
    The function finds the task that completed the round in ``activation.arrived`` (None if
    unknown)."""

    activation_class = ConcludeActivation


class FinishActivation(WrittenOnceActivation, EndActivation):
    @Activation.status.super()
    def activate(self):
        """viewflow's ``EndActivation.activate`` (pinned), without its savepoint: a flow
        ends inside a person's decision, whose transaction any error aborts whole (see
        ``GatherActivation.complete``)."""
        with self.exception_guard():
            self.task.started = timezone.now()
            task_started.send(sender=self.flow_class, process=self.process, task=self.task)
            still_open = (
                self.flow_class.task_class._default_manager.filter(
                    process=self.process, finished__isnull=True
                )
                .exclude(pk=self.task.pk)
                .exists()
            )
            if not still_open:
                self.process.status = PROCESS.DONE
                self.process.finished = timezone.now()
                self.process.save()
            task_finished.send(sender=self.flow_class, process=self.process, task=self.task)
            if not still_open:
                flow_finished.send(sender=self.flow_class, process=self.process, task=self.task)


class Finish(End):
    """viewflow's ``End``, without a savepoint of its own (``FinishActivation``)."""

    activation_class = FinishActivation


class HumanTaskActivation(ViewActivation):
    @classmethod
    def create(cls, flow_task, prev_activation, token, data=None, seed=None):
        data = dict(data or {})
        task = flow_task.flow_class.task_class(
            process=prev_activation.process,
            flow_task=flow_task,
            flow_task_type=flow_task.task_type,
            token=token,
            data=data,
        )
        assignment = flow_task._assign(prev_activation, data)
        task_open(task, kind=flow_task.kind, assignment=assignment)
        task.previous.add(prev_activation.task)
        return cls(task)

    @Activation.status.transition(source=TaskStatus.ASSIGNED, target=TaskStatus.HELD)
    def hold(self) -> None:
        """The contract is suspended: the task waits, neither done nor cancelled."""
        self.task.held_at = timezone.now()
        self.task.save(update_fields=["status", "held_at"])

    @Activation.status.transition(source=TaskStatus.HELD, target=TaskStatus.ASSIGNED)
    def release(self) -> None:
        """The contract resumes: the task is open again, due later by the time it waited."""
        if self.task.due is not None and self.task.held_at is not None:
            self.task.due += timezone.now() - self.task.held_at
        self.task.held_at = None
        self.task.save(update_fields=["status", "held_at", "due"])

    @Activation.status.transition(source=TaskStatus.DONE, target=TaskStatus.ASSIGNED)
    def reopen(self, kept: list[str]) -> None:
        """Whoever decided changed their mind before anything acted on the decision
        (``services.task_undo``): the task is open again, as it was before the decision
        (``kept``: the keys the decision added to its data). viewflow's own ``undo`` cancels
        the task and ``revive`` makes a new one, unassigned; this keeps the task, its holder
        and its due date. The join it had reached forgets it and waits for it again; a join
        that only it had reached goes, as before the decision (a chair's closing then finds
        that nobody voted)."""
        task = self.task
        for join in task.leading.all():
            join.previous.remove(task)
            if not join.previous.exists():
                join.delete()
        task.decision = ""
        task.comment = ""
        task.completed_by = None
        task.started = None
        task.finished = None
        task.data = {key: value for key, value in task.data.items() if key not in kept}
        task.save(
            update_fields=[
                "status",
                "decision",
                "comment",
                "completed_by",
                "started",
                "finished",
                "data",
            ]
        )

    @Activation.status.transition(
        source=[TaskStatus.NEW, TaskStatus.ASSIGNED, TaskStatus.HELD],
        target=TaskStatus.CANCELED,
    )
    def cancel(self):
        # A new transition (HELD is a source too) running View's body through the FSM's
        # documented ``.original()`` (pinned), then recording the cancellation.
        super().cancel.original()
        task_record_cancelled(self.task)


class HumanTask(View):
    """A person's task of one ``kind`` (review, vote, signature...), completed through
    ``workflows.services.task_decide`` from the inbox, the task page or the API."""

    activation_class = HumanTaskActivation

    def __init__(self, kind: str, assign: Callable[[Activation, dict], Assignment], **kwargs):
        super().__init__(view=None, **kwargs)
        self.kind = kind
        self._assign = assign

    def _resolve(self, instance):
        super()._resolve(instance)
        self._assign = this.resolve(instance, self._assign)
