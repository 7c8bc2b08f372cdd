"""Fixtures for the browser tests (tests/test_browser_*.py import them): the real app on a loopback HTTP server with its worker and
a real push service, driven in Debian's chromium through Playwright.

Playwright never downloads a browser here: it launches /usr/bin/chromium (or
CHROMIUM_PATH), which .ci/run installs with apt-get. Where no chromium is
installed these tests are skipped with the reason; in CI that is a failure.
"""
import os
import shutil
import tempfile
import threading

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from app import create_app
from app.db import db, migrate
from app.models import PostcodePrefix, Route, Territory
from app.tasks import consumer
from conftest import FAST_HASH, PASSWORD, VAPID_KEYS, make_user

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# A loaded CI machine (2 cores) can take seconds to run a service worker.
expect.set_options(timeout=15000)
# A closed network: no calls home, no component downloads, no sandbox as root.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-quic",
                  "--no-first-run", "--disable-default-apps"]


@pytest.fixture(scope="session")
def chromium():
    if not os.path.exists(CHROMIUM):
        reason = "No chromium at %s (apt-get install chromium)" % CHROMIUM
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture
def server(tmp_path):
    """The app, its worker and a push service, all on loopback, on SQLite."""
    from pushservice import start_push_service
    service = start_push_service(VAPID_KEYS[2])
    app = create_app({
        "SECRET_KEY": "e2e", "DATABASE_URL": "sqlite:///%s" % (tmp_path / "touchpoint.db"),
        "QUEUE_URL": "sqlite:///%s" % (tmp_path / "queue.db"),
        "PHOTO_FOLDER": str(tmp_path / "photos"), "PASSWORD_HASH_METHOD": FAST_HASH,
        "RATELIMIT_ENABLED": False, "QUEUE_POLL_SECONDS": 0.02,
        "VAPID_PRIVATE_KEY": VAPID_KEYS[0].decode(),
        "VAPID_SUBJECT": "mailto:alerts@touchpoint-depot.example",
        "PUSH_SERVICE_HOSTS": "127.0.0.1", "PUSH_CA_BUNDLE": service.ca_bundle,
        "DEVELOPMENT": True,
    })
    migrate()
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    worker = consumer(app, workers=2, periodic=False)
    worker.start()
    app.base_url = "http://127.0.0.1:%d" % http.server_port
    app.push_service = service
    db.connect(reuse_if_open=True)
    # The test body makes its depot as the app would (money in the depot's
    # currency, its settings), so it runs inside the app's context.
    context = app.app_context()
    context.push()
    try:
        yield app
    finally:
        context.pop()
        worker.stop(graceful=True)
        http.shutdown()
        service.stop()
        db.close()


@pytest.fixture
def van_depot(server):
    """A territory with a rep, a courier on its route, and a manager."""
    north = Territory.create(name="North")
    PostcodePrefix.create(territory=north, prefix="AB")
    route = Route.create(code="R1", name="North loop", territory=north)
    from types import SimpleNamespace
    return SimpleNamespace(
        north=north, route=route,
        courier=make_user("courier", "ann@depot.test", "Ann", route=route),
        rep=make_user("rep", "dana@depot.test", "Dana", territory=north),
        manager=make_user("manager", "gus@depot.test", "Gus"))


@pytest.fixture
def browser(chromium, server):
    """A persistent Chromium profile (so the app is installable), phone-sized."""
    from playwright.sync_api import sync_playwright
    profile = tempfile.mkdtemp(prefix="touchpoint-chromium-")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=chromium, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 360, "height": 780}, base_url=server.base_url)
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


def log_in(page, user, password=PASSWORD):
    """Log in through the form and wait until the browser has left /login (so
    the session cookie is set before the next navigation)."""
    page.goto("/login")
    page.fill("#email", user.email)
    page.fill("#password", password)
    page.click("button.primary")
    page.wait_for_url(lambda url: "/login" not in url)


# Screenshots a reviewer can open: tests write them here (README, "Screenshots").
SCREENSHOTS = os.environ.get("SCREENSHOT_DIR", os.path.join(os.path.dirname(__file__), "screenshots"))


def screenshot(page, name, full_page=False):
    """Save what the page shows now as SCREENSHOTS/<name>.png; returns the path."""
    os.makedirs(SCREENSHOTS, exist_ok=True)
    path = os.path.join(SCREENSHOTS, name + ".png")
    page.screenshot(path=path, full_page=full_page)
    return path


def service_worker_ready(page):
    """Wait until the service worker controls the page."""
    page.evaluate("navigator.serviceWorker.ready")
    if not page.evaluate("!!navigator.serviceWorker.controller"):
        page.reload()
    page.wait_for_function("() => !!navigator.serviceWorker.controller")
