"""The app in the van, in a real Chromium: installable, opens offline, and
sends leads typed without signal exactly once when the signal returns."""
import io

from PIL import Image
from playwright.sync_api import expect

from app.models import Lead
from browser import browser, chromium, log_in, server, service_worker_ready, van_depot  # noqa: F401


def phone_photo(path):
    """A 12-megapixel JPEG, as a phone camera makes."""
    image = Image.new("RGB", (4000, 3000))
    pixels = image.load()
    for x in range(0, 4000, 8):
        for y in range(0, 3000, 8):
            pixels[x, y] = ((x * 7) % 256, (y * 3) % 256, (x + y) % 256)
    image.save(path, "JPEG", quality=95)
    return path


def fill_lead(page, name, category="#category-0", photo=None):
    page.fill("#business_name", name)
    page.check(category)
    if photo:
        page.set_input_files("#photo", photo)
    page.click("button.primary.big")


def back_online(context, page):
    context.set_offline(False)
    # Playwright's offline emulation flips navigator.onLine without firing the
    # "online" event a real phone fires; fire it as the browser would.
    page.evaluate("window.dispatchEvent(new Event('online'))")


def waiting_count(page):
    return page.evaluate("window.touchpointOutbox.waiting().then(w => w.length)")


def test_chromium_finds_the_app_installable(browser, van_depot):
    page = browser.new_page()
    log_in(page, van_depot.courier)
    service_worker_ready(page)
    cdp = browser.new_cdp_session(page)
    assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["errors"] == []


def test_leads_typed_offline_reach_the_server_exactly_once(browser, van_depot, tmp_path):
    page = browser.new_page()
    log_in(page, van_depot.courier)
    service_worker_ready(page)
    fill_lead(page, "Online bakery")
    page.wait_for_url("**/sent")
    expect(page.locator("main")).to_contain_text("North")

    page.goto("/leads/new")
    browser.set_offline(True)
    page.reload()  # the app still opens, from the service worker
    expect(page.locator("h1")).to_have_text("New lead")
    fill_lead(page, "Offline florist", photo=phone_photo(tmp_path / "shop.jpg"))
    expect(page.locator("#outbox-status")).to_contain_text("1 waiting")
    fill_lead(page, "Offline hardware", category="#category-2")
    expect(page.locator("#outbox-status")).to_contain_text(
        "Saved on this phone — will send when you're online (2 waiting)")
    assert Lead.select().count() == 1

    page.reload()
    expect(page.locator("#outbox-status")).to_contain_text("2 waiting")

    back_online(browser, page)
    expect(page.locator("#outbox-status")).to_be_hidden(timeout=10000)
    assert waiting_count(page) == 0
    names = sorted(lead.business_name for lead in Lead.select())
    assert names == ["Offline florist", "Offline hardware", "Online bakery"]
    florist = Lead.get(Lead.business_name == "Offline florist")
    assert florist.photo is not None
    response = page.request.get("/leads/%d/photo" % florist.id)
    stored = Image.open(io.BytesIO(response.body()))
    assert max(stored.size) == 1600


def test_a_send_that_fails_mid_way_still_makes_one_lead(browser, van_depot):
    page = browser.new_page()
    log_in(page, van_depot.courier)
    service_worker_ready(page)
    page.goto("/leads/new")
    failures = []

    def lose_the_answer(route):
        # The server gets the lead and answers; the van loses the answer.
        if not failures:
            route.fetch()
            failures.append(route.request.url)
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page.route("**/api/v1/leads", lose_the_answer)
    fill_lead(page, "Mid-send garage")
    expect(page.locator("#outbox-status")).to_contain_text("1 waiting")
    assert Lead.select().count() == 1  # it did arrive
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator("#outbox-status")).to_be_hidden(timeout=10000)
    assert failures and waiting_count(page) == 0
    assert [lead.business_name for lead in Lead.select()] == ["Mid-send garage"]


def test_a_refused_lead_comes_back_with_the_reason(browser, van_depot):
    page = browser.new_page()
    log_in(page, van_depot.courier)
    service_worker_ready(page)
    page.goto("/leads/new")
    page.click("summary:has-text('Contact, address and note')")
    # The phone checks an email's shape; only the server knows .test is reserved.
    page.fill("#contact_email", "orders@refused-shop.test")
    fill_lead(page, "Refused shop")
    expect(page.locator("[role=alert]")).to_contain_text("The server could not take this lead")
    expect(page.locator("#contact_email-error")).to_have_text("That doesn't look like an email address.")
    expect(page.locator("#business_name")).to_have_value("Refused shop")
    assert Lead.select().count() == 0
    assert waiting_count(page) == 0


def test_location_is_asked_only_on_a_tap_and_a_refusal_is_respected(browser, van_depot):
    page = browser.new_page()
    log_in(page, van_depot.courier)
    page.goto("/leads/new")
    page.click("summary:has-text('Photo and location')")
    button = page.locator("[data-add-location]")
    expect(button).to_be_visible()
    expect(page.locator("#lat")).to_have_value("")
    button.click()  # no permission granted in this profile: a refusal
    expect(page.locator("[data-location-note]")).to_contain_text("not shared", timeout=20000)
    fill_lead(page, "No location shop")
    page.wait_for_url("**/sent")
    browser.grant_permissions(["geolocation"])
    browser.set_geolocation({"latitude": 51.5072, "longitude": -0.1276, "accuracy": 12})
    page.goto("/leads/new")
    page.click("summary:has-text('Photo and location')")
    expect(page.locator("#lat")).to_be_hidden()  # raw coordinates only without JavaScript
    page.click("[data-add-location]")
    expect(page.locator("[data-location-note]")).to_have_text("Location added (±12 m).")
    expect(page.locator("#lat")).to_have_value("51.507200")


def test_a_big_photo_is_scaled_on_the_phone_before_upload(browser, van_depot, tmp_path):
    page = browser.new_page()
    log_in(page, van_depot.courier)
    page.goto("/leads/new")
    uploads = []
    page.on("request", lambda r: uploads.append(len(r.post_data_buffer or b""))
            if r.url.endswith("/photo") else None)
    original = phone_photo(tmp_path / "big.jpg")
    fill_lead(page, "Photo shop", photo=original)
    page.wait_for_url("**/sent")
    [size] = uploads
    assert size < 600_000 < original.stat().st_size


def test_a_new_version_waits_until_the_courier_taps_update(browser, van_depot, monkeypatch):
    from app import pwa
    page = browser.new_page()
    log_in(page, van_depot.courier)
    service_worker_ready(page)
    old_caches = page.evaluate("caches.keys()")
    monkeypatch.setattr(pwa, "version", lambda: "next-deploy")
    page.evaluate("navigator.serviceWorker.getRegistration().then(r => r.update())")
    banner = page.locator("#update-available")
    expect(banner).to_be_visible(timeout=10000)
    assert "touchpoint-shell-next-deploy" in page.evaluate("caches.keys()")
    assert set(old_caches) <= set(page.evaluate("caches.keys()"))  # old one still serves
    with page.expect_navigation():
        banner.locator("button").click()
    expect(banner).to_be_hidden()
    shells = [name for name in page.evaluate("caches.keys()") if name.startswith("touchpoint-shell-")]
    assert shells == ["touchpoint-shell-next-deploy"]  # the old version's cache is gone


def test_the_capture_page_does_not_shift_as_it_loads(browser, van_depot):
    page = browser.new_page()
    page.add_init_script("""
        window.__shift = 0;
        new PerformanceObserver(list => list.getEntries().forEach(e => {
            if (!e.hadRecentInput) window.__shift += e.value; }))
          .observe({type: "layout-shift", buffered: true});""")
    log_in(page, van_depot.courier)
    page.goto("/leads/new")
    # Settled: the scripts have run (the location button shows) and the fonts are in.
    expect(page.locator("[data-add-location]")).to_be_attached()
    page.wait_for_function("document.fonts.status === 'loaded' && !!window.touchpointOutbox"
                           " && document.querySelector('.take-photo') !== null")
    assert page.evaluate("window.__shift") < 0.01
