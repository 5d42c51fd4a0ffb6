"""Two server processes sharing Redis: a decision posted to one reaches a WebSocket client
connected to the other (real daphne processes, real channels-redis, real PostgreSQL)."""

import json

import pytest
import requests
from rest_framework.authtoken.models import Token
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from notifications.models import Notification
from tests.factories import (
    ActionFactory,
    ContractFactory,
    SteeringCommitteeFactory,
    UserFactory,
)
from tests.flows import launch, open_tasks
from tests.notifications.servers import Servers, require_services
from workflows.models import TaskKind

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def servers():
    require_services()
    with Servers(2) as running:
        yield running


def test_a_decision_posted_to_one_process_reaches_a_browser_connected_to_the_other(servers):
    # Nobody has an e-mail address: no e-mail task is queued in Redis for a worker.
    coordinator = UserFactory(email="")
    lead = UserFactory(email="")
    contract = ContractFactory(coordinator=coordinator)
    SteeringCommitteeFactory(contract=contract)
    action = ActionFactory(contract=contract)
    action.working_group.leads.set([lead])
    launch(contract, coordinator)
    (task,) = open_tasks(contract, TaskKind.REVIEW)
    coordinator_token = Token.objects.create(user=coordinator).key
    lead_token = Token.objects.create(user=lead).key

    socket_url = servers.url(0, "/ws/notifications/", scheme="ws")
    with connect(
        socket_url,
        origin=servers.url(0),
        subprotocols=["accord.notifications", f"accord.token.{coordinator_token}"],
        open_timeout=10,
    ) as browser:
        assert browser.subprotocol == "accord.notifications"
        response = requests.post(
            servers.url(1, f"/api/v1/tasks/{task.pk}/decision/"),
            json={"decision": "approve"},
            headers={"Authorization": f"Token {lead_token}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text

        message = json.loads(browser.recv(timeout=10))

    notification = Notification.objects.get(recipient=coordinator, event="decision_made")
    assert message == {
        "type": "notification",
        "id": notification.pk,
        "event": "decision_made",
        "contract": contract.pk,
        "task": task.pk,
        "title": notification.title,
        "url": notification.url,
        "created_at": notification.created_at.isoformat(),
    }


def test_a_foreign_origin_is_refused_by_a_real_server(servers):
    user = UserFactory(email="")
    token = Token.objects.create(user=user).key
    socket_url = servers.url(0, "/ws/notifications/", scheme="ws")
    protocols = ["accord.notifications", f"accord.token.{token}"]
    # Another site, then the same host on another port (the other server process).
    for origin in ["https://evil.example.com", servers.url(1)]:
        with pytest.raises(InvalidStatus) as refused:
            connect(socket_url, origin=origin, subprotocols=protocols, open_timeout=10)
        assert refused.value.response.status_code == 403
