"""Two-factor authentication (django-otp): enrolling an authenticator app from the account's
security page, the log-in's second step, recovery codes, the administration for verified
staff only, and signing with a code when ACCORD_REQUIRE_2FA_FOR_SIGNING is on, on the task
page and through the API. Codes are computed as the app computes them (RFC 6238)."""

import datetime
import re
import runpy
from base64 import b32decode
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from tests.factories import PASSWORD, ActionFactory, SignatoryFactory, UserFactory
from tests.flows import open_tasks, record_deliberation, walk_to_deliberation
from tests.two_factor import code_for_secret, enrol, log_in_verified, next_code
from workflows.models import HistoryEntry, Task, TaskKind, TaskStatus

pytestmark = pytest.mark.django_db

NBSP = "\N{NO-BREAK SPACE}"
SECURITY_URL = "/compte/securite/"
ENROL_URL = "/compte/securite/activer/"
CODE_URL = "/connexion/code/"
SIGNING_NEEDS_CODE = override_settings(ACCORD_REQUIRE_2FA_FOR_SIGNING=True)


def text(response) -> str:
    return response.content.decode()


def log_in(client: Client, username: str, password: str = PASSWORD, next_url: str = ""):
    url = reverse("login") + (f"?next={next_url}" if next_url else "")
    return client.post(url, {"username": username, "password": password})


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def verified(client: Client) -> bool:
    return DEVICE_ID_SESSION_KEY in client.session


# --- Enrolment ---------------------------------------------------------------------------------


def test_a_person_enrols_with_the_qr_code_s_secret_and_gets_ten_recovery_codes_once(client):
    camille = UserFactory(username="camille")
    client.force_login(camille)
    security = client.get(SECURITY_URL)
    assert "Sécurité du compte" in text(security)
    assert "Désactivée." in text(security)
    assert ENROL_URL in text(security)

    page = client.get(ENROL_URL)
    html = text(page)
    assert page.status_code == 200
    assert "Activer la validation en deux étapes" in html
    assert 'src="data:image/svg+xml;base64,' in html  # the QR code, drawn by the server
    # The key to type by hand, as the app asks for it: base32 in groups of four.
    shown = re.search(r'<code class="code" translate="no">([A-Z2-7 ]+)</code>', html).group(1)
    secret = b32decode(shown.replace(" ", ""))

    wrong = client.post(ENROL_URL, {"code": "000000"})
    assert wrong.status_code == 400
    assert "Ce code ne correspond pas" in text(wrong)
    assert not TOTPDevice.objects.filter(user=camille).exists()

    done = client.post(ENROL_URL, {"code": code_for_secret(secret)})

    assert done.status_code == 200
    assert done["Cache-Control"].startswith("max-age=0")
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", text(done))
    assert len(codes) == 10
    assert sorted(codes) == sorted(
        StaticToken.objects.filter(device__user=camille).values_list("token", flat=True)
    )
    assert TOTPDevice.objects.get(user=camille).confirmed
    assert verified(client)  # this session passed the second step
    again = client.get(SECURITY_URL)
    assert "Activée." in text(again)
    assert "Codes de secours restants" in text(again)
    assert not any(code in text(again) for code in codes)  # shown once only


def test_the_first_code_cannot_log_in_again(client):
    camille = UserFactory(username="camille")
    client.force_login(camille)
    client.get(ENROL_URL)
    secret = client.session["accord_two_factor_secret"]
    first = code_for_secret(secret)
    client.post(ENROL_URL, {"code": first})

    other = Client()
    log_in(other, "camille")
    refused = other.post(CODE_URL, {"otp": first})

    assert refused.status_code == 400
    assert not signed_in(other)


# --- The log-in's second step ------------------------------------------------------------------


def test_a_person_with_an_authenticator_logs_in_in_two_steps():
    camille = UserFactory(username="camille")
    device, _codes = enrol(camille)
    client = Client()

    first = log_in(client, "camille", next_url="/audit/")

    assert first.status_code == 302
    assert first["Location"] == f"{CODE_URL}?next=%2Faudit%2F"
    assert not signed_in(client)
    page = client.get(first["Location"])
    assert "Saisissez votre code" in text(page)
    assert client.get(reverse("workflows:inbox")).status_code == 302  # still logged out

    wrong = client.post(f"{CODE_URL}?next=/audit/", {"otp": "123 456"})
    assert wrong.status_code == 400
    assert "Le code est incorrect." in text(wrong)
    assert not signed_in(client)
    assert AccessAttempt.objects.get(username="camille").failures_since_start == 1

    right = client.post(f"{CODE_URL}?next=/audit/", {"otp": next_code(device)})

    assert right.status_code == 302
    assert right["Location"] == "/audit/"
    assert client.session["_auth_user_id"] == str(camille.pk)
    assert verified(client)


def test_people_without_an_authenticator_log_in_with_their_password_alone():
    UserFactory(username="dominique")
    client = Client()
    response = log_in(client, "dominique")
    assert response.status_code == 302
    assert response["Location"] == reverse("workflows:contract_list")
    assert signed_in(client)
    assert not verified(client)


def test_wrong_codes_lock_the_account_out_like_wrong_passwords(settings):
    settings.AXES_FAILURE_LIMIT = 3
    camille = UserFactory(username="camille")
    device, _codes = enrol(camille)
    client = Client()
    log_in(client, "camille")
    client.post(CODE_URL, {"otp": "111111"})
    client.post(CODE_URL, {"otp": "222222"})

    locked = client.post(CODE_URL, {"otp": "333333"})
    right = client.post(CODE_URL, {"otp": next_code(device)})

    assert locked.status_code == 429
    assert f"Trop d{chr(0x2019)}essais{NBSP}:" in text(locked)
    assert right.status_code == 429
    assert not signed_in(client)


def test_the_code_must_come_within_five_minutes_of_the_password():
    camille = UserFactory(username="camille")
    device, _codes = enrol(camille)
    client = Client()
    log_in(client, "camille")
    session = client.session
    session["accord_two_factor_pending"]["at"] -= 5 * 60 + 1
    session.save()

    late = client.post(CODE_URL, {"otp": next_code(device)}, follow=True)

    assert late.redirect_chain[-1][0] == reverse("login")
    assert "Le code n\u2019a pas été saisi à temps" in text(late)
    assert not signed_in(client)


def test_a_recovery_code_logs_in_once():
    camille = UserFactory(username="camille")
    _device, codes = enrol(camille)
    client = Client()
    log_in(client, "camille")

    used = client.post(CODE_URL, {"otp": codes[0].upper()[:4] + " " + codes[0][4:]}, follow=True)

    assert signed_in(client)
    assert verified(client)
    assert "il vous en reste 9" in text(used)  # the person is told how many are left
    again = Client()
    log_in(again, "camille")
    assert again.post(CODE_URL, {"otp": codes[0]}).status_code == 400
    assert not signed_in(again)
    assert again.post(CODE_URL, {"otp": codes[1]}).status_code == 302


# --- Recovery codes and removal ---------------------------------------------------------------


def test_new_recovery_codes_replace_the_old_ones(client):
    camille = UserFactory(username="camille")
    _device, old = enrol(camille)
    client.force_login(camille)

    page = client.post(reverse("workflows:account_recovery_codes"))

    new = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", text(page))
    assert len(new) == 10
    assert not set(new) & set(old)
    assert sorted(StaticToken.objects.values_list("token", flat=True)) == sorted(new)


def test_removing_the_authenticator_asks_for_the_password():
    camille = UserFactory(username="camille")
    enrol(camille)
    client = Client()
    client.force_login(camille)
    url = reverse("workflows:account_two_factor_remove")

    wrong = client.post(url, {"password": "devine"})
    assert wrong.status_code == 400
    assert "Le mot de passe est incorrect." in text(wrong)
    assert TOTPDevice.objects.filter(user=camille).exists()
    assert AccessAttempt.objects.get(username="camille").failures_since_start == 1

    assert client.post(url, {"password": PASSWORD}).status_code == 302
    assert not TOTPDevice.objects.filter(user=camille).exists()
    assert not StaticToken.objects.filter(device__user=camille).exists()
    # The password alone logs in again.
    assert log_in(Client(), "camille")["Location"] == reverse("workflows:contract_list")


# --- The administration: staff with a verified session only ----------------------------------


def test_staff_without_an_authenticator_are_sent_to_enrol_before_the_administration():
    staff = UserFactory(username="admin", is_staff=True, is_superuser=True)
    client = Client()
    log_in(client, "admin", next_url="/admin/")  # no authenticator: logged in at once
    assert signed_in(client)

    response = client.get("/admin/", follow=True)

    assert response.redirect_chain[-1][0] == f"{ENROL_URL}?next=%2Fadmin%2F"
    assert "L\u2019administration exige la validation en deux étapes" in text(response)
    secret = client.session["accord_two_factor_secret"]
    done = client.post(ENROL_URL, {"code": code_for_secret(secret), "next": "/admin/"})
    assert 'href="/admin/"' in text(done)  # "Continue", once the codes are written down
    assert client.get("/admin/").status_code == 200
    assert staff.pk


def test_a_staff_session_not_verified_is_asked_for_a_code_before_the_administration():
    staff = UserFactory(username="admin", is_staff=True, is_superuser=True)
    device, _codes = enrol(staff)
    client = Client()
    client.force_login(staff)  # logged in before the enrolment, say

    response = client.get("/admin/", follow=True)

    assert response.redirect_chain[-1][0] == f"{CODE_URL}?next=%2Fadmin%2F"
    assert client.post(f"{CODE_URL}?next=/admin/", {"otp": next_code(device)})["Location"] == (
        "/admin/"
    )
    assert client.get("/admin/").status_code == 200


def test_staff_log_in_with_their_code_and_open_the_administration():
    staff = UserFactory(username="admin", is_staff=True, is_superuser=True)
    device, _codes = enrol(staff)
    client = Client()

    to_code = log_in(client, "admin", next_url="/admin/")
    to_admin = client.post(to_code["Location"], {"otp": next_code(device)})

    assert to_admin["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_verified_person_who_is_not_staff_is_sent_to_log_in_with_another_account():
    person = UserFactory(username="camille")
    client = Client()
    log_in_verified(client, person)

    response = client.get("/admin/", follow=True)

    assert response.redirect_chain[-1][0].startswith(reverse("login"))
    assert "Votre compte ne permet pas d\u2019ouvrir cette page" in text(response)


# --- Signing -----------------------------------------------------------------------------------


@pytest.fixture
def signing(contract, coordinator):
    """A contract whose two signature tasks are open, each with its signer."""
    ActionFactory(contract=contract)
    SignatoryFactory(contract=contract)
    SignatoryFactory(contract=contract, kind="associated")
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)
    tasks = open_tasks(contract, TaskKind.SIGNATURE)
    assert len(tasks) == 2
    return tasks


def sign(task, **fields):
    client = APIClient()
    client.force_authenticate(task.owner)
    return client.post(
        f"/api/v1/tasks/{task.pk}/decision/",
        {"decision": "sign", "password": PASSWORD, "consent": True, **fields},
        format="json",
    )


def signatures_of(contract) -> list[HistoryEntry]:
    return list(contract.history.filter(event="signature"))


@SIGNING_NEEDS_CODE
def test_the_api_signs_only_with_the_right_code(contract, signing):
    task, _other = signing
    device, _codes = enrol(task.owner)

    missing = sign(task)
    wrong = sign(task, otp="000000")

    assert missing.status_code == 400
    assert missing.json()["detail"] == (
        "Saisissez le code de votre application d\u2019authentification (ou l\u2019un de vos "
        "codes de secours) pour signer."
    )
    assert wrong.status_code == 400
    assert wrong.json()["detail"] == "Le code de validation en deux étapes est incorrect."
    assert Task.objects.get(pk=task.pk).status == TaskStatus.ASSIGNED
    assert signatures_of(contract) == []
    # The wrong code is on record and counts towards the lockout; the missing one does not.
    (refused,) = contract.history.filter(event="signature_password_refused")
    assert refused.data["credential"] == "two_factor_code"
    assert refused.comment == "Le code de validation en deux étapes est incorrect."
    assert AccessAttempt.objects.get(username=task.owner.username).failures_since_start == 1

    right = sign(task, otp=next_code(device))

    assert right.status_code == 200
    (signature,) = signatures_of(contract)
    assert signature.data["authentication"] == "password"
    assert signature.data["second_factor"] == "totp"


@SIGNING_NEEDS_CODE
def test_without_an_authenticator_signing_is_refused_with_a_403_saying_to_enrol(contract, signing):
    task, _other = signing

    response = sign(task, otp="123456")

    assert response.status_code == 403
    assert "configurez-en une" in response.json()["detail"]
    assert Task.objects.get(pk=task.pk).status == TaskStatus.ASSIGNED
    assert not contract.history.filter(event="signature_password_refused").exists()


@SIGNING_NEEDS_CODE
def test_a_recovery_code_signs_once(contract, signing):
    task, _other = signing
    _device, codes = enrol(task.owner)

    assert sign(task, otp=codes[0]).status_code == 200

    assert signatures_of(contract)[0].data["second_factor"] == "recovery_code"
    assert not StaticToken.objects.filter(token=codes[0]).exists()
    assert StaticToken.objects.filter(device__user=task.owner).count() == 9


@SIGNING_NEEDS_CODE
def test_wrong_codes_at_signing_lock_it_out(contract, signing, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = datetime.timedelta(minutes=15)
    task, _other = signing
    device, _codes = enrol(task.owner)

    assert sign(task, otp="111111").status_code == 400
    locked = sign(task, otp="222222")
    right = sign(task, otp=next_code(device))

    assert locked.status_code == 429
    assert right.status_code == 429
    assert contract.history.filter(event="signature_password_refused").count() == 2
    assert [e.data["lockout"] for e in contract.history.filter(event="signature_locked")] == [
        "started",
        "refused",
    ]


def test_with_the_setting_off_the_password_alone_signs_even_with_an_authenticator(
    contract, signing
):
    assert settings.ACCORD_REQUIRE_2FA_FOR_SIGNING is False
    task, _other = signing
    enrol(task.owner)

    assert sign(task).status_code == 200
    assert "second_factor" not in signatures_of(contract)[0].data


@SIGNING_NEEDS_CODE
def test_the_signing_page_asks_for_the_code_beside_the_password(contract, signing):
    task, _other = signing
    device, _codes = enrol(task.owner)
    client = Client()
    client.force_login(task.owner)
    url = reverse("workflows:task_detail", args=[task.pk])
    page = text(client.get(url))
    assert "Code de validation en deux étapes" in page
    assert 'autocomplete="one-time-code"' in page

    missing = client.post(url, {"decision": "sign", "password": PASSWORD, "consent": "on"})
    wrong = client.post(
        url, {"decision": "sign", "password": PASSWORD, "otp": "000000", "consent": "on"}
    )
    assert missing.status_code == wrong.status_code == 400
    assert "pour signer" in text(missing)
    assert "Le code de validation en deux étapes est incorrect." in text(wrong)
    assert signatures_of(contract) == []

    right = client.post(
        url,
        {"decision": "sign", "password": PASSWORD, "otp": next_code(device), "consent": "on"},
    )

    assert right.status_code == 302
    assert Task.objects.get(pk=task.pk).status == TaskStatus.DONE


@SIGNING_NEEDS_CODE
def test_the_signing_page_tells_who_has_no_authenticator_to_enrol(contract, signing):
    task, _other = signing
    client = Client()
    client.force_login(task.owner)
    url = reverse("workflows:task_detail", args=[task.pk])

    page = text(client.get(url))
    refused = client.post(url, {"decision": "sign", "password": PASSWORD, "consent": "on"})

    assert "votre compte n\u2019a pas encore d\u2019application d\u2019authentification" in page
    assert ENROL_URL in page
    assert refused.status_code == 403
    assert Task.objects.get(pk=task.pk).status == TaskStatus.ASSIGNED


def test_the_api_schema_documents_the_code_and_the_403_for_signing(api_client):
    schema = api_client.get("/api/v1/schema/", {"format": "json"}).json()

    decide = schema["paths"]["/api/v1/tasks/{id}/decision/"]["post"]
    body = decide["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    otp = schema["components"]["schemas"][body.rsplit("/", 1)[1]]["properties"]["otp"]
    assert otp["type"] == "string"
    assert otp["writeOnly"] is True
    assert "ACCORD_REQUIRE_2FA_FOR_SIGNING" in otp["description"]
    assert "authenticator" in decide["responses"]["403"]["description"]
    assert {"400", "429"} <= set(decide["responses"])


# --- The setting's default -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("database_url", "expected"),
    [(None, False), ("postgres://accord@db.invalid:5432/accord", True)],
)
def test_signing_asks_for_a_code_by_default_except_on_the_embedded_default(
    monkeypatch, database_url, expected
):
    monkeypatch.delenv("ACCORD_REQUIRE_2FA_FOR_SIGNING", raising=False)
    monkeypatch.setenv("DJANGO_SECRET_KEY", "k8Qz-Lw3Rt" * 6)
    if database_url is None:
        monkeypatch.delenv("DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("DATABASE_URL", database_url)
    path = Path(settings.BASE_DIR) / "config" / "settings.py"

    assert runpy.run_path(str(path))["ACCORD_REQUIRE_2FA_FOR_SIGNING"] is expected
    monkeypatch.setenv("ACCORD_REQUIRE_2FA_FOR_SIGNING", "false")
    assert runpy.run_path(str(path))["ACCORD_REQUIRE_2FA_FOR_SIGNING"] is False
