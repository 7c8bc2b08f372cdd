"""Pages of the feed: keyset pagination, never OFFSET, in the filters' sort.

A page is the PAGE_SIZE leads after a cursor lead in the sort order (newest
first: ids below `before=<id>`; oldest first: ids above `after=<id>`; by
deadline: due after the `after` lead's due), so leads arriving meanwhile
neither shift nor repeat a page. Its ids are picked on lead alone, with the
index the filters allow (see app/models/leads.py, Lead.Meta.indexes), and
only then joined to the people and places a page shows. `version` digests
what a page shows, for the live feed's ETag.
"""
import hashlib
import heapq

from peewee import JOIN, SQL, Case, NodeList, fn

from .. import search
from ..db import is_sqlite
from ..models import TEMPERATURES, Lead, Route, Territory, User
from .filters import deadlines

PAGE_SIZE = 50

Courier = User.alias("courier")
Rep = User.alias("rep")


def page_of(filters, cursor=None, limit=PAGE_SIZE):
    """A page of the filters' leads in their sort: (the ids, as a query or a
    list, and the ORDER BY that lists them in that order)."""
    if filters.sort == "deadline":
        ids = due_first(filters, cursor, limit)
        return ids, Case(Lead.id, [(id, n) for n, id in enumerate(ids)]) if ids else Lead.id
    ids = id_ordered(Lead.select(Lead.id), filters, cursor, limit)
    return ids, Lead.id.asc() if filters.sort == "oldest" else Lead.id.desc()


def id_ordered(query, filters, cursor=None, limit=PAGE_SIZE):
    """query (over Lead) kept to the leads the filters keep, a page of them
    newest first below the cursor id (or oldest first above it, if the
    filters sort so): keyset on id, never OFFSET."""
    oldest = filters.sort == "oldest"
    key, conditions = Lead.id, list(filters.conditions)
    if filters.text:
        query, key = search.matching(query, filters.text)
    order = key.asc() if oldest else key.desc()
    start, end = filters.period()
    if start or end:
        # Oldest first, a period's first leads are at the start of its dates,
        # never behind a walk over every older id.
        by_dates = not filters.text and (oldest or dates_first(start, end, cursor))
        sent = Lead.created_at if by_dates or not is_sqlite() else unindexed(Lead.created_at)
        conditions += sent_within(start, end, sent)
        if by_dates:  # no index holds id + 0: the dates' index leads
            order = (key + 0).asc() if oldest else (key + 0).desc()
    if cursor is not None:
        conditions.append(key > cursor if oldest else key < cursor)
    if conditions:
        query = query.where(*conditions)
    return query.order_by(order).limit(limit)


def sent_within(start, end, sent=Lead.created_at):
    """The conditions of the filters' dates on when a lead was sent."""
    return ([sent >= start] if start else []) + ([sent < end] if end else [])


def due_first(filters, after=None, limit=PAGE_SIZE):
    """The ids of a page of the filters' leads by deadline, the soonest (the
    most overdue) first, after the lead `after`.

    A deadline belongs to a new lead only: once picked up or closed a lead has
    met or missed it, so this order lists the leads still new and no others.
    Due is sent + the temperature's allowance, so within a temperature the
    order is the order of sending: each temperature's new leads are walked by
    created_at (a page at most each) and the walks merged, each on the index
    lead (status, temperature, created_at, id).
    """
    allowances = deadlines()
    last = (Lead.select(Lead.created_at, Lead.temperature).where(Lead.id == after).first()
            if after else None)
    walks = []
    for temperature in filters.values.get("temperature", TEMPERATURES):
        allowed = allowances[temperature]
        query = Lead.select(Lead.id, Lead.created_at)
        if filters.text:
            query, _ = search.matching(query, filters.text)
        conditions = list(filters.conditions) + sent_within(*filters.period()) + [
            Lead.status == "new", Lead.temperature == temperature]
        if last is not None:
            # The same due as the cursor's, sent at this temperature.
            mark = last.created_at + allowances[last.temperature] - allowed
            conditions.append((Lead.created_at > mark)
                              | ((Lead.created_at == mark) & (Lead.id > after)))
        rows = (query.where(*conditions).order_by(Lead.created_at, Lead.id)
                .limit(limit).tuples())
        walks.append([(sent + allowed, id) for id, sent in rows])
    return [id for _, id in heapq.merge(*walks)][:limit]


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


def with_people(columns, filters, cursor=None, limit=PAGE_SIZE):
    """A page of leads with their courier, rep, territory and route, in one query.

    The page's ids are picked first, on lead alone, and only they are joined:
    the plan cannot join every matching lead before it sorts, whatever the
    planner believes about the table (say, statistics not yet gathered after
    a bulk load).
    """
    ids, order = page_of(filters, cursor, limit)
    return (Lead.select(*columns)
            .join_from(Lead, Courier, on=(Lead.courier == Courier.id), attr="courier")
            .join_from(Lead, Rep, JOIN.LEFT_OUTER, on=(Lead.assigned_rep == Rep.id),
                       attr="assigned_rep")
            .join_from(Lead, Territory, JOIN.LEFT_OUTER, attr="territory")
            .join_from(Lead, Route, JOIN.LEFT_OUTER, attr="route")
            .where(Lead.id.in_(ids))
            .order_by(order))


def version(rows):
    """A digest of what a page shows: each lead's id and when it last changed."""
    text = ";".join("%s:%s:%s" % row for row in rows)
    return hashlib.sha256(text.encode()).hexdigest()[:24]
