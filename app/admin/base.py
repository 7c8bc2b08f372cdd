"""What every depot page shares: the managers-only guard, the audit record of
each change, the kinds of change recorded, and finding a row by id or 404."""
from flask import abort, current_app, make_response
from flask_login import current_user

from ..models import MAX_ID, AuditEntry

# Every kind of change recorded on the audit log, as the log's filter names it.
ACTIONS = {
    "user.create": "User added",
    "user.update": "User changed",
    "user.invite": "Invite link made",
    "user.deactivate": "User deactivated",
    "user.reactivate": "User reactivated",
    "invite.accept": "Invite used",
    "territory.create": "Territory added",
    "territory.rename": "Territory renamed",
    "territory.delete": "Territory deleted",
    "prefix.add": "Postcode prefix added",
    "prefix.remove": "Postcode prefix removed",
    "rep.add": "Rep added to territory",
    "rep.change": "Rep's membership changed",
    "rep.remove": "Rep removed from territory",
    "route.create": "Route added",
    "route.update": "Route changed",
    "route.assign": "Courier put on route",
    "route.unassign": "Courier taken off route",
    "deadline.change": "Deadline changed",
    "import.apply": "CSV import applied",
}


def managers_only():
    """Before every depot page: log in first, and only managers get past."""
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if current_user.role != "manager":
        abort(403)
    return None


def record(action, subject="", actor=None, **detail):
    """Record a change on the audit log, by the current manager unless an actor is given."""
    if action not in ACTIONS:
        raise ValueError("Unknown audit action %r" % action)
    actor_id = actor.id if actor is not None else current_user.id
    return AuditEntry.record(actor_id, action, str(subject)[:200], **detail)


def get_or_404(model, row_id):
    """The row of model with this id, or a 404 (ids beyond 64 bits match nothing)."""
    row = model.get_or_none(model.id == row_id) if row_id <= MAX_ID else None
    if row is None:
        abort(404)
    return row


def no_store(response):
    """Keep a page that shows an invite link out of every cache."""
    response = make_response(response)
    response.headers["Cache-Control"] = "no-store"
    return response
