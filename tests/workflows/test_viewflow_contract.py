"""What ``workflows/nodes.py`` assumes of viewflow's code, pinned so that an upgrade fails here.

``Gather``, ``ForEach``, ``Conclude`` and ``HumanTask`` override viewflow's private methods
(and, with ``Begin`` and ``Finish``, re-implement a few public ones) to ask the database less
per decision. viewflow may change those at any release without notice, so each one Accord
overrides, calls or re-implements is pinned below: it must still be defined where Accord
expects it, with the signature Accord's code assumes, and with the very source it was read
from (its sha256). When an upgrade changes one, the failure names it and says what to re-check
in ``nodes.py``; once re-checked, update the pin.

The behavioural tests below then show that viewflow still calls Accord's overrides in a flow.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import inspect
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from viewflow.workflow import chart
from viewflow.workflow.nodes.join import JoinActivation
from viewflow.workflow.status import PROCESS

from tests.factories import ActionFactory
from tests.flows import decide, launch, open_tasks
from workflows.flows import ActionReviewFlow, ContractFlow
from workflows.models import (
    Action,
    ActionStatus,
    HistoryEntry,
    HistoryEvent,
    Process,
    Task,
    TaskStatus,
)
from workflows.nodes import GatherActivation

PINNED_FROM = "2.4.0"  # the django-viewflow release whose source the hashes below were read from
SUPPORTED = ((2, 4, 0), (2, 5, 0))  # pyproject.toml's pin: django-viewflow>=2.4.0,<2.5


@dataclass(frozen=True)
class Pin:
    upstream: str  # module.Class.method in viewflow
    signature: str  # upstream's, annotations left out
    sha256: str  # of textwrap.dedent(inspect.getsource(upstream)), decorators included
    recheck: str  # what depends on it in workflows/nodes.py
    override: str = ""  # Accord's override (module.Class.method), if any


PINS = [
    # --- viewflow's private methods, overridden or relied upon ------------------------------
    Pin(
        "viewflow.workflow.nodes.join.JoinActivation._join_token_prefixes",
        "(self)",
        "d98ecdf4a6b7e82cefba9a40af51152328506c89d497db36899f243804276fad",
        "GatherActivation._join_token_prefixes, and GatherActivation.create, which answers it "
        "from the arriving task's token without reading task.previous",
        "workflows.nodes.GatherActivation._join_token_prefixes",
    ),
    Pin(
        "viewflow.workflow.nodes.join.JoinActivation._active_join_tasks",
        "(self, join_token_prefix)",
        "020c4b49730a81b257e370219128d5cdbf30084e20d7d30081126b4d8ed29621",
        "GatherActivation._active_join_tasks, and GatherActivation.create, whose one query must "
        "read the same tasks; _ReadTasks must answer whatever is asked of them",
        "workflows.nodes.GatherActivation._active_join_tasks",
    ),
    Pin(
        "viewflow.workflow.activation.Activation._activate_next",
        "(self, activations)",
        "bd1b497a4aefd8f2571842b762161a20503e19982654283aafc4bb93849f2c01",
        "GatherActivation keeps its answers (is_done, prefixes, open tasks, condition) for the "
        "whole arrival: valid only while nothing changes the tasks between "
        "complete.can_proceed() and complete()",
    ),
    Pin(
        "viewflow.workflow.base.Node._resolve",
        "(self, instance)",
        "a03caf759341ea10e7579d7e4e41530393afc8649693a5db831d43f4ee4a9a6f",
        "ForEach._resolve, Gather._resolve and HumanTask._resolve resolve their this-references "
        "there, once per node when the flow class is built",
        "workflows.nodes.ForEach._resolve",
    ),
    Pin(
        "viewflow.workflow.base.Node._ready",
        "(self)",
        "8d7796933dcdc8ab904381fd23c930af9bedeba3edce313106678275b1486310",
        "ForEach._ready marks its branch multi-instance once the flow is set up",
        "workflows.nodes.ForEach._ready",
    ),
    Pin(
        "viewflow.workflow.nodes.join.Join.__init__",
        "(self, continue_on_condition=None, cancel_active=True, **kwargs)",
        "ee79934e45506f3fa6666e145188307bb049886a43e4b8ad9ed59d87c913a80a",
        "Gather._resolve wraps the private attribute _continue_on_condition",
    ),
    Pin(
        "viewflow.workflow.nodes.join.Join._resolve",
        "(self, cls)",
        "55671a79e0a5eb64dd790897e497b82a1672b60c318aa10126df1027438b1fb3",
        "Gather._resolve wraps _continue_on_condition once super()._resolve has resolved it",
        "workflows.nodes.Gather._resolve",
    ),
    Pin(
        "viewflow.fsm.base.TransitionBoundMethod.original",
        "(self, *args, **kwargs)",
        "be951adb36d91a39855f03c01fa1bfdc63f93f2ed23928fbe22831ea49653f75",
        "HumanTaskActivation.cancel runs ViewActivation.cancel's body through "
        "super().cancel.original()",
    ),
    # --- public methods whose body Accord re-implements, or whose details it relies on ------
    Pin(
        "viewflow.workflow.activation.Activation.create",
        "(cls, flow_task, prev_activation, token, data=None, seed=None)",
        "a71655b28dd4aedcbea794a4f15651076180abb44432d32355adafdb381ad1a4",
        "WrittenOnceActivation.create builds the same task (process, flow_task, token, data, "
        "seed) unsaved, and complete writes it then its link to the previous task: carry any "
        "change over",
        "workflows.nodes.WrittenOnceActivation.create",
    ),
    Pin(
        "viewflow.workflow.activation.Activation.complete",
        "(self)",
        "03b8c132178f40181319409fb4f0d7440fbc707625eed6d9f569944395e82184",
        "WrittenOnceActivation.complete runs it through .original(): its task.save() must "
        "still be the task's first write (an INSERT), before the link is added",
        "workflows.nodes.WrittenOnceActivation.complete",
    ),
    Pin(
        "viewflow.workflow.activation.Activation.__hash__",
        "(self)",
        "44601b964b86f5bf169becb356b263e24211d3bc8d1197650c35c4d5e8030eb1",
        "WrittenOnceActivation.__hash__ hashes its unsaved task by identity, which "
        "Activation.__eq__ (comparing the tasks: unsaved models by identity) agrees with",
        "workflows.nodes.WrittenOnceActivation.__hash__",
    ),
    Pin(
        "viewflow.workflow.activation.Activation.__eq__",
        "(self, other)",
        "094951bae005f356c4916b02ce0b0a8ce8b7979da095955fc642246aa07aed8a",
        "WrittenOnceActivation.__hash__ must agree with it: equal when the tasks are equal",
    ),
    Pin(
        "viewflow.workflow.nodes.join.JoinActivation.create",
        "(cls, flow_task, prev_activation, token, data=None, seed=None)",
        "3d7516de2a01d76079f9ec6f6cca03ee35e6b830241b67ef49dbfcb2cec7e3c6",
        "GatherActivation.create re-implements it (the open join and the round in one query, "
        "the join written once, already started): carry any change over",
        "workflows.nodes.GatherActivation.create",
    ),
    Pin(
        "viewflow.workflow.nodes.join.JoinActivation.activate",
        "(self)",
        "0ee952335872325fe8a7a02aef881f9dff19c909ae2b0ff09872d00d77a62388",
        "GatherActivation.create writes the join STARTED with `started` set, so that activate "
        "has nothing left to do",
    ),
    Pin(
        "viewflow.workflow.nodes.join.JoinActivation.complete",
        "(self)",
        "14102af2a11268fdfcdd46a51e9436c3c182a8ea0cc19f7b823df9aec13b894f",
        "GatherActivation.complete re-implements it without the savepoint: it must still ask "
        "_join_token_prefixes, _active_join_tasks(...).exists() and _continue_on_condition "
        "(answered once per arrival by GatherActivation and Gather), cancel through "
        "cancel_active_tasks and end with the base activation's complete",
        "workflows.nodes.GatherActivation.complete",
    ),
    Pin(
        "viewflow.workflow.nodes.start.StartActivation.execute",
        "(self)",
        "bebc7af4706b7ccc84e1087100b53dc9f347757ed1b82d07a730192ca9aa657a",
        "BeginActivation.execute re-implements it without the savepoint: it must still send "
        "task_started, save the process, then under the flow's lock complete the start task, "
        "send flow_started and activate the next nodes",
        "workflows.nodes.BeginActivation.execute",
    ),
    Pin(
        "viewflow.workflow.nodes.end.EndActivation.activate",
        "(self)",
        "84042be984cd12486b28d9223e33109228b8ce96d90a92eb1365160122b5cfad",
        "FinishActivation.activate re-implements it without the savepoint: it must still set "
        "the task's start, finish the process when no other task of it is open, and send "
        "task_started, task_finished and flow_finished",
        "workflows.nodes.FinishActivation.activate",
    ),
    Pin(
        "viewflow.workflow.nodes.if_gate.IfActivation.activate",
        "(self)",
        "5c6ac603937ffac4fd9b8a11bc82af9e853027173ff177c1a66a0a04752794a2",
        "ConcludeActivation.activate re-implements it without the savepoint: it must still "
        "store flow_task._condition(activation) in _condition_result, read by create_next",
        "workflows.nodes.ConcludeActivation.activate",
    ),
    Pin(
        "viewflow.workflow.nodes.join.JoinActivation.is_done",
        "(self)",
        "579492d52cc5fb1a5c9e73fce8ab71a1894c55b4641d833605cd2e0d97cc0ebe",
        "GatherActivation.is_done keeps its answer; _ReadTasks and the flows' conditions "
        "(len(active_tasks)) must answer what it asks of the open tasks",
        "workflows.nodes.GatherActivation.is_done",
    ),
    Pin(
        "viewflow.workflow.nodes.join.JoinActivation.cancel_active_tasks",
        "(self, active_tasks)",
        "f78a67ff18efc4870565acd6ba26fc7454faef39df93525eb4e80dbd2a064ee9",
        "it is given the _ReadTasks list read by GatherActivation.create (tasks, process set)",
    ),
    Pin(
        "viewflow.workflow.nodes.split.SplitActivation.activate",
        "(self)",
        "258cd3be0ed421f34620fff867fb6eaac4efa467bee5ae703d8393a3127d8115",
        "ForEachActivation.activate replaces it, filling next_tasks with (node, data) pairs",
        "workflows.nodes.ForEachActivation.activate",
    ),
    Pin(
        "viewflow.workflow.nodes.split.SplitActivation.create_next",
        "(self)",
        "bcc480fb45786e721ac57af81c95e63cd4377afa3c6900dd654013442ba6fb23",
        "ForEach relies on it creating one task per next_tasks pair, with the pair's data and "
        "its own split token (the prefix Gather reads a round by)",
    ),
    Pin(
        "viewflow.workflow.nodes.split.Split.Next",
        "(self, node, case=None)",
        "50622e2ccf9c815328f752e3c25d2637a41a7cb147f51a06c5d13e144839d1db",
        "ForEach.Next keeps its one branch in _branch and hands it on for the chart's edges",
        "workflows.nodes.ForEach.Next",
    ),
    Pin(
        "viewflow.workflow.nodes.view.ViewActivation.create",
        "(cls, flow_task, prev_activation, token, data=None, seed=None)",
        "07ee6a4fa7a893323f50029c6c50512dfb375f5b7964c924b5c043c4246eeeeb",
        "HumanTaskActivation.create replaces it (assigned through services.task_open, no "
        "owner permission nor onCreate): carry any change over",
        "workflows.nodes.HumanTaskActivation.create",
    ),
    Pin(
        "viewflow.workflow.nodes.view.ViewActivation.cancel",
        "(self)",
        "46553a015bc5d8d04337e0b70354ce9ef3c5b42a635d0e39747dded50db549ae",
        "HumanTaskActivation.cancel runs this body through .original(), from HELD as well",
        "workflows.nodes.HumanTaskActivation.cancel",
    ),
]


def _installed_version() -> str:
    return importlib.metadata.version("django-viewflow")


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def _lookup(path: str) -> tuple[type, str]:
    """The class ``path`` names a method of, and the method's name."""
    module, owner, name = path.rsplit(".", 2)
    return getattr(importlib.import_module(module), owner), name


def _function(owner: type, name: str) -> Callable[..., Any]:
    """The plain function behind a method, a classmethod or a viewflow FSM transition."""
    member = getattr(owner, name)
    member = getattr(member, "_func", member)  # viewflow.fsm's TransitionMethod
    return getattr(member, "__func__", member)  # a classmethod, bound to its class


def _signature(function: Callable[..., Any]) -> inspect.Signature:
    signature = inspect.signature(function)
    return signature.replace(
        parameters=[p.replace(annotation=p.empty) for p in signature.parameters.values()],
        return_annotation=signature.empty,
    )


def _shape(function: Callable[..., Any]) -> list[tuple[Any, Any]]:
    """Parameters as viewflow passes them: kinds and defaults, names aside."""
    return [(p.kind, p.default) for p in _signature(function).parameters.values()]


def _sha256(function: Callable[..., Any]) -> str:
    source = textwrap.dedent(inspect.getsource(function))
    return hashlib.sha256(source.encode()).hexdigest()


def test_the_installed_viewflow_is_django_viewflow_in_the_pinned_range():
    assert importlib.metadata.packages_distributions().get("viewflow") == ["django-viewflow"]
    version = _installed_version()
    low, high = SUPPORTED
    assert low <= _release(version) < high, (
        f"django-viewflow {version} is outside the range these pins were checked for "
        f"({'.'.join(map(str, low))} to before {'.'.join(map(str, high))}): re-check every pin "
        "below against it, then move SUPPORTED here and the pin in pyproject.toml together"
    )


@pytest.mark.parametrize("pin", PINS, ids=lambda pin: ".".join(pin.upstream.rsplit(".", 2)[1:]))
def test_the_viewflow_code_accord_overrides_is_unchanged(pin: Pin):
    owner, name = _lookup(pin.upstream)
    assert name in vars(owner), (
        f"{pin.upstream} is no longer defined there in viewflow {_installed_version()}. "
        f"Re-check in workflows/nodes.py: {pin.recheck}."
    )
    upstream = _function(owner, name)
    assert str(_signature(upstream)) == pin.signature, (
        f"{pin.upstream} changed its signature to {_signature(upstream)} in viewflow "
        f"{_installed_version()}. Re-check in workflows/nodes.py: {pin.recheck}."
    )
    sha256 = _sha256(upstream)
    assert sha256 == pin.sha256, (
        f"{pin.upstream} changed in viewflow {_installed_version()} (pinned as read from "
        f"{PINNED_FROM}). Re-check in workflows/nodes.py: {pin.recheck}. Then pin {sha256}."
    )
    if pin.override:
        accord = _function(*_lookup(pin.override))
        assert _shape(accord) == _shape(upstream), (
            f"{pin.override}{_signature(accord)} no longer takes what viewflow passes to "
            f"{pin.upstream}{_signature(upstream)}"
        )


def test_the_pins_name_each_upstream_method_once():
    upstreams = [pin.upstream for pin in PINS]
    assert len(set(upstreams)) == len(upstreams)


# --- viewflow still calls Accord's overrides -------------------------------------------------


def _count_calls(monkeypatch, owner: type, name: str) -> list[int]:
    """Replace ``owner.name`` by a wrapper counting its calls (one list item a call)."""
    calls: list[int] = []
    original = vars(owner)[name]

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


@pytest.fixture
def join_calls(monkeypatch) -> dict[str, list[int]]:
    """Calls of Accord's join overrides, and of viewflow's methods they answer for."""
    return {
        f"{owner.__name__}.{name}": _count_calls(monkeypatch, owner, name)
        for owner in (GatherActivation, JoinActivation)
        for name in ("_join_token_prefixes", "_active_join_tasks", "is_done")
    }


def _review_pair(contract, coordinator) -> tuple[Task, Task]:
    action = ActionFactory(contract=contract)
    launch(contract, coordinator)
    first, second = (t for t in open_tasks(contract) if t.action_id == action.pk)
    return first, second


def _join_tasks(contract) -> list[Task]:
    return list(
        Task.objects.filter(process__contract=contract, flow_task=ActionReviewFlow.reviewed)
    )


@pytest.mark.django_db
def test_the_join_waits_for_the_parallel_reviews_through_accords_overrides(
    contract, coordinator, join_calls
):
    first, second = _review_pair(contract, coordinator)

    decide(first)
    (join,) = _join_tasks(contract)
    assert join.status == TaskStatus.STARTED  # waits for the other review
    # viewflow asked Accord's overrides, which answered from the arrival's one read.
    assert join_calls["GatherActivation._join_token_prefixes"]
    assert join_calls["GatherActivation._active_join_tasks"]
    assert join_calls["JoinActivation._join_token_prefixes"] == []
    assert join_calls["JoinActivation._active_join_tasks"] == []

    for calls in join_calls.values():
        calls.clear()
    decide(second)
    (join,) = _join_tasks(contract)
    assert join.status == TaskStatus.DONE
    assert Action.objects.get(pk=second.action_id).status == ActionStatus.APPROVED
    # is_done is asked twice (can_proceed, then the transition's guard) and computed once.
    assert len(join_calls["GatherActivation.is_done"]) >= 2
    assert len(join_calls["JoinActivation.is_done"]) == 1
    assert join_calls["JoinActivation._join_token_prefixes"] == []
    assert join_calls["JoinActivation._active_join_tasks"] == []


@pytest.mark.django_db
def test_an_approved_actions_gateway_and_end_are_written_once_done_and_linked(
    contract, coordinator
):
    first, second = _review_pair(contract, coordinator)
    decide(first)
    (join,) = _join_tasks(contract)

    with CaptureQueriesContext(connection) as queries:
        decide(second)

    process = Process.objects.get(pk=second.process_id)
    assert process.status == PROCESS.DONE
    assert process.finished is not None
    gateway = Task.objects.get(process=process, flow_task=ActionReviewFlow.conclude_review)
    end = Task.objects.get(process=process, flow_task=ActionReviewFlow.end)
    for task, before in ((gateway, join), (end, gateway)):
        assert task.status == TaskStatus.DONE
        assert task.finished is not None
        assert list(task.previous.all()) == [before]
    # Each written by one INSERT, never updated afterwards (viewflow inserts, then updates).
    updates = [
        q["sql"]
        for q in queries
        if q["sql"].startswith('UPDATE "workflows_task"')
        and re.search(rf'"workflows_task"\."id" = \(?({gateway.pk}|{end.pk})\b', q["sql"])
    ]
    assert updates == []


@pytest.mark.django_db
def test_a_review_rounds_split_is_written_once_done_and_linked(contract, coordinator):
    ActionFactory(contract=contract)
    ActionFactory(contract=contract)

    with CaptureQueriesContext(connection) as queries:
        launch(contract, coordinator)

    splits = list(
        Task.objects.filter(
            process__contract=contract, flow_task=ActionReviewFlow.review_by_leads
        ).order_by("pk")
    )
    assert len(splits) == 2
    for split in splits:
        (start,) = split.previous.all()
        assert start.flow_task == ActionReviewFlow.start
        assert split.status == TaskStatus.DONE
        assert split.finished is not None
        reviews = Task.objects.filter(previous=split)
        assert reviews.count() == 2  # one per lead, each linked to the split
        # The round's token prefix, which the join reads, names the split's row.
        assert all(str(review.token).startswith(f"{split.token}/{split.pk}_") for review in reviews)
    # Each split written by one INSERT, never updated afterwards (viewflow inserts, then
    # updates).
    updates = [
        q["sql"]
        for q in queries
        if q["sql"].startswith('UPDATE "workflows_task"')
        and re.search(
            rf'"workflows_task"\."id" = \(?({"|".join(str(s.pk) for s in splits)})\b', q["sql"]
        )
    ]
    assert updates == []


@pytest.mark.django_db
def test_a_request_for_changes_cancels_the_round_through_viewflows_join(
    contract, coordinator, monkeypatch
):
    first, second = _review_pair(contract, coordinator)
    condition_calls: list[int] = []
    reviewed = ActionReviewFlow.reviewed
    condition = reviewed._continue_on_condition

    def counted(activation, active_tasks):
        condition_calls.append(1)
        return condition(activation, active_tasks)

    monkeypatch.setattr(reviewed, "_continue_on_condition", counted)

    decide(first, "request_changes", comment="Chiffrer le budget.")

    assert condition_calls  # viewflow still asks Join's _continue_on_condition
    second.refresh_from_db()
    assert second.status == TaskStatus.CANCELED
    assert second.finished is not None  # ViewActivation.cancel's body, run by .original()
    assert HistoryEntry.objects.filter(
        contract=contract, event=HistoryEvent.TASK_CANCELLED, data__task=second.pk
    ).exists()  # Accord's own part of HumanTaskActivation.cancel


def test_each_branch_of_a_for_each_is_drawn_as_one_task_per_item():
    for split, branch in (
        (ActionReviewFlow.review_by_leads, ActionReviewFlow.review),
        (ContractFlow.call_votes, ContractFlow.vote),
        # A signatory's branch opens on its internal visas, if any, then its signature.
        (ContractFlow.call_signatories, ContractFlow.visa_or_sign),
    ):
        assert split._branch is branch
        assert [edge.dst for edge in split._outgoing()] == [branch]
        assert branch._multi_instance

    svg = chart.grid_to_svg(chart.calc_layout_data(ContractFlow))
    vote = re.search(r'<g id="vote".*?</g>', svg, re.DOTALL)
    assert vote is not None
    assert "v 9 m 5 -9 v 9 m 5 -9 v 9" in vote.group()  # viewflow's multi-instance marker
    deliberation = re.search(r'<g id="deliberation".*?</g>', svg, re.DOTALL)
    assert deliberation is not None
    assert "v 9 m 5 -9" not in deliberation.group()
