"""gunicorn's settings for Touchpoint: `gunicorn -c python:app.serving wsgi:app`.

Login attempts are counted in RATELIMIT_STORAGE_URI. The default, memory://, is
each process's own: under `--workers 4` every process would allow its own 10 a
minute. So by default the app is served by one process with threads (which
share its counts), and gunicorn refuses to start with several worker
processes unless the counts are in a shared store (redis://…). Command-line
flags override these settings as usual (`--workers 4`, `--bind …`).
"""
from app import config as settings
from app.security import limits_are_per_process

workers = 1
threads = 8


def storage_uri():
    """The rate-limit storage the app will use (the environment's, else the default)."""
    return settings.from_environment().get("RATELIMIT_STORAGE_URI",
                                           settings.defaults("")["RATELIMIT_STORAGE_URI"])


def refusal(worker_processes, uri):
    """Why this server must not start, or None."""
    if worker_processes > 1 and limits_are_per_process(uri):
        return ("%d worker processes with RATELIMIT_STORAGE_URI=%s would each count login "
                "attempts on their own (%d times LOGIN_RATE_LIMIT): use --workers 1 --threads 8, "
                "or set RATELIMIT_STORAGE_URI=redis://…" % (worker_processes, uri, worker_processes))
    return None


def on_starting(server):
    reason = refusal(server.cfg.workers, storage_uri())
    if reason:
        raise RuntimeError(reason)  # gunicorn prints "Error: …" and exits 1
