"""The manager's opportunity feed: every lead, newest first, filtered and
searched by what the URL says, a page at a time, live, and as a CSV export.

`Filters` (filters.py) reads the query string once for every view here;
pages.py walks the leads a page at a time; export.py writes the CSV. The page
stays live by polling /api/v1/feed/changes, whose ETag is a digest of what
the page shows (each lead's id, updated_at and escalated_at): one narrow
indexed query, answered 304 when nothing changed (static/js/feed.js).
"""
from flask import (Blueprint, Response, abort, jsonify, render_template, request,
                   stream_with_context, url_for)
from flask_login import current_user

from ..api import api_role
from ..auth import role_required
from ..errors import ApiError
from ..models import (CATEGORIES, STATUSES, TEMPERATURES, AuditEntry, Lead, Route, Territory,
                      User, utcnow)
from ..pipeline import mark_deadlines
from ..views import local_time
from .export import csv_chunks, export_rows
from .filters import SORTS, Filters
from .pages import PAGE_SIZE, Courier, Rep, page_of, version, with_people

bp = Blueprint("feed", __name__)


@bp.app_template_filter("span")
def span(delta):
    """A duration in words a glance can read: "45 min", "3 h 5 min", "2 d 4 h"."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "<1 min"
    if minutes < 60:
        return "%d min" % minutes
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return "%d h %d min" % (hours, minutes)
    days, hours = divmod(hours, 24)
    return "%d d %d h" % (days, hours)


@bp.app_template_filter("utc_iso")
def utc_iso(value):
    """A stored (naive UTC) time as ISO 8601 in UTC, for scripts to read."""
    return value.isoformat(timespec="milliseconds") + "Z"


def choices():
    """What the filter form offers: territories, routes, couriers and reps."""
    people = list(User.select(User.id, User.name, User.role, User.active)
                  .where(User.role.in_(("courier", "rep"))).order_by(User.name))
    return {"territory": list(Territory.select().order_by(Territory.name)),
            "route": list(Route.select().order_by(Route.code)),
            "courier": [user for user in people if user.role == "courier"],
            "rep": [user for user in people if user.role == "rep"]}


@bp.route("/feed")
@role_required("manager")
def index():
    """Every lead the filters in the URL keep, in the order they ask (newest first)."""
    filters = Filters(request.args)
    columns = (Lead, Courier.id, Courier.name, Rep.id, Rep.name, Territory, Route)
    rows = list(with_people(columns, filters, filters.cursor, PAGE_SIZE + 1))
    leads, more = rows[:PAGE_SIZE], len(rows) > PAGE_SIZE
    mark_deadlines(leads)
    page = render_template(
        "feed/index.html", leads=leads, filters=filters, now=filters.now, options=choices(),
        STATUSES=STATUSES, TEMPERATURES=TEMPERATURES, CATEGORIES=CATEGORIES, SORTS=SORTS,
        next_page=filters.cursor_args(leads[-1].id) if more else None,
        version=version((lead.id, lead.updated_at, lead.escalated_at) for lead in leads))
    return page, 400 if filters.errors else 200


@bp.route("/api/v1/feed/changes")
@api_role("manager")
def changes():
    """Whether a feed page changed: its version as JSON and ETag; 304 if unchanged."""
    filters = Filters(request.args)
    if filters.errors:
        raise ApiError(400, "invalid_parameter", " ".join(filters.errors.values()),
                       {name: [message] for name, message in filters.errors.items()})
    ids, order = page_of(filters, filters.cursor)
    rows = list(Lead.select(Lead.id, Lead.updated_at, Lead.escalated_at)
                .where(Lead.id.in_(ids)).order_by(order).tuples())
    current = version(rows)
    response = (Response(status=304) if request.if_none_match.contains_weak(current)
                else jsonify(version=current,
                           newest=max((row[0] for row in rows), default=None)))
    response.set_etag(current)
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.route("/feed.csv")
@role_required("manager")
def export():
    """Exactly what the filters show, as CSV, streamed a batch at a time."""
    filters = Filters(request.args)
    if filters.errors:
        abort(400, " ".join(filters.errors.values()))
    AuditEntry.record(current_user.id, "export", subject=url_for("feed.export",
                      **filters.args())[:200], filters=filters.values)
    rows = export_rows(filters)
    response = Response(stream_with_context(csv_chunks(rows)), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        'attachment; filename="touchpoint-leads-%s.csv"' % local_time(utcnow(), "%Y-%m-%d"))
    return response
