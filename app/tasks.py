"""The background worker: the huey instance and every task it runs.

The queue is a SQLite file of its own by default and Redis when QUEUE_URL is
redis://…; `init_app` binds it from the app's configuration, so the consumer
(`huey_consumer wsgi.huey`) and the web app always agree. Tasks take ids,
never model objects, and run inside an app context with a database connection.
"""
import functools
import logging

from huey import Huey, crontab
from huey.consumer import Consumer
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage

from . import notify
from .db import db

log = logging.getLogger(__name__)

# Bound to the configured queue by init_app; tasks can be declared before that.
huey = Huey("touchpoint", results=False, storage_class=MemoryStorage)
_app = None


def queue_storage(url):
    """The huey storage for a QUEUE_URL."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisStorage("touchpoint", url=url)
    if url.startswith("sqlite:///"):
        return SqliteStorage("touchpoint", filename=url[len("sqlite:///"):], timeout=10)
    raise ValueError("QUEUE_URL must be sqlite:///path or redis://host…, not %r" % url)


def init_app(app):
    global _app
    _app = app
    huey.storage = queue_storage(app.config["QUEUE_URL"])


def app_task(**options):
    """A huey task that runs in an app context with a database connection."""
    def decorate(fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            with _app.app_context(), db.connection_context():
                return fn(*args, **kwargs)
        return huey.task(name=fn.__name__, **options)(run)
    return decorate


@app_task()
def announce(event_id):
    """Tell everyone a lead event concerns, in the app and on their devices."""
    for delivery_id in notify.announce(event_id):
        _deliver_now(delivery_id)


@app_task()
def deliver(delivery_id):
    """Push one notification to one device (a retry, or a swept one)."""
    _deliver_now(delivery_id)


def _deliver_now(delivery_id):
    delay = notify.deliver(delivery_id)
    if delay is not None:
        deliver.schedule((delivery_id,), delay=delay)


@huey.periodic_task(crontab(minute="*"), name="every_minute")
def every_minute():
    """Escalate overdue leads, and pick up whatever a lost enqueue left behind."""
    with _app.app_context(), db.connection_context():
        for event_id in notify.escalate_overdue() + notify.unannounced_events():
            announce(event_id)
        for delivery_id in notify.stalled_deliveries():
            deliver(delivery_id)


def announce_later(event):
    """Queue an event's announcement; call after its transaction committed.

    If the queue cannot be reached, the event stays unannounced and the
    every-minute sweep announces it, so nothing is lost.
    """
    if event.announced_at is not None:
        return
    try:
        announce(event.id)
    except Exception:
        log.exception("Could not queue event %s; the sweep will announce it.", event.id)


class EmbeddedConsumer(Consumer):
    """A consumer running inside another program (the `serve` command, the
    tests), which keeps its own signal handling."""

    def _set_signal_handlers(self):
        pass


def consumer(app, **options):
    """A consumer for app's queue, polling as often as the app is configured to."""
    poll = app.config["QUEUE_POLL_SECONDS"]
    settings = dict(workers=app.config["QUEUE_WORKERS"], worker_type="thread",
                    initial_delay=poll, backoff=1.0, max_delay=poll)
    settings.update(options)
    return EmbeddedConsumer(huey, **settings)
