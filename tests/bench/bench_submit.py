"""Benchmark: the cost of a lead. Touchpoint's `POST /api/v1/leads` against a
bare Flask endpoint that parses the JSON and inserts one row, side by side in
one run on the same machine, each served by real gunicorn (-w 2) on a free
loopback port and driven over HTTP by wrk with 8 connections.

    .venv/bin/python tests/bench/bench_submit.py [--database sqlite|postgres]
        [--seconds 10] [--rounds 3] [--warmup 3] [--connections 8]
        [--bare-connection kept|per-request]
        [--postgres-url postgresql://postgres@127.0.0.1:5432/postgres]

The bare app is the ceiling: Flask, the same database settings as the app
(app/db.py's open_database: WAL, IMMEDIATE transactions on SQLite), one
connection per worker kept open (the least a server needs: opening one per
request costs a PostgreSQL backend, or on SQLite the WAL checkpoint of the
last close), `request.get_json()` and one parameterised INSERT in a
transaction. `--bare-connection per-request` makes the bare app open and close
a connection per request instead (as Touchpoint did before it pooled them), a
lower ceiling, for comparison with figures taken that way. Touchpoint gets the whole submit: a
Bearer token per courier, every check, routing, the created event and the
enqueue on its configured queue (a SQLite file, as by default; no consumer
runs, so the queue only grows). Each lead has a new client_uuid, and the
couriers rotate, so routing varies: by route, by postcode prefix, unrouted.

Load: wrk (`apt-get install wrk`), which is C and event-driven, so on a
2-core machine it takes far less of the CPU the servers need than a Python
client would; a Lua script makes each request's body and picks its token.
After a warm-up, rounds alternate bare and Touchpoint, the same --seconds
each, so a change in the machine's load hits both; every round checks that
the database holds as many new rows as wrk had 2xx answers. Prints submits/s
for each round, the medians, and Touchpoint's share of the bare ceiling
(goal, issue 11: at least 50 %); also the servers' CPU time per answer (from
/proc), which a busy shared machine disturbs less than the rates.
"""
import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)

GUNICORN = os.path.join(os.path.dirname(sys.executable), "gunicorn")
PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
GOAL = 0.5

# Each request: a lead with a new client_uuid (thread, round and count in it),
# the next courier's token, a postcode from the list. Args: path, round, the
# tokens separated by commas, the postcodes separated by commas.
WRK_SCRIPT = textwrap.dedent("""
    thread_id = 0  -- a global: setup() sets it in each thread
    local counter = 0
    local tokens, postcodes, round, path = {}, {}, 0, "/"
    local threads = {}

    function setup(thread)
        thread:set("thread_id", #threads + 1)
        table.insert(threads, thread)
    end

    local function split(text)
        local parts = {}
        for part in string.gmatch(text, "[^,]+") do table.insert(parts, part) end
        return parts
    end

    function init(args)
        path, round = args[1], tonumber(args[2])
        tokens, postcodes = split(args[3]), split(args[4])
    end

    function request()
        counter = counter + 1
        local token = tokens[(counter + thread_id) % #tokens + 1]
        local postcode = postcodes[(counter * 7 + thread_id) % #postcodes + 1]
        local id = string.format("%08x-%04x-4%03x-8%03x-%012x",
                                 round, thread_id, counter % 4096, math.random(0, 4095), counter)
        local body = '{"client_uuid":"' .. id .. '","business_name":"Corner Bakery ' .. counter ..
            '","category":"new_business","temperature":"warm","contact_name":"Sam Baker",' ..
            '"contact_phone":"+44 20 7946 0000","postcode":"' .. postcode ..
            '","note":"Ships about 40 parcels a week with another carrier.","expects_call":true}'
        return wrk.format("POST", path, {["Content-Type"] = "application/json",
                                         ["Authorization"] = "Bearer " .. token}, body)
    end
""")

BARE_APP = textwrap.dedent('''
    """The bare ceiling: parse the JSON, insert one row."""
    import os
    from datetime import datetime, timezone

    from flask import Flask, jsonify, request

    from app.db import open_database

    app = Flask(__name__)
    db = open_database(os.environ["BARE_DATABASE_URL"])
    INSERT = ("INSERT INTO bare_lead (client_uuid, body, created_at) VALUES (%s, %s, %s)"
              % ((db.param,) * 3))


    @app.before_request
    def connect():
        db.connect(reuse_if_open=True)  # once per worker, then kept open...


    @app.teardown_appcontext
    def close(exc):
        if os.environ.get("BARE_CONNECTION") == "per-request" and not db.is_closed():
            db.close()  # ...unless told to open one per request


    @app.post("/submit")
    def submit():
        body = request.get_json()
        with db.atomic():
            db.execute_sql(INSERT, (body["client_uuid"], request.get_data(as_text=True),
                                    datetime.now(timezone.utc).replace(tzinfo=None)))
        return jsonify(client_uuid=body["client_uuid"]), 201
''')

BARE_TABLE = ("CREATE TABLE bare_lead (id {serial} PRIMARY KEY, client_uuid VARCHAR(36) "
              "NOT NULL UNIQUE, body TEXT NOT NULL, created_at TIMESTAMP NOT NULL)")

# Routing varies: R1 and R2 route by their territory, R9 has none (the
# postcode decides), and couriers without a route go by postcode alone.
POSTCODES = ("AB1 2CD", "AB9 4EF", "CD3 5GH", "ZZ1 1ZZ", "EF2 7JK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_database(kind, name, workdir, server_url):
    """A new empty database: a file in workdir, or a database on the server."""
    if kind == "sqlite":
        return "sqlite:///%s" % os.path.join(workdir, name + ".db")
    from app.db import open_database
    server = open_database(server_url)
    server.connect()
    server.execute_sql("DROP DATABASE IF EXISTS %s" % name)
    server.execute_sql("CREATE DATABASE %s" % name)
    server.close()
    return server_url.rsplit("/", 1)[0] + "/" + name


def drop_database(kind, url, server_url):
    if kind == "sqlite":
        return
    from app.db import open_database
    server = open_database(server_url)
    server.connect()
    server.execute_sql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % url.rsplit("/", 1)[1])
    server.close()


def prepare_touchpoint(url, workdir):
    """Migrate, make a depot with couriers on varied routes; return their tokens."""
    from app import create_app
    from app.db import db, migrate
    from app.models import ApiToken, PostcodePrefix, Route, Territory, User

    app = create_app(touchpoint_config(url, workdir))
    with app.app_context():
        migrate()
        with db.connection_context():
            north = Territory.create(name="North")
            south = Territory.create(name="South")
            for territory, prefix in ((north, "AB"), (south, "AB9"), (south, "CD")):
                PostcodePrefix.create(territory=territory, prefix=prefix)
            routes = [Route.create(code="R1", name="North loop", territory=north),
                      Route.create(code="R2", name="South loop", territory=south),
                      Route.create(code="R9", name="Unassigned route"), None]
            tokens = []
            for n in range(8):
                courier = User.create(email="courier%d@bench.test" % n, name="Courier %d" % n,
                                      role="courier", route=routes[n % len(routes)])
                tokens.append(ApiToken.issue(courier, "bench")[1])
    db.close()
    return tokens


def prepare_bare(url):
    from app.db import open_database
    database = open_database(url)
    with database.connection_context():
        serial = "INTEGER" if url.startswith("sqlite") else "BIGSERIAL"
        database.execute_sql(BARE_TABLE.format(serial=serial))


def touchpoint_config(url, workdir):
    return {"DATABASE_URL": url, "SECRET_KEY": "bench-secret",
            "QUEUE_URL": "sqlite:///%s" % os.path.join(workdir, "queue.db"),
            "PHOTO_FOLDER": os.path.join(workdir, "photos")}


def count_rows(url, table):
    from app.db import open_database
    database = open_database(url)
    with database.connection_context():
        return database.execute_sql("SELECT COUNT(*) FROM %s" % table).fetchone()[0]


class Server:
    """gunicorn -w 2 serving a WSGI app on a free loopback port."""

    def __init__(self, name, target, env, chdir):
        self.name, self.port = name, free_port()
        self.process = subprocess.Popen(
            [GUNICORN, "-w", "2", "-b", "127.0.0.1:%d" % self.port, "--chdir", chdir,
             "--log-level", "warning", target],
            env=dict(os.environ, PYTHONPATH=ROOT, **env))
        self.wait_until_up()

    def wait_until_up(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit("%s: gunicorn exited with %s" % (self.name, self.process.returncode))
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/" % self.port, timeout=1)
                return
            except urllib.error.HTTPError:
                return  # it answers (404 or 401 is an answer)
            except OSError:
                time.sleep(0.1)
        raise SystemExit("%s: gunicorn did not answer within %d s" % (self.name, timeout))

    def cpu_seconds(self):
        """CPU time used so far by gunicorn and its workers (Linux /proc), or None."""
        try:
            total = 0
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    with open("/proc/%s/stat" % entry) as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(entry) == self.process.pid or int(fields[1]) == self.process.pid:
                    total += int(fields[11]) + int(fields[12])  # utime + stime
            return total / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, AttributeError):
            return None

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def run_wrk(script, port, path, round_no, tokens, seconds, connections):
    """wrk for seconds; returns (requests per second, requests, non-2xx answers)."""
    command = ["wrk", "-t", "2", "-c", str(connections), "-d", "%ds" % seconds,
               "-s", script, "http://127.0.0.1:%d%s" % (port, path), "--",
               path, str(round_no), ",".join(tokens) or "none", ",".join(POSTCODES)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    if errors:
        print("    wrk socket errors: %s" % errors.group(1))
    return rate, total, int(bad.group(1)) if bad else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--seconds", type=int, default=10, help="per round and server")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=3, help="seconds, per server")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--bare-connection", choices=("kept", "per-request"), default="kept",
                        help="the bare app keeps one connection per worker, or opens one a request")
    parser.add_argument("--postgres-url", default=PG_URL,
                        help="a server database to create the bench databases from")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")

    workdir = tempfile.mkdtemp(prefix="bench_submit_")
    tag = "%d_%s" % (os.getpid(), uuid.uuid4().hex[:6])
    urls = {"bare": make_database(args.database, "bench_bare_" + tag, workdir, args.postgres_url),
            "touchpoint": make_database(args.database, "bench_touchpoint_" + tag, workdir,
                                        args.postgres_url)}
    servers = []
    try:
        prepare_bare(urls["bare"])
        tokens = prepare_touchpoint(urls["touchpoint"], workdir)
        with open(os.path.join(workdir, "bare.py"), "w") as f:
            f.write(BARE_APP)
        script = os.path.join(workdir, "submit.lua")
        with open(script, "w") as f:
            f.write(WRK_SCRIPT)
        config = touchpoint_config(urls["touchpoint"], workdir)
        servers = [
            (Server("bare", "bare:app", {"BARE_DATABASE_URL": urls["bare"],
                                         "BARE_CONNECTION": args.bare_connection}, workdir),
             "/submit", [], ("bare", "bare_lead")),
            (Server("touchpoint", "wsgi:app", dict(config, INSTANCE_PATH=workdir), ROOT),
             "/api/v1/leads", tokens, ("touchpoint", "lead")),
        ]
        print("bench_submit: %s, gunicorn -w 2, wrk -t 2 -c %d, %d round(s) of %d s, "
              "%d s warm-up, %d cores, bare connection %s"
              % (args.database, args.connections, args.rounds, args.seconds, args.warmup,
                 os.cpu_count(), args.bare_connection))
        for server, path, server_tokens, _ in servers:
            run_wrk(script, server.port, path, 0, server_tokens, args.warmup, args.connections)
        rates = {"bare": [], "touchpoint": []}
        cpu = {"bare": [], "touchpoint": []}  # server CPU ms per answer, per round
        for round_no in range(1, args.rounds + 1):
            for server, path, server_tokens, (db_name, table) in servers:
                before, cpu_before = count_rows(urls[db_name], table), server.cpu_seconds()
                rate, total, bad = run_wrk(script, server.port, path, round_no, server_tokens,
                                           args.seconds, args.connections)
                cpu_after = server.cpu_seconds()
                stored = count_rows(urls[db_name], table) - before
                rates[server.name].append(rate)
                if cpu_before is not None and cpu_after is not None and total:
                    cpu[server.name].append(1000 * (cpu_after - cpu_before) / total)
                print("  round %d  %-10s %7.1f submits/s  (%d answers, %d not 2xx, %d rows%s)"
                      % (round_no, server.name, rate, total, bad, stored,
                         ", %.2f ms CPU each" % cpu[server.name][-1] if cpu[server.name] else ""))
                if bad or stored < total - bad:
                    raise SystemExit("%s: %d answers were not 2xx, %d rows for %d answers"
                                     % (server.name, bad, stored, total))
        bare, touchpoint = (statistics.median(rates[n]) for n in ("bare", "touchpoint"))
        ratio = touchpoint / bare
        print("median     bare       %7.1f submits/s" % bare)
        print("median     touchpoint %7.1f submits/s" % touchpoint)
        if cpu["bare"] and cpu["touchpoint"]:
            print("CPU        bare %.2f ms, touchpoint %.2f ms a submit (bare/touchpoint %.0f %%)"
                  % (statistics.median(cpu["bare"]), statistics.median(cpu["touchpoint"]),
                     100 * statistics.median(cpu["bare"]) / statistics.median(cpu["touchpoint"])))
        print("ratio      %.0f %% of the bare ceiling (per round: %s; goal ≥ %.0f %%) %s"
              % (100 * ratio, ", ".join("%.0f %%" % (100 * t / b) for b, t in
                                        zip(rates["bare"], rates["touchpoint"])),
                 100 * GOAL, "ok" if ratio >= GOAL else "MISSED"))
    finally:
        for server, *_ in servers:
            server.stop()
        for url in urls.values():
            drop_database(args.database, url, args.postgres_url)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
