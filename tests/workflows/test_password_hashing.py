"""Passwords are hashed with Argon2id at OWASP's parameters (docs/security.md, "Password
hashing"); a password hashed before, with PBKDF2, still logs in and is hashed again with
Argon2id then."""

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.test import Client
from django.urls import reverse

from config import settings as accord_settings
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ARGON2ID_OWASP = "argon2$argon2id$v=19$m=19456,t=2,p=1$"


@pytest.fixture
def production_hashers(settings):
    """The hashers Accord runs with, not the tests' MD5 (tests/conftest.py)."""
    settings.PASSWORD_HASHERS = accord_settings.PASSWORD_HASHERS


def log_in(username: str, password: str) -> int:
    answer = Client().post(reverse("login"), {"username": username, "password": password})
    return answer.status_code


def test_a_password_hashed_with_pbkdf2_logs_in_and_is_hashed_again_with_argon2id(
    production_hashers,
):
    person = UserFactory(username="camille")
    hasher = PBKDF2PasswordHasher()
    person.password = hasher.encode("ancien mot de passe", hasher.salt())
    person.save(update_fields=["password"])

    assert log_in("camille", "ancien mot de passe") == 302

    person.refresh_from_db()
    assert person.password.startswith(ARGON2ID_OWASP)
    assert log_in("camille", "ancien mot de passe") == 302
    assert log_in("camille", "autre chose") == 200  # refused, the form again


def test_a_new_password_is_hashed_with_argon2id(production_hashers):
    person = UserFactory(username="dominique")
    person.set_password("un mot de passe neuf")
    person.save()

    assert person.password.startswith(ARGON2ID_OWASP)
    assert log_in("dominique", "un mot de passe neuf") == 302
