"""The whole loop with JavaScript switched off, in a real Chromium: every page
is a plain form, so a phone with scripts blocked (or a script that failed to
load on a weak signal) still sends a lead, picks it up and closes it."""
import pytest
from playwright.sync_api import expect, sync_playwright

from app.models import Lead
from browser import CHROMIUM_FLAGS, chromium, log_in, screenshot, server, van_depot  # noqa: F401


@pytest.fixture
def no_js(chromium, server):
    """A fresh phone-sized browser context with JavaScript disabled."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True,
                                             args=CHROMIUM_FLAGS)
        try:
            yield lambda: browser.new_context(
                java_script_enabled=False, base_url=server.base_url,
                viewport={"width": 390, "height": 844}).new_page()
        finally:
            browser.close()


def test_without_javascript_a_lead_is_sent_picked_up_and_won(no_js, van_depot):
    courier = no_js()
    log_in(courier, van_depot.courier)
    courier.goto("/leads/new")
    courier.click("button[type=submit]")  # nothing filled in: the page says what is missing
    expect(courier.locator("#business_name-error")).to_be_visible()
    expect(courier.locator("#category-error")).to_be_visible()
    screenshot(courier, "nojs/capture-errors")
    courier.fill("#business_name", "Joe's Bakery")
    courier.locator("label.chip", has_text="New business").click()
    courier.locator("label.chip", has_text="Hot").click()
    courier.click("button[type=submit]")
    expect(courier.get_by_role("heading", name="Lead sent — thank you!")).to_be_visible()
    lead = Lead.get(Lead.business_name == "Joe's Bakery")
    assert (lead.category, lead.temperature, lead.territory_id) == (
        "new_business", "hot", van_depot.north.id)

    rep = no_js()
    log_in(rep, van_depot.rep)
    rep.goto("/leads")
    rep.get_by_role("link", name="Joe's Bakery").first.click()
    rep.get_by_role("button", name="Acknowledge").click()
    expect(rep.get_by_role("button", name="Contacted the customer")).to_be_visible()
    rep.get_by_role("button", name="Contacted the customer").click()
    rep.get_by_role("button", name="Quote sent").click()
    rep.fill("#weekly_volume", "40")
    rep.get_by_role("button", name="Won", exact=True).click()
    expect(rep.locator("body")).to_contain_text("will hear the good news")
    screenshot(rep, "nojs/rep-lead-won")
    assert Lead.get_by_id(lead.id).status == "won"

    courier.goto("/my-leads")
    expect(courier.locator("body")).to_contain_text("Joe's Bakery")
    courier.get_by_role("link", name="Joe's Bakery").first.click()
    expect(courier.locator("body")).to_contain_text("Dana picked up your lead")

    manager = no_js()
    log_in(manager, van_depot.manager)
    manager.goto("/feed?status=won")
    expect(manager.locator("main")).to_contain_text("Joe's Bakery")
