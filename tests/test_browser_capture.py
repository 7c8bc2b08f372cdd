"""The capture page as a courier in a van uses it, in a real Chromium at phone
sizes: one screen to a hot lead, errors at their fields, leads kept on the
phone with no signal (and said so where the thumb is), refused leads back in
the form, the installed app opening offline, and photos shared to the app."""
import io
import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from PIL import Image
from playwright.sync_api import expect

from app.models import Lead
from browser import (browser, chromium, log_in, screenshot, server,  # noqa: F401
                     service_worker_ready, van_depot)

PHONE = {"width": 390, "height": 844}
SMALL_PHONE = {"width": 320, "height": 640}
# "Keyboard up": Chrome on Android with the keyboard open shrinks what the page
# can show by about 300 px (260 on a small phone). We model it as a viewport
# that much shorter, which is what a page sees when the layout viewport
# resizes (interactive-widget=resizes-content). The courier is then typing
# the name: the name, every category chip and Send must be on screen, since
# the tap on a category closes the keyboard before the temperature is picked.
# (On a small phone the page itself scrolls the header away to make room.)
KEYBOARD = {390: 300, 320: 260}


def a_photo(path, size=(1200, 900)):
    image = Image.new("RGB", size, (200, 120, 40))
    image.save(path, "JPEG", quality=90)
    return path


def box(page, selector):
    return page.locator(selector).first.evaluate(
        "e => { const r = e.getBoundingClientRect();"
        " return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; }")


def on_screen(page, selector):
    """Whether the whole element is inside the viewport as it stands (no scrolling)."""
    rect = box(page, selector)
    height = page.evaluate("window.innerHeight")
    width = page.evaluate("window.innerWidth")
    return rect["top"] >= 0 and rect["bottom"] <= height and rect["left"] >= 0 and rect["right"] <= width


def uncovered(page, selector):
    """Whether the element's middle is what a tap there would hit (not under the Send bar)."""
    return page.locator(selector).first.evaluate(
        "e => { const r = e.getBoundingClientRect();"
        " const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);"
        " return e.contains(hit) || (e.labels && [...e.labels].some(l => l.contains(hit))); }")


def open_capture(browser, van_depot, viewport=PHONE):
    page = browser.new_page()
    page.set_viewport_size(viewport)
    log_in(page, van_depot.courier)
    page.goto("/leads/new")
    expect(page.locator("#business_name")).to_be_focused()
    return page


def back_online(context, page):
    context.set_offline(False)
    # Playwright's offline emulation does not fire the "online" event a phone fires.
    page.evaluate("window.dispatchEvent(new Event('online'))")


def send(page):
    page.get_by_role("button", name="Send lead").click()


# --- One screen ------------------------------------------------------------------

@pytest.mark.parametrize("viewport", [PHONE, SMALL_PHONE], ids=["390x844", "320x640"])
def test_a_hot_lead_takes_one_screen_and_three_taps(browser, van_depot, viewport):
    page = open_capture(browser, van_depot, viewport)
    screenshot(page, "capture_empty_%(width)dx%(height)d" % viewport)
    required = ["#business_name", "label.chip:has(#category-0)", "label.chip:has(#category-5)",
                "label.chip:has(#temperature-0)", "label.chip:has(#temperature-2)",
                "button:has-text('Send lead')"]
    for selector in required:
        assert on_screen(page, selector), selector
        assert uncovered(page, selector), selector
    assert page.evaluate("window.scrollY") == 0
    assert not page.locator("#competitor").is_visible()

    page.keyboard.type("Corner Cafe")
    page.click("label.chip:has(#category-0)")
    page.click("label.chip:has(#temperature-0)")
    send(page)
    page.wait_for_url("**/sent")
    lead = Lead.get()
    assert (lead.business_name, lead.category, lead.temperature) == ("Corner Cafe", "new_business", "hot")
    assert lead.captured_at is not None


@pytest.mark.parametrize("viewport", [PHONE, SMALL_PHONE], ids=["390x844", "320x640"])
def test_with_the_keyboard_up_the_name_categories_and_send_stay_on_screen(browser, van_depot, viewport):
    short = dict(viewport, height=viewport["height"] - KEYBOARD[viewport["width"]])
    page = open_capture(browser, van_depot, short)
    page.keyboard.type("Corner Cafe")
    screenshot(page, "capture_keyboard_up_%(width)dx%(height)d" % short)
    for selector in ["#business_name", "label.chip:has(#category-0)", "label.chip:has(#category-5)",
                     "button:has-text('Send lead')"]:
        assert on_screen(page, selector), selector
        assert uncovered(page, selector), selector


def test_which_competitor_is_asked_only_for_that_category(browser, van_depot):
    page = open_capture(browser, van_depot)
    competitor = page.locator("#competitor")
    expect(competitor).to_be_hidden()
    page.click("label.chip:has-text('Ships with a competitor')")
    expect(competitor).to_be_visible()
    page.click("label.chip:has-text('Other')")
    expect(competitor).to_be_hidden()


def test_optional_parts_are_disclosures_with_a_chevron(browser, van_depot):
    page = open_capture(browser, van_depot)
    summary = page.locator("summary:has-text('Contact, address and note')")
    chevron = summary.evaluate("e => getComputedStyle(e, '::after').borderRightWidth")
    assert chevron == "3px"
    expect(page.locator("#contact_name")).to_be_hidden()
    summary.click()
    expect(page.locator("#contact_name")).to_be_visible()
    expect(page.locator("form.capture label:has(.req)")).to_have_text(
        ["Business name (required)"], use_inner_text=True)


# --- Errors ------------------------------------------------------------------------

def test_every_failing_field_is_shown_at_once_next_to_itself(browser, van_depot):
    page = open_capture(browser, van_depot)
    page.keyboard.press("Enter")  # the phone's Enter on the name does not send
    expect(page.locator("#category-0")).to_be_focused()
    expect(page.locator(".error")).to_have_count(0)
    send(page)
    name_error = page.locator("#business_name-error")
    category_error = page.locator("#category-error")
    expect(name_error).to_have_text("Required.")
    expect(category_error).to_have_text("Pick one.")
    expect(page.locator("#business_name")).to_be_focused()
    expect(page.locator("#business_name")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#category-0")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#category-0")).to_have_attribute(
        "aria-describedby", re.compile(r"\bcategory-error\b"))
    # The chips' message is under their question, above the chips, not by the next field.
    assert box(page, "#category-error")["top"] < box(page, "label.chip:has(#category-0)")["top"]
    assert page.locator("form.capture").inner_text().count("category") == 0
    assert page.locator("[role=alert]").count() == 0  # no second summary box
    screenshot(page, "capture_errors_390x844")
    assert Lead.select().count() == 0

    page.fill("#business_name", "Fixed florist")
    page.click("label.chip:has(#category-1)")
    send(page)
    page.wait_for_url("**/sent")


def test_every_bad_field_is_marked_at_once_in_the_servers_words(browser, van_depot):
    page = open_capture(browser, van_depot)
    page.fill("#business_name", "   ")  # only spaces: the server strips them
    page.click("summary:has-text('Contact, address and note')")
    page.fill("#contact_phone", "call me")
    page.fill("#contact_email", "not-an-email")
    page.fill("#postcode", "AB1 #2")
    send(page)
    expect(page.locator("#business_name-error")).to_have_text("Required.")
    expect(page.locator("#category-error")).to_have_text("Pick one.")
    expect(page.locator("#contact_phone-error")).to_have_text(
        "Use digits, spaces and + ( ) - only, e.g. +44 20 7946 0000.")
    expect(page.locator("#contact_email-error")).to_have_text("That doesn't look like an email address.")
    expect(page.locator("#postcode-error")).to_have_text("Letters, digits and spaces only.")
    expect(page.locator("#business_name")).to_be_focused()
    expect(page.locator("form.capture .error")).to_have_count(5)
    assert Lead.select().count() == 0


# --- No signal -----------------------------------------------------------------------

def waiting_count(page):
    return page.evaluate("window.touchpointOutbox.waiting().then(w => w.length)")


def test_offline_leads_are_checked_kept_said_so_and_sent_once(browser, van_depot):
    page = open_capture(browser, van_depot)
    service_worker_ready(page)
    browser.set_offline(True)
    page.reload()
    expect(page.locator("h1")).to_have_text("New lead")

    page.fill("#business_name", "Half done hairdresser")
    send(page)
    expect(page.locator("#category-error")).to_have_text("Pick one.")
    assert waiting_count(page) == 0

    page.click("label.chip:has(#category-4)")
    send(page)
    toast = page.locator(".toast")
    expect(toast).to_contain_text("Saved on this phone")
    expect(toast).to_contain_text("1 waiting")
    expect(page.locator("#business_name")).to_have_value("")
    page.fill("#business_name", "Offline hardware")
    page.click("label.chip:has(#category-0)")
    page.click("label.chip:has(#temperature-0)")
    send(page)
    expect(toast).to_contain_text("2 waiting")
    assert on_screen(page, ".toast") and uncovered(page, ".toast")
    screenshot(page, "capture_offline_saved_390x844")
    assert Lead.select().count() == 0

    back_online(browser, page)
    expect(toast).to_contain_text("2 leads sent: Half done hairdresser, Offline hardware.")
    assert waiting_count(page) == 0
    page.reload()
    page.evaluate("window.touchpointOutbox.flush()")
    names = sorted(lead.business_name for lead in Lead.select())
    assert names == ["Half done hairdresser", "Offline hardware"]
    # Each keeps when Send was tapped on the phone, before it arrived.
    assert all(lead.captured_at <= lead.created_at for lead in Lead.select())


def test_the_sent_word_comes_on_any_page_of_the_app(browser, van_depot):
    page = open_capture(browser, van_depot)
    service_worker_ready(page)
    page.goto("/my-leads")
    browser.set_offline(True)
    page.goto("/leads/new")
    page.fill("#business_name", "Corner garage")
    page.click("label.chip:has(#category-5)")
    send(page)
    expect(page.locator(".toast")).to_contain_text("1 waiting")
    page.goto("/my-leads")  # from the phone's cache
    back_online(browser, page)
    expect(page.locator(".toast")).to_contain_text("Lead sent: Corner garage.")
    assert Lead.select().count() == 1


def test_a_lead_refused_after_reconnect_comes_back_to_the_form(browser, van_depot, tmp_path):
    page = open_capture(browser, van_depot)
    service_worker_ready(page)
    browser.set_offline(True)
    page.reload()
    page.fill("#business_name", "Refused bakery")
    page.click("label.chip:has(#category-1)")
    page.click("summary:has-text('Contact, address and note')")
    # The phone checks an email's shape; only the server knows .test is reserved.
    page.fill("#contact_email", "orders@bakery.test")
    page.fill("#note", "Wants a pallet quote")
    page.click("summary:has-text('Photo and location')")
    page.set_input_files("#photo", a_photo(tmp_path / "bakery.jpg"))
    expect(page.locator("[data-photo-thumbnail]")).to_be_visible()
    send(page)
    expect(page.locator(".toast")).to_contain_text("1 waiting")
    uuid, captured = page.evaluate(
        "window.touchpointOutbox.waiting().then(w => [w[0].client_uuid, w[0].lead.captured_at])")

    back_online(browser, page)
    item = page.locator("#outbox-refused li")
    expect(item).to_contain_text("Refused bakery")
    expect(item).to_contain_text("Email: That doesn't look like an email address.")
    expect(item).not_to_contain_text("contact_email", use_inner_text=True)
    expect(page.locator(".toast")).to_contain_text("1 lead could not be sent — tap here to fix it.")
    page.click(".toast")
    expect(item.locator("a")).to_be_focused()
    screenshot(page, "capture_refused_list_390x844")

    page.once("dialog", lambda dialog: dialog.dismiss())  # Delete asks first; "Cancel" keeps it
    item.get_by_role("button", name="Delete the lead for Refused bakery").click()
    expect(item).to_be_visible()

    item.locator("a").click()
    page.wait_for_url("**/leads/new?fix=*")
    expect(page.locator("#business_name")).to_have_value("Refused bakery")
    expect(page.locator("#category-1")).to_be_checked()
    expect(page.locator("#note")).to_have_value("Wants a pallet quote")
    expect(page.locator("#contact_email-error")).to_have_text("That doesn't look like an email address.")
    expect(page.locator("[data-photo-thumbnail]")).to_be_visible()
    # never stored, so still its own
    expect(page.locator("input[name=client_uuid]")).to_have_value(uuid)
    expect(page.locator("#contact_email")).to_be_focused()  # the first field to fix
    screenshot(page, "capture_refused_reopened_390x844")

    page.fill("#contact_email", "orders@bakery.example")
    send(page)
    page.wait_for_url("**/sent")
    lead = Lead.get()
    assert (lead.business_name, lead.contact_email, str(lead.client_uuid)) == (
        "Refused bakery", "orders@bakery.example", uuid)
    assert lead.photo is not None
    assert lead.captured_at.isoformat(timespec="milliseconds") + "Z" == captured  # first seen, not fixed
    assert page.evaluate("window.touchpointOutbox.refused().then(r => r.length)") == 0


def test_the_installed_app_opens_on_the_capture_form_offline(browser, van_depot):
    page = browser.new_page()
    page.set_viewport_size(PHONE)
    log_in(page, van_depot.courier)  # lands on /leads/new through the home redirect
    service_worker_ready(page)
    page.wait_for_function(
        "caches.open('touchpoint-private').then(c => c.match('/leads/new')).then(Boolean)")
    browser.set_offline(True)
    page.goto("/?source=pwa")
    page.wait_for_url("**/leads/new?source=pwa")
    expect(page.locator("h1")).to_have_text("New lead")
    expect(page.locator("#business_name")).to_be_focused()


# --- Share to Touchpoint -----------------------------------------------------------

def share_photo(page, path):
    """What the phone's share sheet does: a multipart POST to the manifest's share action."""
    page.evaluate("""() => {
        const form = document.createElement("form");
        form.method = "post"; form.action = "/share"; form.enctype = "multipart/form-data";
        form.id = "share-sheet";
        form.innerHTML = '<input type="file" name="photo">';
        document.body.append(form);
    }""")
    page.set_input_files("#share-sheet input", path)
    page.evaluate("document.getElementById('share-sheet').submit()")
    page.wait_for_url("**/leads/new?shared=1")


@pytest.mark.parametrize("offline", [False, True], ids=["online", "offline"])
def test_a_photo_shared_to_the_app_opens_a_new_lead_with_it(browser, van_depot, tmp_path, offline):
    page = open_capture(browser, van_depot)
    service_worker_ready(page)
    manifest = page.request.get("/manifest.webmanifest").json()
    assert manifest["share_target"]["action"] == "/share"
    if offline:
        browser.set_offline(True)
    share_photo(page, a_photo(tmp_path / "storefront.jpg"))
    expect(page.locator("[data-photo-thumbnail]")).to_be_visible()
    page.fill("#business_name", "Shared storefront")
    page.click("label.chip:has(#category-0)")
    send(page)
    if offline:
        expect(page.locator(".toast")).to_contain_text("1 waiting")
        back_online(browser, page)
        expect(page.locator(".toast")).to_contain_text("Lead sent: Shared storefront.")
    else:
        page.wait_for_url("**/sent")
    lead = Lead.get()
    assert lead.photo is not None
    stored = Image.open(io.BytesIO(page.request.get("/leads/%d/photo" % lead.id).body()))
    assert stored.size == (1200, 900)


# --- The same rules on the phone and without JavaScript ---------------------------

def test_the_phone_finds_what_the_server_finds_in_every_bad_value(browser, van_depot):
    from conftest import lead_form
    from test_capture import PHONE_CHECKS
    page = open_capture(browser, van_depot)
    cases = []
    for _, overrides, field, message in PHONE_CHECKS:
        values = {name: value.strip() for name, value in lead_form(**overrides).items()}
        if values.get("category") != "competitor":
            values["competitor"] = ""
        cases.append([values, field])
    found = page.evaluate("""async (cases) => {
        const {check} = await import("/static/js/capture.js");
        const rules = JSON.parse(document.getElementById("capture-rules").textContent);
        return cases.map(([values, field]) => check(values, rules)[field] || []);
    }""", cases)
    for (name, _, field, message), messages in zip(PHONE_CHECKS, found):
        assert message in messages, name
    # and a good lead passes
    assert page.evaluate("""async (values) => {
        const {check} = await import("/static/js/capture.js");
        return check(values, JSON.parse(document.getElementById("capture-rules").textContent));
    }""", {name: value for name, value in lead_form().items()}) == {}


def test_without_javascript_the_page_still_asks_everything_and_sends(browser, van_depot):
    page = browser.new_page()
    page.set_viewport_size(PHONE)
    # No script of ours runs, from the first page on, so no service worker
    # either (the pages have no inline script: CSP forbids them).
    page.route("**/*.js*", lambda route: route.abort())
    log_in(page, van_depot.courier)
    page.goto("/leads/new")
    assert page.evaluate("typeof window.touchpointOutbox") == "undefined"
    expect(page.locator("#competitor")).to_be_hidden()
    page.click("label.chip:has-text('Ships with a competitor')")
    expect(page.locator("#competitor")).to_be_visible()  # by CSS alone
    page.fill("#competitor", "Speedy Parcels")
    page.click("summary:has-text('Photo and location')")
    expect(page.locator("#lat")).to_be_visible()
    expect(page.locator("#photo")).to_be_visible()
    page.click("button:has-text('Send lead')")
    expect(page.locator("#business_name-error")).to_have_text("Required.")
    expect(page.locator("#competitor")).to_have_value("Speedy Parcels")
    page.fill("#business_name", "No script depot")
    page.click("button:has-text('Send lead')")
    page.wait_for_url("**/sent")
    lead = Lead.get()
    assert (lead.business_name, lead.competitor) == ("No script depot", "Speedy Parcels")


def test_take_photo_shows_a_thumbnail_that_can_be_removed(browser, van_depot, tmp_path):
    page = open_capture(browser, van_depot)
    page.click("summary:has-text('Photo and location')")
    take = page.locator("label[for=photo]")
    expect(take).to_have_text("Take photo")
    assert take.bounding_box()["height"] >= 56
    assert page.get_attribute("#photo", "capture") == "environment"
    page.set_input_files("#photo", a_photo(tmp_path / "front.jpg"))
    expect(page.locator("[data-photo-thumbnail]")).to_be_visible()
    expect(take).to_have_text("Take another photo")
    page.get_by_role("button", name="Remove photo").click()
    expect(page.locator("[data-photo-thumbnail]")).to_be_hidden()
    assert page.evaluate("document.getElementById('photo').files.length") == 0
    page.fill("#business_name", "No photo after all")
    page.click("label.chip:has(#category-0)")
    send(page)
    page.wait_for_url("**/sent")
    assert Lead.get().photo is None


def serious(page):
    """axe-core's serious and critical violations on the page as it stands."""
    return [(v["id"], [n["target"] for n in v["nodes"]]) for v in Axe().run(page).response["violations"]
            if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_states_scripts_make_are_accessible(browser, van_depot, tmp_path, scheme):
    page = open_capture(browser, van_depot)
    page.emulate_media(color_scheme=scheme)
    service_worker_ready(page)
    send(page)  # errors drawn by the script
    expect(page.locator("#category-error")).to_be_visible()
    assert serious(page) == []
    browser.set_offline(True)
    page.fill("#business_name", "Accessible bakery")
    page.click("label.chip:has(#category-0)")
    page.click("summary:has-text('Contact, address and note')")
    page.fill("#contact_email", "orders@bakery.test")
    page.click("summary:has-text('Photo and location')")
    page.set_input_files("#photo", a_photo(tmp_path / "bakery.jpg"))
    send(page)
    expect(page.locator(".toast")).to_contain_text("1 waiting")  # the saved toast
    assert serious(page) == []
    back_online(browser, page)
    expect(page.locator("#outbox-refused li")).to_be_visible()  # the refused list
    assert serious(page) == []
    page.click("#outbox-refused a")
    expect(page.locator("[data-photo-thumbnail]")).to_be_visible()  # reopened, photo and all
    assert serious(page) == []
