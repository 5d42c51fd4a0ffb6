"""The notification centre, the header badge, the preferences page and the notifications API."""

import pytest
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification, NotificationEvent, NotificationPreference
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def person(client):
    user = UserFactory(username="lea", email="lea@example.org")
    client.force_login(user)
    return user


def note(user, title, event=NotificationEvent.TASK_ASSIGNED, read=False, contract=None):
    return Notification.objects.create(
        recipient=user,
        event=event,
        title=title,
        contract=contract,
        url="/taches/",
        created_at=timezone.now(),
        read_at=timezone.now() if read else None,
    )


def test_the_centre_lists_unread_notifications_first_and_only_the_callers(client, person):
    note(person, "Déjà lue", read=True)
    note(person, "Nouvelle tâche A1")
    note(UserFactory(), "Pas pour Léa")

    page = client.get(reverse("notifications:centre")).content.decode()

    assert page.index("Nouvelle tâche A1") < page.index("Déjà lue")
    assert "Pas pour Léa" not in page


def test_the_header_badge_counts_the_unread_notifications(client, person):
    note(person, "Une")
    note(person, "Deux")
    note(person, "Lue", read=True)

    page = client.get(reverse("workflows:inbox")).content.decode()

    assert "data-unread-badge>2</span>" in page
    assert "(2 unread)" in page


def test_marking_one_read_then_all_read(client, person):
    first = note(person, "Une")
    second = note(person, "Deux")

    client.post(reverse("notifications:mark_read"), {"id": first.pk})
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.read_at is not None
    assert second.read_at is None

    response = client.post(reverse("notifications:mark_read"))
    assert response.status_code == 302
    assert not Notification.objects.filter(recipient=person, read_at=None).exists()


def test_nobody_marks_someone_elses_notification_read(client, person):
    other = note(UserFactory(), "À quelqu'un d'autre")
    client.post(reverse("notifications:mark_read"), {"id": other.pk})
    other.refresh_from_db()
    assert other.read_at is None


def test_filters_by_kind_and_unread(client, person):
    note(person, "Tâche confiée")
    note(person, "Statut changé", event=NotificationEvent.CONTRACT_STATUS)

    page = client.get(reverse("notifications:centre"), {"event": "contract_status"})

    assert "Statut changé" in page.content.decode()
    assert "Tâche confiée" not in page.content.decode()


def test_the_centre_needs_a_log_in(client):
    response = client.get(reverse("notifications:centre"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_preferences_are_saved_per_kind_of_event(client, person):
    page = client.get(reverse("notifications:preferences"))
    assert page.status_code == 200
    data = dict.fromkeys(NotificationEvent.values, "immediate")
    data["contract_status"] = "app"
    data["task_assigned"] = "digest"

    response = client.post(reverse("notifications:preferences"), data)

    assert response.status_code == 302
    assert dict(
        NotificationPreference.objects.filter(user=person).values_list("event", "email_mode")
    ) == {
        "contract_status": "app",
        "task_assigned": "digest",
        "decision_made": "immediate",
        "document_signed": "immediate",
    }
    page = client.get(reverse("notifications:preferences")).content.decode()
    assert 'value="app" required id="id_contract_status_2" checked' in page


def test_a_bad_preference_is_refused_with_the_field_named(client, person):
    data = dict.fromkeys(NotificationEvent.values, "immediate")
    data["meeting"] = "by pigeon"

    response = client.post(reverse("notifications:preferences"), data)

    assert response.status_code == 400
    assert "A steering committee meeting" in response.content.decode()
    assert not NotificationPreference.objects.exists()


def test_the_api_lists_the_callers_notifications_with_the_unread_count(api_client, person):
    old = note(person, "Ancienne", read=True)
    new = note(person, "Nouvelle")
    note(UserFactory(), "Pas pour Léa")
    api_client.force_authenticate(person)

    body = api_client.get("/api/v1/notifications/").json()

    assert body["unread"] == 1
    assert [row["id"] for row in body["results"]] == [new.pk, old.pk]
    assert body["results"][0]["title"] == "Nouvelle"
    missed = api_client.get(f"/api/v1/notifications/?after={old.pk}").json()
    assert [row["id"] for row in missed["results"]] == [new.pk]


def test_the_api_marks_read(api_client, person):
    first = note(person, "Une")
    note(person, "Deux")
    api_client.force_authenticate(person)

    body = api_client.post("/api/v1/notifications/read/", {"ids": [first.pk]}, format="json")
    assert body.json() == {"marked": 1, "unread": 1}
    body = api_client.post("/api/v1/notifications/read/", {}, format="json")
    assert body.json() == {"marked": 1, "unread": 0}


def test_the_api_needs_authentication(api_client):
    assert api_client.get("/api/v1/notifications/").status_code == 401
