"""Leads and their timeline, and the rule that routes a lead to a territory.

`Lead.visible_to` is the one place that decides who may see a lead.
"""
from peewee import (JOIN, BooleanField, CharField, DateTimeField, DecimalField,
                    DoubleField, ForeignKeyField, IntegerField, IntegrityError, TextField,
                    UUIDField, fn)
from werkzeug.exceptions import NotFound

from ..db import db
from .base import (CATEGORIES, MAX_ID, STATUSES, TEMPERATURES, BaseModel,
                   normalize_postcode, utcnow)
from .people import PostcodePrefix, Route, Territory, TerritoryRep, User

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
    acknowledged_at = DateTimeField(null=True)
    escalated_at = DateTimeField(null=True)
    closed_at = DateTimeField(null=True)
    decline_reason = CharField(max_length=24, default="")
    weekly_volume = IntegerField(null=True)
    weekly_value = DecimalField(max_digits=12, decimal_places=2, null=True)

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
        lead.created_event = LeadEvent.create(lead=lead, kind="created", actor=courier)
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
    # Set by the worker when it has told everyone this event concerns; an
    # event left without it (the queue was unreachable) is announced by a sweep.
    announced_at = DateTimeField(null=True, index=True)

    class Meta:
        indexes = ((("lead", "id"), False),)

    KIND_LABELS = {"created": "Lead sent"}

    @property
    def label(self):
        return self.KIND_LABELS.get(self.kind, self.kind.replace("_", " ").capitalize())
