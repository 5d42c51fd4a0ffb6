"""Two-factor authentication in a real browser, in French: enrolling an authenticator app from
the header's "Sécurité du compte", then logging in with its code."""

from base64 import b32decode

from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from tests.browser.test_login import log_in
from tests.factories import PASSWORD, UserFactory
from tests.two_factor import code_for_secret, next_code


def test_a_person_enrols_an_authenticator_then_logs_in_with_its_code(page, live_server):
    person = UserFactory(username="camille", first_name="Camille", last_name="Durand")
    log_in(page, person.username, PASSWORD)
    page.get_by_role("link", name="Sécurité du compte").click()
    page.get_by_role("link", name="Activer la validation en deux étapes").click()

    qr_code = page.get_by_role("img", name="QR code qui ajoute votre compte Accord")
    expect(qr_code).to_be_visible()
    assert page.evaluate("img => img.naturalWidth", qr_code.element_handle()) > 0  # SVG drawn
    key = page.locator("code.code").inner_text().replace(" ", "")
    page.get_by_label("Code affiché par l\u2019application").fill(code_for_secret(b32decode(key)))
    page.get_by_role("button", name="Activer la validation en deux étapes").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Vos codes de secours")
    expect(page.locator(".recovery-codes li")).to_have_count(10)

    page.context.clear_cookies()
    log_in(page, person.username, PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Saisissez votre code")
    field = page.get_by_label("Code de validation en deux étapes")
    field.fill("000000")
    page.get_by_role("button", name="Continuer").click()
    expect(page.get_by_role("alert")).to_contain_text("Le code est incorrect.")
    field.fill(next_code(TOTPDevice.objects.get(user=person)))
    page.get_by_role("button", name="Continuer").click()

    expect(page).to_have_url(live_server.url + reverse("workflows:contract_list"))
    expect(page.locator(".signed-in")).to_contain_text("Camille Durand")
