"""Test fixtures: an app per test on SQLite and on PostgreSQL, and a small depot.

Every test that uses `app` runs twice, once per database. PostgreSQL is a
database of the run's own, made on the server of TEST_POSTGRES_URL; where none is reachable its tests are
skipped with the reason, except in CI (CI=true), where that is a failure.
Every test that uses `worker` runs once more per queue: SQLite and Redis (at
TEST_REDIS_URL, each test under a name of its own in it, deleted after);
an unreachable Redis skips, and fails in CI, the same way.
"""
import os
import re
import uuid
from types import SimpleNamespace

import peewee
import pytest
from werkzeug.security import generate_password_hash

from app import create_app
from app.db import db, migrate, open_database
from app.push import generate_vapid_keys
from app.models import (MODELS, ApiToken, PostcodePrefix, Route, Territory,
                        TerritoryRep, User)

PASSWORD = "correct horse battery"
# A fast KDF setting keeps the suite quick; production uses scrypt.
FAST_HASH = "pbkdf2:sha256:1000"
# One VAPID key pair for the whole run; the push service checks against its public key.
VAPID_KEYS = generate_vapid_keys()
PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def unreachable(reason):
    """Skip a test for want of a server, except in CI (CI=true), where that fails."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres():
    """A database of this test run's own on the PostgreSQL server (dropped after)."""
    try:
        server = open_database(PG_URL)
        server.connect()
    except peewee.OperationalError as exc:
        unreachable("PostgreSQL not reachable at %s: %s" % (PG_URL, str(exc).strip()))
    name = "touchpoint_test_%d" % os.getpid()
    server.execute_sql("DROP DATABASE IF EXISTS %s" % name)
    server.execute_sql("CREATE DATABASE %s" % name)
    yield PG_URL.rsplit("/", 1)[0] + "/" + name
    db.close()
    server.execute_sql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)
    server.close()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return "sqlite:///%s" % (tmp_path / "touchpoint.db")
    return request.getfixturevalue("postgres")


@pytest.fixture
def make_app(database_url, tmp_path):
    """Make a migrated app on this test's database; overrides change its config."""
    def make(**overrides):
        app = create_app(dict({
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "DATABASE_URL": database_url,
            "PHOTO_FOLDER": str(tmp_path / "photos"),
            "PASSWORD_HASH_METHOD": FAST_HASH,
            "RATELIMIT_ENABLED": False,
            "QUEUE_URL": "sqlite:///%s" % (tmp_path / "queue.db"),
            "QUEUE_POLL_SECONDS": 0.01,
            "VAPID_PRIVATE_KEY": VAPID_KEYS[0].decode(),
            "VAPID_SUBJECT": "mailto:alerts@touchpoint-depot.example",
            "PUSH_SERVICE_HOSTS": "127.0.0.1,localhost",
            "PUSH_RETRY_BASE_SECONDS": 0.05,
            "PUSH_RETRY_CAP_SECONDS": 0.5,
            "PUSH_READ_TIMEOUT_SECONDS": 0.5,
        }, **overrides))
        migrate()
        return app
    return make


@pytest.fixture
def app(make_app, database_url):
    app = make_app()
    if database_url.startswith("postgres"):
        tables = ", ".join('"%s"' % m._meta.table_name for m in MODELS)
        with db.connection_context():
            db.execute_sql("TRUNCATE %s RESTART IDENTITY CASCADE" % tables)
    db.connect(reuse_if_open=True)
    yield app
    db.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def make_user(role, email=None, name=None, route=None, password=PASSWORD, territory=None,
              membership="primary"):
    """A user with a known password; a rep may be put straight into a territory."""
    user = User.create(email=email or "%s-%s@depot.test" % (role, uuid.uuid4().hex[:6]),
                       name=name or role.capitalize(), role=role, route=route,
                       password_hash=generate_password_hash(password, FAST_HASH))
    if territory is not None:
        TerritoryRep.create(territory=territory, rep=user, membership=membership)
    return user


@pytest.fixture
def depot(app):
    """Two territories, two routes, two couriers, a rep in each territory, a
    backup rep and a manager."""
    north = Territory.create(name="North")
    south = Territory.create(name="South")
    PostcodePrefix.create(territory=north, prefix="AB")
    PostcodePrefix.create(territory=south, prefix="AB9")
    PostcodePrefix.create(territory=south, prefix="CD")
    r1 = Route.create(code="R1", name="North loop", territory=north)
    r2 = Route.create(code="R2", name="South loop", territory=south)
    off_route = Route.create(code="R9", name="Unassigned route")
    return SimpleNamespace(
        north=north, south=south, r1=r1, r2=r2, off_route=off_route,
        courier=make_user("courier", "ann@depot.test", "Ann", route=r1),
        courier2=make_user("courier", "bob@depot.test", "Bob", route=r2),
        rover=make_user("courier", "cat@depot.test", "Cat", route=off_route),
        rep=make_user("rep", "dana@depot.test", "Dana", territory=north),
        rep_south=make_user("rep", "eve@depot.test", "Eve", territory=south),
        backup=make_user("rep", "finn@depot.test", "Finn", territory=north,
                         membership="backup"),
        manager=make_user("manager", "gus@depot.test", "Gus"),
    )


def csrf_token(client, path="/login"):
    """The CSRF token the site puts in every page's <meta name="csrf-token">."""
    html = client.get(path, follow_redirects=True).get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)


class Auth:
    """Log a test client in and out, as flaskr's tests do."""

    def __init__(self, client):
        self.client = client

    def login(self, user, password=PASSWORD):
        token = csrf_token(self.client)
        return self.client.post("/login", data={"email": user.email, "password": password,
                                                "csrf_token": token})

    def logout(self):
        return self.client.post("/logout", data={"csrf_token": csrf_token(self.client, "/")})


@pytest.fixture
def auth(client):
    return Auth(client)


def bearer(user, name="test"):
    """Headers with a fresh personal API token for user."""
    _, token = ApiToken.issue(user, name)
    return {"Authorization": "Bearer " + token}


def lead_form(**overrides):
    """A valid New lead form, as a browser posts it."""
    data = {"client_uuid": str(uuid.uuid4()), "business_name": "Joe's Bakery",
            "category": "new_business", "temperature": "hot", "contact_name": "Joe",
            "contact_phone": "+44 20 7946 0000", "contact_email": "joe@joesbakery.co.uk",
            "address": "1 High St", "postcode": "AB1 2CD", "note": "Opens Monday",
            "expects_call": "y"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture(scope="session")
def redis_server():
    """A connection to the Redis at TEST_REDIS_URL."""
    import redis
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except redis.RedisError as exc:
        unreachable("Redis not reachable at %s: %s" % (REDIS_URL, exc))
    yield connection
    connection.close()


@pytest.fixture
def redis_namespace(redis_server):
    """A name of this test's own for queue and rate-limit keys in Redis (so
    that parallel runs on one machine never meet); its keys are deleted after."""
    # Letters and digits only: huey drops anything else from a queue name.
    name = "touchpointtest%d%s" % (os.getpid(), uuid.uuid4().hex[:10])
    yield name
    for key in redis_server.scan_iter(match="*%s*" % name, count=1000):
        redis_server.delete(key)


@pytest.fixture(params=["sqlite-queue", "redis-queue"])
def queue(request, app):
    """The app's queue: its own SQLite file, or a queue of its own in Redis."""
    if request.param == "redis-queue":
        from app import tasks
        app.config.update(QUEUE_URL=REDIS_URL, QUEUE_NAME=request.getfixturevalue(
            "redis_namespace"))
        tasks.init_app(app)
    return app.config["QUEUE_URL"]


@pytest.fixture
def worker(app, queue):
    """The real huey consumer for this test's queue, running in threads."""
    from app.tasks import consumer
    running = consumer(app, workers=2, periodic=False)
    running.start()
    yield running
    running.stop(graceful=True)


@pytest.fixture
def push_service(app):
    """A real push service on loopback that trusts only the app's VAPID key;
    the app is set to trust its certificate."""
    from pushservice import start_push_service
    service = start_push_service(VAPID_KEYS[2])
    app.config["PUSH_CA_BUNDLE"] = service.ca_bundle
    yield service
    service.stop()


def enable_push(user, push_service):
    """Give user a device whose alerts land in push_service; return its subscription."""
    from app.models import PushSubscription
    device = push_service.subscribe()
    PushSubscription.create(user=user, endpoint=device.endpoint, p256dh=device.p256dh,
                            auth=device.auth, label="Test phone")
    return device


def wait_for(condition, timeout=5.0, interval=0.02):
    """Poll condition until it is truthy (what it returned) or fail after timeout."""
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, condition))
