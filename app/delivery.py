"""Pushing Deliveries: claimed in batches, sent concurrently, written down in
batches, retried until their alert's TTL ends, and taken up again within
seconds when the worker process holding them dies.

Crash recovery. Every worker process has an id (host, pid, a random part)
and a Heartbeat row, which `beat` refreshes every PUSH_HEARTBEAT_SECONDS from
a thread of the process's own (app/tasks.py starts it from huey's start-up
hook: huey's periodic tasks run at most once a minute). A batch is claimed
with one conditional UPDATE (pending and due → sending, claimed_by = our id)
that returns the ids it took, so no two workers, and no two threads, ever hold
the same delivery. Each beat is also a sweep: a worker whose heartbeat is
older than PUSH_LEASE_SECONDS is dead, and so is one on this host whose
process is gone (a restarted consumer sees its predecessor dead at once);
their deliveries go back to pending, and pending deliveries overdue (a lost
enqueue, a retry whose task died with its worker) are queued again. A live
worker loses its claims only if it misses beats for a whole lease; it then
finds its heartbeat row gone, takes a new id and sends nothing more under the
old one, and every write about a claimed delivery checks it is still ours.

A push service that asks us to wait (429, 503 with Retry-After) is paused in
this process at once (app/push.py) and for every process in PushServicePause,
read at the start of every batch.
"""
import logging
import os
import socket
import threading
import time
import uuid
from datetime import timedelta, timezone

from flask import current_app
from peewee import JOIN

from . import notify, push
from .db import db
from .models import (Delivery, Heartbeat, Lead, Notification, PushServicePause,
                     PushSubscription, utcnow)

log = logging.getLogger(__name__)

BATCH = 500
# How long a due delivery may wait before the sweep queues it again; its own
# task normally takes it within a poll of the queue.
OVERDUE = timedelta(seconds=2)
# Sent deliveries are written down this many at a time, or this often: a
# worker killed in between makes copies of those (harmless, see sw.js).
FLUSH_EVERY, FLUSH_SECONDS = 100, 0.25
_identity = {"pid": None, "id": None}
_identity_lock = threading.Lock()


def worker_id():
    """This process's id as a claimer of deliveries (a new one after a fork)."""
    with _identity_lock:
        if _identity["pid"] != os.getpid():
            _identity.update(pid=os.getpid(), id=_new_id())
        return _identity["id"]


def _new_id():
    return "%s/%d/%s" % (socket.gethostname()[:40], os.getpid(), uuid.uuid4().hex[:8])


def this_host():
    """This machine, and its process namespace: two containers may share a
    host name and both run as pid 1, and must not take each other for dead."""
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        namespace = 0
    return "%s/%d" % (socket.gethostname()[:200], namespace)


def deliver(delivery_ids):
    """Push those of these deliveries still pending and due; return
    {delivery id: seconds until its retry} for the ones to try again."""
    me = worker_id()
    claimed = claim(Delivery.id.in_(list(delivery_ids)), me)
    return _send(claimed, me) if claimed else {}


def deliver_due(limit=BATCH):
    """Push the pending deliveries whose time has come (oldest first)."""
    me = worker_id()
    due = (Delivery.select(Delivery.id)
           .where((Delivery.status == "pending") & (Delivery.next_attempt_at <= utcnow()))
           .order_by(Delivery.next_attempt_at).limit(limit))
    claimed = claim(Delivery.id.in_(due), me)
    return _send(claimed, me) if claimed else {}


def claim(which, me):
    """Mark the pending, due deliveries matching `which` as ours; return their ids."""
    now = utcnow()
    query = (Delivery.update(status="sending", claimed_by=me, attempts=Delivery.attempts + 1,
                             updated_at=now)
             .where(which & (Delivery.status == "pending") & (Delivery.next_attempt_at <= now))
             .returning(Delivery.id))
    with db.atomic():
        return [row.id for row in query.execute()]


def _send(ids, me):
    rows = list(Delivery.select(Delivery, PushSubscription).join(PushSubscription)
                .where(Delivery.id.in_(ids)))
    # A fan-out is a few notifications to many devices: each is read and
    # turned into a message once.
    notes = {note.id: (note, _message_parts(note)) for note in
             Notification.select(Notification, Lead).join(Lead, JOIN.LEFT_OUTER)
             .where(Notification.id.in_({d.notification_id for d in rows}))}
    now, identity = utcnow(), notify.vapid()
    book = Book(me)
    messages = []
    for delivery in rows:
        note, parts = notes[delivery.notification_id]
        delivery.notification = note
        left = int(notify.seconds_left(note, now))
        if left <= 0:
            log.warning("Push %s given up: its TTL ended before it could be sent.", delivery.id)
            book.finish(delivery, "expired")
        elif note.kind == "new_lead" and note.lead and note.lead.status != "new":
            book.finish(delivery, "skipped")
        elif identity is None:
            book.finish(delivery, "failed", "Web push is not configured on the server.")
        else:
            messages.append(push.Message(delivery.subscription, ttl=left, key=delivery, **parts))
    if messages:
        load_pauses()
        config = current_app.config
        for message, outcome in push.send_all(
                identity, messages, per_host=config["PUSH_HOST_CONCURRENCY"],
                stop=lambda: worker_id() != me,
                timeout=(config["PUSH_CONNECT_TIMEOUT_SECONDS"],
                         config["PUSH_READ_TIMEOUT_SECONDS"]),
                verify=config["PUSH_CA_BUNDLE"] or True):
            if message is None:
                book.flush()
            else:
                book.apply(message.key, outcome)
    book.flush()
    return book.retries


def _message_parts(note):
    return dict(payload=notify.payload(note), urgency=urgency(note),
                topic=push.topic_for(note.kind, note.lead_id),
                fallback=notify.smallest_payload(note))


def urgency(note):
    """How soon the device must wake for this alert: hot leads and escalations now."""
    if note.kind == "new_lead":
        return {"hot": "high", "warm": "normal"}.get(note.lead.temperature, "low")
    return "high" if note.kind == "escalated" else "normal"


class Book:
    """What became of one batch, written down a few statements at a time."""

    def __init__(self, me):
        self.me, self.sent, self.retries, self.flushed = me, [], {}, time.monotonic()

    def mine(self, ids):
        return (Delivery.id.in_(ids) & (Delivery.status == "sending")
                & (Delivery.claimed_by == self.me))

    def apply(self, delivery, outcome):
        now = utcnow()
        if outcome.action == push.DELIVERED:
            self.sent.append(delivery)
            if len(self.sent) >= FLUSH_EVERY or time.monotonic() - self.flushed > FLUSH_SECONDS:
                self.flush()
        elif outcome.action == push.HELD:
            self.reschedule(delivery, outcome.retry_after, outcome.detail, count=False)
        elif outcome.action == push.GONE:
            self.finish(delivery, "gone", outcome.detail)
            delivery.subscription.delete_instance()
        elif outcome.action == push.REJECTED:
            notify.count_failure(delivery.subscription, now)
            self.finish(delivery, "failed", outcome.detail)
        elif outcome.action == push.RETRY:
            if outcome.retry_after is not None:
                pause(push.origin_of(delivery.subscription.endpoint), outcome.retry_after)
            self.retry(delivery, outcome)
        else:
            self.finish(delivery, "failed", outcome.detail)

    def retry(self, delivery, outcome):
        """Try again, however often, while the alert is worth delivering; the
        last try just before its TTL ends, then give up."""
        config = current_app.config
        left = notify.seconds_left(delivery.notification, utcnow())
        delay = outcome.retry_after or push.backoff(
            delivery.attempts, base=config["PUSH_RETRY_BASE_SECONDS"],
            cap=config["PUSH_RETRY_CAP_SECONDS"])
        delay = min(delay, left - 1)
        if delay < 0:
            log.warning("Push %s given up after %d attempts: its %ds TTL ended (%s).",
                        delivery.id, delivery.attempts, notify.ttl_of(delivery.notification),
                        outcome.detail[:100])
            return self.finish(delivery, "expired", outcome.detail)
        self.reschedule(delivery, delay, outcome.detail)

    def reschedule(self, delivery, delay, error, count=True):
        changes = dict(status="pending", claimed_by=None, last_error=(error or "")[:200],
                       next_attempt_at=utcnow() + timedelta(seconds=delay), updated_at=utcnow())
        if not count:  # it was never sent
            changes["attempts"] = Delivery.attempts - 1
        if Delivery.update(**changes).where(self.mine([delivery.id])).execute():
            self.retries[delivery.id] = delay

    def finish(self, delivery, status, error=""):
        (Delivery.update(status=status, claimed_by=None, last_error=(error or "")[:200],
                         updated_at=utcnow())
         .where(self.mine([delivery.id])).execute())

    def flush(self):
        """Mark everything delivered so far as sent, in two statements."""
        if not self.sent:
            return
        self.flushed = time.monotonic()
        sent, self.sent, now = self.sent, [], utcnow()
        with db.atomic():
            (Delivery.update(status="sent", claimed_by=None, last_error="", updated_at=now)
             .where(self.mine([d.id for d in sent])).execute())
            (PushSubscription.update(failure_count=0, first_failure_at=None, last_success_at=now)
             .where(PushSubscription.id.in_({d.subscription_id for d in sent})).execute())


def pause(origin, seconds):
    """Hold every worker process off origin for seconds from now."""
    until = utcnow() + timedelta(seconds=seconds)
    (PushServicePause.insert(origin=origin, until=until)
     .on_conflict(conflict_target=[PushServicePause.origin],
                  update={PushServicePause.until: until})
     .execute())


def load_pauses():
    """Learn the pauses other processes recorded (one small query a batch)."""
    for row in PushServicePause.select().where(PushServicePause.until > utcnow()):
        push.hold(row.origin, row.until.replace(tzinfo=timezone.utc).timestamp())


# Crash recovery: every worker process beats and sweeps from a thread of its own.

def beat():
    """Say this worker is alive; return its id (a new one if it was given up for dead)."""
    me, now = worker_id(), utcnow()
    if not Heartbeat.update(beat_at=now).where(Heartbeat.id == me).execute():
        if Heartbeat.get_or_none(Heartbeat.id == me) is None and _beaten.get(me):
            log.error("Worker %s missed its heartbeats and was given up for dead; "
                      "it carries on under a new id.", me)
            with _identity_lock:
                me = _identity["id"] = _new_id()
        Heartbeat.insert(id=me, host=this_host(), pid=os.getpid(),
                         beat_at=now).on_conflict_ignore().execute()
    _beaten[me] = True
    return me


_beaten = {}


def sweep():
    """Give the deliveries of dead workers back; return how many of them, and
    of the others overdue, are now waiting to be sent."""
    now, lease = utcnow(), timedelta(seconds=current_app.config["PUSH_LEASE_SECONDS"])
    dead = [h.id for h in Heartbeat.select() if _is_dead(h, now - lease)]
    with db.atomic():
        if dead:
            Heartbeat.delete().where(Heartbeat.id.in_(dead)).execute()
        live = Heartbeat.select(Heartbeat.id)
        taken = (Delivery.update(status="pending", claimed_by=None, updated_at=now)
                 .where((Delivery.status == "sending")
                        & (Delivery.claimed_by.in_(dead or [""])
                           | ((Delivery.claimed_by.is_null() | Delivery.claimed_by.not_in(live))
                              & (Delivery.updated_at < now - lease))))
                 .execute())
    if taken:
        log.warning("Took up %d deliveries of dead workers %s.", taken, ", ".join(dead) or "-")
    return taken + (Delivery.select()
                    .where((Delivery.status == "pending")
                           & (Delivery.next_attempt_at < now - OVERDUE))
                    .count())


def _is_dead(heartbeat, stale_before):
    if heartbeat.id == worker_id():
        return False
    if heartbeat.beat_at < stale_before:
        return True
    # A process of this host that is gone (or whose pid we now are) is dead now.
    return heartbeat.host == this_host() and (
        heartbeat.pid == os.getpid() or not _running(heartbeat.pid))


def _running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def forget_worker(me):
    """Remove this worker's heartbeat when it stops cleanly."""
    Heartbeat.delete().where(Heartbeat.id == me).execute()
    _beaten.pop(me, None)
