"""The manager's and the courier's numbers and the depot's admin pages, in a
real Chromium on a phone: no sideways scrolling at 320 px, no serious
accessibility problems, thumb-sized controls, charts with their tables."""
import uuid

import pytest
from axe_playwright_python.sync_playwright import Axe

from app.models import Lead, Setting
from browser import browser, chromium, log_in, server, van_depot  # noqa: F401
from test_browser_van import TARGETS

MANAGER_PAGES = ["/numbers", "/numbers/pairs", "/leaderboard", "/admin/", "/admin/users/",
                 "/admin/users/new", "/admin/users/{rep}", "/admin/territories/",
                 "/admin/territories/{territory}", "/admin/routes/", "/admin/routes/{route}",
                 "/admin/deadlines/", "/admin/import/", "/admin/audit/"]


@pytest.fixture
def worked(van_depot):
    """Leads sent, picked up and won, so every chart has bars."""
    for n, temperature in enumerate(("hot", "warm", "fyi")):
        lead, _ = Lead.submit(van_depot.courier, {
            "business_name": "Shop %d" % n, "category": "new_business",
            "temperature": temperature, "postcode": "AB1 2CD"}, uuid.uuid4())
        Lead.acknowledge(lead.id, van_depot.rep)
        if n == 0:
            for step in ("contacted", "quoted"):
                Lead.advance(lead.id, van_depot.rep, step)
            Lead.advance(lead.id, van_depot.rep, "won", weekly_volume=40, weekly_value=1200)
    return van_depot


def problems(page):
    """What a phone user would trip over on this page."""
    found = []
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > 320:
        found.append("scrolls sideways: %d px wide" % width)
    violations = Axe().run(page).response["violations"]
    found += ["axe: %s" % v["id"] for v in violations if v["impact"] in ("serious", "critical")]
    found += ["small target: %s" % t["what"] for t in page.evaluate(TARGETS)]
    return found


@pytest.mark.parametrize("path", MANAGER_PAGES)
def test_browser_manager_pages_fit_a_phone_and_are_accessible(browser, worked, path):
    page = browser.new_page()
    page.set_viewport_size({"width": 320, "height": 780})
    log_in(page, worked.manager)
    path = path.format(rep=worked.rep.id, territory=worked.north.id, route=worked.route.id)
    assert page.goto(path).status == 200
    assert problems(page) == []


def test_browser_numbers_charts_come_with_their_tables(browser, worked):
    page = browser.new_page()
    log_in(page, worked.manager)
    page.goto("/numbers")
    charts = page.locator("svg[role=img]")
    assert charts.count() >= 5
    # Every chart is named for screen readers, and its numbers are in a table too.
    for i in range(charts.count()):
        assert charts.nth(i).get_attribute("aria-labelledby") or charts.nth(i).get_attribute(
            "aria-label")
    assert page.locator("table").count() >= 5
    assert page.locator("table >> text=Ann").count() >= 1


def test_browser_courier_record_and_board_fit_a_phone(browser, worked):
    Setting.write("leaderboard_for_couriers", True)
    page = browser.new_page()
    page.set_viewport_size({"width": 320, "height": 780})
    log_in(page, worked.courier)
    for path in ("/my-record", "/leaderboard"):
        assert page.goto(path).status == 200
        assert problems(page) == []
