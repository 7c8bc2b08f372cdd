"""What every model shares: the base class, the domain's fixed choices, and time."""
from datetime import datetime, timezone

from peewee import Model

from ..db import db

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
