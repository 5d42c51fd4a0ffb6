"""Locust users per role, as people use Accord: log in through the real form (CSRF; the
signatories in two steps, with their authenticator's code), keep the notifications WebSocket
open, and go between their inbox, a task's page, the contract's page and history, and the
notification centre, with think time. Their decisions are real: the task page's own forms
(a review approved, a vote cast, the deliberation recorded, a signature with the password and
a recovery code, which signs the PDF).

Started by ``benchmarks.load.run`` (the environment names the accounts file written by
``benchmarks.load.population`` and the folder where each Locust process leaves what its
sockets received). ``LOAD_THINK=0`` is the throughput mode: no think time, no reading pause.
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import json
import os
import random
import re
import threading
import time
from binascii import unhexlify
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

import gevent  # type: ignore[import-untyped, unused-ignore]
import websocket
from django_otp.oath import TOTP  # pure Python: no Django set-up needed
from locust import between, constant, events
from locust.contrib.fasthttp import FastHttpUser

from benchmarks.load.routes import NOTIFICATIONS_SOCKET, path

POPULATION = json.loads(Path(os.environ["LOAD_ACCOUNTS"]).read_text(encoding="utf-8"))
OUT = Path(os.environ["LOAD_OUT"])
THINK = [float(s) for s in os.environ.get("LOAD_THINK", "3,12").split(",")]
NO_THINK = THINK == [0.0]
# Reading a task's page before deciding (seconds): part of the think time.
READING = (0.0, 0.0) if NO_THINK else (THINK[0], THINK[-1])

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
TASK_LINK = re.compile(r'href="/taches/(\d+)/"')
CONTRACT_LINK = re.compile(r'href="/contrats/(\d+)/"')
DECISION = re.compile(r'name="decision" value="([a-z_]+)"')

# What this process's sockets received, for the checks after the run (username -> ids), and
# the sockets' own figures. Kept out of Locust's request statistics, whose "Aggregated" row is
# then the HTTP requests' alone (the knee is read on it).
RECEIVED: dict[str, set[int]] = {}
SOCKET_FIGURES: dict[str, list[float]] = {"connect_ms": [], "notification_ms": []}
COUNTS: Counter = Counter()
# Every HTTP request but the log-in's, once all users are spawned, as [when it started (Unix
# time), its time in ms, its name]: the knee is read on these (a log-in checks a
# password with Argon2id once per person and session, and the ramp puts them all at the
# start); the run also reads them by 10-second window and once the ramp's backlog is gone.
WORK: list[tuple[float, float, str]] = []
# When each user of this process had logged in (Unix time): the backlog is measured from the
# last of them.
LOGGED_IN: list[float] = []
SPAWNED = threading.Event()
OPEN_SOCKETS: set[str] = set()
STATE_LOCK = threading.Lock()
_pools: dict[str, itertools.count] = {}


def _accounts(role: str) -> list[dict]:
    return [account for account in POPULATION["accounts"] if account["role"] == role]


# The stage whose contracts give a role its work (benchmarks.load.population.STAGES): the
# leads review, the committee votes (and their coordinators record the deliberation), the
# signatories sign.
WORKING_STAGE = {
    "lead": "review",
    "committee": "committee",
    "coordinator": "committee",
    "signatory": "signature",
}


def _ordered_pool(role: str) -> list[dict]:
    """The role's accounts, those with work first, spread over the contracts: successive
    users are on different contracts."""
    stages = {contract["id"]: contract["stage"] for contract in POPULATION["contracts"]}
    pool = _accounts(role)
    ordered = []
    for with_work in (True, False):
        chosen = [a for a in pool if (stages[a["contract"]] == WORKING_STAGE[role]) == with_work]
        contracts = sorted({a["contract"] for a in chosen})
        by_contract = [[a for a in chosen if a["contract"] == c] for c in contracts]
        ordered += [a for group in itertools.zip_longest(*by_contract) for a in group if a]
    return ordered


def _next_account(role: str, worker: int, workers: int) -> dict:
    """The role's accounts in turn; each Locust process takes every ``workers``-th one. Past
    the last, they are given again (two sessions of one person, as with two browsers)."""
    pool = _ordered_pool(role)
    n = next(_pools.setdefault(role, itertools.count()))
    return pool[(n * workers + worker) % len(pool)]


class AccordUser(FastHttpUser):
    """One person: logged in, with the notifications socket open, working their inbox."""

    abstract = True
    role = ""
    wait_time = constant(0) if NO_THINK else between(THINK[0], THINK[-1])
    # The default keeps idle connections forever; a person's browser keeps a few.
    concurrency = 2

    # --- starting and stopping ----------------------------------------------------------

    def on_start(self) -> None:
        runner = self.environment.runner
        worker = getattr(runner, "worker_index", 0) or 0
        workers = int(os.environ.get("LOAD_PROCESSES", "1"))
        self.account = _next_account(self.role, worker, workers)
        self.username = self.account["username"]
        self.contract = self.account["contract"]
        self.codes = list(self.account.get("recovery_codes", []))
        random.shuffle(self.codes)  # two sessions of one signatory use different codes
        self.tasks_seen: list[int] = []
        self.socket: websocket.WebSocket | None = None
        self.listening = True
        self.last_id = POPULATION["notifications_before"]
        self.log_in()
        with STATE_LOCK:
            LOGGED_IN.append(time.time())
        self.listener = gevent.spawn(self.listen)

    def on_stop(self) -> None:
        self.listening = False
        with STATE_LOCK:
            OPEN_SOCKETS.discard(self.username)
        if self.socket is not None:
            with contextlib.suppress(Exception):  # a socket that may be gone already
                self.socket.close()

    def _post(self, url: str, data: dict, name: str, referer: str):
        origin = self.host or ""
        return self.client.request(
            "POST",
            url,
            name=name,
            data=urlencode(data),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": origin,
                "Referer": origin + referer,
            },
            allow_redirects=False,
            catch_response=True,
        )

    def log_in(self) -> None:
        page = self.client.get(path("login"), name="log-in page")
        token = CSRF.search(page.text or "")
        with self._post(
            path("login"),
            {
                "csrfmiddlewaretoken": token.group(1) if token else "",
                "username": self.username,
                "password": POPULATION["password"],
            },
            "log-in (password)",
            path("login"),
        ) as answer:
            if answer.status_code != 302:
                answer.failure(f"log-in refused ({answer.status_code})")
                return
            answer.success()
            location = answer.headers.get("Location", "")
        if path("login_code") in location:
            page = self.client.get(location, name="log-in code page")
            token = CSRF.search(page.text or "")
            code = TOTP(unhexlify(self.account["totp_key"]), step=30, digits=6).token()
            with self._post(
                location,
                {"csrfmiddlewaretoken": token.group(1) if token else "", "otp": f"{code:06d}"},
                "log-in (code)",
                path("login_code"),
            ) as answer:
                if answer.status_code != 302:
                    answer.failure(f"log-in code refused ({answer.status_code})")
                    return
                answer.success()

    # --- the notifications socket -------------------------------------------------------

    def _cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.client.cookiejar)

    def _connect(self) -> None:
        url = (self.host or "").replace("http://", "ws://", 1) + NOTIFICATIONS_SOCKET
        started = time.perf_counter()
        try:
            self.socket = websocket.create_connection(
                f"{url}?after={self.last_id}",
                cookie=self._cookie_header(),
                origin=self.host,
                subprotocols=["accord.notifications"],
                timeout=10,
            )
        except Exception as error:
            with STATE_LOCK:
                COUNTS[f"socket refused: {type(error).__name__}"] += 1
            self.socket = None
            return
        self.socket_opened = datetime.datetime.now(datetime.UTC)
        with STATE_LOCK:
            SOCKET_FIGURES["connect_ms"].append((time.perf_counter() - started) * 1000)
            OPEN_SOCKETS.add(self.username)

    def listen(self) -> None:
        """Receive the socket's messages until stopped; reconnect (asking for what was
        missed, as the page's script does) if the server closes it."""
        while self.listening:
            if self.socket is None:
                self._connect()
                if self.socket is None:
                    gevent.sleep(2)
                    continue
            try:
                raw = self.socket.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except Exception as error:
                if not self.listening:
                    return
                with STATE_LOCK:
                    OPEN_SOCKETS.discard(self.username)
                    COUNTS[f"socket closed: {type(error).__name__}"] += 1
                self.socket = None
                continue
            if not raw:
                continue
            message = json.loads(raw)
            if message.get("type") != "notification":
                continue
            created = datetime.datetime.fromisoformat(message["created_at"])
            with STATE_LOCK:
                RECEIVED.setdefault(self.username, set()).add(message["id"])
                if created >= self.socket_opened:  # live, not caught up: write to socket
                    delay = datetime.datetime.now(datetime.UTC) - created
                    SOCKET_FIGURES["notification_ms"].append(delay.total_seconds() * 1000)
            self.last_id = max(self.last_id, message["id"])

    # --- what people do -----------------------------------------------------------------

    def inbox(self) -> None:
        page = self.client.get(path("workflows:inbox"), name="inbox")
        self.tasks_seen = [int(pk) for pk in TASK_LINK.findall(page.text or "")]

    def decide(self) -> None:
        """Open a task of the inbox, read it, decide it with the page's own form."""
        if not self.tasks_seen:
            self.inbox()
        if not self.tasks_seen:
            return
        pk = self.tasks_seen.pop(0)
        page = self.client.get(path("workflows:task_detail", pk), name="task page")
        html = page.text or ""
        decisions = DECISION.findall(html)
        token = CSRF.search(html)
        if not decisions or token is None:
            return  # decided meanwhile (another session of the same person), read-only
        gevent.sleep(random.uniform(*READING))  # noqa: S311 (a simulated pause)
        data = {"csrfmiddlewaretoken": token.group(1)}
        if "sign" in decisions:
            if not self.codes:
                return
            kind = "signature"
            data.update(
                decision="sign",
                password=POPULATION["password"],
                otp=self.codes.pop(),
                consent="on",
            )
        elif "record" in decisions:
            kind = "deliberation"
            yesterday = datetime.date.today() - datetime.timedelta(days=1)  # noqa: DTZ011
            data.update(decision="record", number=f"DEL-{pk}", date=yesterday.isoformat())
        elif "approve" in decisions and "abstain" in decisions:
            kind = "vote"
            data.update(decision="approve" if random.random() < 0.9 else "abstain")  # noqa: S311
        elif "approve" in decisions:
            kind = "visa" if "refuse" in decisions else "review"
            data.update(decision="approve", comment="")
        else:
            return
        url = path("workflows:task_detail", pk)
        with self._post(url, data, f"decision: {kind}", url) as answer:
            if answer.status_code == 302:
                answer.success()
            elif answer.status_code in (403, 404, 409):
                # Decided meanwhile by another session of the same person: not an error
                # of the server's, counted apart.
                answer.success()
                with STATE_LOCK:
                    COUNTS[f"stale decision: {kind}"] += 1
            else:
                answer.failure(f"{answer.status_code}: {html_error(answer.text)}")

    def contract_page(self) -> None:
        self.client.get(path("workflows:contract_detail", self.contract), name="contract page")

    def history(self) -> None:
        self.client.get(path("workflows:contract_history", self.contract), name="history")

    def notification_centre(self) -> None:
        self.client.get(path("notifications:centre"), name="notification centre")

    def contract_list(self) -> None:
        self.client.get(path("workflows:contract_list"), name="contract list")


def html_error(text: str | None) -> str:
    found = re.search(r'class="errorlist[^"]*"[^>]*>(.*?)</ul>', text or "", re.S)
    return re.sub(r"<[^>]+>|\s+", " ", found.group(1)).strip()[:160] if found else ""


# The weights follow the accounts that have work in the population: 4 leads per contract under
# review, 5 committee members per contract at the vote, 13 signatories (signers, their
# representatives, visa holders) per contract at the signature, one coordinator each.


class Lead(AccordUser):
    """A working group's lead: reviews the action sheets, one after another."""

    role = "lead"
    weight = 4
    tasks = {  # what each does next, by weight (Locust's ``tasks`` mapping)
        AccordUser.decide: 6,
        AccordUser.inbox: 3,
        AccordUser.contract_page: 1,
        AccordUser.notification_centre: 1,
    }


class CommitteeMember(AccordUser):
    """A steering committee member: reads the contract, then votes."""

    role = "committee"
    weight = 5
    tasks = {
        AccordUser.decide: 3,
        AccordUser.contract_page: 3,
        AccordUser.inbox: 2,
        AccordUser.notification_centre: 1,
    }


class Signatory(AccordUser):
    """A signatory: reads the contract, signs it (password and second factor)."""

    role = "signatory"
    weight = 10
    tasks = {
        AccordUser.decide: 3,
        AccordUser.contract_page: 2,
        AccordUser.inbox: 2,
        AccordUser.notification_centre: 1,
    }


class Coordinator(AccordUser):
    """The contract's coordinator: follows it (page, history, list), records deliberations."""

    role = "coordinator"
    weight = 1
    tasks = {
        AccordUser.decide: 2,
        AccordUser.contract_page: 3,
        AccordUser.history: 2,
        AccordUser.contract_list: 1,
        AccordUser.notification_centre: 1,
    }


@events.spawning_complete.add_listener
def _spawned(user_count, **_kwargs) -> None:
    SPAWNED.set()


@events.request.add_listener
def _timed(request_type, name, response_time, exception=None, **_kwargs) -> None:
    if SPAWNED.is_set() and not name.startswith("log-in"):
        WORK.append((time.time() - response_time / 1000, response_time, name))


@events.test_stopping.add_listener
def _snapshot(environment, **_kwargs) -> None:
    """Which sockets were open when the run stopped, and what they had received."""
    with STATE_LOCK:
        state = {
            "stopping_at": datetime.datetime.now(datetime.UTC).isoformat(),
            "open_until_end": sorted(OPEN_SOCKETS),
        }
    (OUT / f"sockets-{os.getpid()}.json").write_text(json.dumps(state), encoding="utf-8")


@events.quitting.add_listener
def _write_received(environment, **_kwargs) -> None:
    with STATE_LOCK:
        state = {
            "received": {username: sorted(ids) for username, ids in RECEIVED.items()},
            "socket_figures": SOCKET_FIGURES,
            "counts": dict(COUNTS),
            "work": WORK,
            "logged_in": LOGGED_IN,
        }
    (OUT / f"received-{os.getpid()}.json").write_text(json.dumps(state), encoding="utf-8")
