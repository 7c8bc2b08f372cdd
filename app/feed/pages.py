"""Pages of the feed: keyset pagination on id, newest first, never OFFSET.

A page is the PAGE_SIZE newest leads below a cursor (`before=<id>`), so
leads arriving meanwhile neither shift nor repeat a page. Its ids are picked
on lead alone, with the index the filters allow (see app/models/leads.py,
Lead.Meta.indexes), and only then joined to the people and places a page
shows. `version` digests what a page shows, for the live feed's ETag.
"""
import hashlib

from peewee import JOIN, SQL, NodeList, fn

from .. import search
from ..db import is_sqlite
from ..models import Lead, Route, Territory, User

PAGE_SIZE = 50

Courier = User.alias("courier")
Rep = User.alias("rep")


def newest_first(query, filters, before=None, limit=PAGE_SIZE):
    """query (over Lead) kept to the leads the filters keep, newest first, a
    page of them from before (keyset on id, never OFFSET)."""
    key, conditions = Lead.id, list(filters.conditions)
    if filters.text:
        query, key = search.matching(query, filters.text)
    order = key.desc()
    start, end = filters.period()
    if start or end:
        by_dates = not filters.text and dates_first(start, end, before)
        sent = Lead.created_at if by_dates or not is_sqlite() else unindexed(Lead.created_at)
        conditions += [sent >= start] if start else []
        conditions += [sent < end] if end else []
        if by_dates:
            order = (key + 0).desc()  # no index holds id + 0: the dates' index leads
    if before is not None:
        conditions.append(key < before)
    if conditions:
        query = query.where(*conditions)
    return query.order_by(order).limit(limit)


def dates_first(start, end, before=None):
    """Whether a page bounded by dates is found sooner by walking the dates
    on the created_at index and sorting the leads there, than by walking ids
    down from the newest lead past every lead above the range.

    Ids follow time closely, so three index probes tell roughly how many
    leads each walk passes. The answer only picks the plan: both plans find
    exactly the same leads, whatever order the leads were sent in.
    """
    newest = Lead.select(fn.MAX(Lead.id)).scalar() or 0
    high = (first_id_since(end) or newest) if end else newest
    low = (first_id_since(start) or newest) if start else 0
    top = min(before or newest, newest)
    # A walk by id that finds too few leads in the range to fill the page
    # goes on through every older lead as well.
    left_in_range = min(top, high) - low
    by_id = max(top - high, 0) + (min(top, low) if left_in_range < 20 * PAGE_SIZE else 0)
    return 3 * max(high - low, 0) < by_id


def first_id_since(moment):
    """The id of the first lead sent at or after moment, if any."""
    return (Lead.select(Lead.id).where(Lead.created_at >= moment)
            .order_by(Lead.created_at).limit(1).scalar())


def unindexed(column):
    """column as SQLite's planner may use no index for (a unary +, as its
    documentation advises), so that it walks ids as told."""
    return NodeList((SQL("+"), column), glue="")


def with_people(columns, filters, before=None, limit=PAGE_SIZE):
    """A page of leads with their courier, rep, territory and route, in one query.

    The page's ids are picked first, on lead alone, and only they are joined:
    the plan cannot join every matching lead before it sorts, whatever the
    planner believes about the table (say, statistics not yet gathered after
    a bulk load).
    """
    ids = newest_first(Lead.select(Lead.id), filters, before, limit)
    return (Lead.select(*columns)
            .join_from(Lead, Courier, on=(Lead.courier == Courier.id), attr="courier")
            .join_from(Lead, Rep, JOIN.LEFT_OUTER, on=(Lead.assigned_rep == Rep.id),
                       attr="assigned_rep")
            .join_from(Lead, Territory, JOIN.LEFT_OUTER, attr="territory")
            .join_from(Lead, Route, JOIN.LEFT_OUTER, attr="route")
            .where(Lead.id.in_(ids))
            .order_by(Lead.id.desc()))


def version(rows):
    """A digest of what a page shows: each lead's id and when it last changed."""
    text = ";".join("%s:%s:%s" % row for row in rows)
    return hashlib.sha256(text.encode()).hexdigest()[:24]
