"""A real Web Push service on 127.0.0.1 for tests, so push is proved on the wire.

It speaks HTTPS with a self-signed certificate (trust it with `verify=ca_bundle`),
hands out subscriptions whose keys it keeps, and checks each message as a strict
push service would: the VAPID JWT (ES256 signature, our public key, `aud` with
the port, `exp` within 24 h, a mailto:/https: `sub`), the headers, and the
aes128gcm body, which it decrypts with `http_ece` — an implementation
independent of the one that encrypted it. It can be told to answer 404, 410,
413, 429 or 503 (with Retry-After in seconds or as a date), 500, for a number of
messages or for good; to refuse bodies over a size with 413; to hang; to
accept a message and drop the answer; or to go down and come back on the same port.
"""
import base64
import ipaddress
import json
import os
import re
import shutil
import socket
import ssl
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

MAX_BODY = 4096
URGENCIES = ("very-low", "low", "normal", "high")
TOPIC = re.compile(r"[A-Za-z0-9_-]{1,32}")


@dataclass(frozen=True)
class Subscription:
    """What a browser's PushSubscription gives the app: endpoint and keys (base64url)."""
    id: str
    endpoint: str
    p256dh: str
    auth: str


@dataclass(frozen=True)
class Received:
    """One request the service answered, and how."""
    subscription_id: str
    status: int
    headers: dict
    payload: object = None
    plaintext: bytes = None
    token: str = None
    claims: dict = None
    error: str = None
    at: float = 0.0


class Refused(Exception):
    """A request the service turns away with status and a reason."""

    def __init__(self, status, reason):
        super().__init__(reason)
        self.status, self.reason = status, reason


class PushService:
    """A push service for one application server key; see `start_push_service`."""

    def __init__(self, expected_public_key, host="127.0.0.1"):
        self.expected_public_key = expected_public_key
        self.host, self.port = host, 0
        self._dir = tempfile.mkdtemp(prefix="pushservice-")
        self.ca_bundle = _self_signed_certificate(self._dir)
        self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._tls.load_cert_chain(self.ca_bundle, os.path.join(self._dir, "key.pem"))
        self._lock = threading.Lock()
        self._keys = {}
        self._behaviour = {}
        self._received = []
        self._connections = set()
        self.connections_accepted = 0
        self._release = threading.Event()
        self._server = None
        self.max_body = MAX_BODY

    @property
    def origin(self):
        return "https://%s:%d" % (self.host, self.port)

    def up(self):
        """Listen (again, on the same port once it has one) and serve in a thread."""
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def down(self):
        """Stop listening and drop open connections: clients get connection refused."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        """Go down for good, releasing hanging requests and the certificate files."""
        self._release.set()
        self.down()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def subscribe(self):
        """A new subscription, as a browser would get from this service."""
        private_key = ec.generate_private_key(ec.SECP256R1())
        auth = os.urandom(16)
        sub_id = uuid.uuid4().hex
        with self._lock:
            self._keys[sub_id] = (private_key, auth)
        point = private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        return Subscription(sub_id, "%s/push/%s" % (self.origin, sub_id), _b64(point), _b64(auth))

    def respond_with(self, status, retry_after=None, subscription=None, times=None):
        """Answer every valid message (for one subscription, or all) with status;
        only the next `times` of them when given, then deliver normally."""
        self._set(subscription, ("status", status, retry_after, times))

    def refuse_over(self, size):
        """Answer 413 to every message whose encrypted body is over size bytes."""
        with self._lock:
            self.max_body = size

    def accept_then_drop(self, subscription=None):
        """Accept every valid message (it counts as delivered) but close the
        connection instead of answering."""
        self._set(subscription, ("drop", None, None))

    def slow(self, seconds, subscription=None):
        """Take this long over every valid message, then accept it."""
        self._set(subscription, ("slow", seconds, None))

    def hang(self, seconds=10.0, subscription=None):
        """Hold every valid message this long before answering."""
        self._set(subscription, ("hang", seconds, None))

    def behave(self, subscription=None):
        """Deliver normally again (for one subscription, or forget every instruction)."""
        with self._lock:
            if subscription is None:
                self._behaviour.clear()
            else:
                self._behaviour.pop(_sub_id(subscription), None)

    def received(self, subscription=None):
        """Every request answered so far, oldest first."""
        with self._lock:
            found = list(self._received)
        if subscription is not None:
            found = [r for r in found if r.subscription_id == _sub_id(subscription)]
        return found

    def delivered(self, subscription=None):
        """The messages accepted with 201."""
        return [r for r in self.received(subscription) if r.status == 201]

    def rejections(self, subscription=None):
        """The requests refused because they were not a valid push message."""
        return [r for r in self.received(subscription) if r.error]

    def _use(self, sub_id, behaviour):
        """Whether a counted behaviour still applies (and count this use)."""
        times = behaviour[3] if len(behaviour) > 3 else None
        if times is None:
            return True
        with self._lock:
            key = sub_id if sub_id in self._behaviour else None
            current = self._behaviour.get(key)
            if current is None or current[3] <= 0:
                return False
            self._behaviour[key] = current[:3] + (current[3] - 1,)
            if current[3] == 1:
                del self._behaviour[key]
            return True

    def _set(self, subscription, behaviour):
        with self._lock:
            self._behaviour[None if subscription is None else _sub_id(subscription)] = behaviour

    def _handle(self, path, headers, body):
        """Check one POST and return (status, extra headers, Received)."""
        sub_id = path.rpartition("/")[2] if path.startswith("/push/") else ""
        record = dict(subscription_id=sub_id, headers=headers, at=time.time())
        with self._lock:
            keys = self._keys.get(sub_id)
            behaviour = self._behaviour.get(sub_id) or self._behaviour.get(None)
        if keys is None:
            return 404, {}, Received(status=404, **record)
        try:
            record["token"], record["claims"] = self._check_vapid(headers.get("authorization", ""))
            _check_headers(headers, body, self.max_body)
            record["plaintext"] = _decrypt(body, *keys)
        except Refused as exc:
            return exc.status, {}, Received(status=exc.status, error=exc.reason, **record)
        record["payload"] = _json_or_none(record["plaintext"])
        if behaviour and behaviour[0] == "hang":
            self._release.wait(behaviour[1])
            return 504, {}, Received(status=504, **record)
        if behaviour and behaviour[0] == "slow":
            time.sleep(behaviour[1])
            behaviour = None
        if behaviour and behaviour[0] == "drop":
            return None, {}, Received(status=201, **record)
        if behaviour and self._use(sub_id, behaviour):
            extra = {"Retry-After": behaviour[2]} if behaviour[2] is not None else {}
            return behaviour[1], extra, Received(status=behaviour[1], **record)
        return 201, {"Location": "/message/%s" % uuid.uuid4().hex}, Received(status=201, **record)

    def _check_vapid(self, header):
        scheme, _, rest = header.partition(" ")
        if scheme.lower() != "vapid":
            raise Refused(401, "Authorization is not a vapid token")
        params = dict(p.strip().split("=", 1) for p in rest.split(",") if "=" in p)
        if "t" not in params or "k" not in params:
            raise Refused(401, "Authorization lacks t= or k=")
        if params["k"] != self.expected_public_key:
            raise Refused(403, "k= is not the application server key")
        try:
            key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(),
                                                               _unb64(params["k"]))
            claims = jwt.decode(params["t"], key, algorithms=["ES256"], audience=self.origin,
                                options={"require": ["aud", "exp", "sub"]})
        except (ValueError, jwt.InvalidTokenError) as exc:
            raise Refused(401, "bad JWT: %s" % exc)
        if claims["exp"] > time.time() + 24 * 3600:
            raise Refused(401, "exp is more than 24 h ahead")
        if not str(claims["sub"]).startswith(("mailto:", "https:")):
            raise Refused(401, "sub is not mailto: or https:")
        return params["t"], claims


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, service):
        self.service = service
        super().__init__(address, _Handler)

    def finish_request(self, request, client_address):
        """Do the TLS handshake in this connection's own thread, then serve it."""
        service = self.service
        request.settimeout(10)
        # The answer goes out in two writes (head, body): without this, Nagle
        # and the client's delayed ACK add 40 ms to every serial request.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            conn = service._tls.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        with service._lock:
            service._connections.add(conn)
            service.connections_accepted += 1
        try:
            _Handler(conn, client_address, self)
        except OSError:
            pass
        finally:
            with service._lock:
                service._connections.discard(conn)
            conn.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        status, extra, record = self.server.service._handle(self.path, headers, body)
        with self.server.service._lock:
            self.server.service._received.append(record)
        if status is None:  # accepted, but the answer is lost
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        reply = json.dumps({"reason": record.error} if record.error else {}).encode()
        try:
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
        except OSError:
            self.close_connection = True

    def log_message(self, format, *args):
        pass


def start_push_service(expected_public_key, host="127.0.0.1"):
    """Start a push service that accepts only messages signed for expected_public_key."""
    return PushService(expected_public_key, host).up()


@contextmanager
def running_push_service(expected_public_key):
    """A push service for the length of a with block."""
    service = start_push_service(expected_public_key)
    try:
        yield service
    finally:
        service.stop()


def _check_headers(headers, body, max_body=MAX_BODY):
    if headers.get("content-encoding") != "aes128gcm":
        raise Refused(400, "Content-Encoding is not aes128gcm")
    if not (headers.get("ttl") or "").isdigit():
        raise Refused(400, "TTL is missing or not a number")
    if headers.get("urgency", "normal") not in URGENCIES:
        raise Refused(400, "Urgency is not one of %s" % ", ".join(URGENCIES))
    if "topic" in headers and not TOPIC.fullmatch(headers["topic"]):
        raise Refused(400, "Topic is not 1-32 base64url characters")
    if len(body) > max_body:
        raise Refused(413, "body is over %d bytes" % max_body)


def _decrypt(body, private_key, auth):
    try:
        return http_ece.decrypt(body, private_key=private_key, dh=None, auth_secret=auth,
                                version="aes128gcm")
    except Exception as exc:  # http_ece raises a mix of its own and cryptography's errors
        raise Refused(400, "cannot decrypt: %s" % (exc or type(exc).__name__))


def _json_or_none(plaintext):
    try:
        return json.loads(plaintext)
    except ValueError:
        return None


def _self_signed_certificate(directory):
    """Write a key and a certificate for 127.0.0.1 and localhost; return the cert's path."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Touchpoint test push service")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    with open(os.path.join(directory, "key.pem"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    path = os.path.join(directory, "cert.pem")
    with open(path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _sub_id(subscription):
    return subscription if isinstance(subscription, str) else subscription.id


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
