"""The background worker: the huey instance and every task it runs.

The queue is a SQLite file of its own by default and Redis when QUEUE_URL is
redis://…; `init_app` binds it from the app's configuration, so the consumer
(`huey_consumer wsgi.huey`) and the web app always agree. Tasks take ids,
never model objects, and run inside an app context with a database connection.
Every consumer process also runs a Sweeper thread: its heartbeat, and the
sweep that takes up dead workers' deliveries (app/delivery.py).
"""
import functools
import logging
import math
import threading

from huey import Huey, crontab
from huey.consumer import Consumer
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage

from . import delivery, notify
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
    _retry_later(delivery.deliver(notify.announce(event_id)))


@app_task()
def deliver(delivery_ids):
    """Push deliveries (ids, or one id): a retry, a test alert."""
    ids = [delivery_ids] if isinstance(delivery_ids, int) else delivery_ids
    _retry_later(delivery.deliver(ids))


@app_task()
def deliver_due():
    """Push whatever is due and was not taken (the sweep found it overdue)."""
    _retry_later(delivery.deliver_due())


def _retry_later(retries):
    """One task per distinct delay (a paused push service's are all the same)."""
    by_delay = {}
    for delivery_id, delay in retries.items():
        # Rounded up: a task that ran before its delivery is due would find nothing.
        by_delay.setdefault(math.ceil(delay * 100) / 100, []).append(delivery_id)
    for delay, ids in by_delay.items():
        deliver.schedule((ids,), delay=delay)


@huey.periodic_task(crontab(minute="*"), name="every_minute")
def every_minute():
    """Escalate overdue leads, and announce what a lost enqueue left behind."""
    with _app.app_context(), db.connection_context():
        for event_id in notify.escalate_overdue() + notify.unannounced_events():
            announce(event_id)


class Sweeper:
    """The thread in every consumer process that beats its heartbeat and takes
    up dead workers' deliveries every PUSH_HEARTBEAT_SECONDS (see app/delivery.py).

    A thread, not a task: huey's periodic tasks run once a minute at best, and a
    beat stuck behind a long queue would make a busy worker look dead. Started
    by the first worker thread's start-up hook, stopped by the first to stop.
    """

    def __init__(self):
        self.lock, self.stopping, self.thread = threading.Lock(), None, None

    def start(self):
        with self.lock:
            if self.thread is not None and self.thread.is_alive():
                return
            self.stopping = threading.Event()
            self.tick()  # a start-up sweep, before this worker takes any task
            self.thread = threading.Thread(target=self.run, args=(self.stopping,),
                                           name="touchpoint-sweeper", daemon=True)
            self.thread.start()

    def stop(self):
        with self.lock:
            if self.thread is not None:
                self.stopping.set()
                self.thread = None
                try:
                    with _app.app_context(), db.connection_context():
                        delivery.forget_worker(delivery.worker_id())
                except Exception:  # it goes stale and is swept like a dead one
                    log.exception("Could not remove this worker's heartbeat.")

    def run(self, stopping):
        while not stopping.wait(_app.config["PUSH_HEARTBEAT_SECONDS"]):
            self.tick()

    def tick(self):
        try:
            with _app.app_context(), db.connection_context():
                delivery.beat()
                if delivery.sweep():
                    deliver_due()
        except Exception:
            log.exception("Heartbeat and sweep failed; trying again shortly.")


sweeper = Sweeper()


@huey.on_startup()
def start_sweeper():
    sweeper.start()


@huey.on_shutdown()
def stop_sweeper():
    sweeper.stop()


def announce_later(event):
    """Queue an event's announcement; call after its transaction committed.

    If the queue cannot be reached, the event stays unannounced and the
    every-minute task announces it, so nothing is lost.
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
