"""The background worker: the huey instance and every task it runs.

The queue is a SQLite file of its own by default and Redis when QUEUE_URL is
redis://…; `init_app` binds it from the app's configuration, so the consumer
(`huey_consumer wsgi.huey`) and the web app always agree. Tasks take ids,
never model objects, and run inside an app context with a database connection.
Periodic tasks run once a period however many consumers share the queue
(`claim_period`). Every consumer process also runs a Sweeper thread: its heartbeat, and the
sweep that takes up dead workers' deliveries (app/delivery.py).
"""
import functools
import logging
import math
import threading
from datetime import datetime, timedelta, timezone

from huey import Huey, crontab
from huey.consumer import Consumer
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage

from . import delivery, notify
from .db import db

log = logging.getLogger(__name__)

# Bound to the configured queue by init_app; tasks can be declared before that.
huey = Huey("touchpoint", results=False, storage_class=MemoryStorage)
_app = None


class SqliteQueue(SqliteStorage):
    """huey's SQLite storage at synchronous=NORMAL (huey leaves FULL: an fsync per
    enqueue). WAL stays consistent; an enqueue lost to a power cut is announced
    by every_minute's sweep of unannounced events."""

    def _create_connection(self):
        conn = super()._create_connection()
        conn.execute("pragma synchronous=1")
        return conn


def queue_storage(url, name="touchpoint"):
    """The huey storage for a QUEUE_URL; name is the queue's within it."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisStorage(name, url=url)
    if url.startswith("sqlite:///"):
        return SqliteQueue(name, filename=url[len("sqlite:///"):], timeout=10)
    raise ValueError("QUEUE_URL must be sqlite:///path or redis://host…, not %r" % url)


def init_app(app):
    global _app
    _app = app
    huey.storage = queue_storage(app.config["QUEUE_URL"], app.config["QUEUE_NAME"])


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
    """Escalate overdue leads, and announce what a lost enqueue left behind:
    once a minute, however many consumers' schedulers queued it."""
    minute = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    if not claim_period("every_minute", minute):
        log.debug("every_minute %s: already run by another consumer.", period_key(minute))
        return
    log.info("every_minute %s: escalating and sweeping.", period_key(minute))
    with _app.app_context(), db.connection_context():
        for event_id in notify.escalate_overdue() + notify.unannounced_events():
            announce(event_id)


# Claims older than this are removed by the claim of a later period; it must
# exceed any clock difference between the machines running consumers.
CLAIMS_KEPT = timedelta(minutes=5)


def period_key(minute):
    return minute.strftime("%Y-%m-%dT%H:%MZ")


def claim_period(task_name, minute):
    """Whether this consumer is the first to run task_name for this minute.

    Every consumer's scheduler queues each periodic task, so with several
    consumers on one queue each period arrives several times; the first copy
    to write the period into the queue's storage runs it (one atomic
    put-if-empty on SQLite and on Redis), the others find it taken.
    """
    if not huey.put_if_empty("period:%s:%s" % (task_name, period_key(minute)), True):
        return False
    huey.delete("period:%s:%s" % (task_name, period_key(minute - CLAIMS_KEPT)))
    return True


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
