"""Alerts in a real Chromium: enabling them, the service worker turning a push
into a notification, and a tap opening the lead."""
import json
import uuid

import requests
from playwright.sync_api import expect

from app.models import ApiToken, Lead, PushSubscription
from browser import browser, chromium, log_in, server, service_worker_ready, van_depot  # noqa: F401
from conftest import wait_for

# Headless Chromium cannot reach a real push service, so the page's
# PushManager hands out a subscription whose keys the test's push service holds.
FAKE_PUSH_MANAGER = """
(() => {
  if (!self.PushManager) return;
  const fake = %s;
  // Like a real subscription, it outlives the page: remembered in localStorage.
  const subscription = {
    endpoint: fake.endpoint, expirationTime: null, options: {userVisibleOnly: true},
    toJSON() { return {endpoint: fake.endpoint, expirationTime: null,
                       keys: {p256dh: fake.p256dh, auth: fake.auth}}; },
    async unsubscribe() { localStorage.removeItem("fake-push"); return true; },
  };
  PushManager.prototype.subscribe = async function () {
    localStorage.setItem("fake-push", "1");
    return subscription;
  };
  PushManager.prototype.getSubscription = async function () {
    return localStorage.getItem("fake-push") ? subscription : null;
  };
})();
"""


def enable_alerts(browser, page, device):
    browser.add_init_script(FAKE_PUSH_MANAGER % json.dumps(
        {"endpoint": device.endpoint, "p256dh": device.p256dh, "auth": device.auth}))
    browser.grant_permissions(["notifications"])
    page.goto("/devices")
    service_worker_ready(page)
    page.click("[data-enable-alerts]")
    expect(page.locator("main")).to_contain_text("Chrome", timeout=10000)


def submit_lead(server, courier, name):
    _, token = ApiToken.issue(courier, "test")
    response = requests.post(server.base_url + "/api/v1/leads", headers={
        "Authorization": "Bearer " + token}, json={
        "client_uuid": str(uuid.uuid4()), "business_name": name, "category": "new_business",
        "temperature": "hot"})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def deliver_to_service_worker(browser, page, server, data):
    """Hand a push message to the page's service worker, as the browser would."""
    cdp = browser.new_cdp_session(page)
    versions = []
    cdp.on("ServiceWorker.workerVersionUpdated", lambda event: versions.extend(
        v for v in event["versions"] if v["runningStatus"] == "running"))
    cdp.send("ServiceWorker.enable")
    for _ in range(400):  # Playwright delivers CDP events only while it runs
        if versions:
            break
        page.wait_for_timeout(50)
    cdp.send("ServiceWorker.deliverPushMessage", {
        "origin": server.base_url, "registrationId": versions[0]["registrationId"],
        "data": data})


def shown_notifications(page):
    return page.evaluate("""navigator.serviceWorker.ready
        .then(r => r.getNotifications())
        .then(ns => ns.map(n => ({title: n.title, body: n.body, tag: n.tag,
                                  renotify: n.renotify, silent: n.silent,
                                  actions: n.actions.map(a => a.action)})))""")


def tap(page, tag, action=""):
    page.evaluate("([tag, action]) => navigator.serviceWorker.controller.postMessage("
                  "{type: 'open-alert', tag: tag, action: action})", [tag, action])


def test_a_lead_alert_becomes_a_notification_that_opens_the_lead(browser, server, van_depot):
    device = server.push_service.subscribe()
    page = browser.new_page()
    log_in(page, van_depot.rep)
    enable_alerts(browser, page, device)
    assert PushSubscription.get().user_id == van_depot.rep.id

    lead_id = submit_lead(server, van_depot.courier, "Joe's Bakery")
    [message] = wait_for(lambda: server.push_service.delivered(device), timeout=20)
    assert message.payload["lead_id"] == lead_id

    deliver_to_service_worker(browser, page, server, json.dumps(message.payload))
    [shown] = wait_for(lambda: shown_notifications(page), timeout=20)
    assert shown["title"] == "Hot lead: Joe's Bakery"
    assert shown["tag"] == "lead-%d" % lead_id
    assert shown["actions"] == ["acknowledge"]

    tap(page, shown["tag"])
    page.wait_for_url("**/leads/%d" % lead_id)
    expect(page.locator("h1")).to_have_text("Joe's Bakery")
    assert shown_notifications(page) == []


def test_an_empty_or_malformed_push_still_shows_a_notification(browser, server, van_depot):
    device = server.push_service.subscribe()
    page = browser.new_page()
    log_in(page, van_depot.rep)
    enable_alerts(browser, page, device)
    for data in ("", "not json {"):
        deliver_to_service_worker(browser, page, server, data)
        [shown] = wait_for(lambda: shown_notifications(page), timeout=20)
        assert shown["title"] == "Touchpoint"
        assert "new alert" in shown["body"]
        tap(page, shown["tag"])
        page.wait_for_url("**/notifications")
        # Gone from the tray before the next one comes: both have the same tag,
        # and a close still on its way would close the next one instead.
        wait_for(lambda: not shown_notifications(page), timeout=20)


def test_the_acknowledge_action_picks_the_lead_up(browser, server, van_depot):
    device = server.push_service.subscribe()
    page = browser.new_page()
    log_in(page, van_depot.rep)
    enable_alerts(browser, page, device)
    lead_id = submit_lead(server, van_depot.courier, "Corner Shop")
    [message] = wait_for(lambda: server.push_service.delivered(device), timeout=20)
    deliver_to_service_worker(browser, page, server, json.dumps(message.payload))
    [shown] = wait_for(lambda: shown_notifications(page), timeout=20)
    tap(page, shown["tag"], "acknowledge")
    page.wait_for_url("**/leads/%d" % lead_id)
    lead = Lead.get_by_id(lead_id)
    assert (lead.status, lead.assigned_rep_id) == ("acknowledged", van_depot.rep.id)


def test_logging_out_removes_this_device(browser, server, van_depot):
    device = server.push_service.subscribe()
    page = browser.new_page()
    log_in(page, van_depot.rep)
    enable_alerts(browser, page, device)
    page.goto("/account")
    page.click("form[action='/logout'] button")
    page.wait_for_url("**/login")
    assert PushSubscription.select().count() == 0
    assert page.evaluate("caches.has('touchpoint-private')") is False


def test_the_same_alert_delivered_twice_buzzes_once_and_shows_one_notification(
        browser, server, van_depot):
    device = server.push_service.subscribe()
    page = browser.new_page()
    log_in(page, van_depot.rep)
    enable_alerts(browser, page, device)
    lead_id = submit_lead(server, van_depot.courier, "Joe's Bakery")
    [message] = wait_for(lambda: server.push_service.delivered(device), timeout=20)
    assert isinstance(message.payload["id"], int)

    deliver_to_service_worker(browser, page, server, json.dumps(message.payload))
    [shown] = wait_for(lambda: shown_notifications(page), timeout=20)
    assert (shown["tag"], shown["renotify"], shown["silent"]) == ("lead-%d" % lead_id, True, False)

    # The push service delivers it again (an answer lost on the wire).
    deliver_to_service_worker(browser, page, server, json.dumps(message.payload))
    [copy] = wait_for(lambda: [n for n in shown_notifications(page) if n["silent"]], timeout=20)
    assert (copy["tag"], copy["title"], copy["renotify"]) == (shown["tag"], shown["title"], False)
    assert len(shown_notifications(page)) == 1


def test_an_alert_with_only_the_smallest_payload_shows_a_generic_text(browser, server,
                                                                        van_depot):
    device = server.push_service.subscribe()
    page = browser.new_page()
    log_in(page, van_depot.rep)
    enable_alerts(browser, page, device)
    small = {"id": 7, "kind": "new_lead", "lead_id": 3, "title": "Hot lead: Joe's Bakery"}
    deliver_to_service_worker(browser, page, server, json.dumps(small))
    [shown] = wait_for(lambda: shown_notifications(page), timeout=20)
    assert (shown["title"], shown["tag"]) == ("Hot lead: Joe's Bakery", "lead-3")
    assert "Open Touchpoint" in shown["body"]
