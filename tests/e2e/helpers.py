"""What the browser tests share: signing in and out through the real pages."""

from pbr.demo import DEMO_PASSWORD


def sign_in(page, live_server, username, password=DEMO_PASSWORD):
    """Sign in through the sign-in page, as a person would."""
    page.goto(f"{live_server.url}/account/sign-in/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")


def sign_out(page):
    page.click("button:has-text('Sign out')")
