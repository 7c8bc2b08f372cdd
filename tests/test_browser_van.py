"""Made for the van, checked in a real Chromium: thumb-sized targets, dark
mode, a capture page that renders before its scripts. (Accessibility and
fitting a 320 px phone, for every page in both schemes: test_browser_pages.py.)"""
import uuid

import pytest
from playwright.sync_api import expect

from app.models import Lead, Notification
from browser import browser, chromium, log_in, server, van_depot  # noqa: F401

PAGES = {
    "login": ("courier", "/login"),
    "capture": ("courier", "/leads/new"),
    "my leads": ("courier", "/my-leads"),
    "lead page (courier)": ("courier", "/leads/{lead}"),
    "lead page (rep)": ("rep", "/leads/{lead}"),
    "notifications": ("rep", "/notifications"),
    "devices": ("rep", "/devices"),
    "alert settings": ("rep", "/account/alerts"),
}

# Every control a thumb must hit; a checkbox, or a file input hidden behind its
# label (the photo's big "Take photo" button), is hit through its label.
TARGETS = """[...document.querySelectorAll(
    'button, input:not([type=hidden]):not([type=radio]), select, textarea, summary, nav a, .chip span, a.button')]
  .filter(e => e.offsetParent !== null)
  .map(e => (e.type === "checkbox" || (e.type === "file" && e.getBoundingClientRect().width < 2))
             && e.labels.length ? e.labels[0] : e)
  .map(e => ({what: e.outerHTML.slice(0, 80), height: e.getBoundingClientRect().height,
              width: e.getBoundingClientRect().width}))
  .filter(t => t.height < 48 || t.width < 44)"""


@pytest.fixture
def lead(van_depot):
    lead, _ = Lead.submit(van_depot.courier, {
        "business_name": "Joe's Bakery", "category": "new_business", "temperature": "hot",
        "contact_name": "Joe", "contact_phone": "+44 20 7946 0000", "postcode": "AB1 2CD",
        "note": "Opens Monday"}, uuid.uuid4())
    Notification.create(user=van_depot.rep, lead=lead, kind="new_lead",
                        title="Hot lead: Joe's Bakery", body="New business · from Ann",
                        path="/leads/%d" % lead.id)
    return lead


def open_page(browser, van_depot, lead, name, width=360):
    role, path = PAGES[name]
    page = browser.new_page()
    page.set_viewport_size({"width": width, "height": 780})
    if name != "login":
        log_in(page, getattr(van_depot, role))
    page.goto(path.format(lead=lead.id))  # returns on "load": styles in, scripts run
    expect(page.locator("h1").first).to_be_visible()
    alerts = page.locator("[data-enable-alerts]")
    if alerts.count():  # shown by push.js once it knows the browser can take alerts
        expect(alerts).to_be_visible()
    return page


@pytest.mark.parametrize("name", PAGES)
def test_every_control_is_thumb_sized(browser, van_depot, lead, name):
    page = open_page(browser, van_depot, lead, name)
    assert page.evaluate(TARGETS) == []


def test_dark_mode_follows_the_phone(browser, van_depot, lead):
    page = open_page(browser, van_depot, lead, "capture")
    light = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.emulate_media(color_scheme="dark")
    dark = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert light == "rgb(255, 255, 255)" and dark != light


def test_capture_page_renders_before_any_script_runs(browser, van_depot, lead):
    page = open_page(browser, van_depot, lead, "capture")
    scripts = page.evaluate("[...document.scripts].map(s => ({src: s.src, type: s.type, "
                            "defer: s.defer, inline: !s.src}))")
    # The only inline script is data the page carries (type application/json,
    # never run): the capture rules the phone checks a lead with.
    assert scripts and all(not s["inline"] or s["type"] == "application/json" for s in scripts)
    assert all(s["type"] in ("module", "application/json") or s["defer"] for s in scripts)
