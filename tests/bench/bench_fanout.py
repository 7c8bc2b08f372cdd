"""Benchmark: one lead to 500 devices, against a bare `webpush` encrypt+POST
loop to the same push service in the same run; then submit → push latency at
idle and under a steady load of leads.

    .venv/bin/python tests/bench/bench_fanout.py [--devices 500] [--rounds 3]
        [--rate 20 --seconds 60] [--database-url postgresql://…]

Fan-out: the worker's whole task for a new lead (`notify.announce` writing the
notifications and deliveries, then `delivery.deliver` sending them and writing
down the answers), timed in this process, against the least a sender can do:
encrypt each message with the `webpush` library and POST it over one kept-alive
connection, in turn, with a token signed once. Both talk to the real HTTPS push
service of tests/pushservice.py, which decrypts every message, running in a
process of its own (--same-process: in this one's threads). Goal (issue 10):
≤ 1.2× the bare loop.

Latency: the app served on loopback, the real consumer running, leads posted
through POST /api/v1/leads, first one at a time with a pause (idle), then at
--rate leads a second for --seconds (open loop: a lead is posted on time
whether or not the last one's alert arrived); submit returned → push service
received, p50/p95/max. Goal: p95 ≤ 100 ms in both.
"""
import argparse
import logging
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid

import requests
from werkzeug.serving import make_server

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # tests/, for pushservice and conftest
sys.path.insert(0, HERE)

from app import create_app, delivery, notify  # noqa: E402
from app.db import db, migrate  # noqa: E402
from app.models import ApiToken, Lead, PushSubscription, Route, Territory  # noqa: E402
from app.push import Vapid, generate_vapid_keys  # noqa: E402
from app.tasks import consumer  # noqa: E402
from bench_push_latency import percentile  # noqa: E402
from conftest import make_user  # noqa: E402
from pushservice import start_push_service  # noqa: E402

PAYLOAD = b'{"id":1,"kind":"new_lead","lead_id":1,"title":"Hot lead: Shop","body":"x","path":"/"}'


class RemotePushService:
    """tests/pushservice.py in a process of its own, as a real push service is:
    sharing this process's GIL, its decrypting would slow whichever sender
    overlaps its requests with it."""

    def __init__(self, server_key):
        self.conn, child = multiprocessing.Pipe()
        self.process = multiprocessing.Process(target=_serve, args=(server_key, child),
                                               daemon=True)
        self.process.start()
        self.ca_bundle = self.conn.recv()

    def ask(self, *command):
        self.conn.send(command)
        return self.conn.recv()

    def subscribe(self):
        return self.ask("subscribe")

    def delivered(self):
        return [None] * self.ask("delivered")

    def stop(self):
        self.ask("stop")
        self.process.join(5)


def _serve(server_key, conn):
    service = start_push_service(server_key)
    conn.send(service.ca_bundle)
    while True:
        command = conn.recv()
        if command[0] == "subscribe":
            conn.send(service.subscribe())
        elif command[0] == "delivered":
            conn.send(len(service.delivered()))
        else:
            service.stop()
            conn.send(None)
            return


def bare_loop(vapid, devices, ca_bundle):
    """Encrypt with `webpush` and POST each message in turn: the floor."""
    session = requests.Session()
    authorization = vapid.authorization(devices[0].endpoint)
    started = time.perf_counter()
    for device in devices:
        body = vapid.encrypt(PAYLOAD, device)
        response = session.post(device.endpoint, data=body, verify=ca_bundle, headers={
            "TTL": "3600", "Content-Encoding": "aes128gcm", "Urgency": "high",
            "Content-Type": "application/octet-stream", "Authorization": authorization})
        assert response.status_code == 201, response.text
    return time.perf_counter() - started


def app_fan_out(app, courier, service, devices):
    """The worker's task for one new lead to every device: announce, then deliver."""
    with app.app_context(), db.connection_context():
        lead, _ = Lead.submit(courier, {"business_name": "Shop", "category": "other",
                                        "temperature": "hot"}, uuid.uuid4())
        before = len(service.delivered())
        started = time.perf_counter()
        retries = delivery.deliver(notify.announce(lead.created_event.id))
        elapsed = time.perf_counter() - started
    assert not retries and len(service.delivered()) - before == len(devices)
    return elapsed


def fan_out(args, workdir):
    private_pem, public_pem, server_key = generate_vapid_keys()
    service = (start_push_service(server_key) if args.same_process
               else RemotePushService(server_key))
    database = args.database_url or "sqlite:///%s/fanout.db" % workdir
    app = create_app({"SECRET_KEY": "bench", "DATABASE_URL": database, "TESTING": True,
                      "QUEUE_URL": "sqlite:///%s/fanout-queue.db" % workdir,
                      "PHOTO_FOLDER": workdir, "VAPID_PRIVATE_KEY": private_pem.decode(),
                      "VAPID_SUBJECT": "mailto:ops@depot.example",
                      "PUSH_SERVICE_HOSTS": "127.0.0.1", "PUSH_CA_BUNDLE": service.ca_bundle,
                      **({"PUSH_HOST_CONCURRENCY": args.per_host} if args.per_host else {})})
    migrate()
    with app.app_context(), db.connection_context():
        north = Territory.create(name="North %s" % uuid.uuid4().hex[:6])
        courier = make_user("courier", route=Route.create(code=uuid.uuid4().hex[:8],
                                                          territory=north))
        rep = make_user("rep", territory=north)
        devices = [service.subscribe() for _ in range(args.devices)]
        for device in devices:
            PushSubscription.create(user=rep, endpoint=device.endpoint, p256dh=device.p256dh,
                                    auth=device.auth)
    vapid = Vapid(private_pem, "mailto:ops@depot.example", public_pem)
    bare, ours = [], []
    try:
        bare_loop(vapid, devices[:20], service.ca_bundle)  # warm both up
        for _ in range(args.rounds):
            bare.append(bare_loop(vapid, devices, service.ca_bundle))
            ours.append(app_fan_out(app, courier, service, devices))
    finally:
        service.stop()
    b, o = statistics.median(bare), statistics.median(ours)
    print("one lead to %d devices, median of %d rounds (%s, push service in %s, %d at once):" % (
        args.devices, args.rounds, database.split(":")[0],
        "this process" if args.same_process else "its own process",
        app.config["PUSH_HOST_CONCURRENCY"]))
    print("  bare webpush loop %.2f s   Touchpoint's task %.2f s   ratio %.2fx   (goal <= 1.2x: %s)"
          % (b, o, o / b, "met" if o / b <= 1.2 else "MISSED"))
    print("  rounds: bare %s  ours %s" % (", ".join("%.2f" % x for x in bare),
                                          ", ".join("%.2f" % x for x in ours)))


def latency(args, workdir):
    private_pem, _, server_key = generate_vapid_keys()
    service = start_push_service(server_key)
    app = create_app({"SECRET_KEY": "bench", "DEVELOPMENT": True,
                      "DATABASE_URL": "sqlite:///%s/latency.db" % workdir,
                      "QUEUE_URL": "sqlite:///%s/latency-queue.db" % workdir,
                      "PHOTO_FOLDER": workdir, "VAPID_PRIVATE_KEY": private_pem.decode(),
                      "VAPID_SUBJECT": "mailto:ops@depot.example",
                      "PUSH_SERVICE_HOSTS": "127.0.0.1", "PUSH_CA_BUNDLE": service.ca_bundle})
    migrate()
    with db.connection_context():
        north = Territory.create(name="North")
        courier = make_user("courier", route=Route.create(code="R1", territory=north))
        rep = make_user("rep", territory=north)
        device = service.subscribe()
        PushSubscription.create(user=rep, endpoint=device.endpoint, p256dh=device.p256dh,
                                auth=device.auth)
        _, token = ApiToken.issue(courier, "bench")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    worker = consumer(app)  # as `serve` starts it
    worker.start()
    url = "http://127.0.0.1:%d/api/v1/leads" % server.server_port
    returned, lock = {}, threading.Lock()

    def submit(n):
        session = submit.sessions.setdefault(threading.get_ident(), requests.Session())
        response = session.post(url, headers={"Authorization": "Bearer " + token}, json={
            "client_uuid": str(uuid.uuid4()), "business_name": "Shop %d" % n,
            "category": "new_business", "temperature": "hot"})
        done = time.time()
        assert response.status_code == 201, response.text
        with lock:
            returned[response.json()["id"]] = done
    submit.sessions = {}
    try:
        time.sleep(1)
        for n in range(args.idle_leads):
            time.sleep(0.3)
            submit(n)
            wait_all(service, returned)
        report("idle queue, one lead at a time", service, returned)
        returned.clear()
        start, threads = time.monotonic(), []
        for n in range(int(args.rate * args.seconds)):
            time.sleep(max(0.0, start + n / args.rate - time.monotonic()))
            thread = threading.Thread(target=submit, args=(n,))
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
        wait_all(service, returned)
        report("%g leads/s for %g s" % (args.rate, args.seconds), service, returned)
    finally:
        worker.stop(graceful=True)
        server.shutdown()
        service.stop()


def wait_all(service, returned, timeout=30):
    deadline = time.monotonic() + timeout
    while not set(returned) <= {m.payload["lead_id"] for m in service.delivered()}:
        if time.monotonic() > deadline:
            raise SystemExit("alerts missing after %d s" % timeout)
        time.sleep(0.005)


def report(label, service, returned):
    first = {}
    for message in service.delivered():
        first.setdefault(message.payload["lead_id"], message.at)
    latencies = [max(0.0, first[lead] - at) * 1000 for lead, at in returned.items()]
    copies = len(service.delivered()) - len(first)
    print("submit returned -> push service received, %s, %d leads:" % (label, len(latencies)))
    print("  p50 %.1f ms   p95 %.1f ms   max %.1f ms   copies %d   (goal p95 <= 100 ms: %s)" % (
        percentile(latencies, 0.5), percentile(latencies, 0.95), max(latencies), copies,
        "met" if percentile(latencies, 0.95) <= 100 else "MISSED"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--idle-leads", type=int, default=100)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--per-host", type=int, default=0,
                        help="PUSH_HOST_CONCURRENCY for this run (default: the app's)")
    parser.add_argument("--same-process", action="store_true",
                        help="run the push service in this process's threads")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    workdir = tempfile.mkdtemp(prefix="touchpoint-fanout-")
    fan_out(args, workdir)
    if not args.skip_latency:
        latency(args, workdir)


if __name__ == "__main__":
    main()
