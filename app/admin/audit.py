"""The audit log: every change made in the depot pages, newest first, by
whom and when, filtered by the kind of change and paged by id (keyset), so a
page never skips or repeats an entry while new ones are recorded."""
import json

from flask import Blueprint, render_template, request
from peewee import JOIN

from ..inbox import id_bound
from ..models import MAX_ID, AuditEntry, User
from ..params import query_int
from .base import ACTIONS

bp = Blueprint("audit", __name__, url_prefix="/audit")

PAGE_SIZE = 50


def entries(action=None, before=None, limit=PAGE_SIZE):
    """A page of entries, newest first: (rows, id to continue before or None)."""
    query = AuditEntry.select(AuditEntry, User).join(User, JOIN.LEFT_OUTER)
    if action:
        query = query.where(AuditEntry.action == action)
    if before is not None:
        query = query.where(AuditEntry.id < id_bound(before))
    rows = list(query.order_by(AuditEntry.id.desc()).limit(limit + 1))
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)


def readable(entry):
    """An entry's detail as (name, text) pairs; a change reads "before → after"."""
    detail = json.loads(entry.detail) if entry.detail else {}
    return [(name.replace("_", " "),
             "%s → %s" % (value[0] or "—", value[1] or "—") if isinstance(value, list)
             else str(value) or "—")
            for name, value in sorted(detail.items())]


@bp.route("/")
def log():
    """The audit log, optionally of one kind of change."""
    action = request.args.get("action", "")
    action = action if action in ACTIONS else ""
    rows, next_before = entries(action, query_int("before", None, 1, MAX_ID))
    return render_template("admin/audit.html", entries=[(e, readable(e)) for e in rows],
                           next_before=next_before, action=action, actions=ACTIONS)
