"""Benchmark: from a courier's submit returning to the push service receiving
the rep's alert, on the default set-up (SQLite data, SQLite queue, the worker
as `flask --app wsgi serve` runs it) with an idle queue.

    .venv/bin/python tests/bench/bench_push_latency.py [--leads 200]

It serves the app on a real loopback HTTP server, runs the real huey consumer
and a real HTTPS push service (tests/pushservice.py), submits leads one at a
time through POST /api/v1/leads with a pause between them (so the queue is
idle at every submit, the case the goal names), and prints p50/p95/max.
Goal (issue 3): p95 <= 300 ms.
"""
import argparse
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import requests
from werkzeug.serving import make_server

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
# The README's production worker command.
CONSUMER_COMMAND = [os.path.join(os.path.dirname(sys.executable), "huey_consumer"), "wsgi.huey",
                    "--workers", "4", "--worker-type", "thread",
                    "--delay", "0.05", "--max-delay", "0.05", "--backoff", "1"]
sys.path.insert(0, os.path.dirname(HERE))  # tests/, for pushservice and conftest

from app import create_app  # noqa: E402
from app.db import db, migrate  # noqa: E402
from app.models import ApiToken, PushSubscription  # noqa: E402
from app.push import generate_vapid_keys  # noqa: E402
from app.tasks import consumer  # noqa: E402
from conftest import make_user  # noqa: E402
from pushservice import start_push_service  # noqa: E402


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=200)
    parser.add_argument("--pause", type=float, default=0.3, help="seconds between submits")
    parser.add_argument("--consumer-process", action="store_true",
                        help="run the worker as production does: the README's huey_consumer command")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    workdir = tempfile.mkdtemp(prefix="touchpoint-bench-")
    private_pem, _, server_key = generate_vapid_keys()
    service = start_push_service(server_key)
    settings = {
        "SECRET_KEY": "bench", "DATABASE_URL": "sqlite:///%s/touchpoint.db" % workdir,
        "QUEUE_URL": "sqlite:///%s/queue.db" % workdir, "PHOTO_FOLDER": workdir,
        "VAPID_PRIVATE_KEY": private_pem.decode(), "VAPID_SUBJECT": "mailto:ops@depot.example",
        "PUSH_SERVICE_HOSTS": "127.0.0.1", "PUSH_CA_BUNDLE": service.ca_bundle,
        "DEVELOPMENT": "1",
    }
    app = create_app(dict(settings, DEVELOPMENT=True))
    migrate()
    with db.connection_context():
        from app.models import Route, Territory, TerritoryRep  # noqa: F401
        north = Territory.create(name="North")
        route = Route.create(code="R1", territory=north)
        courier = make_user("courier", route=route)
        rep = make_user("rep", territory=north)
        device = service.subscribe()
        PushSubscription.create(user=rep, endpoint=device.endpoint, p256dh=device.p256dh,
                                auth=device.auth)
        _, token = ApiToken.issue(courier, "bench")

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    if args.consumer_process:
        worker = subprocess.Popen(CONSUMER_COMMAND, cwd=ROOT, env=dict(os.environ, **settings))
    else:
        worker = consumer(app)  # exactly as `serve` starts it
        worker.start()
    url = "http://127.0.0.1:%d/api/v1/leads" % server.server_port
    session = requests.Session()
    session.headers["Authorization"] = "Bearer " + token
    latencies = []
    try:
        time.sleep(1)
        for n in range(args.leads):
            time.sleep(args.pause * random.uniform(0.5, 1.5))
            seen = len(service.delivered(device))
            response = session.post(url, json={
                "client_uuid": str(uuid.uuid4()), "business_name": "Shop %d" % n,
                "category": "new_business", "temperature": "hot"})
            returned = time.time()
            assert response.status_code == 201, response.text
            lead_id = response.json()["id"]
            deadline = time.monotonic() + 10
            while len(service.delivered(device)) <= seen:
                if time.monotonic() > deadline:
                    raise SystemExit("lead %d: no alert within 10 s" % lead_id)
                time.sleep(0.001)
            message = service.delivered(device)[seen]
            assert message.payload["lead_id"] == lead_id
            latencies.append(max(0.0, message.at - returned) * 1000)
    finally:
        if args.consumer_process:
            worker.terminate()
            worker.wait()
        else:
            worker.stop(graceful=True)
        server.shutdown()
        service.stop()
    print("submit returned -> push service received, %d leads, idle queue, worker %s:" % (
        len(latencies), "huey_consumer process" if args.consumer_process else "as `serve` runs it"))
    print("  p50 %.1f ms   p95 %.1f ms   max %.1f ms   mean %.1f ms" % (
        percentile(latencies, 0.5), percentile(latencies, 0.95), max(latencies),
        statistics.mean(latencies)))
    print("  goal: p95 <= 300 ms -> %s" % ("met" if percentile(latencies, 0.95) <= 300 else "MISSED"))


if __name__ == "__main__":
    main()
