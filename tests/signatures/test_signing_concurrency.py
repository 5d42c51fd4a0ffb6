"""Two parties signing at the same moment: both signatures land in the document, one after
the other (the contract's row lock queues them), and neither overwrites the other's."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from tests.factories import (
    PASSWORD,
    ActionFactory,
    ContractFactory,
    SignatoryFactory,
    UserFactory,
)
from tests.flows import record_deliberation, walk_to_deliberation, worker_seals
from tests.signatures.documents import assert_signed_by
from workflows.models import Task, TaskKind


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL race needs it")
def test_two_simultaneous_signatures_both_land_in_the_document():
    coordinator = UserFactory()
    contract = ContractFactory(coordinator=coordinator)
    ActionFactory(contract=contract)
    first, second = SignatoryFactory(contract=contract), SignatoryFactory(contract=contract)
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)
    tasks = {t.signatory_id: t for t in Task.objects.filter(kind=TaskKind.SIGNATURE)}
    barrier = threading.Barrier(2)
    statuses: list[int] = []
    failures: list[BaseException] = []

    def sign(signatory) -> None:
        try:
            client = APIClient()
            client.force_authenticate(signatory.signer)
            barrier.wait(timeout=30)
            response = client.post(
                f"/api/v1/tasks/{tasks[signatory.pk].pk}/decision/",
                {"decision": "sign", "password": PASSWORD, "consent": True},
                format="json",
            )
            statuses.append(response.status_code)
        except BaseException as exc:  # reported to the test, never lost in the thread
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sign, args=(s,)) for s in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if failures:
        raise failures[0]

    assert statuses == [200, 200]
    worker_seals()  # the seal asked by the second signature, as the worker draws it up
    assert_signed_by(contract, first, second)
