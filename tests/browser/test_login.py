"""Logging in, in a real browser, in French: labels, button, redirect and error message."""

from django.urls import reverse
from playwright.sync_api import expect

from tests.factories import PASSWORD, UserFactory

# Django's own French for AuthenticationForm (labels from the User model, error message);
# typographic apostrophes, and labels that end with a no-break space and a colon.
USERNAME_LABEL = "Nom d\N{RIGHT SINGLE QUOTATION MARK}utilisateur\N{NO-BREAK SPACE}:"
PASSWORD_LABEL = "Mot de passe\N{NO-BREAK SPACE}:"
INVALID_LOGIN = (
    "Saisissez un nom d\N{RIGHT SINGLE QUOTATION MARK}utilisateur et un mot de passe valides."
)


def log_in(page, username: str, password: str) -> None:
    page.goto(reverse("login"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Se connecter à Accord")
    page.get_by_label(USERNAME_LABEL, exact=True).fill(username)
    page.get_by_label(PASSWORD_LABEL, exact=True).fill(password)
    page.get_by_role("button", name="Se connecter", exact=True).click()


def log_out(page) -> None:
    page.context.clear_cookies()


def test_a_person_logs_in_and_lands_on_their_contracts(page, live_server):
    person = UserFactory(username="camille", first_name="Camille", last_name="Durand")

    log_in(page, person.username, PASSWORD)

    expect(page).to_have_url(live_server.url + reverse("workflows:contract_list"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Contrats")
    expect(page.locator(".signed-in")).to_contain_text("Camille Durand")
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
    # The stylesheet came through the live server (static files without collectstatic).
    assert page.evaluate("document.styleSheets[0].cssRules.length") > 0


def test_a_wrong_password_is_refused_in_french(page, live_server):
    person = UserFactory(username="camille")

    log_in(page, person.username, "not-the-password")

    expect(page).to_have_url(live_server.url + reverse("login"))
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("La connexion a échoué")
    expect(alert).to_contain_text(INVALID_LOGIN)
    expect(page.locator(".signed-in")).to_have_count(0)
