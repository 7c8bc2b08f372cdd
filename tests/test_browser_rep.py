"""The rep's and the courier's pages as a person sees them on a phone, in a
real Chromium: a notifications inbox that fits, urgency where the rep works,
words a courier understands, an account page, push failures in plain words,
and no sideways scrolling or serious accessibility fault on any of them.
Screenshots at 390×844 go to tests/screenshots/ (see the README)."""
import re
import uuid
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from app.models import Lead, Notification, utcnow
from browser import (browser, chromium, log_in, screenshot, server,  # noqa: F401
                     service_worker_ready, van_depot)

PHONE = {"width": 390, "height": 844}


def lead(depot, name, temperature="hot", minutes_ago=0, **fields):
    made, _ = Lead.submit(depot.courier, dict({
        "business_name": name, "category": "new_business", "temperature": temperature,
        "postcode": "AB1 2CD"}, **fields), uuid.uuid4())
    Lead.update(created_at=utcnow() - timedelta(minutes=minutes_ago)).where(
        Lead.id == made.id).execute()
    return Lead.get_by_id(made.id)


@pytest.fixture
def depot(van_depot):
    """Dana's leads: one hot and fresh, one hot and long overdue (escalated),
    one she is working, one won; and 20 notifications each for her and Ann."""
    d = van_depot
    d.fresh = lead(d, "Fresh Bakery", minutes_ago=3.5, contact_name="Joe",
                   contact_phone="+44 20 7946 0000", note="Opens Monday")
    d.late = lead(d, "Late Laundry", minutes_ago=75.5)
    Lead.update(escalated_at=utcnow()).where(Lead.id == d.late.id).execute()
    d.working = lead(d, "Working Wines", temperature="warm", minutes_ago=30)
    Lead.acknowledge(d.working.id, d.rep)
    d.won = lead(d, "Won Florist", minutes_ago=300)
    Lead.acknowledge(d.won.id, d.rep)
    for step in ("contacted", "quoted"):
        Lead.advance(d.won.id, d.rep, step)
    Lead.advance(d.won.id, d.rep, "won", weekly_volume=40)
    for user in (d.rep, d.courier):
        for n in range(20):
            Notification.create(
                user=user, lead=d.fresh, kind="new_lead", path="/leads/%d" % d.fresh.id,
                title="Hot lead %d: Fresh Bakery on the high street" % n,
                body="New business · from Ann · the owner asked about next-day parcels to "
                     "Ireland and wants a call before the lunch rush, ideally today",
                created_at=utcnow() - timedelta(minutes=n * 7), read_at=None if n % 3 else utcnow())
    return d


def phone(browser, user=None):
    page = browser.new_page()
    page.set_viewport_size(PHONE)
    if user is not None:
        log_in(page, user)
    return page


def box(locator):
    return locator.bounding_box()


# --- The notifications inbox --------------------------------------------------------

def test_twenty_notifications_fit_in_two_screens(browser, depot):
    page = phone(browser, depot.rep)
    page.goto("/notifications")
    rows = page.locator("li.notification")
    expect(rows).to_have_count(20)
    expect(rows.first).to_be_visible()
    screenshot(page, "rep_inbox")
    screenshot(page, "rep_inbox_full", full_page=True)

    height = page.evaluate("document.documentElement.scrollHeight")
    assert height <= 2 * PHONE["height"], height
    for n in range(20):
        row = box(rows.nth(n))
        assert row["height"] <= 80, (n, row)
        mark = rows.nth(n).locator("button.mark-read")
        if mark.count():
            # Inside its own row, not floating below it.
            button = box(mark)
            assert row["y"] <= button["y"] and button["y"] + button["height"] <= row["y"] + row["height"] + 0.5
            assert row["x"] <= button["x"] and button["x"] + button["width"] <= row["x"] + row["width"] + 0.5
    first = rows.first
    body = first.locator(".body")
    assert body.evaluate("e => e.scrollWidth > e.clientWidth")  # one line, ellipsis
    assert body.evaluate("e => getComputedStyle(e).textOverflow") == "ellipsis"
    # Unread is told by more than colour: a bold title, a dot, and words for screen readers.
    unread, read = rows.nth(0), rows.nth(1)  # newest first: the 20th is unread, the 19th read
    assert unread.locator(".title").evaluate("e => getComputedStyle(e).fontWeight") == "700"
    assert read.locator(".title").evaluate("e => getComputedStyle(e).fontWeight") == "400"
    expect(unread.locator(".unread-dot")).to_be_visible()
    expect(unread.locator(".visually-hidden").first).to_have_text("Unread: ")


def test_mark_as_read_from_its_row(browser, depot):
    page = phone(browser, depot.courier)
    page.goto("/notifications")
    unread = page.locator("li.notification.unread")
    expect(unread).to_have_count(13)
    unread.first.locator("button.mark-read").click()
    expect(page.locator("li.notification.unread")).to_have_count(12)
    screenshot(page, "courier_inbox")


# --- Urgency where the rep works ---------------------------------------------------

def test_rep_list_shows_deadlines_and_two_separate_badges(browser, depot):
    page = phone(browser, depot.rep)
    page.goto("/leads")
    fresh = page.locator("li.card", has_text="Fresh Bakery")
    late = page.locator("li.card", has_text="Late Laundry")
    working = page.locator("li.card", has_text="Working Wines")
    expect(fresh.locator(".due")).to_have_text("due in 11 min")
    expect(late.locator(".due.late")).to_have_text("overdue by 1 h 0 min")
    expect(working.locator(".due")).to_have_count(0)

    status, temperature = fresh.locator(".pill.status"), fresh.locator(".pill.temp")
    expect(status).to_have_text("New")
    expect(temperature).to_have_text("Hot")
    a, b = box(status), box(temperature)
    assert a["x"] + a["width"] < b["x"] or b["x"] + b["width"] < a["x"] or \
        a["y"] + a["height"] <= b["y"], (a, b)  # two badges, side by side or stacked
    # A hot card's text lines up with the others' (its red edge is drawn inside).
    assert box(fresh.locator(".title"))["x"] == box(working.locator(".title"))["x"]
    screenshot(page, "rep_leads")


def test_rep_filters_mine_and_not_picked_up(browser, depot):
    page = phone(browser, depot.rep)
    page.goto("/leads")
    page.get_by_role("link", name="Mine", exact=True).click()
    page.wait_for_url("**/leads?show=mine")
    expect(page.locator("li.card .title")).to_have_text(["Won Florist", "Working Wines"])
    page.get_by_role("link", name="Not picked up").click()
    page.wait_for_url("**/leads?show=waiting")
    expect(page.locator("li.card .title")).to_have_text(["Late Laundry", "Fresh Bakery"])
    expect(page.get_by_role("link", name="Not picked up")).to_have_attribute("aria-current", "page")
    response = page.goto("/leads?show=everything")
    assert response.status == 400
    expect(page.get_by_role("alert")).to_contain_text("Choose All, Mine or Not picked up.")


def test_rep_lead_page_shows_how_long_is_left(browser, depot):
    page = phone(browser, depot.rep)
    page.goto("/leads/%d" % depot.fresh.id)
    expect(page.locator(".lead-status .due")).to_have_text("due in 11 min")
    expect(page.locator(".lead-status .pill.status")).to_have_text("New")
    expect(page.locator(".lead-status .pill.temp")).to_have_text("Hot — wants a call today")
    expect(page.get_by_role("button", name="Acknowledge")).to_be_visible()
    expect(page.get_by_text("(required)")).to_have_count(0)
    screenshot(page, "rep_lead")
    page.goto("/leads/%d" % depot.late.id)
    expect(page.locator(".lead-status .due.late")).to_have_text("overdue by 1 h 0 min")
    expect(page.locator(".marker.escalated")).to_be_visible()


# --- Words for couriers ------------------------------------------------------------

def test_courier_pages_speak_the_couriers_language(browser, depot):
    page = phone(browser, depot.courier)
    page.goto("/my-leads")
    expect(page.locator("li.card", has_text="Late Laundry").locator(".pill")).to_have_text(
        ["Sent", "Hot"])
    expect(page.locator("li.card", has_text="Won Florist").locator(".pill")).to_have_text(["Won"])
    expect(page.locator("li.card", has_text="Working Wines").locator(".pill")).to_have_text(
        ["Picked up", "Warm"])
    for word in ("Escalated", "overdue", "due in", "Acknowledged"):
        expect(page.locator("main").get_by_text(word)).to_have_count(0)
    screenshot(page, "courier_my_leads")
    page.goto("/leads/%d" % depot.late.id)
    expect(page.locator(".holder")).to_have_text("Waiting for a rep to pick it up")
    for word in ("Escalated", "overdue", "due in"):
        expect(page.locator("main").get_by_text(word)).to_have_count(0)
    page.goto("/leads/%d" % depot.won.id)
    expect(page.locator(".lead-status .pill")).to_have_text(["Won"])
    expect(page.locator("main")).to_contain_text("Dana picked up your lead")
    screenshot(page, "courier_lead")


# --- The account page ----------------------------------------------------------------

def test_account_page_is_an_account_page_and_logs_out(browser, depot):
    page = phone(browser, depot.courier)
    page.goto("/my-leads")
    page.get_by_role("link", name="Account").click()
    page.wait_for_url("**/account")
    expect(page.locator(".account-who")).to_contain_text("Ann")
    expect(page.locator(".account-who")).to_contain_text("R1 — North loop")
    expect(page.locator(".settings .title")).to_have_text(
        ["Password", "Alerts", "Devices", "My record"])
    screenshot(page, "courier_account")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login")
    expect(page.locator(".flash")).to_have_text("You are logged out.")


def test_rep_account_lists_territories_and_numbers(browser, depot):
    page = phone(browser, depot.rep)
    page.goto("/account")
    expect(page.locator(".account-who")).to_contain_text("North")
    expect(page.locator(".settings .title")).to_have_text(
        ["Password", "Alerts", "Devices", "Numbers"])
    screenshot(page, "rep_account")


# --- Devices: push failures in words ----------------------------------------------------

def test_blocked_notifications_are_explained_with_what_to_do(browser, depot):
    page = phone(browser, depot.rep)
    page.goto("/devices")
    service_worker_ready(page)
    page.get_by_role("button", name="Enable alerts").click()
    status = page.locator("#alerts-status")
    expect(status).to_contain_text("Notifications are blocked for Touchpoint")
    expect(status).to_contain_text("set Notifications to Allow")
    expect(status).not_to_contain_text("Registration failed", use_inner_text=True)
    screenshot(page, "rep_devices_blocked")


def test_an_unreachable_push_service_is_explained_not_quoted(browser, depot):
    browser.grant_permissions(["notifications"])
    page = phone(browser, depot.rep)
    page.goto("/devices")
    service_worker_ready(page)
    page.get_by_role("button", name="Enable alerts").click()
    status = page.locator("#alerts-status")
    expect(status).to_have_text("Turning alerts on…")
    # This Chromium has no push service it can reach, and never answers: after the
    # page's 10 s wait the real failure is told in words.
    expect(status).to_contain_text("couldn't reach its alert service", timeout=30000)
    text = status.inner_text()
    assert "Registration failed" not in text and "DOMException" not in text
    expect(status).to_have_class(re.compile(r"\bnotice\b"))
    screenshot(page, "rep_devices_error")


# --- Login ---------------------------------------------------------------------------

def test_login_page_says_what_touchpoint_is(browser, depot):
    page = phone(browser)
    page.goto("/login")
    expect(page.locator(".intro")).to_contain_text("Touchpoint takes the sales leads")
    button, email = box(page.get_by_role("button", name="Log in")), box(page.locator("#email"))
    assert button["width"] == email["width"]
    page.fill("#email", depot.courier.email)
    page.fill("#password", "not the password")
    page.get_by_role("button", name="Log in").click()
    error = page.get_by_role("alert")
    expect(error).to_contain_text("don't match an active account")
    gap = box(page.locator("label[for=email]"))["y"] - (box(error)["y"] + box(error)["height"])
    assert gap >= 12, gap  # the error is not flush against the label
    screenshot(page, "login_error")
    page.goto("/login")
    screenshot(page, "login")


def test_legends_line_up_with_labels(browser, depot):
    page = phone(browser, depot.rep)
    page.goto("/account/alerts")
    label = box(page.locator("label[for=quiet_start]"))
    legend = box(page.locator("fieldset.kinds legend"))
    assert legend["x"] == label["x"]


# --- Every one of these pages: fits a 320 px phone, no serious axe fault ------------------

PAGES = [("courier", "/my-leads"), ("courier", "/leads/{late}"), ("courier", "/leads/{won}"),
         ("courier", "/notifications"), ("courier", "/account"), ("courier", "/account/password"),
         ("rep", "/leads"), ("rep", "/leads?show=mine"), ("rep", "/leads?show=bad"),
         ("rep", "/leads/{fresh}"), ("rep", "/leads/{working}"), ("rep", "/notifications"),
         ("rep", "/account"), ("rep", "/account/alerts"), ("rep", "/devices"),
         ("manager", "/account"), (None, "/login")]


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("role", ["courier", "rep", "manager", None])
def test_pages_fit_320_px_and_pass_axe(browser, depot, role, scheme):
    page = phone(browser, getattr(depot, role) if role else None)
    page.emulate_media(color_scheme=scheme)
    problems = []
    for _, path in [p for p in PAGES if p[0] == role]:
        page.set_viewport_size({"width": 320, "height": 640})
        page.goto(path.format(late=depot.late.id, won=depot.won.id, fresh=depot.fresh.id,
                              working=depot.working.id))
        expect(page.locator("h1")).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 320:
            problems.append("%s is %d px wide at 320" % (path, width))
        page.set_viewport_size(PHONE)
        for violation in Axe().run(page).response["violations"]:
            if violation["impact"] in ("serious", "critical"):
                problems.append("%s axe %s: %s" % (path, violation["id"], [
                    node["target"] for node in violation["nodes"]][:3]))
    assert problems == []
