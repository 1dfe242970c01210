"""Browser tests: Playwright driving Debian's chromium (browsers cannot be downloaded here)."""

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]

# Playwright's sync API runs an event loop in this thread; the live server's ORM calls happen in
# its own thread, but test-side ORM use (fixtures) would otherwise trip Django's async guard.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def artifacts_dir():
    path = Path(os.environ.get("PBR_ARTIFACTS_DIR", "test-artifacts")) / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("PBR_REQUIRE_BROWSER"):
            pytest.fail(f"PBR_REQUIRE_BROWSER is set but {CHROMIUM} is missing (apt-get install chromium).")
        pytest.skip(f"{CHROMIUM} not installed: apt-get install chromium to run browser tests (CI does).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshot(page):
    def take(name):
        path = artifacts_dir() / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path
    return take
