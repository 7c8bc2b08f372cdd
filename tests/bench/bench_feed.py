"""Benchmark: the manager's feed and numbers pages at 10,000 and 1,000,000 leads.

    .venv/bin/python tests/bench/bench_feed.py [--sizes 10000,1000000] [--repeat 60]
        [--postgres postgresql://postgres@127.0.0.1:5432/postgres] [--no-cache]

For each size it fills a fresh database with the synthetic depot
(`flask --app wsgi synth`, app/synth.py), logs a manager in through the test
client, and times whole requests in-process (routing, login, queries,
templates): the feed's first page, three filtered pages (a common
combination, a sparse filter, both full pages at both sizes, and a sparser
combination whose page fills only at the larger: judged on time alone), a
deep page (reached by following the "Older" link DEEP_PAGES times: 5,000
leads in, the middle of the smaller depot), a search, and the numbers page
for its default period.
Each is requested WARMUP times, then REPEAT timed times; p50 and p95 are
printed with the ratio of the largest size to the smallest. Then the SQL each
page ran on leads (captured with a peewee query hook) is timed on its own and
explained: SQLite's EXPLAIN QUERY PLAN, PostgreSQL's EXPLAIN (ANALYZE,
BUFFERS). A URL that answers 404 (a page not built yet) is skipped with a
note. Other work on the machine shows up in the wall-clock p95s, so the
load average is printed, and the same table by the request thread's CPU
time, which on SQLite (in-process) includes the database's work.

Goal (issue 5): at 1,000,000 leads each feed query's p95 is at most 1.5× its
p95 at 10,000 and under 100 ms; the numbers page under 1 s.

Generated databases are cached, keyed by size, seed, the migrations and
app/synth.py: SQLite files under /tmp/touchpoint-bench-feed/ (each run works
on a copy), PostgreSQL databases named touchpoint_bench_cache_* that each run
clones into a scratch database and drops. --no-cache builds afresh and keeps
nothing; `DROP DATABASE` the touchpoint_bench_cache_* ones to reclaim space.
"""
import argparse
import glob
import hashlib
import html
import logging
import os
import re
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))  # tests/, for conftest

from app import create_app, synth  # noqa: E402
from app.db import db, is_sqlite, migrate, open_database  # noqa: E402
from app.models import Territory  # noqa: E402
from conftest import FAST_HASH, csrf_token  # noqa: E402

CACHE = os.path.join(tempfile.gettempdir(), "touchpoint-bench-feed")
DEEP_PAGES = 100
WARMUP = 5
QUERIES = [  # name, URL ({territory} and {deep} are filled in), kind of goal
    ("feed, first page", "/feed", "feed"),
    ("feed, filtered", "/feed?status=won&temperature=hot&territory={territory}", "feed"),
    # About 1 lead in 100 is still new: a sparse filter that fills a page at both sizes.
    ("feed, rare filter", "/feed?status=new", "feed"),
    # Sparser still: a full page at 1,000,000 leads but only a few rows at
    # 10,000, so its ratio compares a page of 50 leads with one of three (the
    # time to show 47 more leads, not to find them); judged on 100 ms alone.
    ("feed, sparse combo", "/feed?status=new&temperature=hot&territory={territory}",
     "feed, fewer rows"),
    ("feed, deep page", "{deep}", "feed"),
    ("feed, search", "/feed?q=bak", "feed"),
    ("numbers", "/numbers", "numbers"),
]
FEED_P95_MS, FEED_RATIO, NUMBERS_P95_MS = 100, 1.5, 1000
NEXT_LINK = re.compile(r'rel="next" href="([^"]+)"')
LEAD_TABLES = re.compile(r'"lead(_search|_event)?"')
FIRST_TABLE = re.compile(r'FROM "(\w+)"')
PLAIN_COLUMNS = re.compile(r'SELECT ((?:"\w+"\."\w+"(?:, )?)+) FROM ')


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def data_key(seed):
    """What the generated data depends on: the seed, the migrations and the generator."""
    digest = hashlib.sha256(str(seed).encode())
    for path in sorted(glob.glob(os.path.join(ROOT, "app", "migrations", "*.py"))
                       + [os.path.join(ROOT, "app", "synth.py")]):
        with open(path, "rb") as f:
            digest.update(os.path.basename(path).encode() + f.read())
    return digest.hexdigest()[:12]


def settings(url, workdir):
    return {"SECRET_KEY": "bench", "DATABASE_URL": url, "PASSWORD_HASH_METHOD": FAST_HASH,
            "QUEUE_URL": "sqlite:///%s/queue.db" % workdir, "PHOTO_FOLDER": workdir,
            "RATELIMIT_ENABLED": False}


def generate(url, leads, seed, workdir):
    """Migrate the database at url and fill it with the synthetic depot."""
    app = create_app(settings(url, workdir))
    with app.app_context():
        migrate()
        with db.connection_context():
            made = synth.fill(leads, seed, echo=lambda line: print("   " + line))
    print("    generated %s leads and %s events in %.0f s (%s leads/s)" % (
        f"{made.leads:,}", f"{made.events:,}", made.seconds,
        f"{made.leads / made.seconds:,.0f}"))
    db.close()


class SqliteDatabases:
    """Fresh SQLite files: copies of cached generated ones."""

    name = "SQLite"

    def __init__(self, args, workdir):
        self.args, self.workdir = args, workdir

    def prepare(self, leads):
        """The URL of a fresh database with `leads` synthetic leads."""
        target = os.path.join(self.workdir, "leads-%d.db" % leads)
        if self.args.no_cache:
            generate("sqlite:///" + target, leads, self.args.seed, self.workdir)
            return "sqlite:///" + target
        os.makedirs(CACHE, exist_ok=True)
        cached = os.path.join(CACHE, "leads-%d-seed-%d-%s.db" % (
            leads, self.args.seed, data_key(self.args.seed)))
        if not os.path.exists(cached):
            partial = cached + ".partial"
            # Older data of this size and seed (other migrations or generator) is stale.
            for stale in glob.glob(os.path.join(CACHE, "leads-%d-seed-%d-*" % (
                    leads, self.args.seed))):
                os.unlink(stale)
            print("  generating %s (cached for later runs)" % cached)
            generate("sqlite:///" + partial, leads, self.args.seed, self.workdir)
            os.replace(partial, cached)
        shutil.copyfile(cached, target)
        return "sqlite:///" + target

    def finish(self, leads):
        for path in glob.glob(os.path.join(self.workdir, "leads-%d.db*" % leads)):
            os.unlink(path)

    def close(self):
        pass


class PostgresDatabases:
    """Scratch PostgreSQL databases, cloned from cached generated ones."""

    name = "PostgreSQL"

    def __init__(self, args, workdir):
        self.args, self.workdir = args, workdir
        self.server = open_database(args.postgres)
        self.server.connect()
        self.scratch = "touchpoint_bench_%d" % os.getpid()

    def url(self, name):
        return self.args.postgres.rsplit("/", 1)[0] + "/" + name

    def exists(self, name):
        return self.server.execute_sql("SELECT 1 FROM pg_database WHERE datname = %s",
                                       (name,)).fetchone() is not None

    def prepare(self, leads):
        self.drop(self.scratch)
        if self.args.no_cache:
            self.server.execute_sql("CREATE DATABASE %s" % self.scratch)
            generate(self.url(self.scratch), leads, self.args.seed, self.workdir)
        else:
            cached = "touchpoint_bench_cache_%d_%d_%s" % (leads, self.args.seed,
                                                          data_key(self.args.seed))
            if not self.exists(cached):
                self.drop_stale(leads)
                self.server.execute_sql("CREATE DATABASE %s_partial" % cached)
                print("  generating database %s (cached for later runs)" % cached)
                generate(self.url(cached + "_partial"), leads, self.args.seed, self.workdir)
                self.server.execute_sql("ALTER DATABASE %s_partial RENAME TO %s"
                                        % (cached, cached))
            self.server.execute_sql("CREATE DATABASE %s TEMPLATE %s" % (self.scratch, cached))
        # Pooled, as the README advises for PostgreSQL in production.
        return self.url(self.scratch).replace("postgresql://", "postgresql+pool://", 1)

    def drop_stale(self, leads):
        """Drop cached databases of this size and seed made from other migrations or generator."""
        prefix = "touchpoint_bench_cache_%d_%d_" % (leads, self.args.seed)
        for name, in self.server.execute_sql(
                "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (prefix,)):
            self.drop(name)

    def drop(self, name):
        self.server.execute_sql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)

    def finish(self, leads):
        self.drop(self.scratch)

    def close(self):
        self.drop(self.scratch)
        self.server.close()


class Session:
    """A logged-in manager's test client on one database, with the SQL it ran."""

    def __init__(self, url, workdir):
        self.app = create_app(settings(url, workdir))
        self.client = self.app.test_client()
        self.statements = None
        db.obj.query_hooks.append(self._record)
        token = csrf_token(self.client)
        response = self.client.post("/login", data={
            "email": "manager1@" + synth.DOMAIN, "password": synth.PASSWORD, "csrf_token": token})
        assert response.status_code == 302, "the synthetic manager could not log in"

    def _record(self, event):
        if self.statements is not None:
            self.statements.append(event)

    def get(self, path):
        response = self.client.get(path)
        response.close()
        return response

    def capture(self, path):
        """One request, and the statements it ran: [(sql, params, seconds)]."""
        self.statements = []
        try:
            response = self.get(path)
        finally:
            events, self.statements = self.statements, None
        return response, [(e.sql, e.params, e.duration) for e in events]

    def timed(self, path, repeat):
        """{"wall": ms, "cpu": ms} per request, after WARMUP untimed ones. CPU
        is this thread's alone: all of SQLite's work (in-process), none of
        PostgreSQL's, and none of the waiting for a core on a busy machine."""
        for _ in range(WARMUP):
            self.get(path)
        times = {"wall": [], "cpu": []}
        for _ in range(repeat):
            started, cpu = time.perf_counter(), time.thread_time()
            self.get(path)
            times["cpu"].append((time.thread_time() - cpu) * 1000)
            times["wall"].append((time.perf_counter() - started) * 1000)
        return times

    def deep_page(self):
        """The URL DEEP_PAGES "Older" links from the first page (or the last page)."""
        path = "/feed"
        for _ in range(DEEP_PAGES):
            response = self.client.get(path)
            found = NEXT_LINK.search(response.get_data(as_text=True))
            if response.status_code != 200 or not found:
                break
            path = html.unescape(found.group(1))
        return path

    def run_time(self, sql, params):
        """(best milliseconds of three runs, rows): the statement run and fetched."""
        with self.app.app_context(), db.connection_context():
            best = None
            for _ in range(3):
                started = time.perf_counter()
                rows = len(db.execute_sql(sql, params).fetchall())
                elapsed = (time.perf_counter() - started) * 1000
                best = elapsed if best is None else min(best, elapsed)
        return best, rows

    def explain(self, sql, params):
        """The database's plan for one statement, as lines."""
        with self.app.app_context(), db.connection_context():
            if is_sqlite():
                rows = db.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()
                depth, lines = {0: -1}, []
                for node, parent, _, detail in rows:
                    depth[node] = depth.get(parent, -1) + 1
                    lines.append("  " * depth[node] + detail)
                return lines
            rows = db.execute_sql("EXPLAIN (ANALYZE, BUFFERS) " + sql, params).fetchall()
            return [row[0] for row in rows]


def machine():
    """The cores and load average: other work on the machine shows in the p95s."""
    return "%d cores, load average %.1f %.1f %.1f" % ((os.cpu_count(),) + os.getloadavg())


def measure(session, repeat):
    """{name: {"wall", "cpu", "statements", "path"}} for every query the app can answer."""
    print("  (%s)" % machine())
    with session.app.app_context(), db.connection_context():
        territory = Territory.get(Territory.name == synth.TERRITORIES[0][0]).id
    deep = session.deep_page()
    results = {}
    for name, template, _ in QUERIES:
        path = template.format(territory=territory, deep=deep)
        response, statements = session.capture(path)
        if response.status_code == 404:
            print("  %-18s skipped: %s answers 404 (not built yet?)" % (name, path))
            continue
        if response.status_code != 200:
            print("  %-18s skipped: %s answers %d" % (name, path, response.status_code))
            continue
        times = session.timed(path, repeat)
        results[name] = dict(times, statements=statements, path=path)
        print("  %-18s p50 %7.1f ms  p95 %7.1f ms  (CPU %5.1f / %5.1f)  %d statements  %s" % (
            name, percentile(times["wall"], 0.5), percentile(times["wall"], 0.95),
            percentile(times["cpu"], 0.5), percentile(times["cpu"], 0.95), len(statements),
            path))
    return results


def print_plans(session, results):
    """Each page's statements that read leads, with their time and plan; the
    others (user, settings, territories, …) in one line."""
    for name, result in results.items():
        statements = result["statements"]
        print("\n--- %s: %s" % (name, result["path"]))
        others = [sql for sql, _, _ in statements if not LEAD_TABLES.search(sql)]
        for sql, params, _ in statements:
            if LEAD_TABLES.search(sql):
                milliseconds, rows = session.run_time(sql, params)
                print("  [%.1f ms, %d rows] %s" % (milliseconds, rows, abbreviated(sql)))
                print("    params: %s" % shorten(repr(params), 160))
                for line in session.explain(sql, params):
                    print("      " + line)
        print("  + %d other statements (%s)" % (len(others), ", ".join(sorted(
            {m.group(1) for m in map(FIRST_TABLE.search, others) if m}))))


def abbreviated(sql):
    """The statement with a select list of plain columns shortened to their count."""
    found = PLAIN_COLUMNS.match(sql)
    if not found:
        return sql
    return "SELECT <%d columns> FROM %s" % (found.group(1).count(", ") + 1, sql[found.end():])


def shorten(text, width):
    return text if len(text) <= width else text[:width - 1] + "…"


def report(sizes, measured, clock):
    """The table of p50/p95 per size by one clock, the ratios, and the goals."""
    small, large = sizes[0], sizes[-1]
    print("  %-18s %s   ratio   goal" % ("query", "   ".join(
        "%10s p50 / p95" % f"{size:,}" for size in sizes)))
    for name, _, kind in QUERIES:
        if not all(name in measured[size] for size in sizes):
            print("  %-18s not measured at every size" % name)
            continue
        times = {size: measured[size][name][clock] for size in sizes}
        p95 = {size: percentile(times[size], 0.95) for size in sizes}
        cells = "   ".join("%8.1f / %7.1f" % (percentile(times[size], 0.5), p95[size])
                           for size in sizes)
        ratio = p95[large] / p95[small]
        if kind == "feed":
            met = ratio <= FEED_RATIO and p95[large] < FEED_P95_MS
            goal = "p95 <= %.1fx and < %d ms" % (FEED_RATIO, FEED_P95_MS)
        elif kind == "feed, fewer rows":
            met, goal = p95[large] < FEED_P95_MS, "p95 < %d ms (pages differ in rows)" % (
                FEED_P95_MS)
        else:
            met, goal = p95[large] < NUMBERS_P95_MS, "p95 < %d ms" % NUMBERS_P95_MS
        print("  %-18s %s   %5.2fx  %s: %s" % (name, cells, ratio, goal,
                                              "met" if met else "MISSED"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000",
                        help="lead counts, comma-separated, smallest first")
    parser.add_argument("--repeat", type=int, default=60, help="timed requests per query")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgres", metavar="URL",
                        help="a PostgreSQL server (any database on it) to run against")
    parser.add_argument("--no-cache", action="store_true",
                        help="generate every database afresh and keep none")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    workdir = tempfile.mkdtemp(prefix="touchpoint-bench-feed-")
    databases = (PostgresDatabases if args.postgres else SqliteDatabases)(args, workdir)
    print("Feed and numbers benchmark on %s, %d timed requests per query after %d warm-up"
          % (databases.name, args.repeat, WARMUP))
    measured = {}
    try:
        for size in sizes:
            print("\n=== %s leads" % f"{size:,}")
            session = Session(databases.prepare(size), workdir)
            measured[size] = measure(session, args.repeat)
            print("\n=== Statements and plans at %s leads" % f"{size:,}")
            print_plans(session, measured[size])
            databases.finish(size)
        ratio = "ratio = p95 at %s / p95 at %s" % (f"{sizes[-1]:,}", f"{sizes[0]:,}")
        print("\n=== Summary: whole requests, wall clock (ms; %s)" % ratio)
        report(sizes, measured, "wall")
        print("  (%s)" % machine())
        print("\n=== The same requests, this thread's CPU time (ms; %s)" % ratio)
        print("  (unaffected by other work on the machine; on PostgreSQL without the server's)")
        report(sizes, measured, "cpu")
    finally:
        databases.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
