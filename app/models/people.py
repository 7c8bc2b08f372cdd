"""People and where they work: territories, their postcode prefixes, routes,
users and their roles, reps' territory memberships, and personal API tokens."""
import hashlib
import secrets
from datetime import timedelta

from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField

from ..db import prepared
from .base import ROLES, BaseModel, utcnow

class Territory(BaseModel):
    """A sales area: reps belong to it, routes and postcode prefixes lead to it."""
    name = CharField(max_length=80, unique=True)

    def reps(self, membership=None):
        """Active reps of this territory, primary first."""
        query = (User
                 .select(User, TerritoryRep.membership)
                 .join(TerritoryRep)
                 .where((TerritoryRep.territory == self) & User.active)
                 .order_by(TerritoryRep.membership.desc(), User.name))
        if membership:
            query = query.where(TerritoryRep.membership == membership)
        return query


class PostcodePrefix(BaseModel):
    """A postcode prefix (normalised: upper case, no spaces) owned by a territory."""
    territory = ForeignKeyField(Territory, backref="prefixes", on_delete="CASCADE")
    prefix = CharField(max_length=12, unique=True)


class Route(BaseModel):
    """A delivery route; a lead captured on it goes to the route's territory."""
    code = CharField(max_length=20, unique=True)
    name = CharField(max_length=80, default="")
    territory = ForeignKeyField(Territory, backref="routes", null=True,
                                on_delete="SET NULL")


class User(BaseModel):
    """A courier, rep or manager.

    `email` is stored lower-cased, which makes the unique index case-insensitive.
    `session_token` is part of every login session; changing it (on a new
    password or on deactivation) ends all of the user's sessions at once, and
    their API tokens are revoked with it (`ApiToken.revoke_all`).
    """
    email = CharField(max_length=254, unique=True)
    name = CharField(max_length=100)
    phone = CharField(max_length=32, default="")
    role = CharField(max_length=10, choices=[(r, r) for r in ROLES], index=True)
    active = BooleanField(default=True)
    password_hash = CharField(max_length=255, default="")
    session_token = CharField(max_length=64, default=lambda: secrets.token_hex(16))
    route = ForeignKeyField(Route, backref="couriers", null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)
    # Alert preferences: quiet hours ("22:00" to "06:30", depot time) when
    # alerts stay in the app, and the kinds of alert sent in-app only.
    quiet_start = CharField(max_length=5, null=True)
    quiet_end = CharField(max_length=5, null=True)
    muted_kinds = CharField(max_length=200, default="")

    @classmethod
    def by_email(cls, email):
        return cls.get_or_none(cls.email == (email or "").strip().lower())

    @classmethod
    def managers(cls):
        return cls.select().where((cls.role == "manager") & cls.active).order_by(cls.name)

    def rotate_session_token(self):
        self.session_token = secrets.token_hex(16)

    def territory_ids(self):
        """Ids of the territories this rep belongs to (primary or backup)."""
        return [m.territory_id for m in
                TerritoryRep.select(TerritoryRep.territory).where(TerritoryRep.rep == self)]

    # flask-login's protocol.
    is_anonymous = False

    @property
    def is_authenticated(self):
        return True

    @property
    def is_active(self):
        return self.active

    def get_id(self):
        return "%d:%s" % (self.id, self.session_token)


class TerritoryRep(BaseModel):
    """A rep's membership of a territory: primary reps get every lead, backups escalations."""
    territory = ForeignKeyField(Territory, backref="memberships", on_delete="CASCADE")
    rep = ForeignKeyField(User, backref="memberships", on_delete="CASCADE")
    membership = CharField(max_length=10, default="primary",
                           choices=[("primary", "primary"), ("backup", "backup")])

    class Meta:
        indexes = ((("territory", "rep"), True),)


class ApiToken(BaseModel):
    """A personal API token. Only its SHA-256 is stored; the token is shown once.

    A revoked token never works again: a new password or a deactivation revokes
    every token of the user, so a reactivated user needs new ones.
    """
    user = ForeignKeyField(User, backref="api_tokens", on_delete="CASCADE")
    name = CharField(max_length=80, default="")
    token_hash = CharField(max_length=64, unique=True)
    created_at = DateTimeField(default=utcnow)
    last_used_at = DateTimeField(null=True)
    revoked_at = DateTimeField(null=True)

    PREFIX = "tp_"

    @staticmethod
    def digest(token):
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def issue(cls, user, name=""):
        """Create a token for user; return (row, the token in clear, once)."""
        token = cls.PREFIX + secrets.token_urlsafe(32)
        row = cls.create(user=user, name=name, token_hash=cls.digest(token))
        return row, token

    @classmethod
    def revoke_all(cls, user):
        """Revoke every live token of user (a new password, a deactivation); how many."""
        return (cls.update(revoked_at=utcnow())
                .where((cls.user == user) & cls.revoked_at.is_null())
                .execute())

    @classmethod
    def user_for(cls, token):
        """The active user a live token belongs to, or None."""
        digest = cls.digest(token)
        found = prepared(User, "token_user", lambda: (
            User.select(User, cls.id.alias("token_id"), cls.last_used_at.alias("token_used"))
            .join(cls)
            .where((cls.token_hash == digest) & cls.revoked_at.is_null() & User.active)
            .limit(1)), [digest, 1])
        if not found:
            return None
        user, now = found[0], utcnow()
        used = cls.last_used_at.python_value(user.token_used)
        # Written at most once a minute: on every call it was a write (a commit,
        # on PostgreSQL an fsync) per API request.
        if used is None or now - used >= timedelta(minutes=1):
            cls.update(last_used_at=now).where(cls.id == user.token_id).execute()
        return user

    def revoke(self):
        self.revoked_at = utcnow()
        self.save()
