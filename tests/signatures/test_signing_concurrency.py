"""Two parties signing at the same moment: both signatures land in the document, one after
the other (the contract's row lock queues them), and neither overwrites the other's."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from signatures.models import ContractDocument
from signatures.selectors import document_verify
from tests.factories import (
    PASSWORD,
    ActionFactory,
    ContractFactory,
    SignatoryFactory,
    UserFactory,
)
from tests.flows import record_deliberation, walk_to_deliberation
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
    contract.refresh_from_db()
    assert contract.status == "signed"
    document = ContractDocument.objects.get(contract=contract)
    check = document_verify(bytes(document.pdf), frozen=document)
    assert check.ok
    assert sorted(s.field_name for s in check.signatures) == sorted(
        [
            f"signature-{first.organisation.code}",
            f"signature-{second.organisation.code}",
            "accord-seal",
        ]
    )
