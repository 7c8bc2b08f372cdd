"""Who hears about what: the in-app inbox and web push, for every lead event.

`announce(event_id)` turns a lead event into notifications for the people it
concerns, plus a Delivery for each device they enabled (pushed by
app/delivery.py); it runs in the worker and claims its event with one
conditional update first, so a retry or a sweep never tells anyone twice.
"""
import logging
import os
from datetime import timedelta
from zoneinfo import ZoneInfo

from flask import current_app

from . import push
from .db import db
from .models import (Delivery, Lead, LeadEvent, Notification, PushSubscription, Setting,
                     User, utcnow)

log = logging.getLogger(__name__)

# How long each kind of alert is worth delivering: a new lead must survive a
# phone being off for a while, news for the courier can wait for days.
TTL_SECONDS = {"new_lead": 4 * 3600, "escalated": 2 * 3600, "assigned": 24 * 3600,
               "acknowledged": 24 * 3600, "progress": 3 * 86400, "kudos": 3 * 86400,
               "test": 300}
DECLINE_WORDS = {
    "duplicate": "Someone had already passed this one on",
    "existing_customer": "They're already one of our customers",
    "not_a_fit": "It isn't a fit for us this time",
}
SWEEP_AFTER = timedelta(seconds=30)
_vapid = {}


def vapid():
    """This process's VAPID identity, or None when push is off or misconfigured
    (logged once: a wrong subject must not crash every request or task)."""
    config = current_app.config
    private_pem = config["VAPID_PRIVATE_KEY"] or _read_instance_file("vapid_private.pem")
    subject = config["VAPID_SUBJECT"] or ("mailto:touchpoint@localhost"
                                          if development() else "")
    if not private_pem or not subject:
        return None
    key = (private_pem, subject)
    if key not in _vapid:
        _vapid.clear()
        try:
            push.check_subject(subject, development=development())
            _vapid[key] = push.Vapid(private_pem.replace("\\n", "\n"), subject)
        except ValueError as exc:
            log.error("Web push is off: %s (See \"Web push\" in the README.)", exc)
            _vapid[key] = None
    return _vapid[key]


def development():
    """Development or tests: loopback push services and localhost subjects are fine."""
    return bool(current_app.config["DEVELOPMENT"] or current_app.testing)


def _read_instance_file(name):
    path = os.path.join(current_app.instance_path, name)
    if os.path.exists(path):
        with open(path) as f:
            return f.read()
    return ""


def _messages(event, lead):
    """[(alert kind, recipients, title, body)] for an event; [] for a quiet one."""
    name, actor = lead.business_name, event.actor.name if event.actor else "A rep"
    kind = event.kind
    if kind == "created":
        reps = list(lead.territory.reps("primary")) if lead.territory_id else []
        if reps:
            return [("new_lead", reps, "%s lead: %s" % (_temperature(lead), name),
                     "%s · from %s" % (lead.category_label, lead.courier.name))]
        return [("new_lead", list(User.managers()), "Unrouted lead: %s" % name,
                 "No territory matched it; please pass it on.")]
    if kind == "acknowledged":
        return [_picked_up(lead, actor)]
    if kind == "won":
        business = " — %s" % event.detail if event.detail else ""
        return [("progress", [lead.courier], "Won! %s" % name,
                 "%s won the customer thanks to your lead%s. Great spot!" % (actor, business))]
    if kind == "lost":
        return [("progress", [lead.courier], "%s: not this time" % name,
                 "%s worked it, but the customer chose otherwise. Thanks — keep them coming!"
                 % actor)]
    if kind == "declined":
        words = DECLINE_WORDS.get(lead.decline_reason, "It was closed")
        return [("progress", [lead.courier], "%s was closed" % name,
                 "%s. Thanks all the same — keep them coming!" % words)]
    if kind == "kudos":
        return [("kudos", [lead.courier], "%s says thanks!" % actor, event.detail or name)]
    if kind == "assigned" and lead.assigned_rep_id:
        messages = [("assigned", [lead.assigned_rep], "Assigned to you: %s" % name,
                     "%s gave you this lead." % actor)]
        if event.detail.startswith("Nobody"):
            # Nobody had picked it up, so for the courier this is the pick-up.
            messages.append(_picked_up(lead, lead.assigned_rep.name))
        return messages
    if kind == "returned":
        return [("new_lead", list(User.managers()), "Back to the managers: %s" % name,
                 "%s says it is not their territory." % actor)]
    if kind == "escalated":
        backups = list(lead.territory.reps("backup")) if lead.territory_id else []
        return [("escalated", backups + list(User.managers()), "Nobody has picked up %s" % name,
                 "%s lead, still new after its deadline." % _temperature(lead))]
    return []


def _picked_up(lead, rep_name):
    return ("acknowledged", [lead.courier],
            "%s picked up your lead for %s" % (rep_name, lead.business_name),
            "Thanks for passing it on!")


def _temperature(lead):
    return lead.temperature_label.split(" —")[0]


def announce(event_id):
    """Record the notifications an event causes; return the deliveries to push."""
    now = utcnow()
    with db.atomic():
        claimed = (LeadEvent.update(announced_at=now)
                   .where((LeadEvent.id == event_id) & LeadEvent.announced_at.is_null())
                   .execute())
        if not claimed:
            return []
        event = LeadEvent.get_by_id(event_id)
        can_push = vapid() is not None
        rows = []
        for kind, users, title, body in _messages(event, event.lead):
            for user in _unique_active(users, skip=event.actor_id):
                note = Notification.create(user=user, lead=event.lead_id, kind=kind, title=title,
                                           body=body, path="/leads/%d" % event.lead_id)
                if can_push and wants_push(user, kind, now):
                    rows += [{"notification": note.id, "subscription": sub_id} for (sub_id,) in
                             user.push_subscriptions.select(PushSubscription.id).tuples()]
        if not rows:
            return []
        # One statement for a whole fan-out, however many devices.
        return [row.id for row in Delivery.insert_many(rows).returning(Delivery.id).execute()]


def _unique_active(users, skip=None):
    seen = set()
    for user in users:
        if user.active and user.id != skip and user.id not in seen:
            seen.add(user.id)
            yield user


def wants_push(user, kind, now):
    """Whether user wants this kind of alert on their devices right now."""
    if kind in (user.muted_kinds or "").split(","):
        return False
    return not in_quiet_hours(user, now)


def in_quiet_hours(user, now):
    """Whether naive-UTC now falls in user's quiet hours (depot time)."""
    if not user.quiet_start or not user.quiet_end:
        return False
    zone = ZoneInfo(current_app.config["DEPOT_TIMEZONE"])
    local = now.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone).strftime("%H:%M")
    start, end = user.quiet_start, user.quiet_end
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def ttl_of(note):
    """How long after it was made this notification is worth pushing."""
    return TTL_SECONDS.get(note.kind, 3600)


def seconds_left(note, now):
    return ttl_of(note) - (now - note.created_at).total_seconds()


def count_failure(subscription, now):
    """One more refusal (400/401/403); the device goes only after 3 spanning a day."""
    first = subscription.first_failure_at or now
    count = subscription.failure_count + 1
    if push.should_drop(count, first, now):
        subscription.delete_instance()
    else:
        (PushSubscription.update(failure_count=count, first_failure_at=first)
         .where(PushSubscription.id == subscription.id).execute())


def payload(note):
    """The small JSON a device gets: which alert (a copy has the same id), what,
    which lead, and what to show."""
    return {"id": note.id, "kind": note.kind, "lead_id": note.lead_id,
            "title": note.title[:120], "body": note.body[:240], "path": note.path}


def smallest_payload(note):
    """What still works when a push service finds the payload too large: the
    service worker shows a generic text and the lead's page has the rest."""
    return {"id": note.id, "kind": note.kind, "lead_id": note.lead_id,
            "title": note.title[:60]}


def deadline(temperature):
    """How long a lead of this temperature may stay new: the managers' setting,
    else the configured default."""
    name = "DEADLINE_%s_MINUTES" % temperature.upper()
    return timedelta(minutes=Setting.read(name.lower(), current_app.config[name]))


def escalate_overdue():
    """Mark every lead still new past its deadline as escalated, once; return
    the `escalated` events to announce."""
    now, events = utcnow(), []
    for temperature in ("hot", "warm", "fyi"):
        overdue = (Lead.select(Lead.id)
                   .where((Lead.status == "new") & Lead.escalated_at.is_null()
                          & (Lead.temperature == temperature)
                          & (Lead.created_at < now - deadline(temperature))))
        for lead in overdue:
            with db.atomic():
                claimed = (Lead.update(escalated_at=now)
                           .where((Lead.id == lead.id) & Lead.escalated_at.is_null()
                                  & (Lead.status == "new"))
                           .execute())
                if claimed:
                    events.append(LeadEvent.create(lead=lead.id, kind="escalated").id)
    return events


def unannounced_events():
    """Events whose announcement never ran (the queue was unreachable)."""
    cutoff = utcnow() - SWEEP_AFTER
    return [e.id for e in LeadEvent.select(LeadEvent.id)
            .where(LeadEvent.announced_at.is_null() & (LeadEvent.created_at < cutoff))
            .limit(500)]
