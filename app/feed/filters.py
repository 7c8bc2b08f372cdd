"""The feed's filters, read from a query string: each a condition on Lead.

Filters live in the URL, so a view can be bookmarked and shared. A bad value
is left out with a message saying why, never a failed page. The search and
the dates are kept apart from the other conditions, since they decide how a
page is walked (app/feed/pages.py).
"""
import operator
from datetime import date, timedelta
from functools import cached_property, reduce

from flask import current_app

from .. import search
from ..models import CATEGORIES, MAX_ID, STATUSES, TEMPERATURES, Lead, utcnow
from ..notify import deadline
from ..numbers.period import EARLIEST, LATEST, midnight_utc, parse_day
from ..params import whole_number

MAX_SEARCH = 200
CHOICES = {"status": STATUSES, "temperature": TEMPERATURES, "category": CATEGORIES}
BY_ID = {"territory": Lead.territory, "route": Lead.route, "courier": Lead.courier,
         "rep": Lead.assigned_rep}
FLAGS = ("unrouted", "escalated", "overdue")
# The orders the feed lists leads in (`sort=`), the first the default. Newest
# first pages back with `before=<id>`, the others forward with `after=<id>`.
SORTS = {"newest": "Newest first", "oldest": "Oldest first",
         "deadline": "Deadline first"}


class Filters:
    """The feed's filters and cursor as a query string gives them: `values`
    holds the good ones, `errors` a message for each one left out. `now` is
    the one moment a request judges "overdue" by."""

    def __init__(self, args, now=None):
        self.values, self.errors, self.now = {}, {}, now or utcnow()
        for name, choices in CHOICES.items():
            self._choices(args.getlist(name), name, choices)
        for name in BY_ID:
            self._id(args.get(name), name)
        for name in ("since", "until"):
            self._date(args.get(name), name)
        for name in FLAGS:
            self._flag(args.get(name), name)
        self._search(args.get("q"))
        self.sort = self._sort(args.get("sort"))
        self.before = self._whole(args.get("before"), "before")
        self.after = self._whole(args.get("after"), "after")
        wrong = "after" if self.sort == "newest" else "before"
        if getattr(self, wrong) is not None:
            self.errors[wrong] = "“%s” pages the %s order, so it was left out." % (
                wrong, "oldest-first or deadline" if wrong == "after" else "newest-first")
            setattr(self, wrong, None)
        if self.values.get("since", date.min) > self.values.get("until", date.max):
            self.errors["until"] = "“Until” (%s) is before “since” (%s), so it was left out." % (
                self.values.pop("until"), self.values["since"])

    def _choices(self, raw, name, choices):
        raw = [value for value in raw if value]
        unknown = [value for value in raw if value not in choices]
        if unknown:
            self.errors[name] = "Unknown %s: %s." % (name, ", ".join(unknown)[:80])
        chosen = [value for value in choices if value in raw]
        if chosen:
            self.values[name] = chosen

    def _whole(self, raw, name):
        if raw in (None, ""):
            return None
        value = whole_number(raw, 1, MAX_ID)
        if value is not None:
            return value
        self.errors[name] = "%s must be an id (a whole number), not “%s”." % (
            name.capitalize(), raw[:40])
        return None

    def _id(self, raw, name):
        value = self._whole(raw, name)
        if value is not None:
            self.values[name] = value

    def _date(self, raw, name):
        if raw in (None, ""):
            return
        day = parse_day(raw)
        if day is None or not EARLIEST <= day <= LATEST:
            self.errors[name] = "%s must be a date like 2025-03-31, not “%s”." % (
                name.capitalize(), raw[:40])
            return
        self.values[name] = day

    def _flag(self, raw, name):
        if raw in (None, "", "0"):
            return
        if raw in ("1", "on", "true", "yes"):
            self.values[name] = True
        else:
            self.errors[name] = "%s is on with 1, off when left out." % name.capitalize()

    def _sort(self, raw):
        if raw in (None, "") or raw in SORTS:
            return raw or "newest"
        self.errors["sort"] = "Sort by %s, not “%s”." % (", ".join(SORTS), raw[:40])
        return "newest"

    @property
    def cursor(self):
        """Where the page starts: after this lead in the sort order (None: the top)."""
        return self.before if self.sort == "newest" else self.after

    def cursor_args(self, lead_id):
        """The url_for arguments of the page that starts after lead_id."""
        return {"before" if self.sort == "newest" else "after": lead_id}

    def _search(self, raw):
        text = (raw or "").strip()
        if not text:
            return
        if len(text) > MAX_SEARCH:
            self.errors["q"] = "Search for at most %d characters." % MAX_SEARCH
        elif not search.words(text):
            self.errors["q"] = "Search with letters or digits (a name, a postcode, a word)."
        else:
            self.values["q"] = text

    @property
    def text(self):
        """What to search for, if anything."""
        return self.values.get("q")

    def args(self):
        """The good filters as url_for arguments (so links keep them)."""
        found = {}
        for name, value in self.values.items():
            if isinstance(value, date):
                value = value.isoformat()
            found[name] = 1 if value is True else value
        if self.sort != "newest":
            found["sort"] = self.sort
        return found

    def period(self):
        """The dates as naive UTC bounds (from, to), None where open."""
        since, until = self.values.get("since"), self.values.get("until")
        return (depot_midnight(since) if since else None,
                depot_midnight(until + timedelta(days=1)) if until else None)

    @cached_property
    def conditions(self):
        """Every filter but the search and the dates as a condition on Lead."""
        values, found = self.values, []
        for name in CHOICES:
            if name in values:
                found.append(getattr(Lead, name).in_(values[name]))
        for name, field in BY_ID.items():
            if name in values:
                found.append(field == values[name])
        if values.get("unrouted"):
            found.append(Lead.territory.is_null())
        if values.get("escalated"):
            found.append(Lead.escalated_at.is_null(False))
        if values.get("overdue"):
            found.append(overdue(self.now))
        return found


def depot_midnight(day):
    """The start of day in the depot's time zone, as naive UTC (as stored)."""
    return midnight_utc(day, current_app.config["DEPOT_TIMEZONE"])


def deadlines():
    """How long a lead of each temperature may stay new."""
    return {temperature: deadline(temperature) for temperature in TEMPERATURES}


def overdue(now):
    """Still new past its temperature's deadline, decided in SQL per temperature."""
    late = [(Lead.temperature == temperature) & (Lead.created_at < now - allowed)
            for temperature, allowed in deadlines().items()]
    return (Lead.status == "new") & reduce(operator.or_, late)
