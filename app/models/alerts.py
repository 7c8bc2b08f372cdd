"""Alerts: the devices a user enabled for web push, the in-app notifications
everyone gets, and each push of a notification to a device (a Delivery).

A Delivery is unique per notification and device and moves out of `pending`
by one conditional update, so a retry can never push the same alert to the
same device twice. The worker processes that claim deliveries keep a
Heartbeat, and a push service that asked us to wait has a PushServicePause,
so that every worker process sees both (app/delivery.py).
"""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField

from .base import BaseModel, utcnow
from .leads import Lead
from .people import User

# The kinds of alert, as a user sees them on the preferences page.
ALERT_KINDS = {
    "new_lead": "New leads in my territories",
    "escalated": "Leads nobody picked up in time",
    "assigned": "Leads assigned to me",
    "acknowledged": "A rep picked up my lead",
    "progress": "My lead was won, lost or declined",
    "kudos": "Thanks from a rep",
}


class PushSubscription(BaseModel):
    """One device (browser) on which a user enabled alerts."""
    user = ForeignKeyField(User, backref="push_subscriptions", on_delete="CASCADE")
    endpoint = CharField(max_length=1024, unique=True)
    p256dh = CharField(max_length=100)
    auth = CharField(max_length=40)
    label = CharField(max_length=80, default="")
    created_at = DateTimeField(default=utcnow)
    last_success_at = DateTimeField(null=True)
    failure_count = IntegerField(default=0)
    first_failure_at = DateTimeField(null=True)


class Notification(BaseModel):
    """An alert in a user's in-app inbox, linking to its lead."""
    user = ForeignKeyField(User, backref="notifications", on_delete="CASCADE")
    lead = ForeignKeyField(Lead, null=True, on_delete="CASCADE")
    kind = CharField(max_length=24)
    title = CharField(max_length=200)
    body = CharField(max_length=500, default="")
    path = CharField(max_length=200, default="/")
    created_at = DateTimeField(default=utcnow)
    read_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("user", "read_at"), False), (("user", "id"), False))

    @classmethod
    def unread_count(cls, user):
        return cls.select().where((cls.user == user) & cls.read_at.is_null()).count()


class Delivery(BaseModel):
    """One notification pushed to one device: pending, then sending, then sent,
    gone (the device unsubscribed), expired, skipped or failed."""
    notification = ForeignKeyField(Notification, backref="deliveries", on_delete="CASCADE")
    subscription = ForeignKeyField(PushSubscription, backref="deliveries", on_delete="CASCADE")
    status = CharField(max_length=12, default="pending")
    # The Heartbeat id of the worker process sending it, while it is "sending".
    claimed_by = CharField(max_length=64, null=True)
    attempts = IntegerField(default=0)
    last_error = CharField(max_length=200, default="")
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    next_attempt_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("notification", "subscription"), True), (("status", "next_attempt_at"), False))


class Heartbeat(BaseModel):
    """A worker process that may hold deliveries, and when it last said it was alive."""
    id = CharField(max_length=64, primary_key=True)
    host = CharField(max_length=255)
    pid = IntegerField()
    beat_at = DateTimeField(default=utcnow)


class PushServicePause(BaseModel):
    """A push service (its origin) that asked us, with Retry-After, to send
    nothing before `until` (naive UTC)."""
    origin = CharField(max_length=255, primary_key=True)
    until = DateTimeField()
