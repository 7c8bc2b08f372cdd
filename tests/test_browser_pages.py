"""Every page of every role, in a real Chromium, in light and dark: no serious
or critical accessibility fault (axe-core), no sideways scrolling on a 390 px
or a 320 px phone, every disclosure with its chevron, and a screenshot of each at 390×844 for a reviewer
(tests/screenshots/, see the README)."""
import uuid

import pytest
from axe_playwright_python.sync_playwright import Axe

from app.models import Invite, Lead, Notification, Setting
from app.numbers.recognition import BOARD_SETTING
from browser import browser, chromium, log_in, screenshot, server, van_depot  # noqa: F401
from conftest import make_user

PAGES = {
    None: ["/login", "/offline", "/invite/{invite}", "/invite/not-a-real-invite"],
    "courier": ["/leads/new", "/leads/{lead}/sent", "/my-leads", "/leads/{lead}",
                "/leads/{won}", "/notifications", "/account", "/account/password",
                "/account/alerts", "/devices", "/my-record", "/leaderboard"],
    "rep": ["/leads", "/leads/{lead}", "/leads/{won}", "/notifications", "/account",
            "/devices", "/numbers", "/numbers/pairs", "/leaderboard"],
    "manager": ["/feed", "/feed?status=new&temperature=hot", "/feed?since=not-a-day",
                "/leads/{lead}", "/leads/{won}", "/numbers", "/numbers/pairs",
                "/leaderboard", "/notifications", "/account", "/admin/", "/admin/users/",
                "/admin/users/new", "/admin/users/{rep}", "/admin/territories/",
                "/admin/territories/{territory}", "/admin/routes/", "/admin/routes/{route}",
                "/admin/deadlines/", "/admin/import/", "/admin/audit/"],
}
# The answers a page may give: a bad filter is the feed's clear 400 page.
EXPECTED_STATUS = {"/feed?since=not-a-day": 400, "/invite/not-a-real-invite": 404}
WIDTHS = (390, 320)


@pytest.fixture
def depot(van_depot):
    """A lead still new and escalated, a won lead, and a notification for each role."""
    new, _ = Lead.submit(van_depot.courier, {
        "business_name": "Joe's Bakery", "category": "new_business", "temperature": "hot",
        "contact_name": "Joe", "contact_phone": "+44 20 7946 0000", "postcode": "AB1 2CD",
        "note": "Opens Monday", "expects_call": True}, uuid.uuid4())
    Lead.update(escalated_at=new.created_at).where(Lead.id == new.id).execute()
    won, _ = Lead.submit(van_depot.courier, {
        "business_name": "Corner Florist", "category": "competitor", "competitor": "ParcelCo",
        "temperature": "warm", "postcode": "AB2 9ZZ"}, uuid.uuid4())
    Lead.acknowledge(won.id, van_depot.rep)
    for step in ("contacted", "quoted"):
        Lead.advance(won.id, van_depot.rep, step)
    Lead.advance(won.id, van_depot.rep, "won", weekly_volume=40, weekly_value=300)
    for user in (van_depot.courier, van_depot.rep, van_depot.manager):
        Notification.create(user=user, lead=new, kind="new_lead", title="Hot lead: Joe's Bakery",
                            body="New business · from Ann", path="/leads/%d" % new.id)
    Setting.write(BOARD_SETTING, True)  # couriers see the leaderboard too
    _, van_depot.invite = Invite.issue(make_user("courier", "new@depot.test", "Newbie"))
    van_depot.lead, van_depot.won = new, won
    return van_depot


def page_problems(page, path, name):
    """What a person on a phone would trip over on the page open now."""
    found = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 844})
        scroll = page.evaluate("document.documentElement.scrollWidth")
        if scroll > width:
            found.append("%s scrolls sideways at %d px (%d px wide)" % (path, width, scroll))
    page.set_viewport_size({"width": 390, "height": 844})
    plain = page.evaluate("""[...document.querySelectorAll('summary')]
        .filter(s => getComputedStyle(s, '::after').borderRightWidth !== '3px')
        .map(s => s.textContent.trim())""")
    found += ["%s: disclosure %r has no chevron" % (path, text) for text in plain]
    screenshot(page, name)
    for violation in Axe().run(page).response["violations"]:
        if violation["impact"] in ("serious", "critical"):
            targets = [node["target"] for node in violation["nodes"]][:3]
            found.append("%s axe %s: %s %s" % (path, violation["id"], violation["help"], targets))
    return found


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("role", list(PAGES), ids=lambda role: role or "anonymous")
def test_every_page_fits_a_phone_and_passes_axe(browser, depot, role, scheme):
    page = browser.new_page()
    page.emulate_media(color_scheme=scheme)
    if role:
        log_in(page, getattr(depot, role))
    problems = []
    for path in PAGES[role]:
        url = path.format(lead=depot.lead.id, won=depot.won.id, rep=depot.rep.id,
                          territory=depot.north.id, route=depot.route.id, invite=depot.invite)
        response = page.goto(url)
        if response.status != EXPECTED_STATUS.get(path, 200):
            problems.append("%s answered %d" % (path, response.status))
            continue
        name = "pages/%s%s-%s" % (role or "anonymous", path.replace("/", "_").replace("?", "_")
                                  .format(lead="lead", won="won", rep="rep", territory="t",
                                          route="r", invite="invite"), scheme)
        problems += page_problems(page, path, name)
    assert problems == []
