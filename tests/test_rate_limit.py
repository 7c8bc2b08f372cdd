"""The login limit (10 wrong passwords a minute per email) holds under the real
server as the README runs it: one gunicorn process with threads on the
default memory:// counts, or several processes sharing Redis; several
processes on per-process counts refuse to start."""
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import PASSWORD, REDIS_URL, csrf_token, make_user
from servers import Gunicorn

WRONG = "not the password"


@pytest.fixture
def database_url(tmp_path):
    """The limit is the server's, not the database's: SQLite is enough."""
    return "sqlite:///%s" % (tmp_path / "touchpoint.db")


@pytest.fixture
def server_env(app, tmp_path):
    """What every app instance of this test shares (the app fixture migrated the database)."""
    return {"DATABASE_URL": app.config["DATABASE_URL"], "SECRET_KEY": "test-secret",
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "PHOTO_FOLDER": app.config["PHOTO_FOLDER"], "QUEUE_URL": app.config["QUEUE_URL"],
            # One proxy in front: each attempt comes from an address of its own, as an
            # attacker's would, so only the per-email limit can stop them.
            "PROXY_FIX": "1"}


@pytest.fixture
def servers():
    started = []
    yield started
    for server in started:
        server.stop()


def login_page(url):
    """A session cookie and its CSRF token, as a browser gets them."""
    page = requests.get(url + "/login", timeout=30)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text).group(1)
    return page.cookies, token


def log_in(urls, email, password, attempts, first_address=1):
    """POST /login `attempts` times at once, spread over urls, each from another
    address; return the status codes in the order sent."""
    pages = {url: login_page(url) for url in urls}

    def attempt(n):
        url = urls[n % len(urls)]
        cookies, token = pages[url]
        return requests.post(url + "/login", cookies=cookies, timeout=30,
                             headers={"X-Forwarded-For": "198.51.100.%d" % (first_address + n)},
                             data={"email": email, "password": password,
                                   "csrf_token": token}).status_code

    with ThreadPoolExecutor(max_workers=attempts) as pool:
        return list(pool.map(attempt, range(attempts)))


def test_several_processes_on_per_process_counts_refuse_to_start(server_env, tmp_path):
    server = Gunicorn(dict(server_env, RATELIMIT_STORAGE_URI="memory://"),
                      tmp_path / "web.log", "--workers", "2")
    try:
        server.process.wait(timeout=60)
    finally:
        server.stop()
    assert server.process.returncode != 0
    log = server.log()
    assert ("Error: 2 worker processes with RATELIMIT_STORAGE_URI=memory:// would each count "
            "login attempts on their own") in log
    assert "use --workers 1 --threads 8, or set RATELIMIT_STORAGE_URI=redis://" in log
    assert "Listening at" not in log


def test_one_process_with_threads_holds_the_limit_on_memory_counts(depot, server_env,
                                                                    servers, tmp_path):
    """The README's single-machine command without Redis: one process, 8 threads."""
    env = dict(server_env, RATELIMIT_STORAGE_URI="memory://")
    servers.append(Gunicorn(env, tmp_path / "web.log").ready(workers=1))
    url = servers[0].url
    assert log_in([url], depot.rep.email, WRONG, 10) == [401] * 10
    assert log_in([url], depot.rep.email, WRONG, 1, first_address=11) == [429]


def test_worker_processes_sharing_redis_hold_the_limit(depot, server_env, servers, tmp_path,
                                                       redis_namespace, redis_server):
    env = dict(server_env, RATELIMIT_STORAGE_URI=REDIS_URL, RATELIMIT_KEY_PREFIX=redis_namespace)
    # One thread each: ten attempts at once keep both processes busy.
    servers.append(Gunicorn(env, tmp_path / "web.log", "--workers", "2", "--threads", "1")
                   .ready(workers=2))
    server = servers[0]
    # Should the kernel hand all ten to one process, try another email: the
    # point is ten attempts answered by both processes.
    for n in range(3):
        user = make_user("rep", email="target%d@depot.test" % n)
        since = len(server.log())
        assert log_in([server.url], user.email, WRONG, 10, first_address=20 * n) == [401] * 10
        if server.served_by("/login", 401, since) == server.worker_pids():
            break
    assert server.served_by("/login", 401, since) == server.worker_pids()  # both counted
    assert log_in([server.url], user.email, WRONG, 1, first_address=20 * n + 11) == [429]
    # The right password waits out the minute too; another email is not held.
    assert log_in([server.url], user.email, PASSWORD, 1, 20 * n + 12) == [429]
    assert log_in([server.url], depot.rep_south.email, WRONG, 1, first_address=99) == [401]
    # Counted under the depot's own prefix, so depots sharing one Redis stay apart.
    assert list(redis_server.scan_iter(match="*%s*" % redis_namespace))


def test_the_limit_stored_in_redis_is_the_configured_one(make_app, depot, redis_namespace,
                                                         redis_server):
    """In-process: the limiter on Redis storage counts to the configured limit.

    (The key prefix is checked with a server of its own above: flask-limiter
    keeps the first app's prefix for the life of a process, and this suite
    makes many apps; so the email here is this test's own.)"""
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=REDIS_URL,
                   RATELIMIT_KEY_PREFIX=redis_namespace, LOGIN_RATE_LIMIT="3 per minute")
    user = make_user("rep", email="%s@depot.test" % redis_namespace)
    client = app.test_client()
    token = csrf_token(client)
    codes = [client.post("/login", data={"email": user.email, "password": WRONG,
                                         "csrf_token": token}).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    assert list(redis_server.scan_iter(match="*%s*" % user.email))
