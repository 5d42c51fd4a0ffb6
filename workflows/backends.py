"""Who a session belongs to: read once per request, with what every page shows of them."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend

from .models import User


def session_person(user_id: Any) -> User | None:
    """The active person a session names, with their organisation, which the header of every
    page shows: one statement per page fewer than Django's ``ModelBackend.get_user``, which
    this otherwise is (an inactive account's session ends)."""
    try:
        user = User._default_manager.select_related("organisation").get(pk=user_id)
    except User.DoesNotExist:
        return None
    return user if user.is_active else None


class PasswordBackend(ModelBackend):
    """Django's log-in with a username and a password."""

    def get_user(self, user_id: Any) -> User | None:
        return session_person(user_id)
