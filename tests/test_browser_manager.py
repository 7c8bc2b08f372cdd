"""The manager's and the courier's numbers and the depot's admin pages, in a
real Chromium on a phone: no sideways scrolling at 320 px, no serious
accessibility problems, thumb-sized controls, charts with their tables; and
the manager at a desk: the feed as a dense table, sortable, 15 leads a screen.

Screenshots of what a manager sees go to tests/screenshots/ (manager_*.png)."""
import re
import uuid
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from app.models import Lead, Setting, utcnow
from browser import browser, chromium, log_in, screenshot, server, van_depot  # noqa: F401
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


DESK = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def serious(page):
    """axe-core's serious and critical violations on the page."""
    return [v["id"] for v in Axe().run(page).response["violations"]
            if v["impact"] in ("serious", "critical")]


@pytest.fixture
def busy(van_depot):
    """Forty leads of a morning, a new one every 7 minutes, of every
    temperature; every fourth picked up. Lead 0 is the oldest."""
    now = utcnow()
    for n in range(40):
        sent = now - timedelta(minutes=7 * (40 - n))
        Lead.create(client_uuid=uuid.uuid4(), courier=van_depot.courier, route=van_depot.route,
                    territory=van_depot.north, business_name="Shop %02d" % n,
                    category=("new_business", "moving", "competitor", "other")[n % 4],
                    temperature=("hot", "warm", "fyi")[n % 3],
                    status="acknowledged" if n % 4 == 0 else "new",
                    assigned_rep=van_depot.rep if n % 4 == 0 else None,
                    created_at=sent, updated_at=sent)
    return van_depot


def rows_in_view(page):
    """How many of the feed's leads are wholly inside the viewport."""
    return page.evaluate("""[...document.querySelectorAll('#feed [data-id]')].filter(row => {
        const box = row.getBoundingClientRect();
        return box.top >= 0 && box.bottom <= window.innerHeight && box.height > 0;
    }).length""")


def test_browser_feed_at_a_desk_is_a_table_of_15_leads_a_screen(browser, busy):
    page = browser.new_page()
    page.set_viewport_size(DESK)
    log_in(page, busy.manager)
    page.goto("/feed")
    expect(page.get_by_role("columnheader", name="Deadline")).to_be_visible()
    expect(page.locator("#feed [data-id]").first).to_contain_text("Shop 39")
    screenshot(page, "manager_feed_desk_1280")
    assert rows_in_view(page) >= 15
    assert page.evaluate("document.documentElement.scrollWidth") <= DESK["width"]
    # The search says what it searches in full, and Filters is a disclosure.
    search = page.locator("#q")
    assert search.get_attribute("placeholder") is None
    expect(page.locator("label[for=q]")).to_contain_text("business, contact, postcode or note")
    assert page.evaluate("getComputedStyle(document.querySelector('.filters summary'), "
                         "'::after').transform") != "none"
    assert serious(page) == []


def test_browser_feed_sorts_by_age_and_by_deadline(browser, busy):
    page = browser.new_page()
    page.set_viewport_size(DESK)
    log_in(page, busy.manager)
    page.goto("/feed?temperature=hot&temperature=warm")
    first = page.locator("#feed [data-id]").first
    page.get_by_role("link", name="Age").click()
    page.wait_for_url("**sort=oldest**")
    expect(first).to_contain_text("Shop 00")
    expect(page.get_by_role("columnheader", name="Age")).to_have_attribute("aria-sort", "descending")
    page.get_by_role("link", name="Deadline").click()
    page.wait_for_url("**sort=deadline**")
    # Shop 03 (hot, sent 259 min ago) is 244 min overdue; Shop 00 is picked up
    # and the warm Shop 01 (sent 273 min ago, 4 h allowed) only 33 min overdue.
    expect(first).to_contain_text("Shop 03")
    assert "temperature=hot" in page.url and "temperature=warm" in page.url
    expect(page.locator("#feed .due").first).to_contain_text("overdue by")
    screenshot(page, "manager_feed_desk_by_deadline")


def test_browser_feed_on_a_phone_keeps_the_cards(browser, busy):
    page = browser.new_page()
    page.set_viewport_size(PHONE)
    log_in(page, busy.manager)
    page.goto("/feed")
    card = page.locator("#feed [data-id]").first
    expect(card).to_contain_text("Shop 39")
    expect(page.locator("#feed thead")).to_be_hidden()
    box = card.bounding_box()
    assert box["width"] > 300 and box["height"] >= 48
    screenshot(page, "manager_feed_phone_390")
    page.select_option("#f-sort", "deadline")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**sort=deadline**")
    expect(card).to_contain_text("overdue by")
    assert serious(page) == []
    page.set_viewport_size({"width": 320, "height": 640})
    assert page.evaluate("document.documentElement.scrollWidth") <= 320


def inside_first_screen(page, selector):
    """Whether every element matching selector is wholly inside the viewport."""
    return page.evaluate("""selector => [...document.querySelectorAll(selector)].every(e => {
        const box = e.getBoundingClientRect();
        return box.width > 0 && box.top >= 0 && box.bottom <= window.innerHeight
            && box.left >= 0 && box.right <= window.innerWidth;
    })""", selector)


def test_browser_numbers_headline_tiles_fill_a_phones_first_screen(browser, team):
    worked = team
    page = browser.new_page()
    page.set_viewport_size(PHONE)
    log_in(page, worked.manager)
    page.goto("/numbers")
    tiles = page.locator(".tile")
    expect(tiles).to_have_count(5)
    expect(tiles.first).to_contain_text("Leads sent")
    assert inside_first_screen(page, ".tile")
    for label in ("Leads sent", "Median time to acknowledge", "90th percentile to acknowledge",
                  "Acknowledged within the deadline", "Won, of those closed"):
        expect(page.locator(".tile", has_text=label).locator(".tile-change")).to_be_visible()
    screenshot(page, "manager_numbers_phone_390")
    page.set_viewport_size(DESK)
    screenshot(page, "manager_numbers_desk_1280")


def broken_inside(page):
    """Durations and figures drawn on more than one line ("1 h" over "54 min")."""
    return page.evaluate("""[...document.querySelectorAll(
            '.duration, .tile-value, table.numbers .now, table.numbers:not(.matrix) td, '
            + 'table.matrix td > span')].filter(e => {
        const walker = document.createTreeWalker(e, NodeFilter.SHOW_TEXT), tops = new Set();
        for (let text = walker.nextNode(); text; text = walker.nextNode()) {
          const range = document.createRange();
          range.selectNodeContents(text);
          [...range.getClientRects()].forEach(r => r.width && tops.add(Math.round(r.top)));
        }
        return tops.size > 1 && !e.querySelector('.was');
    }).map(e => e.textContent)""")


def test_browser_numbers_tables_scroll_in_their_box_with_the_names_kept(browser, worked):
    page = browser.new_page()
    page.set_viewport_size({"width": 320, "height": 640})
    log_in(page, worked.manager)
    page.goto("/numbers")
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    box = page.locator("#table-territory").locator("xpath=..")
    assert box.evaluate("e => e.scrollWidth > e.clientWidth")  # wider than the phone
    name = page.locator("#table-territory tbody th").first
    before = name.bounding_box()["x"]
    box.evaluate("e => e.scrollLeft = 400")
    expect(page.locator("#table-territory tbody td").first).not_to_be_in_viewport(ratio=1)
    assert name.bounding_box()["x"] == before  # the first column is sticky
    assert broken_inside(page) == []


@pytest.fixture
def team(worked):
    """Three more couriers and two more reps with a fortnight of worked leads:
    pairs that answer in minutes and pairs that take hours, and won business."""
    from conftest import make_user
    couriers = [make_user("courier", name=name, route=worked.route)
                for name in ("Bea Longname-Courier", "Cy", "Di")]
    reps = [worked.rep] + [make_user("rep", name=name, territory=worked.north)
                           for name in ("Eve", "Finn")]
    now = utcnow()
    for n in range(60):
        courier, rep = couriers[n % 3], reps[n % 2 + (n % 5 == 0)]
        sent = now - timedelta(hours=5 * n + 3)
        picked = sent + timedelta(minutes=(4, 25, 114)[reps.index(rep)] + n % 7)
        won = n % 4 == 0
        Lead.create(client_uuid=uuid.uuid4(), courier=courier, route=worked.route,
                    territory=worked.north, business_name="Lead %d" % n, category="other",
                    temperature="warm", status="won" if won else "contacted",
                    assigned_rep=rep, created_at=sent, updated_at=picked, acknowledged_at=picked,
                    closed_at=picked if won else None, weekly_volume=20 if won else None,
                    weekly_value=150 + 10 * n if won else None)
    return worked


def test_browser_leaderboard_shows_won_beside_the_name_on_a_phone(browser, team):
    worked = team
    page = browser.new_page()
    page.set_viewport_size(PHONE)
    log_in(page, worked.manager)
    page.goto("/leaderboard")
    # Scrolled down to the board (its box fits the phone, so only the page moves),
    # the ranking column is on screen without scrolling the table sideways.
    page.locator("#table-board").locator("xpath=..").scroll_into_view_if_needed()
    won = page.get_by_role("columnheader", name="Won", exact=True)
    expect(won).to_be_in_viewport(ratio=1)
    first = page.locator("#table-board tbody tr").first
    expect(first.locator("td").nth(1)).to_have_text("5")
    expect(first.locator("td").nth(1)).to_be_in_viewport(ratio=1)
    expect(first.locator("td").nth(2)).to_have_text(re.compile(r"^£[0-9,]+$"))
    screenshot(page, "manager_leaderboard_phone_390")
    page.goto("/numbers/pairs")
    matrix = page.locator("#table-pairs")
    matrix.locator("xpath=..").scroll_into_view_if_needed()
    expect(matrix).to_be_in_viewport()
    screenshot(page, "manager_pairs_phone_390")
    expect(page.locator(".pairs .duration").first).to_be_visible()
    assert broken_inside(page) == []
    assert serious(page) == []
