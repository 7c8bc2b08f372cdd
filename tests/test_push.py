"""Sending a Web Push message, proved against a real local push service.

Every message here is really encrypted, really posted over HTTPS and really
decrypted and checked by tests/pushservice.py; nothing is mocked.
"""
import base64
import json
import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import formatdate

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from webpush import WebPush
from webpush.types import WebPushSubscription

from app import push
from pushservice import Subscription, start_push_service

SUBJECT = "mailto:sales-ops@touchpoint-parcels.com"
ALERT = {"title": "New hot lead: Joe's Bakery", "body": "Ann: opens Monday — café too",
         "url": "/leads/42"}


@pytest.fixture(autouse=True)
def forget_push_service_holds():
    """A later test's push service may get the port of one that asked us to wait."""
    yield
    push.forget_holds()


@pytest.fixture(scope="module")
def keys():
    return push.generate_vapid_keys()


@pytest.fixture
def vapid(keys):
    return push.Vapid(keys[0], SUBJECT, keys[1])


@pytest.fixture
def push_service(keys):
    """A push service on 127.0.0.1 that trusts only our application server key."""
    service = start_push_service(keys[2])
    yield service
    service.stop()


@pytest.fixture
def subscription(push_service):
    return push_service.subscribe()


@pytest.fixture
def deliver(vapid, push_service):
    """Send as the worker will, trusting the push service's certificate."""
    def deliver(subscription, payload=ALERT, **options):
        options.setdefault("ttl", 3600)
        return push.send(vapid, subscription, payload, verify=push_service.ca_bundle, **options)
    return deliver


def claims_of(token):
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))


# Delivery and what the push service receives

def test_message_is_delivered_and_decrypts_to_exactly_what_was_sent(deliver, push_service,
                                                                     subscription):
    outcome = deliver(subscription)
    assert (outcome.action, outcome.status) == (push.DELIVERED, 201)
    [message] = push_service.delivered(subscription)
    assert message.payload == ALERT
    assert message.plaintext == json.dumps(ALERT, separators=(",", ":"),
                                           ensure_ascii=False).encode()


def test_push_service_receives_ttl_urgency_topic_and_content_headers(deliver, push_service,
                                                                      subscription):
    deliver(subscription, ttl=86400, urgency="high", topic=push.topic_for("new_lead", 42))
    headers = push_service.delivered(subscription)[0].headers
    assert headers["ttl"] == "86400"
    assert headers["urgency"] == "high"
    assert headers["topic"] == "new_lead-42"
    assert headers["content-type"] == "application/octet-stream"
    assert headers["content-encoding"] == "aes128gcm"


def test_urgency_defaults_to_normal_and_topic_is_optional(deliver, push_service, subscription):
    deliver(subscription, ttl=0)
    headers = push_service.delivered(subscription)[0].headers
    assert (headers["ttl"], headers["urgency"]) == ("0", "normal")
    assert "topic" not in headers


def test_each_thread_sends_its_own_ttl(deliver, push_service, subscription):
    ttls = list(range(100, 116))
    threads = [threading.Thread(target=deliver, args=(subscription, {"ttl": ttl}),
                                kwargs={"ttl": ttl}) for ttl in ttls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    delivered = push_service.delivered(subscription)
    assert sorted(m.payload["ttl"] for m in delivered) == ttls
    assert all(m.headers["ttl"] == str(m.payload["ttl"]) for m in delivered)


def test_messages_to_one_push_service_share_a_connection(deliver, push_service, subscription):
    for _ in range(3):
        deliver(subscription)
    assert push_service.connections_accepted == 1


# The VAPID token

def test_jwt_audience_keeps_the_port_and_expires_within_a_day(deliver, push_service,
                                                              subscription, vapid):
    deliver(subscription)
    message = push_service.delivered(subscription)[0]
    assert message.claims["aud"] == "https://127.0.0.1:%d" % push_service.port
    assert message.claims["sub"] == SUBJECT
    assert 11 * 3600 < message.claims["exp"] - time.time() <= 12 * 3600
    assert message.headers["authorization"].endswith("k=" + vapid.application_server_key)


def test_jwt_is_reused_for_the_same_push_service(deliver, push_service):
    first, second = push_service.subscribe(), push_service.subscribe()
    deliver(first)
    deliver(second)
    deliver(first)
    assert len({m.token for m in push_service.delivered()}) == 1


def test_each_push_service_gets_its_own_jwt(deliver, push_service, keys, vapid):
    deliver(push_service.subscribe())
    other = start_push_service(keys[2])
    try:
        outcome = push.send(vapid, other.subscribe(), ALERT, ttl=60, verify=other.ca_bundle)
        assert outcome.action == push.DELIVERED
        [here], [there] = push_service.delivered(), other.delivered()
        assert here.token != there.token
        assert there.claims["aud"] == other.origin
    finally:
        other.stop()


def test_jwt_is_renewed_within_an_hour_of_expiry(vapid):
    origin, start = "https://push.example.net", 1_700_000_000
    token = vapid.token(origin, now=start)
    assert claims_of(token)["exp"] == start + 12 * 3600
    assert vapid.token(origin, now=start + 11 * 3600 - 1) == token
    renewed = vapid.token(origin, now=start + 11 * 3600)
    assert renewed != token
    assert claims_of(renewed)["exp"] == start + 23 * 3600


@pytest.mark.parametrize("endpoint, origin", [
    ("https://fcm.googleapis.com/fcm/send/abc", "https://fcm.googleapis.com"),
    ("https://web.push.apple.com:443/abc", "https://web.push.apple.com"),
    ("https://Push.Example.net:8443/x?y=1", "https://push.example.net:8443"),
    ("https://[::1]:9000/push/1", "https://[::1]:9000"),
])
def test_origin_keeps_only_a_non_default_port(endpoint, origin):
    assert push.origin_of(endpoint) == origin


def test_push_service_refuses_the_webpush_library_token_without_port(keys, push_service,
                                                                     subscription):
    library = WebPush(private_key=keys[0], public_key=keys[1], ttl=60)
    message = library.get({"x": 1}, WebPushSubscription(
        endpoint=subscription.endpoint,
        keys={"auth": subscription.auth, "p256dh": subscription.p256dh}),
        subscriber="sales-ops@touchpoint-parcels.com")
    response = requests.post(subscription.endpoint, data=message.encrypted,
                             headers=dict(message.headers), verify=push_service.ca_bundle)
    assert response.status_code == 401
    assert "audience" in push_service.rejections()[0].error.lower()


def test_push_service_refuses_a_token_valid_for_over_a_day(keys, push_service, subscription,
                                                          monkeypatch):
    monkeypatch.setattr(push, "TOKEN_LIFETIME", 25 * 3600)
    vapid = push.Vapid(keys[0], SUBJECT)
    outcome = push.send(vapid, subscription, ALERT, ttl=60, verify=push_service.ca_bundle)
    assert (outcome.action, outcome.status) == (push.REJECTED, 401)
    assert "24 h" in push_service.rejections()[0].error


def test_push_service_refuses_what_it_cannot_decrypt(deliver, push_service, subscription):
    other = push_service.subscribe()
    mixed_up = Subscription(subscription.id, subscription.endpoint, subscription.p256dh,
                            other.auth)
    assert deliver(mixed_up).action == push.REJECTED
    assert "decrypt" in push_service.rejections()[0].error


def test_message_signed_with_another_key_is_rejected(push_service, subscription):
    private_pem, public_pem, _ = push.generate_vapid_keys()
    stranger = push.Vapid(private_pem, SUBJECT, public_pem)
    outcome = push.send(stranger, subscription, ALERT, ttl=60, verify=push_service.ca_bundle)
    assert (outcome.action, outcome.status) == (push.REJECTED, 403)
    assert push_service.rejections() and not push_service.delivered()


# What the push service's answer means

@pytest.mark.parametrize("status", [404, 410])
def test_expired_subscription_is_gone(deliver, push_service, subscription, status):
    push_service.respond_with(status, subscription=subscription)
    assert (deliver(subscription).action, deliver(subscription).status) == (push.GONE, status)


def test_unknown_subscription_is_gone(deliver, push_service):
    unknown = Subscription("nope", push_service.origin + "/push/nope",
                           push_service.subscribe().p256dh, push_service.subscribe().auth)
    assert deliver(unknown).action == push.GONE


def test_only_the_told_subscription_fails(deliver, push_service):
    expired, fine = push_service.subscribe(), push_service.subscribe()
    push_service.respond_with(410, subscription=expired)
    assert deliver(expired).action == push.GONE
    assert deliver(fine).action == push.DELIVERED


def test_payload_too_large_answer_is_our_bug_logged_and_never_retried(deliver, push_service,
                                                                       subscription, caplog):
    push_service.respond_with(413)
    with caplog.at_level(logging.ERROR, logger="app.push"):
        outcome = deliver(subscription)
    assert (outcome.action, outcome.status) == (push.FAILED, 413)
    assert "413" in caplog.text and push_service.origin in caplog.text
    assert subscription.endpoint not in caplog.text


def test_rate_limited_retries_after_the_seconds_asked(deliver, push_service, subscription):
    push_service.respond_with(429, retry_after="120")
    outcome = deliver(subscription)
    assert (outcome.action, outcome.status, outcome.retry_after) == (push.RETRY, 429, 120)
    assert outcome.delay(attempt=5) == 120


def test_rate_limited_retries_after_the_date_asked(deliver, push_service, subscription):
    push_service.respond_with(429, retry_after=formatdate(time.time() + 300, usegmt=True))
    outcome = deliver(subscription)
    assert outcome.action == push.RETRY
    assert 295 <= outcome.retry_after <= 300


@pytest.mark.parametrize("retry_after, seconds", [
    ("7200", 3600), ("0", 1), ("soon", 60), ("", 60), (None, 60), ("-5", 60),
    (formatdate(time.time() - 600, usegmt=True), 1),
    (formatdate(time.time() + 86400, usegmt=True), 3600),
])
def test_rate_limit_wait_is_clamped_between_a_second_and_an_hour(deliver, push_service,
                                                                 subscription, retry_after,
                                                                 seconds):
    push_service.respond_with(429, retry_after=retry_after)
    assert deliver(subscription).retry_after == seconds


def test_retry_after_date_is_read_against_now():
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    now = datetime(2015, 10, 21, 7, 20, tzinfo=timezone.utc).timestamp()
    assert push.parse_retry_after(date, now=now) == 480


@pytest.mark.parametrize("status", [408, 500, 502, 503, 504])
def test_server_trouble_is_retried_with_backoff(deliver, push_service, subscription, status):
    push_service.respond_with(status)
    outcome = deliver(subscription)
    assert (outcome.action, outcome.status, outcome.retry_after) == (push.RETRY, status, None)
    assert 0 <= outcome.delay(attempt=3) <= 8


@pytest.mark.parametrize("status", [400, 401, 403])
def test_refusal_is_rejected_for_the_caller_to_count(deliver, push_service, subscription,
                                                     status):
    push_service.respond_with(status)
    assert (deliver(subscription).action, deliver(subscription).status) == (push.REJECTED,
                                                                            status)


def test_hanging_push_service_times_out_and_is_retried(deliver, push_service, subscription):
    push_service.hang(seconds=5)
    started = time.monotonic()
    outcome = deliver(subscription, timeout=(1, 0.2))
    assert time.monotonic() - started < 2
    assert (outcome.action, outcome.status) == (push.RETRY, None)
    assert "Timeout" in outcome.detail


def test_push_service_down_is_retried_and_delivers_when_back(deliver, push_service,
                                                              subscription):
    assert deliver(subscription).action == push.DELIVERED
    push_service.down()
    outcome = deliver(subscription)
    assert (outcome.action, outcome.status) == (push.RETRY, None)
    assert "ConnectionError" in outcome.detail
    push_service.up()
    assert deliver(subscription).action == push.DELIVERED
    assert len(push_service.delivered()) == 2


def test_untrusted_certificate_is_retried_not_raised(vapid, subscription):
    outcome = push.send(vapid, subscription, ALERT, ttl=60)
    assert outcome.action == push.RETRY
    assert "SSLError" in outcome.detail


# Mistakes in the call

def test_payload_of_3993_bytes_is_delivered(deliver, push_service, subscription):
    payload = {"b": "x" * (push.MAX_PAYLOAD - len('{"b":""}'))}
    assert deliver(subscription, payload).action == push.DELIVERED
    assert push_service.delivered()[0].payload == payload


def test_payload_of_3994_bytes_is_refused_before_sending(deliver, push_service, subscription):
    payload = {"b": "x" * (push.MAX_PAYLOAD + 1 - len('{"b":""}'))}
    with pytest.raises(push.PayloadTooLarge):
        deliver(subscription, payload)
    assert push_service.received() == []


def test_payload_limit_counts_bytes_not_characters(deliver, subscription):
    with pytest.raises(push.PayloadTooLarge):
        deliver(subscription, {"b": "é" * 2000})


@pytest.mark.parametrize("topic", ["", "a" * 33, "lead 42", "lead.42", "lead/42", "lead+42",
                                   "lead=", "léad"])
def test_invalid_topic_is_refused(deliver, push_service, subscription, topic):
    with pytest.raises(ValueError):
        deliver(subscription, topic=topic)
    assert push_service.received() == []


def test_longest_valid_topic_is_sent(deliver, push_service, subscription):
    deliver(subscription, topic="aZ0_-" * 6 + "ok")
    assert push_service.delivered()[0].headers["topic"] == "aZ0_-" * 6 + "ok"


@pytest.mark.parametrize("kind, lead_id", [
    ("new_lead", 42), ("acknowledged", 10**12), ("escalation", "7f9c24e8-3b12-4b8a-9c1d-"
                                                               "2f0a6e5b8c01"),
    ("kudos.sent", 3), ("ünïcode", 5), ("a-very-long-kind-of-notification", 123456789),
])
def test_topic_for_is_always_valid(kind, lead_id):
    assert push.TOPIC.fullmatch(push.topic_for(kind, lead_id))


def test_topic_for_never_merges_different_leads():
    topics = {push.topic_for(kind, n) for kind in ("a.b", "a_b", "a-b", "long" * 9)
              for n in range(50)}
    assert len(topics) == 200


@pytest.mark.parametrize("options", [{"ttl": -1}, {"ttl": "3600"}, {"ttl": 1.5},
                                     {"urgency": "urgent"}, {"urgency": "High"}])
def test_bad_ttl_or_urgency_is_refused(deliver, subscription, options):
    with pytest.raises(ValueError):
        deliver(subscription, **options)


@pytest.mark.parametrize("change", [{"p256dh": "not-a-key"}, {"auth": "c2hvcnQ"},
                                    {"endpoint": "http://127.0.0.1/push/1"}])
def test_unusable_subscription_is_gone_without_a_request(deliver, push_service, subscription,
                                                         change):
    broken = Subscription(**dict(vars(subscription), **change))
    assert deliver(broken).action == push.GONE
    assert push_service.received() == []


@pytest.mark.parametrize("endpoint", ["https://127.0.0.1:8443/push/1", "https://localhost/x",
                                      "https://10.0.0.5/x", "https://push.local/x"])
def test_subscription_on_our_own_network_is_refused_outside_development(endpoint, subscription):
    with pytest.raises(push.InvalidSubscription):
        push.check_subscription(endpoint, subscription.p256dh, subscription.auth)
    push.check_subscription(endpoint, subscription.p256dh, subscription.auth, development=True)


def test_real_push_service_subscription_is_accepted(subscription):
    push.check_subscription("https://fcm.googleapis.com/fcm/send/abc:def", subscription.p256dh,
                            subscription.auth)


# Retry and drop rules

@pytest.mark.parametrize("attempt", range(1, 16))
def test_backoff_is_full_jitter_under_a_doubling_ceiling(attempt):
    ceiling = min(600, 2 * 2 ** (attempt - 1))
    delays = [push.backoff(attempt) for _ in range(200)]
    assert all(0 <= d <= ceiling for d in delays)
    assert max(delays) > ceiling / 2 and len(set(delays)) > 100


def test_backoff_is_capped_at_ten_minutes_however_many_attempts():
    assert all(push.backoff(10_000) <= 600 for _ in range(100))


NOW = datetime(2025, 3, 10, 12, 0)


@pytest.mark.parametrize("count, first, drop", [
    (3, NOW - timedelta(days=1, seconds=1), True),
    (7, NOW - timedelta(days=5), True),
    (2, NOW - timedelta(days=5), False),
    (3, NOW - timedelta(days=1), False),
    (30, NOW - timedelta(hours=3), False),
    (0, None, False),
])
def test_subscription_is_dropped_only_after_three_failures_over_more_than_a_day(count, first,
                                                                                drop):
    assert push.should_drop(count, first, NOW) is drop


# Our identity

@pytest.mark.parametrize("subject", ["mailto:sales-ops@touchpoint-parcels.com",
                                     "https://touchpoint-parcels.com",
                                     "https://touchpoint-parcels.com/contact"])
def test_real_subject_is_accepted(subject):
    assert push.check_subject(subject) == subject


@pytest.mark.parametrize("subject", ["ops@touchpoint-parcels.com", "http://touchpoint.com",
                                     "mailto:", "mailto:nobody", "mailto:a b@c.com",
                                     "https://", "tel:+441234", ""])
def test_malformed_subject_is_refused_even_in_development(subject):
    with pytest.raises(push.InvalidSubject):
        push.check_subject(subject, development=True)


@pytest.mark.parametrize("subject", ["mailto:admin@localhost", "https://localhost:5000",
                                     "mailto:ops@depot.local", "mailto:ops@example.com",
                                     "https://touchpoint.example", "mailto:me@mail.example.org",
                                     "https://127.0.0.1", "mailto:ops@depot.test"])
def test_local_subject_is_refused_outside_development(subject):
    with pytest.raises(push.InvalidSubject, match="Apple"):
        push.check_subject(subject)
    assert push.check_subject(subject, development=True) == subject


def test_generated_keys_fit_together():
    private_pem, public_pem, server_key = push.generate_vapid_keys()
    vapid = push.Vapid(private_pem.decode(), SUBJECT, public_pem.decode())
    assert vapid.application_server_key == server_key
    point = base64.urlsafe_b64decode(server_key + "=")
    assert len(point) == 65 and point[0] == 4


def test_public_key_of_another_pair_is_refused(keys):
    with pytest.raises(ValueError, match="does not belong"):
        push.Vapid(keys[0], SUBJECT, push.generate_vapid_keys()[1])


def test_key_on_another_curve_is_refused():
    pem = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    with pytest.raises(ValueError, match="P-256"):
        push.Vapid(pem, SUBJECT)


def test_after_a_429_nothing_is_posted_to_that_push_service_until_the_time(deliver, push_service):
    asked, other = push_service.subscribe(), push_service.subscribe()
    push_service.respond_with(429, retry_after="30", times=1)
    assert deliver(asked).retry_after == 30
    outcome = deliver(other)
    assert outcome.action == push.HELD and 29 <= outcome.retry_after <= 30
    assert len(push_service.received()) == 1


def test_a_503_with_retry_after_holds_the_push_service_too(deliver, push_service, subscription):
    push_service.respond_with(503, retry_after="5", times=1)
    assert (deliver(subscription).retry_after, deliver(subscription).action) == (5, push.HELD)


def test_a_413_sends_the_fallback_once(deliver, push_service, subscription):
    push_service.refuse_over(200)
    outcome = deliver(subscription, {"title": "x" * 300}, fallback={"title": "x"})
    assert (outcome.action, outcome.small) == (push.DELIVERED, True)
    assert push_service.delivered()[0].payload == {"title": "x"}
