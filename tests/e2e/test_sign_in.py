"""Each demo user signs in through the real page and lands on their role's home page."""

import pytest

from pbr.demo import PEOPLE
from tests.e2e.helpers import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

EXPECTED = {
    "commissioner": ("/commissioner/", "Commissioner home"),
    "provider_manager": ("/provider/", "Provider home"),
    "provider_user": ("/provider/", "Provider home"),
    "auditor": ("/auditor/", "Auditor home"),
    "site_admin": ("/site-admin/", "Site administration"),
}


@pytest.fixture
def demo_people(db):
    from pbr.demo import seed_people

    seed_people()


def test_every_demo_user_lands_on_their_home_page(live_server, page, screenshot, demo_people):
    for username, _first, _last, _org, role in PEOPLE:
        page.goto(f"{live_server.url}/")
        assert "/account/sign-in/" in page.url
        assert page.locator("h1").inner_text() == "Sign in"
        # The GOV.UK stylesheet really loaded (not a bare page).
        assert page.evaluate("getComputedStyle(document.querySelector('h1')).fontWeight") == "700"
        # The password, then (commissioner, auditor, admin) the code from the demo device.
        sign_in(page, live_server, username)
        path, heading = EXPECTED[role]
        page.wait_for_url(f"{live_server.url}{path}")
        assert page.locator("h1").inner_text() == heading
        screenshot(f"home-{username}")
        page.click("text=Sign out")
        page.wait_for_url(f"{live_server.url}/account/sign-in/")


def test_wrong_password_shows_a_govuk_error_summary(live_server, page, screenshot, demo_people):
    page.goto(f"{live_server.url}/account/sign-in/")
    page.click("button[type=submit]")
    summary = page.locator(".govuk-error-summary")
    assert "Enter your username" in summary.inner_text()
    page.fill("#id_username", "commissioner")
    page.fill("#id_password", "not-the-password")
    page.click("button[type=submit]")
    assert "Enter a correct username and password" in page.locator(".govuk-error-summary").inner_text()
    screenshot("sign-in-error")
