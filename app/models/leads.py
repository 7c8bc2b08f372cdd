"""Leads and their timeline, the rule that routes a lead to a territory, and
the rep's workflow: acknowledge, contact, quote, win, lose or decline.

`Lead.visible_to` is the one place that decides who may see a lead, and
`Lead.may_work` who may move it on. Every step is one conditional update
(`WHERE status = <the status the user saw>`), so two reps, or two tabs, can
never both take the same step; the winner alone writes the step's event.
"""
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode

from peewee import (JOIN, BooleanField, CharField, DateTimeField, DecimalField,
                    DoubleField, ForeignKeyField, IntegerField, IntegrityError, TextField,
                    UUIDField, fn)
from werkzeug.exceptions import NotFound

from ..db import db, insert_row, prepared
from ..money import money
from .base import (CATEGORIES, MAX_ID, STATUSES, TEMPERATURES, BaseModel,
                   normalize_postcode, utcnow)
from .people import PostcodePrefix, Route, Territory, TerritoryRep, User

# Where a rep may take a lead next from each open status.
NEXT_STEPS = {"acknowledged": ("contacted",), "contacted": ("quoted",),
              "quoted": ("won", "lost")}
OPEN_STATUSES = ("acknowledged", "contacted", "quoted")
CLOSED_STATUSES = ("won", "lost", "declined")
DECLINE_REASONS = {
    "duplicate": "Duplicate of another lead",
    "existing_customer": "Already a customer",
    "not_a_fit": "Not a fit",
    "not_my_territory": "Not my territory — back to the managers",
}
# Ceilings no real customer reaches: a bigger number is a typing slip.
MAX_WEEKLY_VOLUME = 1_000_000
MAX_WEEKLY_VALUE = Decimal("10000000")
# A phone's clock may run a little ahead of ours; a lead may wait in a phone's
# outbox for days, not months. Outside these, the phone's time is not believed.
CLOCK_SKEW = timedelta(minutes=10)
OUTBOX_MAX_AGE = timedelta(days=30)
# Below this, "seen" and "arrived" are the same moment to a person.
SAME_MOMENT = timedelta(minutes=1)


def capture_time(claimed, arrived):
    """The phone's capture time as we store it: None when not given or not
    believable (later than CLOCK_SKEW after arrival, or older than
    OUTBOX_MAX_AGE), and never later than the arrival itself.

    A wrong phone clock is not the courier's mistake, so it never refuses the
    lead: the arrival time then stands alone.
    """
    if claimed is None or not arrived - OUTBOX_MAX_AGE <= claimed <= arrived + CLOCK_SKEW:
        return None
    return min(claimed, arrived)

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
    # When the courier tapped Send, by the phone's clock (see capture_time);
    # None when unknown or not believable. created_at is when it arrived.
    captured_at = DateTimeField(null=True)
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
            # The feed's filters (app/feed.py), each walked newest first.
            (("route", "id"), False),
            (("territory", "status", "id"), False),
            # The numbers: a period's leads by when they were sent (app/numbers/).
            (("created_at",), False),
            # The feed by deadline: each temperature's new leads in order sent
            # (app/feed/pages.py, due_first). Not partial: peewee binds 'new'
            # as a parameter, and SQLite uses a partial index only for literals.
            (("status", "temperature", "created_at", "id"), False),
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
        """Keyset pagination, newest first: (leads, id to continue before or None).

        Each lead comes with its assigned rep loaded (one query for the page),
        since every list says who has each lead.
        """
        if before is not None:
            query = query.where(cls.id < max(0, min(before, MAX_ID)))
        rows = list(query.order_by(cls.id.desc()).limit(limit + 1))
        more = len(rows) > limit
        rows = rows[:limit]
        rep_ids = {row.assigned_rep_id for row in rows if row.assigned_rep_id}
        reps = ({user.id: user for user in User.select().where(User.id.in_(rep_ids))}
                if rep_ids else {})
        for row in rows:
            if row.assigned_rep_id in reps:
                row.assigned_rep = reps[row.assigned_rep_id]
        return rows, (rows[-1].id if more else None)

    @classmethod
    def submit(cls, courier, fields, client_uuid):
        """Record a courier's lead exactly once per client_uuid.

        Returns (lead, created). A client_uuid that is already another
        courier's lead raises DuplicateSubmission, revealing nothing of it.
        """
        # Routed before the transaction: SQLite holds its write lock from the
        # BEGIN (IMMEDIATE), so reads done first keep every other submit's wait
        # short; a route that moves at that very moment is a race either way.
        lead = cls._routed(courier, fields, client_uuid)
        # Insert first and look only when the unique client_uuid refuses it (a
        # resend, or another request with it committed first): a new lead, by
        # far the common case, then costs no read and no savepoint.
        try:
            with db.atomic():
                lead.id = insert_row(cls, lead.__data__)
                event = LeadEvent(lead=lead, kind="created", actor=courier)
                event.id = insert_row(LeadEvent, event.__data__)
            lead.created_event = event
            return lead, True
        except IntegrityError:
            existing = cls.get_or_none(cls.client_uuid == client_uuid)
            if existing is None:
                raise
        if existing.courier_id != courier.id:
            raise DuplicateSubmission()
        existing.courier = courier  # known: the answer names them without a read
        return existing, False

    @property
    def seen_earlier(self):
        """When the courier saw it, if that was over a minute before it arrived."""
        if self.captured_at and self.created_at - self.captured_at > SAME_MOMENT:
            return self.captured_at
        return None

    @classmethod
    def _routed(cls, courier, fields, client_uuid):
        """A new, unsaved lead of courier's, arrived now, routed to its territory."""
        arrived = utcnow()
        fields = dict(fields, created_at=arrived, updated_at=arrived,
                      captured_at=capture_time(fields.get("captured_at"), arrived))
        lead = cls(courier=courier, client_uuid=client_uuid,
                   route=route_of(courier), **fields)
        lead.territory = territory_of(lead)
        return lead

    @classmethod
    def acknowledge(cls, lead_id, user):
        """Make user the lead's rep if it is still new; return the
        `acknowledged` event, or None when someone else was first.

        However many reps tap at once, one conditional update picks exactly
        one. As with every step here, the event is committed on return:
        announce it then (`tasks.announce_later`), never inside a transaction.
        """
        if user.role not in ("rep", "manager"):
            raise NotAllowed("Only a rep or a manager can pick up a lead.")
        lead = cls.get_visible(user, lead_id)
        now = utcnow()
        with db.atomic():
            taken = (cls.update(status="acknowledged", assigned_rep=user, acknowledged_at=now,
                                updated_at=now)
                     .where((cls.id == lead.id) & (cls.status == "new"))
                     .execute())
            if taken:
                return LeadEvent.create(lead=lead.id, kind="acknowledged", actor=user)
        return None

    @classmethod
    def advance(cls, lead_id, user, to, expected=None, weekly_volume=None, weekly_value=None):
        """Move the lead one step on (contacted, quoted, won or lost); return
        the event. A win may record what the customer ships a week.

        `expected` is the status the user saw; if the lead has moved since
        (another tab, another person), nothing changes.
        """
        lead = cls._workable(lead_id, user, expected)
        if to not in NEXT_STEPS.get(lead.status, ()):
            raise WorkflowError(lead.cannot(to))
        changes, detail = {"status": to}, ""
        if to == "won":
            changes.update(weekly_volume=weekly_volume, weekly_value=weekly_value)
            detail = weekly_business(weekly_volume, weekly_value)
        if to in CLOSED_STATUSES:
            changes["closed_at"] = utcnow()
        return lead._step(user, changes, to, detail)

    @classmethod
    def decline(cls, lead_id, user, reason, expected=None):
        """Close an open lead for a reason; return the `declined` event.

        `not_my_territory` instead hands the lead back to the managers: new
        again, unrouted and nobody's, with a `returned` event.
        """
        if reason not in DECLINE_REASONS:
            raise WorkflowError("Pick one of the reasons.")
        lead = cls._workable(lead_id, user, expected)
        if lead.status not in OPEN_STATUSES:
            raise WorkflowError(lead.cannot("declined"))
        if reason == "not_my_territory":
            detail = "Was routed to %s" % lead.territory.name if lead.territory_id else ""
            return lead._step(user, dict(status="new", territory=None, assigned_rep=None,
                                         acknowledged_at=None), "returned", detail)
        return lead._step(user, dict(status="declined", decline_reason=reason,
                                     closed_at=utcnow()), "declined", reason)

    @classmethod
    def reassign(cls, lead_id, manager, rep):
        """Give the lead to another active rep (managers only); a new lead
        counts as picked up. Return the `assigned` event."""
        if manager.role != "manager":
            raise NotAllowed("Only a manager can reassign a lead.")
        lead = cls.get_visible(manager, lead_id)
        if rep.role != "rep" or not rep.active:
            raise WorkflowError("%s is not an active rep." % rep.name)
        if lead.status in CLOSED_STATUSES:
            raise WorkflowError("This lead is closed (%s); there is nobody to hand it to."
                                % lead.status_label)
        if lead.assigned_rep_id == rep.id:
            raise WorkflowError("%s already has this lead." % rep.name)
        changes = {"assigned_rep": rep}
        if lead.status == "new":
            changes.update(status="acknowledged", acknowledged_at=utcnow())
        previous = lead.assigned_rep.name if lead.assigned_rep_id else "Nobody"
        return lead._step(manager, changes, "assigned", "%s → %s" % (previous, rep.name))

    @classmethod
    def add_note(cls, lead_id, user, text):
        """Add a note to the timeline (reps and managers; couriers never see notes)."""
        if user.role not in ("rep", "manager"):
            raise NotAllowed("Only reps and managers add notes.")
        lead = cls.get_visible(user, lead_id)
        return LeadEvent.create(lead=lead.id, kind="note", actor=user, detail=text)

    @classmethod
    def thank_courier(cls, lead_id, user, message):
        """Send the courier a thank-you from the lead's rep (or a manager): a `kudos` event."""
        lead = cls._workable(lead_id, user)
        return LeadEvent.create(lead=lead.id, kind="kudos", actor=user, detail=message)

    def may_acknowledge(self, user):
        """Whether user, who can see this lead, may pick it up now."""
        return self.status == "new" and user.role in ("rep", "manager")

    def may_work(self, user):
        """Whether user may move this lead on: the rep who has it, or a manager."""
        return user.role == "manager" or (
            user.role == "rep" and self.assigned_rep_id == user.id)

    def check_may_work(self, user):
        """Raise NotAllowed, saying who may, unless user may move this lead on."""
        if self.may_work(user):
            return
        if self.assigned_rep_id:
            raise NotAllowed("Only %s, who has this lead, or a manager can do that."
                             % self.assigned_rep.name)
        raise NotAllowed("Only a manager can do that until someone picks this lead up.")

    def cannot(self, to):
        """Why this lead cannot be marked `to` from where it stands."""
        if self.status == "new":
            return "Acknowledge this lead first."
        if self.status in CLOSED_STATUSES:
            return "This lead is closed (%s); nothing was changed." % self.status_label
        return "A lead that is %s can't be marked %s; the next step is %s." % (
            self.status_label.lower(), STATUSES.get(to, to).lower(),
            " or ".join(STATUSES[s].lower() for s in NEXT_STEPS[self.status]))

    @classmethod
    def _workable(cls, lead_id, user, expected=None):
        """The lead, if user may work it and it still stands where they saw it."""
        lead = cls.get_visible(user, lead_id)
        lead.check_may_work(user)
        if expected and expected != lead.status:
            raise WorkflowError(lead.moved_on())
        return lead

    def _step(self, user, changes, kind, detail=""):
        """Apply changes if the lead still has the status and rep it was read
        with; return the new event, or raise WorkflowError saying what moved."""
        cls = type(self)
        with db.atomic():
            done = (cls.update(updated_at=utcnow(), **changes)
                    .where((cls.id == self.id) & (cls.status == self.status)
                           & (cls.assigned_rep == self.assigned_rep_id))
                    .execute())
            if done:
                return LeadEvent.create(lead=self.id, kind=kind, actor=user, detail=detail)
        raise WorkflowError(cls.get_by_id(self.id).moved_on())

    def moved_on(self):
        """What to tell someone whose page showed this lead as it was before."""
        holder = " and %s has it" % self.assigned_rep.name if self.assigned_rep_id else ""
        return ("This lead changed meanwhile: it is %s now%s. Nothing was changed."
                % (self.status_label.lower(), holder))

    @property
    def worth(self):
        """What a won customer ships a week, in words ("" if nobody said)."""
        return weekly_business(self.weekly_volume, self.weekly_value)

    @property
    def decline_label(self):
        return DECLINE_REASONS.get(self.decline_reason, self.decline_reason)

    @property
    def map_url(self):
        """OpenStreetMap at the lead's position, else searching its address;
        an https link opens on every phone and laptop, where geo: does not."""
        if self.lat is not None and self.lng is not None:
            return ("https://www.openstreetmap.org/?mlat=%.5f&mlon=%.5f#map=18/%.5f/%.5f"
                    % (self.lat, self.lng, self.lat, self.lng))
        place = " ".join(part for part in (self.address, self.postcode) if part)
        if not place:
            return None
        return "https://www.openstreetmap.org/search?" + urlencode({"query": place})

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


# The feed's "escalated" filter: the few escalated leads, newest first.
Lead.add_index(Lead.index(Lead.id, name="lead_escalated", where=Lead.escalated_at.is_null(False)))


class DuplicateSubmission(Exception):
    """A client_uuid that already names someone else's lead."""


class WorkflowError(Exception):
    """A step the lead's present state does not allow; the message says why."""


class NotAllowed(WorkflowError):
    """A step this user may not take on this lead; the message says who may."""


def weekly_business(volume, value):
    """What a won customer ships a week, in words ("40 parcels a week, worth £1,200.00"),
    in the depot's currency."""
    parts = []
    if volume is not None:
        parts.append("%d parcel%s a week" % (volume, "" if volume == 1 else "s"))
    if value is not None:
        parts.append("worth %s a week" % money(value))
    return ", ".join(parts)


def route_of(courier):
    """The courier's route with its territory loaded, or None."""
    if courier.route_id is None:
        return None
    found = prepared(Route, "route_of", lambda: (
        Route.select(Route, Territory.name.alias("territory_name"))
        .join(Territory, JOIN.LEFT_OUTER)
        .where(Route.id == courier.route_id)
        .limit(1)), [courier.route_id, 1])
    if not found:
        return None
    route = found[0]
    if route.territory_id:
        route.territory = Territory(id=route.territory_id, name=route.territory_name)
    return route


def route_lead(lead):
    """The id of the territory a lead belongs to (see territory_of), or None."""
    territory = territory_of(lead)
    return territory.id if territory else None


def territory_of(lead):
    """The Territory a lead belongs to, name and all (the API's answer shows
    it): by the courier's route, else by the longest matching postcode
    prefix, else None (unrouted, for the managers)."""
    if lead.route_id and lead.route.territory_id:
        return lead.route.territory
    postcode = normalize_postcode(lead.postcode)
    candidates = [postcode[:n] for n in range(1, len(postcode) + 1)]
    if not candidates:
        return None
    found = prepared(Territory, "territory_of_%d" % len(candidates), lambda: (
        Territory.select()
        .join(PostcodePrefix)
        .where(PostcodePrefix.prefix.in_(candidates))
        .order_by(fn.LENGTH(PostcodePrefix.prefix).desc())
        .limit(1)), candidates + [1])
    return found[0] if found else None


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

    KIND_LABELS = {"created": "Lead sent", "returned": "Returned to the managers",
                   "assigned": "Reassigned", "kudos": "Thanked the courier",
                   "note": "Note"}

    @property
    def label(self):
        return self.KIND_LABELS.get(self.kind, self.kind.replace("_", " ").capitalize())

    @property
    def detail_text(self):
        """The detail as staff read it (a decline's reason code in words)."""
        if self.kind == "declined":
            return DECLINE_REASONS.get(self.detail, self.detail)
        return self.detail
