"""Devices that get alerts: the push subscription API the PWA calls, the Devices
and alerts page, test alerts through the real worker and push service, and the
VAPID keys the server signs with.

Every test runs on SQLite and on PostgreSQL (see conftest.py), and every JSON
answer is checked against the OpenAPI document the API serves (test_api's
fixture loads it).
"""
import base64
import html
import logging
import os
import re
import socket
import stat
import subprocess
import sys
import threading
import time

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app import notify
from app.devices import device_label
from app.models import Delivery, Notification, PushSubscription
from conftest import VAPID_KEYS, Auth, bearer, csrf_token, enable_push, make_user, wait_for
from test_api import SPEC, assert_error, assert_matches_openapi, served_openapi  # noqa: F401

API = "/api/v1"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FCM = "https://fcm.googleapis.com/fcm/send/dGhpcyBpcyBhIHBob25l"
HOSTS = "fcm.googleapis.com,updates.push.services.mozilla.com,.push.apple.com,127.0.0.1"
CHROME_ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
                  "(KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36")
SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
                 "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")
FIREFOX_WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 "
                   "Firefox/127.0")
DROP = object()  # a bad_body() change that leaves the field out


def b64url(data, padded=False):
    text = base64.urlsafe_b64encode(data).decode()
    return text if padded else text.rstrip("=")


def device_keys():
    """A browser's fresh p256dh point and auth secret, as raw bytes."""
    point = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return point, os.urandom(16)


def browser_subscription(endpoint=FCM, p256dh=None, auth=None):
    """PushSubscription.toJSON() as a browser gives it, with fresh keys."""
    point, secret = device_keys()
    return {"endpoint": endpoint, "expirationTime": None,
            "keys": {"p256dh": b64url(point) if p256dh is None else p256dh,
                     "auth": b64url(secret) if auth is None else auth}}


@pytest.fixture
def hosts(app):
    """The push services of production, plus the test push service on loopback."""
    app.config["PUSH_SERVICE_HOSTS"] = HOSTS


def subscribe(client, body, headers, user_agent=CHROME_ANDROID):
    """POST /push/subscriptions, checked against the document."""
    response = client.post(API + "/push/subscriptions", json=body,
                           headers=dict(headers, **{"User-Agent": user_agent}))
    assert_matches_openapi(response, "/push/subscriptions", "post")
    return response


def unsubscribe(client, endpoint, headers):
    """DELETE /push/subscriptions; a 204 has no body, so only its status is checked."""
    response = client.delete(API + "/push/subscriptions", json={"endpoint": endpoint},
                             headers=headers)
    if response.status_code == 204:
        responses = SPEC["document"]["paths"]["/push/subscriptions"]["delete"]["responses"]
        assert "204" in responses and response.get_data() == b""
    else:
        assert_matches_openapi(response, "/push/subscriptions", "delete")
    return response


def devices_of(user):
    return list(PushSubscription.select().where(PushSubscription.user == user)
                .order_by(PushSubscription.id))


def page(client, path="/devices"):
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return html.unescape(response.get_data(as_text=True))


def no_push_configured(app, tmp_path):
    """No key in the config and none in the (empty) instance folder."""
    app.config["VAPID_PRIVATE_KEY"] = ""
    app.instance_path = str(tmp_path / "empty-instance")


# --- Subscribing ------------------------------------------------------------------


@pytest.mark.parametrize("role", ["courier", "rep", "manager"])
def test_every_role_enables_alerts_on_a_device(client, hosts, role):
    user = make_user(role)
    body = browser_subscription()

    response = subscribe(client, body, bearer(user))

    assert response.status_code == 201
    assert response.json["label"] == "Chrome on Android"
    [device] = devices_of(user)
    assert response.json["id"] == device.id
    assert (device.endpoint, device.p256dh, device.auth) == (
        FCM, body["keys"]["p256dh"], body["keys"]["auth"])


@pytest.mark.parametrize("user_agent, label", [
    (CHROME_ANDROID, "Chrome on Android"),
    (SAFARI_IPHONE, "Safari on iPhone"),
    (FIREFOX_WINDOWS, "Firefox on Windows"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0", "Edge on Windows"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1", "Chrome on iPhone"),
    ("Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) "
     "SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36", "Samsung Internet on Android"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.5 Safari/605.1.15", "Safari on Mac"),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
     "Firefox on Linux"),
    ("curl/8.5.0", "Unknown device"),
    ("", "Unknown device"),
])
def test_a_device_is_named_after_its_browser_and_system(user_agent, label):
    assert device_label(user_agent) == label


def test_padded_keys_are_stored_without_their_padding(client, depot, hosts):
    point, secret = device_keys()
    body = browser_subscription(p256dh=b64url(point, padded=True), auth=b64url(secret, True))

    response = subscribe(client, body, bearer(depot.rep), user_agent="curl/8.5.0")

    assert response.status_code == 201
    assert response.json["label"] == "Unknown device"
    [device] = devices_of(depot.rep)
    assert (device.p256dh, device.auth) == (b64url(point), b64url(secret))


def test_the_same_endpoint_again_updates_its_keys(client, depot, hosts):
    first = subscribe(client, browser_subscription(), bearer(depot.rep))
    PushSubscription.update(failure_count=2).execute()
    again = browser_subscription()

    response = subscribe(client, again, bearer(depot.rep), user_agent=FIREFOX_WINDOWS)

    assert response.status_code == 200
    assert response.json["id"] == first.json["id"]
    [device] = devices_of(depot.rep)
    assert device.p256dh == again["keys"]["p256dh"] and device.auth == again["keys"]["auth"]
    assert device.label == "Firefox on Windows"
    assert device.failure_count == 0


def test_an_endpoint_of_another_user_moves_to_the_caller(client, depot, hosts):
    """The browser profile changed hands: the old owner's alerts must not follow it."""
    subscribe(client, browser_subscription(), bearer(depot.rep))
    [old] = devices_of(depot.rep)
    note = Notification.create(user=depot.rep, kind="test", title="For Dana only")
    Delivery.create(notification=note, subscription=old)

    response = subscribe(client, browser_subscription(), bearer(depot.courier))

    assert response.status_code == 201
    assert devices_of(depot.rep) == []
    [moved] = devices_of(depot.courier)
    assert moved.endpoint == FCM
    assert Delivery.select().count() == 0


def test_a_user_may_have_only_so_many_devices(client, app, depot, hosts):
    app.config["PUSH_MAX_DEVICES"] = 2
    headers = bearer(depot.rep)
    for n in range(2):
        assert subscribe(client, browser_subscription(FCM + str(n)), headers).status_code == 201

    response = subscribe(client, browser_subscription(FCM + "2"), headers)

    assert_error(response, 409, "too_many_devices")
    message = response.json["error"]["message"]
    assert "Remove one on the Devices page (/devices)" in message
    assert len(devices_of(depot.rep)) == 2
    assert subscribe(client, browser_subscription(FCM + "1"), headers).status_code == 200
    # Nor may another user's device move into a full account; it stays where it was.
    subscribe(client, browser_subscription(FCM + "elsewhere"), bearer(depot.courier))
    moving = subscribe(client, browser_subscription(FCM + "elsewhere"), headers)
    assert_error(moving, 409, "too_many_devices")
    assert [d.endpoint for d in devices_of(depot.courier)] == [FCM + "elsewhere"]


def test_the_same_device_posted_at_once_is_stored_once(app, depot, hosts):
    """The PWA may post its subscription from two tabs at the same moment."""
    headers, body, senders = bearer(depot.rep), browser_subscription(), 8
    barrier = threading.Barrier(senders)
    statuses, failures = [], []

    def send():
        sender = app.test_client()
        barrier.wait()
        try:
            statuses.append(sender.post(API + "/push/subscriptions", json=body,
                                        headers=headers).status_code)
        except BaseException as exc:  # re-raised below: a thread cannot fail the test
            failures.append(exc)

    threads = [threading.Thread(target=send) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not failures, failures
    assert sorted(statuses) == [200] * (senders - 1) + [201]
    assert len(devices_of(depot.rep)) == 1


@pytest.mark.parametrize("endpoint", [
    "https://fcm.googleapis.com/fcm/send/abc",
    "https://FCM.GoogleAPIs.com:443/fcm/send/abc",
    "https://web.push.apple.com/QGbc",
    "https://push.apple.com/QGbc",
    "https://updates.push.services.mozilla.com/wpush/v2/gAAAAA",
])
def test_endpoints_on_the_allowed_push_services_are_accepted(client, depot, hosts, endpoint):
    assert subscribe(client, browser_subscription(endpoint), bearer(depot.rep)).status_code == 201


def not_on_the_curve():
    return b64url(b"\x04" + (1).to_bytes(32, "big") + (1).to_bytes(32, "big"))


BAD_SUBSCRIPTIONS = [
    # (name, body changes, field, message)
    ("http", dict(endpoint="http://fcm.googleapis.com/fcm/send/abc"), "endpoint", "https://"),
    ("not a url", dict(endpoint="fcm.googleapis.com/fcm/send/abc"), "endpoint", "https://"),
    ("empty endpoint", dict(endpoint=""), "endpoint", "Must be a URL"),
    ("unknown host", dict(endpoint="https://push.evil.test/abc"), "endpoint",
     "push.evil.test is not a push service this server sends alerts to."),
    ("subdomain of an exact host", dict(endpoint="https://x.fcm.googleapis.com/abc"),
     "endpoint", "not a push service"),
    ("suffix without a dot", dict(endpoint="https://evilpush.apple.com/abc"), "endpoint",
     "not a push service"),
    ("allowed host as a prefix", dict(endpoint="https://fcm.googleapis.com.evil.test/abc"),
     "endpoint", "not a push service"),
    ("userinfo", dict(endpoint="https://me:secret@fcm.googleapis.com/abc"), "endpoint",
     "Must not hold a user name or password."),
    ("userinfo hiding the host", dict(endpoint="https://fcm.googleapis.com@evil.test/abc"),
     "endpoint", "Must not hold a user name or password."),
    ("backslash", dict(endpoint="https://evil.test\\.push.apple.com/abc"), "endpoint",
     "Must be a URL"),
    ("space", dict(endpoint="https://fcm.googleapis.com/a b"), "endpoint", "Must be a URL"),
    ("non-ASCII", dict(endpoint="https://fcm.googleapis.com/caf\u00e9"), "endpoint",
     "Must be a URL"),
    ("lone surrogate", dict(endpoint="https://fcm.googleapis.com/\ud800"), "endpoint",
     "Must be a URL"),
    ("bad port", dict(endpoint="https://fcm.googleapis.com:99999/abc"), "endpoint",
     "Must be a valid URL."),
    ("too long", dict(endpoint="https://fcm.googleapis.com/" + "a" * 1000), "endpoint",
     "At most 1024 characters."),
    ("short p256dh", dict(p256dh=b64url(b"\x02" + os.urandom(32))), "keys.p256dh",
     "Must be a 65-byte uncompressed P-256 public key, not 33 bytes."),
    ("p256dh off the curve", dict(p256dh=not_on_the_curve()), "keys.p256dh",
     "Is not a point on the P-256 curve."),
    ("p256dh not base64url", dict(p256dh="not base64!"), "keys.p256dh", "Must be base64url"),
    ("p256dh in standard base64", dict(p256dh="+/" + "A" * 85), "keys.p256dh",
     "Must be base64url"),
    ("p256dh non-ASCII", dict(p256dh="\u00e9" * 87), "keys.p256dh", "Must be base64url"),
    ("short auth", dict(auth=b64url(os.urandom(15))), "keys.auth", "Must be 16 bytes, not 15."),
    ("long auth", dict(auth=b64url(os.urandom(32))), "keys.auth", "Must be 16 bytes, not 32."),
    ("empty auth", dict(auth=""), "keys.auth", "Must be base64url"),
    ("auth with too much padding", dict(auth=b64url(os.urandom(16)) + "==="), "keys.auth",
     "Must be base64url"),
    ("no endpoint", dict(endpoint=DROP), "endpoint", "Required."),
    ("no keys", dict(keys=DROP), "keys", "Required."),
    ("no p256dh", dict(p256dh=DROP), "keys.p256dh", "Required."),
    ("no auth", dict(auth=DROP), "keys.auth", "Required."),
    ("endpoint a number", dict(endpoint=42), "endpoint", "Must be text."),
    ("keys a string", dict(keys="p256dh=abc"), "keys", "Must be an object."),
    ("p256dh null", dict(p256dh=None), "keys.p256dh", "Must be text."),
    ("auth a list", dict(auth=["abc"]), "keys.auth", "Must be text."),
    ("expirationTime text", dict(expirationTime="tomorrow"), "expirationTime",
     "Must be a number or null."),
    ("unknown field", dict(browser="Chrome"), "browser", "Unknown field."),
    ("unknown key", dict(extra_key="abc"), "keys.extra_key", "Unknown field."),
]


def bad_body(changes):
    """A browser subscription with changes; p256dh, auth and extra_key go into keys."""
    changes = dict(changes)
    key_changes = {k: changes.pop(k) for k in ("p256dh", "auth", "extra_key") if k in changes}
    body = dict(browser_subscription(), **changes)
    if isinstance(body.get("keys"), dict):
        body["keys"].update(key_changes)
    return without_dropped(body)


def without_dropped(value):
    if isinstance(value, dict):
        return {k: without_dropped(v) for k, v in value.items() if v is not DROP}
    return value


@pytest.mark.parametrize("name, changes, field, message", BAD_SUBSCRIPTIONS,
                         ids=[case[0] for case in BAD_SUBSCRIPTIONS])
def test_a_bad_subscription_is_refused_with_its_field_and_nothing_is_stored(
        client, depot, hosts, name, changes, field, message):
    response = subscribe(client, bad_body(changes), bearer(depot.rep))

    assert_error(response, 422, "validation_failed")
    fields = response.json["error"]["fields"]
    assert field in fields, fields
    assert any(message in text for text in fields[field]), fields
    assert PushSubscription.select().count() == 0


@pytest.mark.parametrize("data, content_type, status, code", [
    ('{"endpoint": ', "application/json", 400, "malformed_json"),
    ('["https://fcm.googleapis.com/x"]', "application/json", 400, "malformed_json"),
    ("endpoint=https://fcm.googleapis.com/x", "application/x-www-form-urlencoded", 415,
     "unsupported_media_type"),
    ('{"endpoint": "https://fcm.googleapis.com/x"}', "text/plain", 415,
     "unsupported_media_type"),
])
def test_a_body_that_is_not_a_json_object_is_refused(client, depot, hosts, data, content_type,
                                                     status, code):
    response = client.post(API + "/push/subscriptions", data=data, content_type=content_type,
                           headers=bearer(depot.rep))

    assert_matches_openapi(response, "/push/subscriptions", "post")
    assert_error(response, status, code)
    assert PushSubscription.select().count() == 0


def test_an_endpoint_on_our_own_network_is_refused_outside_development(client, app, depot):
    """Even when an operator allowlists it, the worker never posts into the depot's network."""
    app.config.update(TESTING=False, PUSH_SERVICE_HOSTS="10.1.2.3")

    response = subscribe(client, browser_subscription("https://10.1.2.3/push/abc"),
                         bearer(depot.rep))

    assert_error(response, 422, "validation_failed", "endpoint",
                 "The push endpoint must be a public host.")
    assert PushSubscription.select().count() == 0


# --- Removing ---------------------------------------------------------------------


def test_a_device_is_removed_by_its_endpoint(client, depot, hosts):
    headers = bearer(depot.rep)
    subscribe(client, browser_subscription(FCM + "phone"), headers)
    subscribe(client, browser_subscription(FCM + "laptop"), headers)

    response = unsubscribe(client, FCM + "phone", headers)

    assert response.status_code == 204
    assert [d.endpoint for d in devices_of(depot.rep)] == [FCM + "laptop"]
    assert_error(unsubscribe(client, FCM + "phone", headers), 404, "not_found")


def test_nobody_removes_another_users_device(client, depot, hosts):
    subscribe(client, browser_subscription(), bearer(depot.rep))

    response = unsubscribe(client, FCM, bearer(depot.courier))

    assert_error(response, 404, "not_found")
    assert len(devices_of(depot.rep)) == 1


@pytest.mark.parametrize("body, field, message", [
    ({}, "endpoint", "Required."),
    ({"endpoint": 7}, "endpoint", "Must be text."),
    ({"endpoint": FCM, "keys": {}}, "keys", "Unknown field."),
])
def test_a_bad_removal_is_refused(client, depot, hosts, body, field, message):
    subscribe(client, browser_subscription(), bearer(depot.rep))

    response = client.delete(API + "/push/subscriptions", json=body, headers=bearer(depot.rep))

    assert_matches_openapi(response, "/push/subscriptions", "delete")
    assert_error(response, 422, "validation_failed", field, message)
    assert len(devices_of(depot.rep)) == 1


# --- Who may call -----------------------------------------------------------------


def test_the_api_needs_a_login(client, depot, hosts):
    for response, path, method in [
            (client.get(API + "/push/key"), "/push/key", "get"),
            (subscribe(client, browser_subscription(), {}), "/push/subscriptions", "post"),
            (client.delete(API + "/push/subscriptions", json={"endpoint": FCM}),
             "/push/subscriptions", "delete")]:
        assert_matches_openapi(response, path, method)
        assert_error(response, 401, "unauthorized")
    assert PushSubscription.select().count() == 0


def test_a_session_needs_the_csrf_header_and_a_bearer_token_does_not(client, depot, hosts):
    Auth(client).login(depot.courier)

    forged = subscribe(client, browser_subscription(FCM + "1"), {})
    assert_error(forged, 400, "csrf_failed")
    forged_delete = client.delete(API + "/push/subscriptions", json={"endpoint": FCM + "1"})
    assert_error(forged_delete, 400, "csrf_failed")
    assert PushSubscription.select().count() == 0

    token = {"X-CSRFToken": csrf_token(client, "/devices")}
    assert subscribe(client, browser_subscription(FCM + "1"), token).status_code == 201
    assert unsubscribe(client, FCM + "1", token).status_code == 204
    script = bearer(depot.courier)
    assert subscribe(client, browser_subscription(FCM + "2"), script).status_code == 201
    assert unsubscribe(client, FCM + "2", script).status_code == 204


# --- The server's key -------------------------------------------------------------


def test_the_public_key_is_the_one_pushes_are_signed_with(client, depot):
    response = client.get(API + "/push/key", headers=bearer(depot.courier))

    assert_matches_openapi(response, "/push/key", "get")
    assert response.status_code == 200
    assert response.json == {"public_key": VAPID_KEYS[2]}


def test_no_key_means_push_not_configured(client, app, depot, tmp_path):
    no_push_configured(app, tmp_path)

    response = client.get(API + "/push/key", headers=bearer(depot.courier))

    assert_matches_openapi(response, "/push/key", "get")
    assert_error(response, 503, "push_not_configured")


def test_a_local_subject_outside_development_is_refused_loudly_not_by_crashing(
        make_app, app, depot, caplog):
    with caplog.at_level(logging.ERROR, logger="app.notify"):
        production = make_app(TESTING=False, VAPID_SUBJECT="mailto:ops@localhost")
    assert "Web push is off" in caplog.text and "mailto:ops@localhost" in caplog.text
    client = production.test_client()
    device = enable_push_row(depot.rep)
    Auth(client).login(depot.rep)

    assert "Alerts are not set up on this server" in page(client)
    response = client.get(API + "/push/key")
    assert_matches_openapi(response, "/push/key", "get")
    assert_error(response, 503, "push_not_configured")
    test = client.post("/devices/%d/test" % device.id,
                       data={"csrf_token": csrf_token(client, "/devices")}, follow_redirects=True)
    assert "Alerts are not set up on this server" in html.unescape(test.get_data(as_text=True))
    assert Delivery.select().count() == 0


# --- The Devices page -------------------------------------------------


def enable_push_row(user, label="Test phone", **fields):
    """A device stored straight into the database, as the API stores one."""
    point, secret = device_keys()
    return PushSubscription.create(user=user, endpoint=FCM + os.urandom(6).hex(),
                                   p256dh=b64url(point), auth=b64url(secret), label=label,
                                   **fields)


def test_the_page_lists_only_ones_own_devices(client, depot):
    enable_push_row(depot.rep, "Chrome on Android")
    enable_push_row(depot.rep, "Firefox on Windows", failure_count=2)
    enable_push_row(depot.courier, "Safari on iPhone")
    Auth(client).login(depot.rep)

    text = page(client)

    assert "Chrome on Android" in text and "Firefox on Windows" in text
    assert "Safari on iPhone" not in text
    assert text.count(">Send a test alert</button>") == 2
    assert text.count(">Remove</button>") == 2
    assert "refused the last 2 alerts." in text
    assert "no alert delivered yet" in text
    assert "not set up" not in text


@pytest.mark.parametrize("role", ["courier", "rep", "manager"])
def test_with_no_devices_the_page_says_how_to_enable_alerts(client, role):
    user = make_user(role)
    Auth(client).login(user)

    text = page(client)

    assert "No device gets your alerts yet." in text
    assert "To get alerts on this phone or computer, tap Enable alerts" in text
    assert "<script" not in text.split("<main>")[1]


def test_the_page_says_when_push_is_not_configured(client, app, depot, tmp_path):
    enable_push_row(depot.rep)
    no_push_configured(app, tmp_path)
    Auth(client).login(depot.rep)

    text = page(client)

    assert "Alerts are not set up on this server" in text
    assert "Send a test alert" not in text


def test_the_page_needs_a_login_and_is_linked_from_the_account_page(client, depot):
    assert client.get("/devices").status_code == 302
    Auth(client).login(depot.courier)
    assert 'href="/devices"' in page(client, "/account")


def test_removing_a_device_stops_its_alerts(client, depot):
    phone, laptop = enable_push_row(depot.rep, "Phone"), enable_push_row(depot.rep, "Laptop")
    Auth(client).login(depot.rep)

    response = client.post("/devices/%d/remove" % phone.id,
                           data={"csrf_token": csrf_token(client, "/devices")},
                           follow_redirects=True)

    assert response.status_code == 200
    text = html.unescape(response.get_data(as_text=True))
    assert "Removed Phone; it gets no more alerts." in text
    assert [d.id for d in devices_of(depot.rep)] == [laptop.id]


def test_nobody_removes_or_tests_another_users_device(client, depot):
    theirs = enable_push_row(depot.courier)
    Auth(client).login(depot.rep)
    token = csrf_token(client, "/devices")

    for path in ("/devices/%d/remove" % theirs.id, "/devices/%d/test" % theirs.id,
                 "/devices/999999/remove", "/devices/999999/test"):
        assert client.post(path, data={"csrf_token": token}).status_code == 404, path
    assert devices_of(depot.courier) == [theirs]
    assert Notification.select().count() == 0


def test_the_page_forms_need_their_csrf_token(client, depot):
    device = enable_push_row(depot.rep)
    Auth(client).login(depot.rep)

    assert client.post("/devices/%d/remove" % device.id).status_code == 400
    assert client.post("/devices/%d/test" % device.id).status_code == 400
    assert devices_of(depot.rep) == [device]
    assert Notification.select().count() == 0


# --- Test alerts, end to end --------------------------------------------------------


def send_test_alert(client, device_id):
    response = client.post("/devices/%d/test" % device_id,
                           data={"csrf_token": csrf_token(client, "/devices")},
                           follow_redirects=True)
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True))


def test_a_test_alert_reaches_just_that_device(client, depot, push_service, worker):
    phone = enable_push(depot.rep, push_service)
    laptop = enable_push(depot.rep, push_service)
    [phone_row, _] = devices_of(depot.rep)
    Auth(client).login(depot.rep)

    text = send_test_alert(client, phone_row.id)

    assert "Test alert sent to Test phone." in text
    [message] = wait_for(lambda: push_service.delivered(phone))
    assert message.payload["kind"] == "test"
    assert message.payload["title"] == "Test alert"
    assert message.payload["path"] == "/devices"
    wait_for(lambda: Delivery.get().status == "sent")
    assert push_service.received(laptop) == []
    assert Notification.get().user_id == depot.rep.id
    assert "last alert delivered" in page(client)


def test_a_device_enabled_through_the_api_gets_its_test_alert(client, app, depot,
                                                               push_service, worker):
    app.config["PUSH_SERVICE_HOSTS"] = HOSTS
    browser = push_service.subscribe()
    Auth(client).login(depot.courier)
    body = {"endpoint": browser.endpoint, "expirationTime": None,
            "keys": {"p256dh": browser.p256dh + "=", "auth": browser.auth + "=="}}
    created = subscribe(client, body, {"X-CSRFToken": csrf_token(client, "/devices")},
                        user_agent=SAFARI_IPHONE)
    assert created.status_code == 201

    assert "Test alert sent to Safari on iPhone." in send_test_alert(client, created.json["id"])

    [message] = wait_for(lambda: push_service.delivered(browser))
    assert message.payload["kind"] == "test"
    assert message.payload["body"] == "Alerts reach Safari on iPhone."


# --- The server's VAPID keys --------------------------------------------------------


def test_vapid_keys_are_written_once_with_a_private_file_only_the_owner_reads(
        app, runner, tmp_path):
    app.instance_path = str(tmp_path / "instance")
    app.config["VAPID_PRIVATE_KEY"] = ""

    result = runner.invoke(args=["vapid-keys"])

    assert result.exit_code == 0, result.output
    private = tmp_path / "instance" / "vapid_private.pem"
    public = tmp_path / "instance" / "vapid_public.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    server_key = re.search(r"Application server key: ([A-Za-z0-9_-]{87})$", result.output,
                           re.M).group(1)
    assert "VAPID_SUBJECT" in result.output
    with app.app_context():
        assert notify.vapid().application_server_key == server_key
    loaded = serialization.load_pem_public_key(public.read_bytes())
    assert b64url(loaded.public_bytes(serialization.Encoding.X962,
                                      serialization.PublicFormat.UncompressedPoint)) == server_key


def test_vapid_keys_are_never_replaced_without_force(app, runner, tmp_path):
    app.instance_path = str(tmp_path / "instance")
    assert runner.invoke(args=["vapid-keys"]).exit_code == 0
    private = tmp_path / "instance" / "vapid_private.pem"
    before = private.read_bytes()

    refused = runner.invoke(args=["vapid-keys"])

    assert refused.exit_code != 0
    assert "already exists" in refused.output and "--force" in refused.output
    assert private.read_bytes() == before
    assert sorted(os.listdir(tmp_path / "instance")) == ["vapid_private.pem", "vapid_public.pem"]

    forced = runner.invoke(args=["vapid-keys", "--force"])

    assert forced.exit_code == 0, forced.output
    assert private.read_bytes() != before
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert sorted(os.listdir(tmp_path / "instance")) == ["vapid_private.pem", "vapid_public.pem"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_makes_keys_so_push_works_out_of_the_box(app, tmp_path, database_url):
    """The README's run command, on this test's empty database: a fresh instance
    folder gets keys, and a browser gets the key to subscribe with."""
    port = free_port()
    instance = tmp_path / "instance"
    env = dict(os.environ, INSTANCE_PATH=str(instance), DATABASE_URL=database_url,
               QUEUE_URL="sqlite:///%s" % (tmp_path / "serve-queue.db"), PYTHONUNBUFFERED="1")
    for name in ("VAPID_PRIVATE_KEY", "VAPID_SUBJECT", "DEVELOPMENT"):
        env.pop(name, None)
    server = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "serve", "--demo",
                               "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        session = requests.Session()
        base = "http://127.0.0.1:%d" % port
        wait_for(lambda: _answers(session, base + "/login"), timeout=60, interval=0.2)
        assert stat.S_IMODE((instance / "vapid_private.pem").stat().st_mode) == 0o600
        login = session.get(base + "/login").text
        token = re.search(r'name="csrf-token" content="([^"]+)"', login).group(1)
        session.post(base + "/login", data={"email": "courier1@demo.touchpoint",
                                            "password": "touchpoint-demo", "csrf_token": token})

        key = session.get(base + "/api/v1/push/key")

        assert key.status_code == 200, key.text
        loaded = serialization.load_pem_public_key((instance / "vapid_public.pem").read_bytes())
        assert key.json()["public_key"] == b64url(loaded.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))
        assert "not set up" not in session.get(base + "/devices").text
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0].decode(errors="replace")
    assert "Generated web push keys" in output, output


def _answers(session, url):
    try:
        return session.get(url, timeout=1).status_code == 200
    except requests.ConnectionError:
        time.sleep(0.1)
        return False


def test_resync_refreshes_a_kept_device_but_not_a_removed_one(client, depot, push_service):
    device = push_service.subscribe()
    body = {"endpoint": device.endpoint, "keys": {"p256dh": device.p256dh, "auth": device.auth}}
    headers = bearer(depot.rep)
    assert client.post(API + "/push/subscriptions", json=body, headers=headers).status_code == 201
    again = client.post(API + "/push/subscriptions?resync=1", json=body, headers=headers)
    assert_matches_openapi(again, "/push/subscriptions", "post")
    assert again.status_code == 200
    assert client.delete(API + "/push/subscriptions", json={"endpoint": device.endpoint},
                         headers=headers).status_code == 204
    gone = client.post(API + "/push/subscriptions?resync=1", json=body, headers=headers)
    assert_matches_openapi(gone, "/push/subscriptions", "post")
    assert_error(gone, 404, "not_subscribed")
    assert PushSubscription.select().count() == 0
