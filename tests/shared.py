"""Data costly to make, made once for all the tests of a module.

A signed contract costs seconds (its PDF and completion certificate rendered, a PAdES
signature per signatory and the seal): made for each test, it was most of the time of the
modules that start from one. Made once instead, inside a transaction around the module's
tests: each test's own transaction (pytest-django's, a savepoint inside this one) undoes
whatever the test changes, so every test starts from the same data, as with a fixture of its
own; after the module's last test the whole is rolled back.

Only for tests in pytest-django's transaction (``django_db``, not ``transaction=True``), and
for data the tests read back from the database (never a Python object shared between tests).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import transaction
from django.test.utils import override_settings

from tests.factories import ActionFactory, ContractFactory, SignatoryFactory, UserFactory
from tests.flows import walk_to_signed
from workflows.models import Contract, User

FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
TEST_SIGNING_KEY = "tests-only-signing-key"


@contextmanager
def module_transaction(django_db_blocker) -> Iterator[None]:
    """The transaction around a module's tests; rolled back when the block ends."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@contextmanager
def making(django_db_blocker) -> Iterator[None]:
    """Database access, with the settings tests/conftest.py gives each test's fixtures."""
    with (
        django_db_blocker.unblock(),
        override_settings(
            PASSWORD_HASHERS=FAST_HASHERS,
            ACCORD_SIGNING_KEY=settings.ACCORD_SIGNING_KEY or TEST_SIGNING_KEY,
            # As tests/conftest.py's _signing_with_the_password_alone: on PostgreSQL the
            # setting's own default asks for a second factor.
            ACCORD_REQUIRE_2FA_FOR_SIGNING=False,
        ),
    ):
        yield


@contextmanager
def signed_contract_once(
    django_db_blocker, *, before_signing: Callable[[Contract, User], None] | None = None
) -> Iterator[int]:
    """A signed and sealed contract (one action, its mandatory signatory the Agence régionale
    de santé, its coordinator "coordinatrice", whom the ``coordinator`` fixture finds), made
    in the module's transaction; yields its pk. ``before_signing(contract, coordinator)``
    adds what the module needs before the contract is walked to its signature."""
    with module_transaction(django_db_blocker):
        with making(django_db_blocker):
            coordinator = UserFactory(username="coordinatrice")
            contract = ContractFactory(coordinator=coordinator)
            ActionFactory(contract=contract)
            SignatoryFactory(contract=contract, organisation__name="Agence régionale de santé")
            if before_signing is not None:
                before_signing(contract, coordinator)
            walk_to_signed(contract, coordinator)
        yield contract.pk
