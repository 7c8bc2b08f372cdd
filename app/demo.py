"""A demo depot: two territories, four routes, three couriers, three reps
(one a backup), a manager and about fifty leads across every status.

Demo accounts share one published password: load this into a demo database
only, never into a depot's real one (the command refuses a database with users).
"""
import random
import uuid
from datetime import timedelta
from decimal import Decimal

from flask import current_app
from werkzeug.security import generate_password_hash

from .db import db
from .models import (CATEGORIES, TEMPERATURES, Lead, LeadEvent, PostcodePrefix, Route,
                     Territory, TerritoryRep, User, utcnow)

PASSWORD = "touchpoint-demo"

BUSINESSES = ["Joe's Bakery", "Northside Florist", "Hart & Sons Hardware", "Bloom Tea Rooms",
              "Pixel Print Shop", "Greenway Grocers", "Atlas Bike Repair", "Maple Dental",
              "Corner Bookshop", "Riverside Brewing", "Ivy Yoga Studio", "Fresh Fold Laundry",
              "Oak & Iron Furniture", "Little Paws Pet Store", "Summit Outdoor Gear",
              "Copper Kettle Café", "Bright Smile Opticians", "Quayside Fish Market",
              "Nova Electronics", "The Sock Drawer", "Harbour Wine Cellar", "Tinker Toys",
              "Golden Crust Pizza", "Evergreen Garden Centre", "Swift Shoe Repair"]
STEPS = ["acknowledged", "contacted", "quoted"]
ENDINGS = ["won", "lost", "declined"]


def create():
    """Fill an empty database with the demo depot; return the users to log in as."""
    rng = random.Random(7)
    password_hash = generate_password_hash(PASSWORD, method=current_app.config["PASSWORD_HASH_METHOD"])
    with db.atomic():
        north = Territory.create(name="North")
        south = Territory.create(name="South")
        for territory, prefixes in ((north, ["N1", "N2", "NW"]), (south, ["S1", "SE", "SW"])):
            for prefix in prefixes:
                PostcodePrefix.create(territory=territory, prefix=prefix)
        routes = [Route.create(code=code, name=name, territory=territory) for code, name, territory in (
            ("N-01", "North high street", north), ("N-02", "North industrial park", north),
            ("S-01", "South docks", south), ("S-02", "South retail park", None))]

        def person(email, name, role, route=None):
            # Every demo number is in Ofcom's range for drama (0161 496 0000 to
            # 0999, like 020 7946 0xxx on the leads): valid, and it rings no one.
            phone = "+441614960%03d" % (User.select().count() + 1)
            return User.create(email=email, name=name, role=role, route=route, phone=phone,
                               password_hash=password_hash)

        couriers = [person("courier1@demo.touchpoint", "Ana Courier", "courier", routes[0]),
                    person("courier2@demo.touchpoint", "Ben Courier", "courier", routes[2]),
                    person("courier3@demo.touchpoint", "Cleo Courier", "courier", routes[3])]
        dana = person("rep.north@demo.touchpoint", "Dana Rep", "rep")
        eli = person("rep.south@demo.touchpoint", "Eli Rep", "rep")
        fay = person("rep.backup@demo.touchpoint", "Fay Backup", "rep")
        manager = person("manager@demo.touchpoint", "Max Manager", "manager")
        TerritoryRep.create(territory=north, rep=dana)
        TerritoryRep.create(territory=south, rep=eli)
        TerritoryRep.create(territory=north, rep=fay, membership="backup")
        TerritoryRep.create(territory=south, rep=fay, membership="backup")
        reps = {north.id: dana, south.id: eli}
        # Oldest first, so that ids follow time as they do for real leads
        # (the feed pages newest first by id).
        for n in reversed(range(50)):
            _demo_lead(rng, n, rng.choice(couriers), reps)
    return couriers + [dana, eli, fay, manager]


def _demo_lead(rng, n, courier, reps):
    postcode = rng.choice(["N1 4AB", "N2 9XY", "NW3 2PQ", "S1 1AA", "SE5 7HT", "SW9 0RR", "E8 3LL"])
    fields = {"business_name": BUSINESSES[n % len(BUSINESSES)] + ("" if n < 25 else " (2nd site)"),
              "category": rng.choice(list(CATEGORIES)), "temperature": rng.choice(list(TEMPERATURES)),
              "contact_name": rng.choice(["", "Sam", "Priya", "Tom", "Ola"]),
              "contact_phone": rng.choice(["", "+44207946%04d" % n]),
              "address": "%d Market Street" % (n + 1), "postcode": postcode,
              "note": rng.choice(["", "Asked about next-day rates.", "Opening next month."]),
              "expects_call": rng.random() < 0.4, "photo": None}
    if fields["category"] == "competitor":
        fields["competitor"] = rng.choice(["FastFreight", "ParcelPro"])
    lead, _ = Lead.submit(courier, fields, uuid.uuid4())
    created = utcnow() - timedelta(hours=n * 7 + rng.randint(0, 5))
    Lead.update(created_at=created, updated_at=created).where(Lead.id == lead.id).execute()
    # History, not news: announced when it happened, so the worker's sweep
    # never pushes it to a device enabled today (as app/synth.py does).
    LeadEvent.update(created_at=created, announced_at=created).where(LeadEvent.lead == lead).execute()
    rep = reps.get(lead.territory_id)
    if rep is None or n < 8:
        return
    steps = STEPS[:rng.randint(1, 3)]
    if n % 3 == 0:
        steps.append(rng.choice(ENDINGS))
    at, times = created, []
    for step in steps:
        at += timedelta(minutes=rng.randint(3, 240))
        LeadEvent.create(lead=lead, kind=step, actor=rep, created_at=at, announced_at=at)
        times.append(at)
    # steps[0] is always "acknowledged": the rep picked the lead up then.
    Lead.update(status=steps[-1], assigned_rep=rep, updated_at=at, acknowledged_at=times[0],
                **_ending(rng, steps[-1], at)).where(Lead.id == lead.id).execute()


def _ending(rng, status, at):
    """What a closed demo lead records: when, and a win's weekly business."""
    if status not in ENDINGS:
        return {}
    fields = {"closed_at": at}
    if status == "won":
        fields.update(weekly_volume=rng.choice([15, 40, 120]),
                      weekly_value=Decimal(rng.choice([300, 850, 2400])))
    elif status == "declined":
        fields["decline_reason"] = rng.choice(["duplicate", "existing_customer", "not_a_fit"])
    return fields
