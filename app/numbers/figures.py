"""The figures behind every page of numbers, for the leads sent in a period.

Every figure is about a cohort: the leads *sent* in the period, and what has
become of them since (picked up, won…), so a period's numbers can still grow
while its leads are worked. One query per period, the same on SQLite and
PostgreSQL, bounded by the index on `lead.created_at`, groups the period's
leads by (territory, rep, courier, route) and counts and sums in SQL: sent,
overdue and never acknowledged, acknowledged within the deadline, won,
closed, won volume and value; and it gathers each group's seconds from
sending to acknowledgement, for the medians and 90th percentiles
(interpolated here, as PostgreSQL's percentile_cont does).

Rolling the groups up into any breakdown (overall, by territory, rep, courier,
route, or courier-and-rep pair) is then a matter of adding small rows here.
"""
import math
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from peewee import Case, fn

from ..db import db, is_sqlite
from ..models import TEMPERATURES, Lead
from ..models.leads import CLOSED_STATUSES
from ..notify import deadline

GROUP = (Lead.territory, Lead.assigned_rep, Lead.courier, Lead.route)
# Each breakdown as a key of a group (territory, rep, courier, route).
BREAKDOWNS = {
    "territory": lambda territory, rep, courier, route: territory,
    "rep": lambda territory, rep, courier, route: rep,
    "courier": lambda territory, rep, courier, route: courier,
    "route": lambda territory, rep, courier, route: route,
    "pair": lambda territory, rep, courier, route: (courier, rep),
}
CENT = Decimal("0.01")


def percentile(ordered, share):
    """The value share (0–1) of the way through ordered values, interpolating
    between neighbours like percentile_cont; None for no values."""
    if not ordered:
        return None
    rank = (len(ordered) - 1) * share
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Figures:
    """What became of one group of leads sent in a period."""
    sent: int = 0
    overdue: int = 0
    won: int = 0
    closed: int = 0
    won_volume: int = 0
    won_value: Decimal = Decimal("0.00")
    on_time: int = 0
    seconds: list = field(default_factory=list)
    # Thank-yous for these leads; counted by recognition.py where a page shows them.
    kudos: int = 0

    def add(self, sent, overdue, on_time, won, closed, volume, value):
        """Add one SQL group's counts and sums."""
        self.sent += sent
        self.overdue += overdue or 0
        self.on_time += on_time or 0
        self.won += won or 0
        self.closed += closed or 0
        self.won_volume += volume or 0
        self.won_value += Decimal(str(value or 0)).quantize(CENT)

    def merge(self, other):
        """Add another group's figures to these."""
        self.add(other.sent, other.overdue, other.on_time, other.won, other.closed,
                 other.won_volume, other.won_value)
        self.seconds.extend(other.seconds)

    @property
    def acknowledged(self):
        return len(self.seconds)

    @property
    def median(self):
        """Median seconds from sending to pick-up (None if none was picked up)."""
        return percentile(self.seconds, 0.5)

    @property
    def p90(self):
        """The 90th percentile of seconds to pick-up: nine in ten were faster."""
        return percentile(self.seconds, 0.9)

    @property
    def on_time_share(self):
        """Of the leads whose deadline has come (or that were picked up), the
        share picked up within it."""
        due = self.acknowledged + self.overdue
        return self.on_time / due if due else None

    @property
    def win_share(self):
        """Won, of those closed (won, lost or declined)."""
        return self.won / self.closed if self.closed else None


@dataclass
class Tally:
    """Figures overall and for each key of each breakdown asked for."""
    overall: Figures
    by: dict


def tally(scope, start, end, now, breakdowns=("territory", "rep", "courier", "route")):
    """The figures of the leads sent in [start, end) that scope (a condition
    on Lead, or None for all) admits, overall and by each breakdown."""
    where = (Lead.created_at >= start) & (Lead.created_at < end)
    if scope is not None:
        where &= scope
    groups = defaultdict(Figures)
    for *keys, sent, overdue, on_time, won, closed, volume, value, seconds in db.execute(
            _sums(where, now)):
        group = groups[tuple(keys)]
        group.add(sent, overdue, on_time, won, closed, volume, value)
        # Sorted here, each breakdown's lists are runs that Python's sort merges cheaply.
        group.seconds = sorted(each_seconds(seconds))
    return _roll_up(groups, breakdowns)


def _roll_up(groups, breakdowns):
    """Add the (territory, rep, courier, route) groups up into each breakdown."""
    result = Tally(Figures(), {name: defaultdict(Figures) for name in breakdowns})
    for keys, figures in groups.items():
        result.overall.merge(figures)
        for name, totals in result.by.items():
            totals[BREAKDOWNS[name](*keys)].merge(figures)
    result.overall.seconds.sort()
    for totals in result.by.values():
        for figures in totals.values():
            figures.seconds.sort()
    return result


def _sums(where, now):
    """Counts and sums per (territory, rep, courier, route), in SQL."""
    limits = {t: deadline(t) for t in TEMPERATURES}
    overdue = [((Lead.temperature == t) & (Lead.created_at <= now - limit), 1)
               for t, limit in limits.items()]
    seconds = seconds_to_acknowledge()
    # A millisecond's grace absorbs SQLite's floating-point day arithmetic.
    on_time = [((Lead.temperature == t) & (seconds <= limit.total_seconds() + 0.001), 1)
               for t, limit in limits.items()]
    won = Lead.status == "won"
    return (Lead
            .select(*GROUP, fn.COUNT(Lead.id),
                    fn.SUM(Case(None, [(Lead.acknowledged_at.is_null(False), 0)] + overdue, 0)),
                    fn.SUM(Case(None, on_time, 0)),
                    fn.SUM(Case(None, [(won, 1)], 0)),
                    fn.SUM(Case(None, [(Lead.status.in_(CLOSED_STATUSES), 1)], 0)),
                    fn.SUM(Case(None, [(won, Lead.weekly_volume)])),
                    fn.SUM(Case(None, [(won, Lead.weekly_value)])),
                    all_seconds(seconds))
            .where(where)
            .group_by(*GROUP)
            .tuples())


def seconds_to_acknowledge():
    """Seconds from sending to pick-up: the one expression each database spells its own way."""
    if is_sqlite():
        return (fn.julianday(Lead.acknowledged_at) - fn.julianday(Lead.created_at)) * 86400
    return fn.date_part("epoch", Lead.acknowledged_at - Lead.created_at)


def all_seconds(seconds):
    """A group's seconds to pick-up, every one, for its medians and
    percentiles: one aggregate of the same pass that counts and sums (a second
    query for them would read every lead of the period again)."""
    if is_sqlite():
        return fn.GROUP_CONCAT(seconds)  # leaves out leads not picked up (NULL)
    return fn.array_remove(fn.array_agg(seconds), None)


def each_seconds(aggregate):
    """all_seconds' value as floats: SQLite's comma-separated text, PostgreSQL's array."""
    if aggregate is None:
        return []
    if isinstance(aggregate, str):
        return [float(value) for value in aggregate.split(",")]
    return aggregate
