"""Running the depot: its settings, the record of every change managers make,
and one-time invitations for new users."""
import hashlib
import json
import secrets
from datetime import timedelta

from peewee import CharField, DateTimeField, ForeignKeyField, TextField

from .base import BaseModel, utcnow
from .people import User


class Setting(BaseModel):
    """A depot-wide setting managers change in the app (e.g. a deadline);
    absent rows fall back to the app's configuration."""
    key = CharField(max_length=64, unique=True)
    value = TextField()

    @classmethod
    def read(cls, key, default=None):
        row = cls.get_or_none(cls.key == key)
        return default if row is None else json.loads(row.value)

    @classmethod
    def write(cls, key, value):
        (cls.insert(key=key, value=json.dumps(value))
         .on_conflict(conflict_target=[cls.key], update={cls.value: json.dumps(value)})
         .execute())


class AuditEntry(BaseModel):
    """Who changed what in the depot, and when (visible to managers)."""
    actor = ForeignKeyField(User, null=True, on_delete="SET NULL")
    action = CharField(max_length=40)
    subject = CharField(max_length=200, default="")
    detail = TextField(default="")
    created_at = DateTimeField(default=utcnow, index=True)

    @classmethod
    def record(cls, actor, action, subject="", **detail):
        return cls.create(actor=actor, action=action, subject=subject,
                          detail=json.dumps(detail, default=str, sort_keys=True))


class Invite(BaseModel):
    """A one-time link that lets a new user set their password. Only the
    token's SHA-256 is stored; the link is shown once."""
    user = ForeignKeyField(User, backref="invites", on_delete="CASCADE")
    token_hash = CharField(max_length=64, unique=True)
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    used_at = DateTimeField(null=True)

    @staticmethod
    def digest(token):
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def issue(cls, user, days=7):
        """A new invite for user; return (row, the token in clear, once)."""
        token = secrets.token_urlsafe(32)
        row = cls.create(user=user, token_hash=cls.digest(token),
                         expires_at=utcnow() + timedelta(days=days))
        return row, token

    @classmethod
    def usable(cls, token):
        """The live, unused invite for token, or None."""
        return (cls.select().where((cls.token_hash == cls.digest(token or ""))
                                   & cls.used_at.is_null() & (cls.expires_at > utcnow()))
                .first())
