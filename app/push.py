"""The one place that sends a Web Push message, and says what to do about the answer.

It wraps the `webpush` library for its aes128gcm encryption only and does the
rest itself, because the library's defaults are wrong for us: our VAPID token's
`aud` keeps the push service's port, is signed once per origin and reused for
hours, and every message carries TTL, Urgency, Topic and Content-Type. Nothing
here touches the database: `send` returns an `Outcome` (delivered, gone, retry,
held, rejected or failed) and the caller deletes, reschedules or counts.

A push service that answers 429 (or 503) with Retry-After is held off by this
process until that time, for every message (`hold`, `held_for`); the caller
shares the pause with other processes. `send_all` sends many messages at once,
a few at a time per push service, each thread keeping its own connections.
"""
import base64
import binascii
import ipaddress
import json
import logging
import queue
import random
import re
import threading
import time
from collections import defaultdict, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta, timezone
from email.utils import parsedate_to_datetime
from hashlib import sha256
from urllib.parse import urlsplit

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from webpush import WebPush
from webpush.types import WebPushKeys, WebPushSubscription
from webpush.vapid import VAPID

from .params import whole_number

log = logging.getLogger(__name__)

# 4096-byte record - 86 bytes of header - 16 of tag - 1 padding delimiter (RFC 8291).
MAX_PAYLOAD = 3993
URGENCIES = ("very-low", "low", "normal", "high")
TOPIC = re.compile(r"[A-Za-z0-9_-]{1,32}")
TOKEN_LIFETIME = 12 * 3600
# Renew early so that no request carries a token about to lapse in flight.
TOKEN_RENEW_BEFORE = 3600

DELIVERED, GONE, RETRY, HELD, REJECTED, FAILED = ("delivered", "gone", "retry", "held",
                                                  "rejected", "failed")
# Threads sending for the whole process, and at most this many requests at
# once to one push service in one fan-out.
POOL_THREADS, PER_HOST = 32, 8

RETRY_AFTER_DEFAULT, RETRY_AFTER_MIN, RETRY_AFTER_MAX = 60.0, 1.0, 3600.0
BACKOFF_BASE, BACKOFF_CAP = 2.0, 600.0
DROP_AFTER_FAILURES, DROP_AFTER_SPAN = 3, timedelta(days=1)

RESERVED_HOSTS = {"localhost", "example.com", "example.net", "example.org"}
RESERVED_SUFFIXES = (".localhost", ".local", ".example", ".test", ".invalid", ".internal",
                     ".example.com", ".example.net", ".example.org")


class PayloadTooLarge(ValueError):
    """The message's JSON is over what one aes128gcm record can carry."""


class InvalidSubject(ValueError):
    """A VAPID subject a push service would refuse."""


class InvalidSubscription(ValueError):
    """A subscription we could never deliver to."""


@dataclass(frozen=True)
class Outcome:
    """What became of one push, and so what the caller must do.

    `action` is DELIVERED; GONE (delete the subscription); RETRY (after
    `delay(attempt)`); HELD (not sent: its push service asked us to wait
    `retry_after` seconds more); REJECTED (count it, see `should_drop`); or
    FAILED (our bug, already logged: never retry). `status` is None when no
    answer came; `small` is True when only the fallback payload got through.
    """
    action: str
    status: int | None = None
    retry_after: float | None = None
    detail: str = ""
    small: bool = False

    def delay(self, attempt):
        """Seconds to wait before retry number `attempt` (1 is the first retry)."""
        return self.retry_after if self.retry_after is not None else backoff(attempt)


class Vapid:
    """Our application server's identity: a P-256 key pair and a contact subject.

    Keep one per process: it caches the signed token per push service origin.
    """

    def __init__(self, private_pem, subject, public_pem=None):
        self.private_key = serialization.load_pem_private_key(_bytes(private_pem), None)
        if not isinstance(getattr(self.private_key, "curve", None), ec.SECP256R1):
            raise ValueError("A VAPID key must be an EC P-256 key.")
        public = self.private_key.public_key()
        if public_pem is not None and (serialization.load_pem_public_key(_bytes(public_pem))
                                       .public_numbers() != public.public_numbers()):
            raise ValueError("The VAPID public key does not belong to the private key.")
        self.subject = check_subject(subject, development=True)
        self.application_server_key = VAPID.get_application_server_key(public)
        # Only its _encrypt is used, which reads nothing but a constant, so one
        # instance is safe to share between threads.
        self._encryptor = WebPush(
            private_key=self.private_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption()),
            public_key=public.public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo))
        self._tokens = {}
        self._lock = threading.Lock()

    def authorization(self, endpoint, now=None):
        """The `Authorization` header for a message to endpoint."""
        return "vapid t=%s, k=%s" % (self.token(origin_of(endpoint), now),
                                     self.application_server_key)

    def token(self, origin, now=None):
        """A signed JWT for origin, reused until it is within an hour of expiry."""
        now = int(time.time() if now is None else now)
        with self._lock:
            token, expires = self._tokens.get(origin, (None, 0))
            if expires - now <= TOKEN_RENEW_BEFORE:
                expires = now + TOKEN_LIFETIME
                token = jwt.encode({"aud": origin, "exp": expires, "sub": self.subject},
                                   self.private_key, algorithm="ES256")
                self._tokens[origin] = (token, expires)
            return token

    def encrypt(self, plaintext, subscription):
        """The aes128gcm body of plaintext for subscription."""
        keys = WebPushKeys(auth=subscription.auth, p256dh=subscription.p256dh)
        return self._encryptor._encrypt(
            plaintext, WebPushSubscription(endpoint=subscription.endpoint, keys=keys))


def generate_vapid_keys():
    """A new key pair: (private PEM, public PEM, applicationServerKey as base64url)."""
    return VAPID.generate_keys()


def check_subject(subject, development=False):
    """Return subject if push services will accept it, else raise InvalidSubject."""
    if subject.startswith("mailto:"):
        local, at, host = subject[len("mailto:"):].rpartition("@")
        if not (local and at and host) or any(c.isspace() for c in subject):
            raise InvalidSubject("The VAPID subject %r is not a valid mailto: address." % subject)
    elif subject.startswith("https://"):
        host = urlsplit(subject).hostname
        if not host:
            raise InvalidSubject("The VAPID subject %r has no host." % subject)
    else:
        raise InvalidSubject("The VAPID subject must be a mailto: address or an https: URL, "
                             "not %r." % subject)
    if not development and _is_local(host):
        raise InvalidSubject("The VAPID subject %r names a local or example host, which "
                             "Apple's push service refuses; use a real address." % subject)
    return subject


def check_subscription(endpoint, p256dh, auth, development=False):
    """Raise InvalidSubscription unless we could deliver to this subscription.

    Outside development the endpoint must be a public https host, so that a
    subscription cannot make the worker post to machines on our own network.
    """
    parts = urlsplit(endpoint or "")
    if parts.scheme != "https" or not parts.hostname:
        raise InvalidSubscription("The push endpoint must be an https: URL.")
    if not development and _is_local(parts.hostname):
        raise InvalidSubscription("The push endpoint must be a public host.")
    try:
        point = _b64url_decode(p256dh)
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        secret = _b64url_decode(auth)
    except (ValueError, TypeError, binascii.Error):
        raise InvalidSubscription("The subscription's keys are not valid base64url.")
    if len(point) != 65 or len(secret) != 16:
        raise InvalidSubscription("The subscription's keys have the wrong length.")


def origin_of(endpoint):
    """The endpoint's origin, with its port unless it is the scheme's default."""
    parts = urlsplit(endpoint)
    host = parts.hostname
    if ":" in host:
        host = "[%s]" % host
    if parts.port and parts.port != {"https": 443, "http": 80}.get(parts.scheme):
        host += ":%d" % parts.port
    return "%s://%s" % (parts.scheme, host)


def topic_for(kind, lead_id):
    """A valid Topic naming one kind of message about one lead.

    A newer message with the same topic replaces one the push service still
    holds, so distinct (kind, lead) pairs must never share a topic: anything
    not already valid is hashed rather than trimmed.
    """
    topic = "%s-%s" % (kind, lead_id)
    if TOPIC.fullmatch(topic):
        return topic
    return base64.urlsafe_b64encode(sha256(topic.encode()).digest()).decode()[:32]


def backoff(attempt, base=BACKOFF_BASE, cap=BACKOFF_CAP):
    """Seconds before retry `attempt` (1 is the first): full jitter, capped."""
    ceiling = min(cap, base * 2 ** min(max(attempt, 1) - 1, 32))
    return random.uniform(0, ceiling)


def parse_retry_after(value, now=None):
    """Seconds a `Retry-After` value (seconds or HTTP-date) asks for, clamped to [1 s, 1 h]."""
    value = (value or "").strip()
    if value.isascii() and value.isdigit():
        # Plain digits past an hour (however many) ask for the longest wait.
        seconds = whole_number(value, 0, int(RETRY_AFTER_MAX))
        seconds = RETRY_AFTER_MAX if seconds is None else float(seconds)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return RETRY_AFTER_DEFAULT
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = when.timestamp() - (time.time() if now is None else now)
    return min(max(seconds, RETRY_AFTER_MIN), RETRY_AFTER_MAX)


def should_drop(failure_count, first_failure_at, now):
    """Whether a subscription rejected again and again should be deleted.

    Only after three failures spanning more than a day, so that one bad hour
    (a key rotation, a push service incident) costs no one their alerts.
    """
    return (first_failure_at is not None and failure_count >= DROP_AFTER_FAILURES
            and now - first_failure_at > DROP_AFTER_SPAN)


@dataclass(frozen=True)
class Message:
    """One push for `send_all`: what `send` takes, and a key for the caller."""
    subscription: object
    payload: dict
    ttl: int
    urgency: str = "normal"
    topic: str | None = None
    fallback: dict | None = None
    key: object = None


def send(vapid, subscription, payload, *, ttl, urgency="normal", topic=None,
         timeout=(3.05, 10), verify=True, fallback=None):
    """Encrypt payload for subscription, post it, and return the Outcome.

    subscription needs `endpoint`, `p256dh` and `auth`. If the push service
    finds the payload too large (413), `fallback` (a smaller payload) is sent
    once instead. Nothing is posted to a push service we are holding off.
    Mistakes in the call (a bad ttl, urgency or topic, a payload over
    MAX_PAYLOAD bytes) raise ValueError; nothing the network or the push
    service does raises.
    """
    outcome = _send_once(vapid, subscription, payload, ttl, urgency, topic, timeout, verify)
    if outcome.status == 413 and fallback is not None:
        log.warning("Sending the smallest payload instead to %s.",
                    origin_of(subscription.endpoint))
        outcome = _send_once(vapid, subscription, fallback, ttl, urgency, topic, timeout, verify)
        return Outcome(outcome.action, outcome.status, outcome.retry_after, outcome.detail,
                       small=True)
    return outcome


def _send_once(vapid, subscription, payload, ttl, urgency, topic, timeout, verify):
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    if len(body) > MAX_PAYLOAD:
        raise PayloadTooLarge("The push payload is %d bytes; at most %d fit."
                              % (len(body), MAX_PAYLOAD))
    headers = _headers(ttl, urgency, topic)
    try:
        check_subscription(subscription.endpoint, subscription.p256dh, subscription.auth,
                           development=True)
    except InvalidSubscription as exc:
        return Outcome(GONE, detail=str(exc))
    origin = origin_of(subscription.endpoint)
    wait = held_for(origin)
    if wait:
        return Outcome(HELD, retry_after=wait, detail="%s asked us to wait" % origin)
    headers["Authorization"] = vapid.authorization(subscription.endpoint)
    encrypted = vapid.encrypt(body, subscription)
    try:
        with _session().post(subscription.endpoint, data=encrypted, headers=headers,
                             timeout=timeout, verify=verify, allow_redirects=False) as response:
            outcome = _outcome(response, origin)
    except requests.RequestException as exc:
        return Outcome(RETRY, detail="%s: %s" % (type(exc).__name__, exc))
    if outcome.retry_after is not None:
        hold(origin, time.time() + outcome.retry_after)
    return outcome


def send_all(vapid, messages, per_host=PER_HOST, stop=None, **options):
    """Send every Message concurrently, at most per_host at a time to each push
    service, and yield (message, Outcome) as the answers come, in any order.

    While no answer comes for a tenth of a second it yields (None, None), so
    that the caller can write down what it has. A request that hangs holds
    up only its own thread, for its own timeout. Once `stop()` is true, the
    messages not yet posted come back HELD.
    """
    by_origin = defaultdict(deque)
    for message in messages:
        by_origin[origin_of(message.subscription.endpoint)].append(message)
    answers, count = queue.Queue(), sum(len(m) for m in by_origin.values())
    for waiting in by_origin.values():
        for _ in range(min(per_host, len(waiting))):
            _pool().submit(_send_each, vapid, waiting, answers, stop, options)
    while count:
        try:
            answer = answers.get(timeout=0.1)
        except queue.Empty:
            yield None, None
            continue
        count -= 1
        yield answer


def _send_each(vapid, waiting, answers, stop, options):
    while True:
        try:
            message = waiting.popleft()
        except IndexError:
            return
        if stop is not None and stop():
            answers.put((message, Outcome(HELD, retry_after=0.0, detail="stopped")))
            continue
        try:
            outcome = send(vapid, message.subscription, message.payload, ttl=message.ttl,
                           urgency=message.urgency, topic=message.topic,
                           fallback=message.fallback, **options)
        except Exception as exc:  # a bad message must not leave the caller waiting
            log.exception("Push could not be built")
            outcome = Outcome(FAILED, detail="%s: %s" % (type(exc).__name__, exc))
        answers.put((message, outcome))


_holds, _holds_lock = {}, threading.Lock()


def hold(origin, until):
    """Send nothing to origin before `until` (a Unix time)."""
    with _holds_lock:
        _holds[origin] = max(until, _holds.get(origin, 0))


def held_for(origin, now=None):
    """Seconds we must still wait before sending to origin; 0 when we need not."""
    with _holds_lock:
        until = _holds.get(origin, 0)
    return max(0.0, until - (time.time() if now is None else now))


def forget_holds():
    """Drop every hold (for tests, whose push services may reuse a port)."""
    with _holds_lock:
        _holds.clear()


def _headers(ttl, urgency, topic):
    if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 0:
        raise ValueError("ttl must be a whole number of seconds, not %r." % (ttl,))
    if urgency not in URGENCIES:
        raise ValueError("urgency must be one of %s, not %r." % (", ".join(URGENCIES), urgency))
    headers = {"TTL": str(ttl), "Content-Encoding": "aes128gcm",
               "Content-Type": "application/octet-stream", "Urgency": urgency}
    if topic is not None:
        if not TOPIC.fullmatch(topic):
            raise ValueError("A topic is 1-32 characters of A-Z a-z 0-9 _ -, not %r." % topic)
        headers["Topic"] = topic
    return headers


def _outcome(response, origin):
    status, detail = response.status_code, response.text[:200]
    if 200 <= status < 300:
        return Outcome(DELIVERED, status)
    if status in (404, 410):
        return Outcome(GONE, status, detail=detail)
    if status == 413:
        log.error("Push service %s refused a payload as too large (413): %s", origin, detail)
        return Outcome(FAILED, status, detail=detail)
    if status == 429 or (status == 503 and response.headers.get("Retry-After")):
        seconds = parse_retry_after(response.headers.get("Retry-After"))
        log.warning("Push service %s asked us to wait %.0f s (%d).", origin, seconds, status)
        return Outcome(RETRY, status, retry_after=seconds, detail=detail)
    if status == 408 or status >= 500:
        return Outcome(RETRY, status, detail=detail)
    log.warning("Push service %s rejected a message (%d): %s", origin, status, detail)
    return Outcome(REJECTED, status, detail=detail)


_local = threading.local()
_executor, _executor_lock = None, threading.Lock()


def _pool():
    """The process's sending threads, made on first use (after any fork)."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(POOL_THREADS, thread_name_prefix="push")
        return _executor


def _session():
    """This thread's Session, which keeps connections to each push service open."""
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


def _is_local(host):
    host = host.lower().rstrip(".")
    if host in RESERVED_HOSTS or host.endswith(RESERVED_SUFFIXES):
        return True
    try:
        return not ipaddress.ip_address(host.strip("[]")).is_global
    except ValueError:
        return False


def _b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _bytes(pem):
    return pem.encode() if isinstance(pem, str) else pem
