"""All of Touchpoint's data: people, where they work, and the leads they pass on.

Named queries live here as classmethods and behaviour as methods, so that the
views stay thin and there is one place that decides, for example, who may see
a lead (`Lead.visible_to`).
"""
import hashlib
import secrets
import uuid
from datetime import datetime, timezone

from peewee import (JOIN, BooleanField, CharField, DateTimeField, DoubleField,
                    ForeignKeyField, IntegrityError, Model, TextField, UUIDField,
                    fn)
from werkzeug.exceptions import NotFound

from .db import db

ROLES = ("courier", "rep", "manager")
# The largest id the databases hold (64-bit); larger ids in URLs simply match nothing.
MAX_ID = 2**63 - 1

CATEGORIES = {
    "new_business": "New business",
    "moving": "Moving or expanding",
    "competitor": "Ships with a competitor",
    "asked_services": "Asked about our services",
    "unhappy": "Unhappy with current carrier",
    "other": "Other",
}

TEMPERATURES = {
    "hot": "Hot — wants a call today",
    "warm": "Warm",
    "fyi": "FYI",
}

STATUSES = {
    "new": "New",
    "acknowledged": "Acknowledged",
    "contacted": "Contacted",
    "quoted": "Quoted",
    "won": "Won",
    "lost": "Lost",
    "declined": "Declined",
}


def utcnow():
    """Naive UTC, the one kind of timestamp the database holds."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def normalize_postcode(postcode):
    return "".join((postcode or "").split()).upper()


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


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
    password or on deactivation) ends all of the user's sessions at once.
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
    """A personal API token. Only its SHA-256 is stored; the token is shown once."""
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
    def user_for(cls, token):
        """The active user a live token belongs to, or None."""
        row = (cls.select(cls, User).join(User)
               .where((cls.token_hash == cls.digest(token)) & cls.revoked_at.is_null()
                      & User.active)
               .first())
        if row is None:
            return None
        (cls.update(last_used_at=utcnow()).where(cls.id == row.id).execute())
        return row.user

    def revoke(self):
        self.revoked_at = utcnow()
        self.save()


class Lead(BaseModel):
    """A sales opportunity a courier saw on their route.

    `client_uuid` is made by the submitting client and is unique, so sending
    the same lead again (a retry from a van with a weak signal) never makes a
    second one.
    """
    client_uuid = UUIDField(unique=True)
    courier = ForeignKeyField(User, backref="leads", on_delete="RESTRICT")
    route = ForeignKeyField(Route, null=True, on_delete="SET NULL")
    territory = ForeignKeyField(Territory, backref="leads", null=True,
                                on_delete="SET NULL")
    assigned_rep = ForeignKeyField(User, null=True, on_delete="SET NULL")
    status = CharField(max_length=16, default="new")
    business_name = CharField(max_length=120)
    category = CharField(max_length=20)
    competitor = CharField(max_length=80, default="")
    temperature = CharField(max_length=8)
    contact_name = CharField(max_length=100, default="")
    contact_phone = CharField(max_length=32, default="")
    contact_email = CharField(max_length=254, default="")
    address = CharField(max_length=200, default="")
    postcode = CharField(max_length=12, default="")
    note = TextField(default="")
    expects_call = BooleanField(default=False)
    photo = CharField(max_length=64, null=True)
    lat = DoubleField(null=True)
    lng = DoubleField(null=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("courier", "id"), False),
            (("territory", "id"), False),
            (("assigned_rep", "id"), False),
            (("status", "id"), False),
        )

    @classmethod
    def visible_to(cls, user):
        """The one rule for who sees a lead: a courier their own, a rep those
        of their territories and those assigned to them, a manager all."""
        if user.role == "manager":
            return cls.select()
        if user.role == "rep":
            territories = (TerritoryRep.select(TerritoryRep.territory)
                           .where(TerritoryRep.rep == user))
            return cls.select().where(cls.territory.in_(territories)
                                      | (cls.assigned_rep == user))
        return cls.select().where(cls.courier == user)

    @classmethod
    def get_visible(cls, user, lead_id):
        """The lead if user may see it; 404 otherwise (never reveal it exists)."""
        lead = None
        if 0 < lead_id <= MAX_ID:
            lead = cls.visible_to(user).where(cls.id == lead_id).first()
        if lead is None:
            raise NotFound("No such lead.")
        return lead

    @classmethod
    def page(cls, query, before=None, limit=25):
        """Keyset pagination, newest first: (leads, id to continue before or None)."""
        if before is not None:
            query = query.where(cls.id < min(before, MAX_ID))
        rows = list(query.order_by(cls.id.desc()).limit(limit + 1))
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, (rows[-1].id if more else None)

    @classmethod
    def submit(cls, courier, fields, client_uuid):
        """Record a courier's lead exactly once per client_uuid.

        Returns (lead, created). A client_uuid that is already another
        courier's lead raises DuplicateSubmission, revealing nothing of it.
        """
        with db.atomic():
            existing = cls.get_or_none(cls.client_uuid == client_uuid)
            if existing is None:
                try:
                    with db.atomic():
                        return cls._record(courier, fields, client_uuid), True
                except IntegrityError:
                    # Another request with this client_uuid committed first.
                    existing = cls.get_or_none(cls.client_uuid == client_uuid)
                    if existing is None:
                        raise
        if existing.courier_id != courier.id:
            raise DuplicateSubmission()
        return existing, False

    @classmethod
    def _record(cls, courier, fields, client_uuid):
        lead = cls(courier=courier, client_uuid=client_uuid, route=courier.route_id,
                   **fields)
        lead.territory = route_lead(lead)
        lead.save()
        LeadEvent.create(lead=lead, kind="created", actor=courier)
        return lead

    @property
    def status_label(self):
        return STATUSES.get(self.status, self.status)

    @property
    def category_label(self):
        return CATEGORIES.get(self.category, self.category)

    @property
    def temperature_label(self):
        return TEMPERATURES.get(self.temperature, self.temperature)

    def timeline(self):
        return (LeadEvent.select(LeadEvent, User).join(User, on=LeadEvent.actor, join_type=JOIN.LEFT_OUTER)
                .where(LeadEvent.lead == self).order_by(LeadEvent.id))


class DuplicateSubmission(Exception):
    """A client_uuid that already names someone else's lead."""


def route_lead(lead):
    """The territory a lead belongs to: by the courier's route, else by the
    longest matching postcode prefix, else None (unrouted, for the managers)."""
    if lead.route_id:
        route = Route.get_or_none(Route.id == lead.route_id)
        if route and route.territory_id:
            return route.territory_id
    postcode = normalize_postcode(lead.postcode)
    candidates = [postcode[:n] for n in range(1, len(postcode) + 1)]
    if not candidates:
        return None
    match = (PostcodePrefix.select(PostcodePrefix.territory)
             .where(PostcodePrefix.prefix.in_(candidates))
             .order_by(fn.LENGTH(PostcodePrefix.prefix).desc())
             .first())
    return match.territory_id if match else None


class LeadEvent(BaseModel):
    """One step on a lead's timeline: created, and what later steps add."""
    lead = ForeignKeyField(Lead, backref="events", on_delete="CASCADE")
    kind = CharField(max_length=24)
    actor = ForeignKeyField(User, null=True, on_delete="SET NULL")
    detail = TextField(default="")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("lead", "id"), False),)

    KIND_LABELS = {"created": "Lead sent"}

    @property
    def label(self):
        return self.KIND_LABELS.get(self.kind, self.kind.replace("_", " ").capitalize())


MODELS = [Territory, PostcodePrefix, Route, User, TerritoryRep, ApiToken, Lead, LeadEvent]
