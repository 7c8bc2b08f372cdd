"""Measure what the capture page costs a courier's data plan: bytes transferred
(compressed, as on the wire) on the first load and on a repeat load, in
Debian's chromium. Goal (issue 4): first load <= 60 KB.

    .venv/bin/python tests/bench/bench_capture_bytes.py

It serves the app (with compression, as the app always serves) on loopback,
logs a courier in without loading a page, then opens the capture page in a
fresh browser profile (first load: the page, its stylesheet, scripts, icons
and manifest) and again (repeat load: what the service worker and the HTTP
cache leave to fetch).
"""
import os
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from playwright.sync_api import sync_playwright  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from app import create_app  # noqa: E402
from app.db import db, migrate  # noqa: E402
from app.models import Route, Territory  # noqa: E402
from browser import CHROMIUM, CHROMIUM_FLAGS  # noqa: E402
from conftest import PASSWORD, make_user  # noqa: E402


def transferred(page, cdp, url):
    """Bytes on the wire (headers and compressed bodies) for one page load."""
    sizes = {}
    cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
    cdp.send("Network.enable")
    page.goto(url)
    page.wait_for_load_state("networkidle")
    cdp.send("Network.disable")
    return sum(sizes.values()), len(sizes)


def main():
    workdir = tempfile.mkdtemp(prefix="touchpoint-bytes-")
    app = create_app({"SECRET_KEY": "bytes", "DATABASE_URL": "sqlite:///%s/t.db" % workdir,
                      "QUEUE_URL": "sqlite:///%s/q.db" % workdir, "RATELIMIT_ENABLED": False})
    migrate()
    with db.connection_context():
        route = Route.create(code="R1", territory=Territory.create(name="North"))
        courier = make_user("courier", route=route)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = "http://127.0.0.1:%d" % server.server_port
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tempfile.mkdtemp(), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 360, "height": 780})
        page = context.new_page()
        # Log in without loading any page, so the capture page is the very
        # first thing this browser loads (no service worker, empty cache).
        login = page.request.get(base + "/login").text()
        token = login.split('name="csrf-token" content="')[1].split('"')[0]
        page.request.post(base + "/login", form={"email": courier.email, "password": PASSWORD,
                                                 "csrf_token": token})
        cdp = context.new_cdp_session(page)
        first, first_count = transferred(page, cdp, base + "/leads/new")
        page.wait_for_timeout(1000)  # let the service worker finish installing
        repeat, repeat_count = transferred(page, cdp, base + "/leads/new")
        context.close()
    server.shutdown()
    print("capture page, transferred (compressed):")
    print("  first load:  %5.1f KB in %d requests" % (first / 1024, first_count))
    print("  repeat load: %5.1f KB in %d requests" % (repeat / 1024, repeat_count))
    print("  goal: first load <= 60 KB -> %s" % ("met" if first <= 60 * 1024 else "MISSED"))


if __name__ == "__main__":
    main()
