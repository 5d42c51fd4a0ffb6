"""The demo contract's whole story, from its import to its signature, through the REST API.

CLS Terres des Confluences 2019-2022 (``workflows/demo/terres-des-confluences.json``): 38
actions in 10 working groups led by pairs of technicians, a steering committee of 5 with a
quorum of 3, 8 signatories. Everybody acts through the API with their own token, as a client
application would; nothing is called behind the API's back except to set the scene (the
signatories' order, passwords, and ten days passing during the suspension).

The story:
 1. The file is imported and the coordinator launches the review: one review task per lead.
 2. A lead asks for changes on T2-A4: the other lead's review is cancelled, the pilot revises,
    resubmits, and both leads review the sheet again.
 3. A lead goes on leave: his open reviews go to a colleague, who approves one for him.
 4. The territorial reform suspends the work: tasks are put on hold, ten days pass, the work
    resumes and every held task's due date moves by ten days.
 5. A lead double-clicks "Approve": one request wins, the other is told it is already done.
 6. The absent lead comes back early: the reviews still open go back to him.
 7. The last review moves the contract to the steering committee.
 8. The committee rejects it on T3-A2, the chair closing the vote once the quorum is reached:
    only T3-A2 goes back to its pilot; once approved again, a second vote validates.
 9. The council deliberates; the mandatory signatories and the CPAM sign first (order 1):
    the CPAM's legal department refuses its visa (the CPAM declines), then the ARS declines:
    the contract goes back to draft as version 2, the signature given is voided.
10. Version 2 goes through review, committee and deliberation again; both mandatory
    signatories sign, the CPAM's two visas are given and its representative signs; then the
    associated ones (order 2): representatives sign for their signers, the DDCSPP declines,
    and the contract is signed.
11. The history holds every step, for whom it was done, and its chain is intact.
12. The contract document of version 2 carries the seven signatures and Accord's seal, all
    intact, over the document frozen at its deliberation.
13. The follow-up: two pilots start their actions, a third abandons its own (with a reason);
    an indicator gets its values of 2020 and 2021.
14. The annual review of 2021: a report task for the pilot of every running action, their
    reports submitted, the committee adopts the report; its PDF, whose SHA-256 the history
    keeps, has a chart per indicator; the chain is still intact.
15. Amendment no. 1: T1-A1 gets funding, T1-A2 a new title, T1-A9 is added with the CH-MTB
    (an associated signatory) as partner. Only those three sheets are reviewed; the chair
    closes the committee's vote; the mandatory signatories and the associated ones the
    changes concern (CPAM, MSA, CH-MTB) sign, the others are not asked; pdfsig finds the
    amendment's signatures valid; the contract in force includes it, its earlier versions
    stay readable, and the history's chain is still intact.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
import threading
from collections import Counter

import pytest
from django.db import connection
from django.db.models import F
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from signatures.models import ContractDocument
from signatures.selectors import document_verify
from tests.factories import PASSWORD, UserFactory
from tests.flows import worker_seals
from tests.signatures.pdf import pdf_text_and_images, run_pdfsig
from workflows.models import Contract, Task, TaskStatus, User

API = "/api/v1"
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
TEN_DAYS = datetime.timedelta(days=10)


class Person:
    """Someone of the contract, acting through the API with their own token."""

    def __init__(self, username: str) -> None:
        self.user = User.objects.get(username=username)
        self.username = username
        self.name = self.user.display_name
        self.token = Token.objects.get_or_create(user=self.user)[0].key

    def __repr__(self) -> str:
        return self.username

    def client(self) -> APIClient:
        """A client of one's own: two threads never share one."""
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {self.token}")
        return client

    def get(self, path: str, **params):
        return self.client().get(f"{API}{path}", params, **EN)

    def post(self, path: str, body: dict | None = None):
        return self.client().post(f"{API}{path}", body or {}, format="json", **EN)

    def patch(self, path: str, body: dict):
        return self.client().patch(f"{API}{path}", body, format="json", **EN)

    def inbox(self, kind: str | None = None) -> list[dict]:
        response = self.get("/inbox/", limit=200, **({"kind": kind} if kind else {}))
        assert response.status_code == 200, response.content
        return response.json()

    def task(self, kind: str, action: str | None = None) -> dict:
        """The one open task of this kind (and action) in one's inbox."""
        (task,) = [t for t in self.inbox(kind) if action is None or t["action"] == action]
        return task

    def decide(self, task: dict, decision: str, *, expect: int = 200, **fields) -> dict:
        if decision == "sign":
            fields = {"password": PASSWORD, "consent": True, **fields}
        response = self.post(f"/tasks/{task['id']}/decision/", {"decision": decision, **fields})
        assert response.status_code == expect, (self, task, response.json())
        return response.json()


class ContractApi:
    """What the coordinator reads of the contract: its detail and its history."""

    def __init__(self, coordinator: Person, pk: int) -> None:
        self.coordinator = coordinator
        self.pk = pk

    def detail(self) -> dict:
        response = self.coordinator.get(f"/contracts/{self.pk}/")
        assert response.status_code == 200, response.content
        return response.json()

    def status(self) -> tuple[str, int]:
        detail = self.detail()
        return detail["status"], detail["version"]

    def actions(self) -> dict[str, str]:
        return {action["code"]: action["status"] for action in self.detail()["actions"]}

    def signatories(self) -> dict[str, str]:
        return {s["organisation"]: s["status"] for s in self.detail()["signatories"]}

    def history(self) -> list[dict]:
        response = self.coordinator.get(f"/contracts/{self.pk}/history/")
        assert response.status_code == 200, response.content
        return response.json()

    def last_seq(self) -> int:
        return self.history()[-1]["seq"]

    def since(self, seq: int) -> list[dict]:
        """The entries appended after ``seq``: what the last step wrote."""
        return [entry for entry in self.history() if entry["seq"] > seq]

    def transition(self, name: str, body: dict | None = None, *, by: Person | None = None):
        response = (by or self.coordinator).post(f"/contracts/{self.pk}/transitions/{name}/", body)
        assert response.status_code == 200, response.json()
        return response.json()


def events(entries: list[dict]) -> Counter:
    return Counter(entry["event"] for entry in entries)


def one(entries: list[dict], **fields) -> dict:
    """The single entry with these fields."""
    (entry,) = [e for e in entries if all(e.get(k) == v for k, v in fields.items())]
    return entry


def approve_every_review(leads: list[Person]) -> int:
    """Each lead approves every review in their inbox, until none is left anywhere."""
    approved = 0
    while reviews := [(lead, task) for lead in leads for task in lead.inbox("review")]:
        for lead, task in reviews:
            lead.decide(task, "approve")
            approved += 1
    return approved


def vote_until_decided(members: list[Person], decision: str = "approve") -> list[Person]:
    """Members vote in turn until the vote is decided; returns those who voted."""
    voted = []
    for member in members:
        tasks = member.inbox("vote")
        if not tasks:
            break
        member.decide(tasks[0], decision)
        voted.append(member)
    return voted


def double_click(person: Person, task: dict, decision: str) -> list[int]:
    """The same decision sent twice at once (a double click, two tabs, a retry).

    On PostgreSQL two threads, each with its own connection, post together. pytest-django's
    SQLite test database lives in memory, where two connections cannot write concurrently
    (a shared-cache table lock fails at once instead of waiting): there the two requests go
    one after the other, which exercises the same refusal of the second completion. The
    threaded race on a SQLite file is tests/workflows/test_task_concurrency.py's.
    """
    url = f"{API}/tasks/{task['id']}/decision/"
    if connection.vendor != "postgresql":
        client = person.client()
        return sorted(
            client.post(url, {"decision": decision}, format="json", **EN).status_code
            for _ in range(2)
        )
    barrier = threading.Barrier(2)
    statuses: list[int] = []
    failures: list[BaseException] = []

    def click() -> None:
        try:
            client = person.client()
            barrier.wait(timeout=30)
            statuses.append(client.post(url, {"decision": decision}, format="json").status_code)
        except BaseException as exc:  # reported to the test, never lost in the thread
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if failures:
        raise failures[0]
    return sorted(statuses)


# Committed data: the threads of the double click read what the story wrote before them.
@pytest.mark.django_db(transaction=True)
def test_the_demo_contract_from_its_import_to_its_first_amendment(scenario, tmp_path, pdfsig):
    today = timezone.localdate()
    document = copy.deepcopy(scenario)
    # The demo file signs everyone in parallel; here the mandatory signatories sign first,
    # with the CPAM, whose legal then finance departments give their visas before it signs.
    for signatory in document["signatories"]:
        signatory["order"] = 1 if signatory["kind"] == "mandatory" else 2
    document["people"] += [
        {
            "username": username,
            "first_name": first_name,
            "last_name": last_name,
            "email": f"{username}@example.org",
            "organisation": "CPAM82",
            "title": title,
        }
        for username, first_name, last_name, title in (
            ("juriste.cpam82", "Claire", "Fabre", "service juridique"),
            ("finances.cpam82", "Paul", "Vidal", "direction financière"),
        )
    ]
    (cpam,) = [s for s in document["signatories"] if s["organisation"] == "CPAM82"]
    cpam.update(order=1, visas=["juriste.cpam82", "finances.cpam82"])
    actions_total = sum(len(theme["actions"]) for theme in document["themes"])
    groups = {group["code"]: group for group in document["working_groups"]}
    sheets = {sheet["code"]: sheet for theme in document["themes"] for sheet in theme["actions"]}
    assert (actions_total, len(groups), len(document["signatories"])) == (38, 10, 8)

    # --- 1. Import and launch -----------------------------------------------------------
    admin = Person(UserFactory(username="admin", is_staff=True).username)
    response = admin.client().post(
        f"{API}/contracts/import/", json.dumps(document), content_type="application/json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "draft"
    # Imported accounts have no password until their owners answer the invitation.
    for person in User.objects.exclude(pk=admin.user.pk):
        person.set_password(PASSWORD)
        person.save(update_fields=["password"])
    people = {p["username"]: Person(p["username"]) for p in document["people"]}
    coordinator = people["coordination.cls"]
    contract = ContractApi(coordinator, response.json()["id"])
    tech1_ars, tech2_ars = people["tech1.ars"], people["tech2.ars"]
    tech1_cc, tech2_cc = people["tech1.cctdc"], people["tech2.cctdc"]
    leads = [tech1_ars, tech2_ars, tech1_cc, tech2_cc]
    assert {u for g in groups.values() for u in g["leads"]} == {p.username for p in leads}

    def reviews_of(lead: Person) -> set[str]:
        """The actions of the groups this person leads."""
        return {
            code
            for code, sheet in sheets.items()
            if lead.username in groups[sheet["working_group"]]["leads"]
        }

    mark = contract.last_seq()
    detail = contract.transition("launch_review")
    assert (detail["status"], detail["version"]) == ("review", 1)
    assert set(contract.actions().values()) == {"review"}
    for lead in leads:
        inbox = lead.inbox()
        assert {task["action"] for task in inbox} == reviews_of(lead)
        assert {task["kind"] for task in inbox} == {"review"}
        assert all(task["decisions"] == ["approve", "request_changes"] for task in inbox)
    written = contract.since(mark)
    assert events(written)["task_created"] == 2 * actions_total  # two leads per group
    assert events(written)["action_transition"] == actions_total
    launch = one(written, event="transition", name="launch_review")
    assert (launch["actor"], launch["from_state"], launch["to_state"]) == (
        "coordination.cls",
        "draft",
        "review",
    )
    # Nobody else has a task yet: neither the pilots nor the committee nor the signers.
    assert coordinator.inbox() == []
    assert people["vp-sante.cctdc"].inbox() == []

    # --- 2. A request for changes on T2-A4 (GT3: tech2.ars and tech1.cctdc; pilot tech2.cctdc)
    assert groups["GT3"]["leads"] == ["tech2.ars", "tech1.cctdc"]
    assert sheets["T2-A4"]["pilot"] == "tech2.cctdc"
    review = tech1_cc.task("review", "T2-A4")
    refused = tech1_cc.decide(review, "request_changes", expect=400)
    assert refused["detail"] == "Say in a comment what must change."
    mark = contract.last_seq()
    answer = tech1_cc.decide(
        review, "request_changes", comment="Le budget 2020 de la maison des ados manque."
    )
    assert answer["task"]["decision"] == "request_changes"
    assert contract.actions()["T2-A4"] == "changes_requested"
    assert "T2-A4" not in {t["action"] for t in tech2_ars.inbox("review")}  # cancelled
    revision = tech2_cc.task("revision", "T2-A4")
    assert revision["decisions"] == ["resubmit"]
    written = contract.since(mark)
    asked = one(written, event="action_transition", name="request_changes")
    assert (asked["actor"], asked["action"], asked["comment"]) == (
        "tech1.cctdc",
        "T2-A4",
        "Le budget 2020 de la maison des ados manque.",
    )
    cancelled = one(written, event="task_cancelled")
    assert (cancelled["action"], cancelled["data"]["owner"]) == ("T2-A4", "tech2.ars")
    assert one(written, event="task_created", name="revision")["data"]["owner"] == "tech2.cctdc"

    mark = contract.last_seq()
    tech2_cc.decide(revision, "resubmit", comment="Budget 2020 ajouté.")
    assert contract.actions()["T2-A4"] == "review"
    assert tech2_cc.inbox("revision") == []
    written = contract.since(mark)
    assert one(written, event="action_transition", name="resubmit")["actor"] == "tech2.cctdc"
    assert sorted(e["data"]["owner"] for e in written if e["event"] == "task_created") == [
        "tech1.cctdc",
        "tech2.ars",
    ]

    # --- 3. tech2.ars goes on leave: tech1.ars takes his reviews -------------------------
    his_reviews = {task["id"] for task in tech2_ars.inbox()}
    assert len(his_reviews) == len(reviews_of(tech2_ars))
    mark = contract.last_seq()
    response = tech2_ars.post(
        "/delegations/",
        {
            "delegate": "tech1.ars",
            "start": today.isoformat(),
            "end": (today + datetime.timedelta(days=14)).isoformat(),
        },
    )
    assert response.status_code == 201, response.json()
    absence = response.json()
    assert (absence["state"], absence["tasks_with_delegate"]) == ("current", len(his_reviews))
    assert tech2_ars.inbox() == []
    held_for_him = [t for t in tech1_ars.inbox() if t["on_behalf_of"] == "tech2.ars"]
    assert {t["id"] for t in held_for_him} == his_reviews
    assert all(t["delegated"] and t["assignee"] == "tech1.ars" for t in held_for_him)
    assert held_for_him[0]["acting_for"] == f"{tech1_ars.name} for {tech2_ars.name}"
    handed = [e for e in contract.since(mark) if e["event"] == "task_delegated"]
    assert len(handed) == len(his_reviews)
    assert {(e["data"]["from"], e["data"]["to"]) for e in handed} == {("tech2.ars", "tech1.ars")}

    # The delegate approves T2-A4 for him; tech1.cctdc approves it too: T2-A4 is approved.
    mark = contract.last_seq()
    (for_him,) = [t for t in held_for_him if t["action"] == "T2-A4"]
    tech1_ars.decide(for_him, "approve")
    done_for_him = one(contract.since(mark), event="task_completed")
    assert (done_for_him["actor"], done_for_him["on_behalf_of"]) == ("tech1.ars", "tech2.ars")
    tech1_cc.decide(tech1_cc.task("review", "T2-A4"), "approve")
    assert contract.actions()["T2-A4"] == "approved"

    # --- 4. The territorial reform suspends the work; ten days later it resumes ----------
    open_before = {
        task.pk: task.due
        for task in Task.objects.filter(contract_id=contract.pk, status=TaskStatus.ASSIGNED)
    }
    mark = contract.last_seq()
    reason = "Fusion des communautés de communes : groupes de travail suspendus."
    detail = contract.transition("suspend", {"reason": reason})
    assert (detail["status"], detail["suspended_from"]) == ("suspended", "review")
    assert all(lead.inbox() == [] for lead in leads)
    assert set(Task.objects.filter(pk__in=open_before).values_list("status", flat=True)) == {
        TaskStatus.HELD
    }
    held = Task.objects.filter(pk__in=open_before, owner=tech1_cc.user).first()
    on_hold = tech1_cc.decide({"id": held.pk}, "approve", expect=409)
    assert on_hold["detail"] == "The contract is suspended: this task is on hold until it resumes."
    written = contract.since(mark)
    assert one(written, event="transition", name="suspend")["comment"] == reason
    assert events(written)["task_held"] == len(open_before)
    # Ten days pass (the suspension's time stamps are moved back, as if they had).
    Contract.objects.filter(pk=contract.pk).update(suspended_at=F("suspended_at") - TEN_DAYS)
    Task.objects.filter(pk__in=open_before).update(held_at=F("held_at") - TEN_DAYS)

    mark = contract.last_seq()
    detail = contract.transition("resume")
    assert (detail["status"], detail["suspended_from"]) == ("review", None)
    for task in Task.objects.filter(pk__in=open_before):
        assert task.status == TaskStatus.ASSIGNED
        moved = task.due - open_before[task.pk]
        assert TEN_DAYS <= moved < TEN_DAYS + datetime.timedelta(minutes=1), (task, moved)
    written = contract.since(mark)
    resumed = one(written, event="transition", name="resume")
    assert resumed["data"]["suspended_for_seconds"] >= TEN_DAYS.total_seconds()
    assert events(written)["task_resumed"] == len(open_before)
    assert {t["action"] for t in tech1_cc.inbox()} == reviews_of(tech1_cc) - {"T2-A4"}

    # --- 5. tech1.cctdc double-clicks "Approve" on T1-A1 ---------------------------------
    review = tech1_cc.task("review", "T1-A1")
    mark = contract.last_seq()
    assert double_click(tech1_cc, review, "approve") == [200, 409]
    written = contract.since(mark)
    assert events(written)["task_completed"] == 1
    assert Task.objects.get(pk=review["id"]).status == TaskStatus.DONE
    again = tech1_cc.decide(review, "approve", expect=409)
    assert again["detail"].startswith("This task was already completed")
    assert tech1_cc.name in again["detail"]

    # --- 6. tech2.ars comes back early: his open reviews return to him -------------------
    mark = contract.last_seq()
    response = tech2_ars.post(f"/delegations/{absence['id']}/cancel/")
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "cancelled"
    returned = {t["action"] for t in tech2_ars.inbox()}
    assert returned == reviews_of(tech2_ars) - {"T2-A4"}
    assert all(t["on_behalf_of"] is None for t in tech1_ars.inbox())
    handed_back = [e for e in contract.since(mark) if e["event"] == "task_delegated"]
    assert {(e["data"]["from"], e["data"]["to"]) for e in handed_back} == {
        ("tech1.ars", "tech2.ars")
    }
    assert len(handed_back) == len(returned)

    # --- 7. Every other review: the last one calls the committee -------------------------
    members = [people[u] for u in document["steering_committee"]["members"]]
    chair = people[document["steering_committee"]["chair"]]
    mark = contract.last_seq()
    approve_every_review(leads)
    assert contract.status() == ("committee", 1)
    assert set(contract.actions().values()) == {"approved"}
    for member in members:
        (vote,) = member.inbox()
        assert (vote["kind"], vote["decisions"]) == ("vote", ["approve", "reject", "abstain"])
    opened = one(contract.since(mark), event="transition", name="open_committee")
    assert (opened["actor"], opened["to_state"]) == (None, "committee")

    # --- 8. The committee rejects on T3-A2, the chair closing the vote --------------------
    elu2, delegue, elue_cd82 = people["elu2.cctdc"], people["delegue82.ars"], people["elue.cd82"]
    mark = contract.last_seq()
    elu2.decide(elu2.task("vote"), "approve")
    not_yet = chair.post(f"/contracts/{contract.pk}/vote/close/")
    assert not_yet.status_code == 409
    assert not_yet.json()["detail"] == "The quorum is not reached: 1 vote(s) cast, 3 needed."
    objection = "Le financement ARS de l'action T3-A2 n'est pas acquis."
    delegue.decide(
        delegue.task("vote"),
        "reject",
        comment="Financement non acquis.",
        actions=["T3-A2"],
        objections={"T3-A2": objection},
    )
    elue_cd82.decide(elue_cd82.task("vote"), "reject", comment="Idem.", actions=["T3-A2"])
    assert contract.status() == ("committee", 1)  # 1 for, 2 against, 2 to vote: still open
    not_the_chair = elu2.post(f"/contracts/{contract.pk}/vote/close/")
    assert not_the_chair.status_code == 403
    closed = chair.post(f"/contracts/{contract.pk}/vote/close/")
    assert closed.status_code == 200, closed.json()
    assert (closed.json()["status"], closed.json()["version"]) == ("review", 1)
    assert chair.inbox() == []  # the two votes not cast are cancelled
    assert people["elu3.cctdc"].inbox() == []
    statuses = contract.actions()
    assert statuses.pop("T3-A2") == "changes_requested"
    assert set(statuses.values()) == {"approved"}  # the others stay approved
    written = contract.since(mark)
    decided = one(written, event="vote_decided")
    assert decided["name"] == "rejected"
    assert decided["actor"] == chair.username
    assert {k: decided["data"][k] for k in ("round", "approvals", "rejections", "actions")} == {
        "round": 1,
        "approvals": 1,
        "rejections": 2,
        "actions": ["T3-A2"],
    }
    assert decided["data"]["closed_by_chair"] is True
    rejection = one(written, event="task_completed", actor="delegue82.ars")
    assert rejection["data"]["objections"] == {"T3-A2": objection}
    assert events(written)["task_cancelled"] == 2
    assert one(written, event="transition", name="committee_reject")["to_state"] == "review"

    # Only T3-A2's pilot has work; once revised and approved again, a second vote validates.
    pilot = people[sheets["T3-A2"]["pilot"]]
    revision = pilot.task("revision", "T3-A2")
    pilot.decide(revision, "resubmit", comment="Financement ARS confirmé par courrier.")
    assert {t["action"] for lead in leads for t in lead.inbox()} == {"T3-A2"}
    assert approve_every_review(leads) == 2  # the two leads of GT5
    assert contract.status() == ("committee", 1)
    mark = contract.last_seq()
    assert [m.username for m in vote_until_decided(members)] == [
        m.username for m in members[:3]
    ]  # three approvals of five: validated whatever the last two would say
    assert contract.status() == ("deliberation", 1)
    assert set(contract.actions().values()) == {"validated"}
    assert all(member.inbox() == [] for member in members)
    written = contract.since(mark)
    decided = one(written, event="vote_decided")
    assert (decided["name"], decided["data"]["round"], decided["data"]["closed_by_chair"]) == (
        "validated",
        2,
        False,
    )
    assert events(written)["task_cancelled"] == 2

    # --- 9. Deliberation; order 1 signs; the ARS declines: back to draft, version 2 -------
    def deliberate(number: str) -> None:
        task = coordinator.task("deliberation")
        answer = coordinator.decide(
            task, "record", number=number, date=(today - datetime.timedelta(days=1)).isoformat()
        )
        assert answer["contract"]["status"] == "signing"

    deliberate("2019-117")
    detail = contract.detail()
    assert detail["deliberation"]["number"] == "2019-117"
    assert len(detail["document_sha256"]) == 64
    mandatory = {s["signer"] for s in document["signatories"] if s["kind"] == "mandatory"}
    signing = {u for u, p in people.items() if p.inbox("signature")}
    # The CPAM's signer waits for its visas; order 2 waits for order 1.
    assert signing == mandatory == {"president.cctdc", "dg.ars"}
    juriste, finances = people["juriste.cpam82"], people["finances.cpam82"]
    assert [task["kind"] for task in juriste.inbox()] == ["visa"]
    assert finances.inbox() == []

    president, dg_ars = people["president.cctdc"], people["dg.ars"]
    president.decide(president.task("signature"), "sign")
    assert contract.signatories()["CCTDC"] == "signed"
    # The CPAM's legal department refuses its visa: that is the CPAM's decline (associated).
    juriste.decide(juriste.task("visa"), "refuse", comment="Clause de financement à revoir.")
    assert contract.signatories()["CPAM82"] == "declined"
    assert finances.inbox() == []
    assert contract.status() == ("signing", 1)
    mark = contract.last_seq()
    refusal = "Le volet santé mentale doit être revu avec le CHS."
    dg_ars.decide(dg_ars.task("signature"), "decline", comment=refusal)
    assert contract.status() == ("draft", 2)
    assert set(contract.signatories().values()) == {"pending"}
    assert set(contract.actions().values()) == {"draft"}
    written = contract.since(mark)
    declined = one(written, event="decline")
    assert (declined["actor"], declined["comment"]) == ("dg.ars", refusal)
    back = one(written, event="transition", name="return_to_draft")
    assert (back["from_state"], back["to_state"], back["comment"]) == ("signing", "draft", refusal)
    assert back["data"] == {"declined_by": "ARS-OCC", "voided_signatures": ["CCTDC"]}
    # The voided signature is still in the history, never deleted.
    history = contract.history()
    assert one(history, event="signature", actor="president.cctdc")["data"]["organisation"] == (
        "CCTDC"
    )
    assert all(p.inbox() == [] for p in people.values())

    # --- 10. Version 2: review, committee, deliberation, and every signature -------------
    contract.transition("launch_review")
    assert contract.status() == ("review", 2)
    assert approve_every_review(leads) == 2 * actions_total
    assert contract.status() == ("committee", 2)
    vote_until_decided(members)
    assert contract.status() == ("deliberation", 2)
    deliberate("2019-142")
    assert contract.status() == ("signing", 2)

    president.decide(president.task("signature"), "sign")
    dg_ars.decide(dg_ars.task("signature"), "sign")
    # This time both of the CPAM's visas are given, then its representative signs for it.
    for visa_holder in (juriste, finances):
        assert people["president.cpam82"].inbox() == []
        visa_holder.decide(visa_holder.task("visa"), "approve")
    people["president.cpam82"].decide(people["president.cpam82"].task("signature"), "sign")
    associated = [s for s in document["signatories"] if s["kind"] == "associated"]
    later = [s for s in associated if s["order"] == 2]
    for signatory in later:  # order 2 now: each task goes to the representative if any
        holder = people[signatory.get("represented_by") or signatory["signer"]]
        (task,) = holder.inbox("signature")
        if "represented_by" in signatory:
            signer = people[signatory["signer"]]
            assert task["on_behalf_of"] == signer.username
            assert task["acting_for"] == f"{holder.name} for {signer.name}"
            assert signer.inbox() == []
        else:
            assert task["on_behalf_of"] is None

    # A representative signs with her own password, for the president of the département.
    elue_task = elue_cd82.task("signature")
    wrong = elue_cd82.decide(elue_task, "sign", password="not-hers", expect=400)
    assert wrong["detail"] == "The password is incorrect."
    mark = contract.last_seq()
    elue_cd82.decide(elue_task, "sign")
    signed_for = one(contract.since(mark), event="signature")
    assert (signed_for["actor"], signed_for["on_behalf_of"]) == ("elue.cd82", "president.cd82")
    assert signed_for["data"]["document_sha256"] == contract.detail()["document_sha256"]
    assert signed_for["data"]["authentication"] == "password"

    # An associated signatory declines: recorded, and the contract is signed all the same.
    ddcspp = people["directrice.ddcspp82"]
    mark = contract.last_seq()
    ddcspp.decide(ddcspp.task("signature"), "decline", comment="Hors du champ de la DDCSPP.")
    assert contract.status() == ("signing", 2)
    assert one(contract.since(mark), event="decline")["name"] == "associated"
    for signatory in associated:
        holder = people[signatory.get("represented_by") or signatory["signer"]]
        for task in holder.inbox("signature"):
            holder.decide(task, "sign")
    assert contract.status() == ("signed", 2)
    # Accord's worker seals the signed document after the last signature's commit, which
    # this test's transaction never reaches: its step, run here.
    worker_seals()
    signatories = contract.signatories()
    assert signatories.pop("DDCSPP82") == "declined"
    assert set(signatories.values()) == {"signed"}
    assert all(p.inbox() == [] for p in people.values())

    # --- 11. The history: every step, for whom, and an intact chain ----------------------
    history = contract.history()
    assert [e["seq"] for e in history] == list(range(1, len(history) + 1))
    transitions = [e["name"] for e in history if e["event"] == "transition"]
    assert transitions == [
        "launch_review",
        "suspend",
        "resume",
        "open_committee",
        "committee_reject",
        "open_committee",
        "committee_validate",
        "record_deliberation",
        "return_to_draft",
        "launch_review",
        "open_committee",
        "committee_validate",
        "record_deliberation",
        "complete_signing",
    ]
    assert events(history)["signature"] == 1 + 7  # the voided one of version 1, then seven
    visas = [(e["event"], e["actor"]) for e in history if e["event"] in ("visa", "visa_refused")]
    assert visas == [
        ("visa_refused", "juriste.cpam82"),
        ("visa", "juriste.cpam82"),
        ("visa", "finances.cpam82"),
    ]
    redrafted = one(history, event="transition", name="return_to_draft")["seq"]
    signed_v2 = {
        (e["actor"], e["on_behalf_of"])
        for e in history
        if e["event"] == "signature" and e["seq"] > redrafted
    }
    assert signed_v2 == {
        ("president.cctdc", None),
        ("dg.ars", None),
        ("elue.cd82", "president.cd82"),
        ("adjointe.chic", "directeur.chic"),
        ("adjointe.chmtb", "directeur.chmtb"),
        ("president.cpam82", "directeur.cpam82"),
        ("administrateur.msa", "directeur.msa"),
    }
    delegated_work = [e for e in history if e["on_behalf_of"] == "tech2.ars"]
    assert [(e["event"], e["actor"], e["action"]) for e in delegated_work] == [
        ("task_completed", "tech1.ars", "T2-A4")
    ]
    verification = coordinator.get(f"/contracts/{contract.pk}/history/verify/").json()
    assert verification == {
        "valid": True,
        "entries": len(history),
        "first_bad_seq": None,
        "problem": "",
    }

    # --- 12. The signed document, as anyone can fetch and check it -----------------------
    response = coordinator.get(f"/contracts/{contract.pk}/document/")
    assert response["Content-Type"] == "application/pdf"
    check = document_verify(response.content)
    assert check.ok
    assert [s.field_name for s in check.signatures] == [
        "signature-CCTDC",
        "signature-ARS-OCC",
        "signature-CPAM82",
        "signature-CD82",
        "signature-CHIC-CM",
        "signature-CH-MTB",
        "signature-MSA",
        "accord-seal",
    ]
    frozen = ContractDocument.objects.get(contract_id=contract.pk, contract_version=2)
    prefix = response.content[: frozen.frozen_size]
    assert hashlib.sha256(prefix).hexdigest() == contract.detail()["document_sha256"]

    # --- 13. Two years of follow-up: the pilots start their actions, record their values ---
    codes = list(sheets)
    pilots = {code: people[sheets[code]["pilot"]] for code in codes}
    for code in codes[:2]:
        started = pilots[code].post(f"/contracts/{contract.pk}/actions/{code}/transitions/start/")
        assert started.json() == {"code": code, "status": "in_progress"}, started.json()
    abandoned = pilots[codes[2]].post(
        f"/contracts/{contract.pk}/actions/{codes[2]}/transitions/abandon/",
        {"reason": "Le porteur de projet s'est retiré"},
    )
    assert abandoned.json()["status"] == "abandoned"
    first = codes[0]
    (indicator,) = coordinator.get(f"/contracts/{contract.pk}/actions/{first}/indicators/").json()
    for year, value in ((2020, "2"), (2021, "5")):
        recorded = pilots[first].post(
            f"/contracts/{contract.pk}/actions/{first}/indicators/values/",
            {"indicator": indicator["name"], "year": year, "value": value, "source": "URPS"},
        )
        assert recorded.status_code == 201, recorded.json()
    values = coordinator.get(f"/contracts/{contract.pk}/actions/{first}/indicators/").json()
    assert [(v["year"], v["value"]) for v in values[0]["values"]] == [(2020, "2"), (2021, "5")]

    # --- 14. The annual review of 2021: a report per running action, the committee votes ---
    mark = contract.last_seq()
    launched = coordinator.post(
        f"/contracts/{contract.pk}/transitions/launch_annual_review/", {"year": 2021}
    )
    assert launched.status_code == 201, launched.json()
    reports = {p.username: p.inbox("report") for p in set(pilots.values())}
    assert sum(len(tasks) for tasks in reports.values()) == actions_total - 1  # not the abandoned
    for username, tasks in reports.items():
        for task in tasks:
            given = (
                [{"indicator": indicator["name"], "value": "6"}] if task["action"] == first else []
            )
            people[username].decide(
                task, "submit", progress="in_progress", indicators=given, comment="En cours"
            )
    assert vote_until_decided(members)
    report = coordinator.get(f"/contracts/{contract.pk}/reports/2021/").json()
    assert report["status"] == "adopted"
    written = contract.since(mark)
    decided = one(written, event="annual_report_decided")
    pdf = coordinator.get(f"/contracts/{contract.pk}/reports/2021.pdf")
    assert pdf["Content-Type"] == "application/pdf"
    assert hashlib.sha256(pdf.content).hexdigest() == decided["data"]["report_sha256"]
    text, charts = pdf_text_and_images(pdf.content, tmp_path)
    assert "2021" in text
    assert first in text
    # One chart per indicator of every sheet, the abandoned one's included.
    assert charts == sum(len(sheet["indicators"]) for sheet in sheets.values())
    verification = coordinator.get(f"/contracts/{contract.pk}/history/verify/").json()
    assert verification["valid"] is True

    # --- 15. Amendment no. 1: two sheets changed, one added ------------------------------
    amendments = f"/contracts/{contract.pk}/amendments/"
    opened = coordinator.post(amendments, {"summary": "Renforcer l'accès aux soins"})
    assert opened.status_code == 201, opened.json()
    assert coordinator.post(amendments).status_code == 409  # one open at a time
    proposed = f"/contracts/{contract.pk}/actions/{{code}}/?amendment=1"

    def propose(code: str, change: dict) -> None:
        version = coordinator.get(proposed.format(code=code)).json()["version"]
        answer = coordinator.patch(proposed.format(code=code), {"version": version, **change})
        assert answer.status_code == 200, answer.json()

    propose("T1-A1", {"funding": [{"funder": "ARS-OCC", "amount": "12000.00", "year": 2022}]})
    propose("T1-A2", {"title": "Développer l'exercice coordonné en maisons de santé"})
    added = coordinator.post(
        f"/contracts/{contract.pk}/actions/?amendment=1",
        {
            "theme": "T1",
            "code": "T1-A9",
            "title": "Téléconsultations assistées en officine",
            "objective": "Ouvrir la téléconsultation dans les pharmacies des communes isolées.",
            "pilot": "tech1.cctdc",
            "working_group": "GT1",
            "partners": ["CH-MTB"],
            "funding": [{"funder": "CCTDC", "amount": "8000.00", "year": 2022}],
            "indicators": ["Téléconsultations réalisées"],
        },
    )
    assert added.status_code == 201, added.json()
    sheets_before = contract.actions()
    mark = contract.last_seq()
    launched = coordinator.post(f"{amendments}1/transitions/launch_review/")
    assert launched.json()["status"] == "review", launched.json()

    # Only the three proposals are reviewed, by the two leads of GT1 each.
    reviews = {
        (lead.username, lead.get(f"/tasks/{task['id']}/").json()["amendment"]["proposal"])
        for lead in leads
        for task in lead.inbox("review")
    }
    assert reviews == {
        (lead, code) for lead in groups["GT1"]["leads"] for code in ("T1-A1", "T1-A2", "T1-A9")
    }
    assert approve_every_review(leads) == 6
    assert coordinator.get(f"{amendments}1/").json()["status"] == "committee"

    # Two for, one against: undecided; the chair closes the vote, the majority approves.
    elu2, elu3, delegue = people["elu2.cctdc"], people["elu3.cctdc"], people["delegue82.ars"]
    elu2.decide(elu2.task("vote"), "approve")
    elu3.decide(elu3.task("vote"), "approve")
    delegue.decide(delegue.task("vote"), "reject", comment="Financement ARS à confirmer")
    assert coordinator.get(f"{amendments}1/").json()["status"] == "committee"
    assert elue_cd82.post(f"{amendments}1/vote/close/").status_code == 403
    closed = chair.post(f"{amendments}1/vote/close/")
    assert closed.json()["status"] == "deliberation", closed.json()
    assert chair.inbox() == elue_cd82.inbox() == []

    recorded = coordinator.post(
        f"{amendments}1/transitions/record_deliberation/",
        {"number": "2021-204", "date": (today - datetime.timedelta(days=1)).isoformat()},
    )
    amendment = recorded.json()
    assert amendment["status"] == "signing", amendment
    concerned = {"CCTDC", "ARS-OCC", "CPAM82", "MSA", "CH-MTB"}
    assert {s["organisation"]: s["status"] for s in amendment["signatories"]} == {
        code: "pending" if code in concerned else "not_concerned" for code in contract.signatories()
    }
    holders = {
        s["organisation"]: people[s.get("represented_by") or s["signer"]]
        for s in document["signatories"]
    }
    # Exactly the concerned parties sign, the mandatory ones first (order 1).
    for order in ({"CCTDC", "ARS-OCC", "CPAM82"}, {"MSA", "CH-MTB"}):
        if "CPAM82" in order:  # the CPAM's visas come first, as for the contract
            for visa_holder in (juriste, finances):
                visa_holder.decide(visa_holder.task("visa"), "approve")
        asked = {code for code, holder in holders.items() if holder.inbox("signature")}
        assert asked == order
        for code in sorted(order):
            holders[code].decide(holders[code].task("signature"), "sign")
    assert all(p.inbox() == [] for p in people.values())
    amendment = coordinator.get(f"{amendments}1/").json()
    assert amendment["status"] == "signed"
    assert amendment["changes"]["added"] == ["T1-A9"]
    assert sorted(m["code"] for m in amendment["changes"]["modified"]) == ["T1-A1", "T1-A2"]

    # Its own PDF: the signatures of the five concerned parties and Accord's seal, valid for
    # Accord and for poppler's pdfsig, over the document frozen at its deliberation.
    pdf = coordinator.get(f"{amendments}1/document/")
    assert pdf["Content-Type"] == "application/pdf"
    check = document_verify(pdf.content)
    assert check.ok
    fields = [s.field_name for s in check.signatures]
    assert sorted(fields[:-1]) == sorted(f"signature-{code}" for code in concerned)
    assert fields[-1] == "accord-seal"
    out = run_pdfsig(pdfsig, pdf.content, tmp_path, "avenant-1.pdf")
    assert out.count("Signature Validation: Signature is Valid.") == len(concerned) + 1
    text, _ = pdf_text_and_images(pdf.content, tmp_path)
    assert "T1-A9" in text
    assert amendment["amended_document_sha256"] == contract.detail()["document_sha256"]

    # The contract in force includes it; the earlier versions of its sheets stay readable.
    assert contract.actions() == {**sheets_before, "T1-A9": "validated"}
    a2 = coordinator.get(f"/contracts/{contract.pk}/actions/T1-A2/").json()
    assert a2["title"] == "Développer l'exercice coordonné en maisons de santé"
    versions = coordinator.get(f"/contracts/{contract.pk}/actions/T1-A1/versions/").json()
    latest = versions[-1]["number"]
    assert latest >= 2
    diff = coordinator.get(
        f"/contracts/{contract.pk}/actions/T1-A1/versions/{latest}/diff/", against=latest - 1
    ).json()
    assert [change["field"] for change in diff["changes"]] == ["funding"], diff
    written = contract.since(mark)
    assert [e["name"] for e in written if e["event"] == "amendment_transition"] == [
        "launch_review",
        "open_committee",
        "committee_validate",
        "record_deliberation",
        "complete_signing",
    ]
    assert one(written, event="vote_decided")["data"]["closed_by_chair"] is True
    assert events(written)["amendment_consolidated"] == 1
    verification = coordinator.get(f"/contracts/{contract.pk}/history/verify/").json()
    assert verification["valid"] is True
