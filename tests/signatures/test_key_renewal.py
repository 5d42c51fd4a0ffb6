"""A signing key that has expired is replaced, never used again."""

import datetime

import pytest
from django.utils import timezone

from signatures import keys
from signatures.models import SigningKey
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_an_expired_personal_key_is_retired_and_replaced():
    person = UserFactory()
    first = keys.person_key(person)
    SigningKey.objects.filter(pk=first.pk).update(
        not_after=timezone.now() - datetime.timedelta(days=1)
    )

    second = keys.person_key(person)

    assert second.pk != first.pk
    assert second.not_after > timezone.now()
    first.refresh_from_db()
    assert first.revoked_at is not None
    assert keys.person_key(person).pk == second.pk


def test_an_expired_seal_is_replaced():
    first = keys.seal_key()
    SigningKey.objects.filter(pk=first.pk).update(
        not_after=timezone.now() - datetime.timedelta(days=1)
    )

    assert keys.seal_key().pk != first.pk
