"""A commissioner builds a small contract in the designer (details, a segment, two outcomes, a
tariff and a cap, adding each with the htmx buttons), publishes it and reads its summary."""

import pytest

from tests.e2e.helpers import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo_people(db):
    from pbr.demo import seed_people

    seed_people()


def add_with_htmx(page, button, new_input):
    """Click an add button and wait for the new row, proving the page did not reload."""
    page.evaluate("window.__samePage = true")
    page.click(button)
    page.wait_for_selector(new_input)
    assert page.evaluate("window.__samePage === true"), "the page reloaded"
    assert "not saved yet" in page.locator("#designer-status").inner_text()


def test_build_publish_and_read_the_summary(live_server, page, screenshot, demo_people):
    from contracts.models import Contract

    sign_in(page, live_server, "commissioner")
    page.click("text=Contracts")
    page.click("text=Design a new contract")
    assert page.locator("h1").inner_text() == "Design a new contract"
    page.fill("#f-reference", "DESIGNED-1")
    page.fill("#f-title", "Tenancy support designed in the browser")
    page.fill("#f-start", "2024-04-01")
    page.fill("#f-end", "2025-03-31")
    page.fill("#f-annual_value", "100000")
    assert page.input_value("#f-funders-0-name") == "Northshire County Council"
    assert page.input_value("#f-funders-0-share_pct") == "100"
    page.select_option("#f-_prime_organisation", label="Pathway Housing Trust")
    page.select_option("#f-calendar-kind", "quarterly")
    page.fill("#f-calendar-start", "2024-04-01")
    screenshot("designer-new-contract")
    page.click("text=Save and start designing")
    assert "is saved as a draft" in page.locator(".govuk-notification-banner").inner_text()
    assert page.locator("h1").inner_text() == "Tenancy support designed in the browser"

    # One segment.
    page.click("a.govuk-task-list__link:has-text('Segments')")
    add_with_htmx(page, "button:has-text('Add a segment')", "#f-segments-0-code")
    page.fill("#f-segments-0-code", "ROUGH")
    page.fill("#f-segments-0-name", "Rough sleepers")
    page.click("text=Save and continue")
    assert "Saved. The terms have no problems." in page.locator(".govuk-notification-banner").inner_text()

    # Two outcomes: a one-off and a recurring one triggered by the first.
    assert page.locator("h1").inner_text() == "Outcomes"
    add_with_htmx(page, "button:has-text('Add an outcome')", "#f-outcomes-0-code")
    page.fill("#f-outcomes-0-code", "settled")
    page.fill("#f-outcomes-0-name", "Settled accommodation")
    add_with_htmx(page, "button:has-text('Add another outcome')", "#f-outcomes-1-code")
    page.fill("#f-outcomes-1-code", "sustained")
    page.fill("#f-outcomes-1-name", "Tenancy sustained")
    page.fill("#f-outcomes-1-every_weeks", "13")
    # A third outcome added by mistake is removed again, in place.
    add_with_htmx(page, "button:has-text('Add another outcome')", "#f-outcomes-2-code")
    page.fill("#f-outcomes-2-code", "mistake")
    page.evaluate("window.__samePage = true")
    page.click("#f-outcomes-2 button:has-text('Remove')")
    page.wait_for_selector("#f-outcomes-2", state="detached")
    assert page.evaluate("window.__samePage === true"), "the page reloaded"
    assert page.input_value("#f-outcomes-1-code") == "sustained"
    assert page.input_value("#f-outcomes-1-every_weeks") == "13"
    page.select_option("#f-outcomes-1-kind", "recurring")
    page.click("button[value=save]")
    # A recurring outcome without its trigger is saved, and the problem is linked to the field.
    summary = page.locator(".govuk-error-summary")
    assert "recurring" in summary.inner_text()
    screenshot("designer-outcome-problem")
    page.select_option("#f-outcomes-1-trigger", "settled")
    page.fill("#f-outcomes-1-max_count", "4")
    page.click("button[value=save]")
    assert page.locator(".govuk-error-summary").count() == 0

    # A tariff with a price for each outcome, and a cap.
    page.click("nav >> text=Payment rules, caps and floors")
    page.select_option("#f-rules-new-type", "tariff")
    add_with_htmx(page, "button:has-text('Add a rule')", "#f-rules-0-id")
    page.fill("#f-rules-0-id", "tariff")
    add_with_htmx(page, "#f-rules-0-prices button:has-text('Add a price')",
                  "#f-rules-0-prices-0-outcome")
    page.select_option("#f-rules-0-prices-0-outcome", "settled")
    page.select_option("#f-rules-0-prices-0-segment", "ROUGH")
    page.fill("#f-rules-0-prices-0-amount", "1200")
    add_with_htmx(page, "#f-rules-0-prices button:has-text('Add another price')",
                  "#f-rules-0-prices-1-outcome")
    page.select_option("#f-rules-0-prices-1-outcome", "sustained")
    page.fill("#f-rules-0-prices-1-amount", "300")
    page.select_option("#f-rules-new-type", "cap")
    add_with_htmx(page, "button:has-text('Add another rule')", "#f-rules-1-id")
    page.fill("#f-rules-1-id", "annual_cap")
    page.select_option("#f-rules-1-scope", "year")
    page.fill("#f-rules-1-maximum", "60000")
    screenshot("designer-rules")
    page.click("button[value=save_continue]")
    assert page.locator("h1").inner_text() == "Tenancy support designed in the browser"
    assert page.locator(".govuk-error-summary").count() == 0
    screenshot("designer-overview")

    page.click("text=Publish version 1")
    assert "is published" in page.locator(".govuk-notification-banner").inner_text()
    body = page.locator("main").inner_text()
    assert "The terms in plain English" in body
    assert "£1,200.00" in body and "£300.00" in body and "£60,000.00" in body
    screenshot("designer-published-summary")

    contract = Contract.objects.get(reference="DESIGNED-1")
    assert contract.status == "published"
    definition = contract.current_version().definition()
    assert [o.code for o in definition.outcomes] == ["settled", "sustained"]
    assert [r.type for r in definition.rules] == ["tariff", "cap"]
