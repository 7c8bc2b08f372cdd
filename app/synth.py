"""Synthetic data at scale: a whole depot and any number of realistic leads, for
benchmarks and demos (`flask --app wsgi synth --leads N --seed S`).

One seeded random generator makes everything, so a seed always makes the same
depot: eight territories, sixty routes, three hundred couriers, forty reps
(primary and backup), three managers, and leads over the last two years (more
of them lately, most in working hours), each with the status its age and luck
give it and the timeline events that status implies. Every event is marked
announced, so the worker's sweep does not alert anyone about two years of
history, and every lead still new past its deadline is already escalated.
Leads and events go in as plain tuples with bulk inserts, one transaction per
chunk, which loads a million leads into SQLite in a few minutes.
"""
import bisect
import math
import random
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

from flask import current_app
from peewee import fn
from werkzeug.security import generate_password_hash

from .db import db, is_sqlite
from .notify import deadline
from .models import (Lead, LeadEvent, PostcodePrefix, Route, Territory, TerritoryRep, User,
                     utcnow)
from .models.leads import weekly_business

PASSWORD = "touchpoint-synth"
DOMAIN = "synth.touchpoint"
DAYS = 730
CHUNK = 10_000            # leads per transaction
LEAD_BATCH = 1_000        # rows per INSERT: 29 columns stay under SQLite's 32,766 variables
EVENT_BATCH = 5_000
# How long after an event the worker announced it.
ANNOUNCED = timedelta(seconds=1)

# name, route code, postcode districts, centre (lat, lng)
TERRITORIES = [
    ("City Centre", "CC", ["LS1", "LS2", "LS9"], (53.797, -1.548)),
    ("Headingley", "HE", ["LS6", "LS16"], (53.819, -1.577)),
    ("Roundhay", "RO", ["LS8", "LS17"], (53.835, -1.500)),
    ("Hunslet", "HU", ["LS10", "LS11"], (53.775, -1.530)),
    ("Bradford", "BD", ["BD1", "BD3", "BD7"], (53.795, -1.752)),
    ("Wakefield", "WA", ["WF1", "WF2"], (53.683, -1.499)),
    ("Harrogate", "HA", ["HG1", "HG2"], (53.992, -1.541)),
    ("Huddersfield", "HD", ["HD1", "HD2"], (53.645, -1.785)),
]
OUTSIDE_DISTRICTS = ["YO1", "DN4", "S10"]   # nobody's territory: unrouted leads
ROUTES_PER_TERRITORY = 7
RELIEF_ROUTES = 4                            # routes with no territory
COURIERS, PRIMARY_REPS, MANAGERS = 300, 4, 3

CATEGORY_WEIGHTS = {"new_business": 25, "moving": 14, "competitor": 24,
                    "asked_services": 21, "unhappy": 11, "other": 5}
TEMPERATURE_WEIGHTS = {"hot": 20, "warm": 50, "fyi": 30}
EXPECTS_CALL = {"hot": 0.7, "warm": 0.35, "fyi": 0.05}
# Median minutes to acknowledge.
ACK_MEDIAN = {"hot": 6, "warm": 40, "fyi": 180}
HOUR_WEIGHTS = [0, 0, 0, 0, 0, 0.2, 1, 4, 8, 10, 10, 10, 9, 10, 10, 9, 8, 6, 3, 1, 0.5, 0.2, 0, 0]
WEEKDAY_WEIGHTS = [1.0, 1.0, 1.0, 1.0, 0.95, 0.45, 0.1]
DECLINE_WEIGHTS = {"duplicate": 30, "existing_customer": 40, "not_a_fit": 30}

FIRST = ["Ana", "Ben", "Cleo", "Dana", "Eli", "Fay", "Gus", "Hana", "Ivan", "Jo", "Kofi",
         "Lena", "Mo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tom", "Uma", "Vik",
         "Wren", "Xavi", "Yara", "Zoe", "Aisha", "Bryn", "Carys", "Dev", "Emeka", "Freya",
         "Grace", "Harun", "Isla", "Jamal", "Kira", "Liam", "Maya", "Noor", "Ola", "Pete"]
LAST = ["Patel", "Smith", "Khan", "Jones", "Okafor", "Nowak", "Brown", "Hussain", "Walsh",
        "Taylor", "Ahmed", "Murphy", "Kowalski", "Evans", "Singh", "Clarke", "Ali", "Wood",
        "Mensah", "Hughes", "Begum", "Lewis", "Fraser", "Rossi", "Dunn", "Shaw", "Haigh"]
TRADES = ["Bakery", "Bake House", "Florist", "Hardware", "Tea Rooms", "Print Shop", "Grocers",
          "Bike Repair", "Dental", "Bookshop", "Brewing Co.", "Yoga Studio", "Laundry",
          "Furniture", "Pet Store", "Outdoor Gear", "Café", "Opticians", "Fish Market",
          "Electronics", "Wine Cellar", "Toys", "Pizza", "Garden Centre", "Shoe Repair",
          "Pharmacy", "Barbers", "Deli", "Butchers", "Gallery", "Ceramics", "Vintage",
          "Cycles", "Auto Parts", "Tiles", "Fabrics", "Candles", "Soap Co.", "Coffee Roasters",
          "Bridal", "Jewellers", "Tailors", "Music", "Games", "Stationers", "Upholstery",
          "Plumbing Supplies", "Cakes", "Cheese Shop", "Kitchenware"]
ADJECTIVES = ["Golden", "Little", "Northern", "Green", "Copper", "Bright", "Old", "Urban",
              "Happy", "Royal", "Silver", "Blue", "Wild", "Crafty", "Honest", "Modern", "Rustic"]
NOUNS = ["Oak", "Kettle", "Crust", "Fox", "Anchor", "Acorn", "Bee", "Lantern", "Thimble",
         "Pine", "Swallow", "Harbour", "Mill", "Willow", "Wren", "Forge", "Orchard", "Loaf"]
STREETS = ["Kirkgate", "Briggate", "The Headrow", "Boar Lane", "Wellington Street",
           "Otley Road", "Harehills Lane", "Chapel Street", "Market Street", "Station Road",
           "Victoria Road", "Albion Street", "Mill Hill", "Park Row", "Call Lane",
           "Westgate", "High Street", "Church Lane", "North Street", "Canal Wharf"]
COMPETITORS = ["FastFreight", "ParcelPro", "SwiftShip", "RoadRunner Couriers", "BoxLine",
               "Parcelia"]
NOTES = ["", "", "", "", "Asked about next-day rates.", "Opening next month.",
         "Uses {competitor} for about {n} parcels a week.", "Owner {first} is in on Tuesdays.",
         "Ships {n} boxes a week to Europe.", "Unhappy with missed collections.",
         "Wants a call before 10am.", "New unit on the trading estate, lots of pallets.",
         "Sells baking supplies online, growing fast.", "Asked whether we collect on Saturdays.",
         "Moving to a bigger shop in the spring.", "Returns are a headache for them.",
         "Their current courier keeps losing parcels.", "Busy with online orders since Christmas."]
REP_NOTES = ["Left a voicemail.", "Spoke to {first}, sending rates.", "Visited the shop.",
             "They want a trial week.", "Price is the sticking point.",
             "Decision maker back next week.", "Sent the account form."]
KUDOS = ["Great spot, thank you!", "Thanks — they signed up!", "Brilliant lead, keep them coming.",
         "Top find, cheers!", "Thanks for the heads-up."]
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"

LEAD_FIELDS = [Lead.id, Lead.client_uuid, Lead.courier, Lead.route, Lead.territory,
               Lead.assigned_rep, Lead.status, Lead.business_name, Lead.category,
               Lead.competitor, Lead.temperature, Lead.contact_name, Lead.contact_phone,
               Lead.contact_email, Lead.address, Lead.postcode, Lead.note, Lead.expects_call,
               Lead.photo, Lead.lat, Lead.lng, Lead.created_at, Lead.updated_at,
               Lead.acknowledged_at, Lead.escalated_at, Lead.closed_at, Lead.decline_reason,
               Lead.weekly_volume, Lead.weekly_value]
EVENT_FIELDS = [LeadEvent.lead, LeadEvent.kind, LeadEvent.actor, LeadEvent.detail,
                LeadEvent.created_at, LeadEvent.announced_at]


class Picker:
    """Weighted choice by bisection over cumulative weights (faster than random.choices)."""

    def __init__(self, weights):
        self.items = list(weights)
        self.cumulative, total = [], 0.0
        for weight in weights.values():
            total += weight
            self.cumulative.append(total)

    def __call__(self, rng):
        return self.items[bisect.bisect(self.cumulative, rng.random() * self.cumulative[-1])]


CATEGORY, TEMPERATURE, DECLINE = (Picker(CATEGORY_WEIGHTS), Picker(TEMPERATURE_WEIGHTS),
                                  Picker(DECLINE_WEIGHTS))
HOUR = Picker(dict(enumerate(HOUR_WEIGHTS)))


def fill(leads, seed=1, echo=print, now=None):
    """Add the synthetic depot (once) and `leads` leads, their history ending
    at `now`, to the database; return a summary. The same seed, count and
    `now` make the same data."""
    started, now = time.monotonic(), now or utcnow()
    existing = Lead.select().count()
    if is_sqlite():
        # A bulk load need not survive a power cut: no waiting for the disk.
        for pragma in ("synchronous = OFF", "cache_size = -262144", "temp_store = MEMORY"):
            db.execute_sql("PRAGMA " + pragma)
    depot = ensure_depot(random.Random(seed), now)
    # Another run on top (--force) must not repeat the first run's client_uuids.
    rng = random.Random("%d/%d" % (seed, existing))
    first_id = (Lead.select(fn.MAX(Lead.id)).scalar() or 0) + 1
    events = insert_leads(rng, depot, leads, first_id, now, echo)
    finish_load()
    return SimpleNamespace(leads=leads, events=events, seconds=time.monotonic() - started,
                           depot=depot)


def ensure_depot(rng, now):
    """Create the synthetic territories, routes and people unless they exist; return them."""
    password_hash = generate_password_hash(
        PASSWORD, method=current_app.config["PASSWORD_HASH_METHOD"])
    with db.atomic():
        territories = _territories()
        routes = _routes(territories)
        people = _people(rng, routes, password_hash, now)
        _memberships(territories, people)
    return _load_depot(rng, territories, routes, people)


def _territories():
    """Insert the territories and their postcode districts; return name → id."""
    (Territory.insert_many([(name,) for name, *_ in TERRITORIES], fields=[Territory.name])
     .on_conflict_ignore().execute())
    ids = dict(Territory.select(Territory.name, Territory.id)
               .where(Territory.name.in_([t[0] for t in TERRITORIES])).tuples())
    prefixes = [(ids[name], district) for name, _, districts, _ in TERRITORIES
                for district in districts]
    (PostcodePrefix.insert_many(prefixes, fields=[PostcodePrefix.territory, PostcodePrefix.prefix])
     .on_conflict_ignore().execute())
    return ids


def _routes(territories):
    """Insert seven routes per territory and four relief routes (no territory);
    return code → id."""
    rows = [("%s-%02d" % (code, n), "%s route %d" % (name, n), territories[name])
            for name, code, _, _ in TERRITORIES for n in range(1, ROUTES_PER_TERRITORY + 1)]
    rows += [("XR-%02d" % n, "Relief route %d" % n, None) for n in range(1, RELIEF_ROUTES + 1)]
    (Route.insert_many(rows, fields=[Route.code, Route.name, Route.territory])
     .on_conflict_ignore().execute())
    codes = [code for code, _, _ in rows]
    return dict(Route.select(Route.code, Route.id).where(Route.code.in_(codes)).tuples())


def _people(rng, routes, password_hash, now):
    """Insert the managers, reps and couriers (made-up names); return email → id."""
    codes = sorted(routes)
    rows = [("manager%d@%s" % (n, DOMAIN), "manager", None) for n in range(1, MANAGERS + 1)]
    reps = len(TERRITORIES) * (PRIMARY_REPS + 1)
    rows += [("rep%02d@%s" % (n, DOMAIN), "rep", None) for n in range(1, reps + 1)]
    rows += [("courier%03d@%s" % (n, DOMAIN), "courier", routes[codes[n % len(codes)]])
             for n in range(1, COURIERS + 1)]
    (User.insert_many([{"email": email, "name": "%s %s" % (rng.choice(FIRST), rng.choice(LAST)),
                        "role": role, "route": route, "password_hash": password_hash,
                        "created_at": now - timedelta(days=DAYS + rng.randint(1, 400))}
                       for email, role, route in rows])
     .on_conflict_ignore().execute())
    emails = [email for email, _, _ in rows]
    return dict(User.select(User.email, User.id).where(User.email.in_(emails)).tuples())


def _memberships(territories, people):
    """Four primary reps per territory; a fifth rep backs up it and the next one."""
    rows, names = [], [t[0] for t in TERRITORIES]
    for t, name in enumerate(names):
        for k in range(PRIMARY_REPS):
            rep = people["rep%02d@%s" % (t * PRIMARY_REPS + k + 1, DOMAIN)]
            rows.append((territories[name], rep, "primary"))
        backup = people["rep%02d@%s" % (len(names) * PRIMARY_REPS + t + 1, DOMAIN)]
        rows.append((territories[name], backup, "backup"))
        rows.append((territories[names[(t + 1) % len(names)]], backup, "backup"))
    (TerritoryRep.insert_many(rows, fields=[TerritoryRep.territory, TerritoryRep.rep,
                                            TerritoryRep.membership])
     .on_conflict_ignore().execute())


def _load_depot(rng, territories, routes, people):
    """The depot as the lead generator needs it, read back from the database, so
    that a run on top of an earlier one uses what is really there. Each person
    gets a character: how busy a courier is and how good their eye, how fast a rep."""
    users = list(User.select(User.id, User.name, User.role, User.route)
                 .where(User.id.in_(list(people.values()))).order_by(User.id))
    couriers = {u.id: u.route_id for u in users if u.role == "courier"}
    primary, backup = {}, {}
    for row in (TerritoryRep.select().where(TerritoryRep.territory.in_(list(territories.values())))
                .order_by(TerritoryRep.id)):
        group = primary if row.membership == "primary" else backup
        group.setdefault(row.territory_id, []).append(row.rep_id)
    return SimpleNamespace(
        names={u.id: u.name for u in users},
        managers=[u.id for u in users if u.role == "manager"],
        reps=[u.id for u in users if u.role == "rep"],
        speed={u.id: rng.lognormvariate(0, 0.5) for u in users if u.role == "rep"},
        primary=primary, backup=backup, couriers=couriers,
        courier=Picker({cid: min(rng.paretovariate(1.2), 50.0) for cid in couriers}),
        skill={cid: rng.uniform(0.6, 1.4) for cid in couriers},
        routes=dict(Route.select(Route.id, Route.territory)
                    .where(Route.id.in_(list(routes.values()))).tuples()),
        prefixes=dict(PostcodePrefix.select(PostcodePrefix.prefix, PostcodePrefix.territory)
                      .tuples()),
        deadlines={temperature: deadline(temperature) for temperature in TEMPERATURE_WEIGHTS},
        districts={territories[name]: districts for name, _, districts, _ in TERRITORIES},
        centres={territories[name]: centre for name, _, _, centre in TERRITORIES})


def insert_leads(rng, depot, count, first_id, now, echo):
    """Insert `count` leads, oldest first, with their events; return the number of events.

    Lead ids are given, not left to the database, so that events can name
    their lead without reading anything back.
    """
    started, times, total = time.monotonic(), creation_times(rng, count, now), 0
    for done in range(0, count, CHUNK):
        size = min(CHUNK, count - done)
        made = [make_lead(rng, depot, first_id + done + n, next(times), now) for n in range(size)]
        events = [event for _, story in made for event in story]
        with db.atomic():
            _insert(Lead, LEAD_FIELDS, [row for row, _ in made], LEAD_BATCH)
            _insert(LeadEvent, EVENT_FIELDS, events, EVENT_BATCH)
        total += len(events)
        if (done + size) % 100_000 == 0 or done + size == count:
            seconds = time.monotonic() - started
            echo("  %s leads, %s events, %.0f s (%s leads/s)" % (
                f"{done + size:,}", f"{total:,}", seconds,
                f"{(done + size) / max(seconds, 1e-9):,.0f}"))
    return total


def _insert(model, fields, rows, batch):
    """Insert rows with multi-row INSERTs of peewee's making.

    Peewee builds an insert_many statement value by value, which costs ten
    times more than the database's insert itself; so it writes the statement
    for one row, repeated for the batch, and the rows' values go in as they are.
    """
    for start in range(0, len(rows), batch):
        chunk = rows[start:start + batch]
        db.execute_sql(_statement(model, fields, len(chunk)),
                       [value for row in chunk for value in row])


def _statement(model, fields, size):
    """Peewee's INSERT for one row of fields, its VALUES repeated for size rows."""
    one = model.insert_many([(None,) * len(fields)], fields=fields).returning().sql()[0]
    head, values = one.split(" VALUES ", 1)
    return head + " VALUES " + ", ".join([values] * size)


def finish_load():
    """Leave the database as the app's own would be: on PostgreSQL the id
    sequence past the given ids and the planner's statistics fresh (as
    autovacuum makes them); SQLite, whose statistics the app never gathers,
    without any, and its write-ahead log folded back into the file."""
    if is_sqlite():
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute_sql("PRAGMA synchronous = NORMAL")
        return
    db.execute_sql("SELECT setval(pg_get_serial_sequence('lead', 'id'), "
                   "(SELECT COALESCE(MAX(id), 1) FROM lead))")
    db.execute_sql("ANALYZE")


def creation_times(rng, count, now):
    """`count` creation times over the last two years, oldest first: more each
    month as the programme grows, few at weekends, mostly in working hours."""
    first_day = now - timedelta(days=DAYS)
    weights = [(0.25 + day / DAYS) * WEEKDAY_WEIGHTS[(first_day + timedelta(days=day)).weekday()]
               for day in range(DAYS)]
    for day, n in enumerate(_apportion(count, weights)):
        start = first_day + timedelta(days=day)
        start_second = start.hour * 3600 + start.minute * 60 + start.second
        offsets = sorted((HOUR(rng) * 3600 + rng.randrange(3600) - start_second) % 86400
                         + rng.random() for _ in range(n))
        for offset in offsets:
            yield start + timedelta(seconds=offset)


def _apportion(count, weights):
    """Split count into whole parts proportional to weights (largest remainder)."""
    total = sum(weights)
    shares = [count * w / total for w in weights]
    parts = [int(s) for s in shares]
    by_remainder = sorted(range(len(shares)), key=lambda i: parts[i] - shares[i])
    for i in by_remainder[:count - sum(parts)]:
        parts[i] += 1
    return parts


def make_lead(rng, depot, lead_id, created, now):
    """One lead's row (in LEAD_FIELDS order) and its events' rows."""
    courier = depot.courier(rng)
    route = depot.couriers[courier]
    territory = depot.routes.get(route)
    postcode = _postcode(rng, depot, territory)
    if territory is None:
        territory = _route_by_postcode(depot, postcode)
    category, temperature = CATEGORY(rng), TEMPERATURE(rng)
    business, first = business_name(rng), rng.choice(FIRST)
    centre = depot.centres.get(territory)
    located = centre is not None and rng.random() < 0.65
    story = Story(rng, depot, lead_id, courier, territory, temperature, created, now)
    row = (lead_id, uuid.UUID(int=rng.getrandbits(128), version=4).hex, courier, route,
           territory, story.rep, story.status, business, category,
           rng.choice(COMPETITORS) if category == "competitor" else "", temperature,
           "%s %s" % (first, rng.choice(LAST)) if rng.random() < 0.6 else "",
           "+441134960%03d" % rng.randrange(1000) if rng.random() < 0.5 else "",
           "%s@%s.example" % (first.lower(), _slug(business)) if rng.random() < 0.25 else "",
           "%d %s" % (rng.randint(1, 240), rng.choice(STREETS)), postcode,
           _note(rng, rng.choice(NOTES), first), rng.random() < EXPECTS_CALL[temperature],
           None, centre[0] + rng.gauss(0, 0.02) if located else None,
           centre[1] + rng.gauss(0, 0.03) if located else None,
           created, story.updated_at, story.acknowledged_at, story.escalated_at,
           story.closed_at, story.decline_reason, story.volume, story.value)
    return row, story.events


def business_name(rng):
    """A plausible small-business name: "Patel's Bakery", "Golden Acorn Deli", …"""
    pattern, trade = rng.randrange(6), rng.choice(TRADES)
    if pattern == 0:
        return "%s's %s" % (rng.choice(LAST), trade)
    if pattern == 1:
        return "%s %s %s" % (rng.choice(ADJECTIVES), rng.choice(NOUNS), trade)
    if pattern == 2:
        return "%s & %s %s" % (rng.choice(LAST), rng.choice(["Sons", "Daughters", "Co."]), trade)
    if pattern == 3:
        return "%s %s" % (rng.choice(STREETS).split()[0].replace("The", "Headrow"), trade)
    if pattern == 4:
        return "The %s %s" % (rng.choice(NOUNS), trade)
    return "%s %s Ltd" % (rng.choice(LAST), trade)


def _slug(name):
    """A business name as a made-up mail domain's first part."""
    return "".join(c for c in name.lower() if c.isalnum())[:24]


def _note(rng, template, first):
    """A note template with its blanks filled in."""
    if "{" not in template:
        return template
    return template.format(competitor=rng.choice(COMPETITORS), n=rng.randint(5, 300), first=first)


def _postcode(rng, depot, territory):
    """A postcode in the lead's territory, now and then a neighbour's or nobody's."""
    if territory is not None and rng.random() < 0.92:
        district = rng.choice(depot.districts[territory])
    elif rng.random() < 0.85:
        district = rng.choice(depot.districts[rng.choice(list(depot.districts))])
    else:
        district = rng.choice(OUTSIDE_DISTRICTS)
    return "%s %d%s%s" % (district, rng.randint(1, 9), rng.choice(INWARD_LETTERS),
                          rng.choice(INWARD_LETTERS))


def _route_by_postcode(depot, postcode):
    """The longest matching prefix's territory, as route_lead decides it."""
    code = postcode.replace(" ", "").upper()
    for n in range(len(code), 0, -1):
        if code[:n] in depot.prefixes:
            return depot.prefixes[code[:n]]
    return None


class Story:
    """What has happened to one lead by now: picked up (or escalated first),
    worked through the pipeline, won, lost or declined, thanked; the lead's
    workflow fields and its timeline events, each already announced."""

    def __init__(self, rng, depot, lead_id, courier, territory, temperature, created, now):
        self.rng, self.depot, self.lead_id, self.now = rng, depot, lead_id, now
        self.status, self.rep, self.updated_at = "new", None, created
        self.acknowledged_at = self.escalated_at = self.closed_at = None
        self.decline_reason, self.volume, self.value = "", None, None
        self.events = [(lead_id, "created", courier, "", created, created + ANNOUNCED)]
        if self.pick_up(territory, temperature, created):
            self.work(depot.skill[courier])
        self.events.sort(key=lambda event: event[4])

    def minutes(self, median, sigma=1.0):
        """A log-normal delay: mostly near the median, now and then far longer."""
        return timedelta(minutes=self.rng.lognormvariate(math.log(median), sigma))

    def event(self, kind, actor, at, detail=""):
        """Add a timeline event, announced a moment after it happened."""
        self.events.append((self.lead_id, kind, actor, detail, at, at + ANNOUNCED))

    def pick_up(self, territory, temperature, created):
        """Acknowledge (or, unrouted, have a manager assign) the lead if that
        happened by now, escalating it first if its deadline passed; True if picked up."""
        rng, depot = self.rng, self.depot
        if territory is None:
            rep, actor = rng.choice(depot.reps), rng.choice(depot.managers)
            at = created + self.minutes(60)
        else:
            rep = actor = rng.choice(depot.primary[territory])
            at = created + self.minutes(ACK_MEDIAN[temperature]) * depot.speed[rep]
        if rng.random() < 0.01:
            at = None  # nobody ever picks it up
        due = created + depot.deadlines[temperature]
        # The worker looks once a minute.
        escalated = min(due + timedelta(seconds=rng.uniform(1, 60)), self.now)
        if (at is None or at > escalated) and due <= self.now:
            self.escalated_at = escalated
            self.event("escalated", None, escalated)
            backups = depot.backup.get(territory)
            if at is not None and backups and rng.random() < 0.35:
                rep = actor = rng.choice(backups)
                at = min(at, self.escalated_at + self.minutes(12))
        if at is None or at > self.now:
            return False
        self.rep, self.acknowledged_at = rep, at
        if actor == rep:
            self.step("acknowledged", at)
        else:
            self.step("acknowledged", at, event=False)
            self.event("assigned", actor, at, "Nobody → %s" % depot.names[rep])
        return True

    def work(self, skill):
        """Contact, quote and close the lead, each step only if it happened by now."""
        rng, at = self.rng, self.acknowledged_at
        if rng.random() < 0.02:
            return  # the rep sits on it
        if rng.random() < 0.10:
            return self.decline(at + self.minutes(600))
        at += self.minutes(180)
        if not self.step("contacted", at):
            return
        if rng.random() < 0.25:
            self.note(at + self.minutes(600))
        if rng.random() < 0.03:
            return
        if rng.random() < 0.11:
            return self.decline(at + self.minutes(1440))
        at += self.minutes(2880, 0.8)
        if not self.step("quoted", at) or rng.random() < 0.04:
            return
        at += self.minutes(8640, 0.8)
        if rng.random() < 0.4 * skill:
            self.win(at)
        elif self.step("lost", at, closed_at=at):
            self.thank(at, 0.03)

    def step(self, status, at, event=True, detail="", **fields):
        """Move the lead to status at `at`, if that is not in the future."""
        if at > self.now:
            return False
        self.status, self.updated_at = status, at
        for name, value in fields.items():
            setattr(self, name, value)
        if event:
            self.event(status, self.rep, at, detail)
        return True

    def decline(self, at):
        """Close the lead as declined for a reason, if that happened by now."""
        reason = DECLINE(self.rng)
        if self.step("declined", at, detail=reason, decline_reason=reason, closed_at=at):
            self.thank(at, 0.03)

    def win(self, at):
        """Win the customer, with what they ship a week, if that happened by now."""
        volume = min(5000, max(1, int(self.rng.lognormvariate(math.log(25), 0.9))))
        value = Decimal("%.2f" % (volume * self.rng.uniform(3.5, 9.5)))
        if self.step("won", at, detail=weekly_business(volume, value), volume=volume,
                     value=value, closed_at=at):
            self.thank(at, 0.45)

    def note(self, at):
        """The rep's note on the timeline, if written by now."""
        if at <= self.now:
            text = _note(self.rng, self.rng.choice(REP_NOTES), self.rng.choice(FIRST))
            self.event("note", self.rep, at, text)

    def thank(self, at, chance):
        """Now and then (chance), the rep thanks the courier a little later."""
        if self.rng.random() < chance:
            at += self.minutes(120)
            if at <= self.now:
                self.event("kudos", self.rep, at, self.rng.choice(KUDOS))
