"""What a user is told inside the app, and how they want to be told.

The in-app inbox reaches everyone, phones without push included: the bell in
every page's header, the notifications page (works without JavaScript) and its
JSON for the PWA. Alert preferences decide what also goes to a user's devices:
quiet hours in depot time, and the kinds of alert kept to the inbox.
"""
import re
from datetime import timezone
from zoneinfo import ZoneInfo

from flask import (Blueprint, abort, current_app, flash, has_request_context, jsonify,
                   redirect, render_template, request, url_for)
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectMultipleField, StringField
from wtforms.validators import ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from .api import api_role
from .params import iso, query_int
from .capture import strip
from .errors import ApiError
from .security import is_local_path
from .models import MAX_ID, Notification, User, utcnow
from .models.alerts import ALERT_KINDS

bp = Blueprint("inbox", __name__)

PAGE_SIZE = 25
# The kinds of alert each role can receive, in ALERT_KINDS' order.
ROLE_KINDS = {
    "courier": ("acknowledged", "progress", "kudos"),
    "rep": ("new_lead", "escalated", "assigned"),
    "manager": ("new_lead", "escalated", "assigned"),
}
# A path on this site: one "/" and then printable ASCII, never "//" or "/\" (which
# browsers read as another host) and no whitespace (which browsers drop, so that
# "/\t/evil.example" would become "//evil.example").
CLOCK = re.compile(r"([0-9]{1,2}):([0-9]{2})\Z")


# --- The inbox ----------------------------------------------------------------------


def id_bound(value):
    """An id from a request, brought within what the databases hold (SQLite refuses more)."""
    return min(max(value, 0), MAX_ID)


def notifications_of(user, before=None, limit=PAGE_SIZE):
    """A page of user's notifications, newest first: (rows, id to continue before or None)."""
    query = Notification.select().where(Notification.user == user)
    if before is not None:
        query = query.where(Notification.id < id_bound(before))
    rows = list(query.order_by(Notification.id.desc()).limit(limit + 1))
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)


def own_notification(notification_id):
    """The current user's notification with this id; anyone else's is not found."""
    if notification_id > MAX_ID:
        return None
    return Notification.get_or_none((Notification.id == notification_id)
                                    & (Notification.user == current_user.id))


def mark_read(user, up_to=None, notification_id=None):
    """Mark user's unread notifications read: one, or all up to an id (all if None)."""
    query = (Notification.update(read_at=utcnow())
             .where((Notification.user == user) & Notification.read_at.is_null()))
    if notification_id is not None:
        query = query.where(Notification.id == notification_id)
    if up_to is not None:
        query = query.where(Notification.id <= id_bound(up_to))
    return query.execute()


def destination(note):
    """Where opening a notification goes: its path if that is on this site, else its lead."""
    if is_local_path(note.path):
        return note.path
    if note.lead_id:
        return url_for("views.lead", lead_id=note.lead_id)
    return url_for("inbox.notifications")


def notification_json(note):
    """The one JSON form of a notification that the API returns."""
    return {"id": note.id, "kind": note.kind, "title": note.title, "body": note.body,
            "path": destination(note), "lead_id": note.lead_id,
            "created_at": iso(note.created_at), "read": note.read_at is not None}


@bp.app_context_processor
def bell():
    """The unread count for the header's bell: one indexed COUNT, for logged-in users only."""
    if not has_request_context() or not current_user.is_authenticated:
        return {}
    return {"unread_notifications": Notification.unread_count(current_user.id)}


@bp.app_template_filter("ago")
def ago(value):
    """How long ago a stored UTC time was, as a person says it."""
    seconds = max(0, int((utcnow() - value).total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return "%d min ago" % (seconds // 60)
    if seconds < 86400:
        return "%d h ago" % (seconds // 3600)
    days = seconds // 86400
    return "yesterday" if days == 1 else "%d days ago" % days


@bp.route("/notifications")
@login_required
def notifications():
    """The user's notifications, newest first, unread ones marked."""
    before = query_int("before", None, 1, MAX_ID)
    rows, next_before = notifications_of(current_user.id, before)
    return render_template("inbox/list.html", notes=rows, before=before,
                           next_before=next_before)


@bp.route("/notifications/read-all", methods=("POST",))
@login_required
def read_all():
    """Mark every notification read, up to the newest one the page showed."""
    mark_read(current_user.id, up_to=query_int("up_to", None, 1, MAX_ID, request.form))
    return redirect(url_for("inbox.notifications"))


@bp.route("/notifications/<int:notification_id>/open", methods=("POST",))
@login_required
def open_notification(notification_id):
    """Mark one notification read and go to what it is about."""
    note = own_notification(notification_id) or abort(404)
    mark_read(current_user.id, notification_id=note.id)
    return redirect(destination(note))


@bp.route("/notifications/<int:notification_id>/read", methods=("POST",))
@login_required
def read_notification(notification_id):
    """Mark one notification read and stay on the page."""
    before = query_int("before", None, 1, MAX_ID)
    note = own_notification(notification_id) or abort(404)
    mark_read(current_user.id, notification_id=note.id)
    return redirect(url_for("inbox.notifications", before=before))


# --- The inbox's JSON, for the PWA --------------------------------------------------


def _api_own_notification(notification_id):
    note = own_notification(notification_id)
    if note is None:
        raise ApiError(404, "not_found", "No such notification of yours.")
    return note


@bp.route("/api/v1/notifications", methods=("GET",))
@api_role()
def api_notifications():
    """The caller's notifications, newest first, a page at a time."""
    before = query_int("before", None, 1, MAX_ID)
    limit = query_int("limit", PAGE_SIZE, 1, 100)
    rows, next_before = notifications_of(current_user.id, before, limit)
    next_url = (url_for("inbox.api_notifications", before=next_before, limit=limit)
                if next_before else None)
    return jsonify(items=[notification_json(note) for note in rows], next=next_url)


@bp.route("/api/v1/notifications/unread-count", methods=("GET",))
@api_role()
def api_unread_count():
    """How many of the caller's notifications are unread (the bell's number)."""
    return jsonify(unread=Notification.unread_count(current_user.id))


@bp.route("/api/v1/notifications/<int:notification_id>/read", methods=("POST",))
@api_role()
def api_read(notification_id):
    """Mark one of the caller's notifications read; the notification."""
    note = _api_own_notification(notification_id)
    mark_read(current_user.id, notification_id=note.id)
    return jsonify(notification_json(own_notification(note.id)))


@bp.route("/api/v1/notifications/read-all", methods=("POST",))
@api_role()
def api_read_all():
    """Mark the caller's notifications read (up to `up_to`, if given); the new unread count."""
    mark_read(current_user.id, up_to=query_int("up_to", None, 1, MAX_ID))
    return jsonify(unread=Notification.unread_count(current_user.id))


# --- Alert preferences ----------------------------------------------------------------


def kinds_for(role):
    """A choice (kind, label) for each alert a user of this role can receive."""
    return [SelectChoice(kind, ALERT_KINDS[kind]) for kind in ROLE_KINDS.get(role, ())]


def clock(text):
    """A 24-hour time, H:MM or HH:MM, as HH:MM (so that times compare as text); else None."""
    match = CLOCK.match(text or "")
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        return None
    return "%02d:%02d" % (int(match.group(1)), int(match.group(2)))


def clock_time(form, field):
    """Refuse what is not a 24-hour time; the field keeps what was typed."""
    if field.data and clock(field.data) is None:
        raise ValidationError("Use the 24-hour clock as HH:MM, e.g. 22:00 or 06:30.")


class AlertsForm(FlaskForm):
    """Quiet hours (both ends or neither) and the kinds of alert sent to one's devices."""
    quiet_start = StringField("Quiet from", filters=[strip], validators=[clock_time])
    quiet_end = StringField("Quiet until", filters=[strip], validators=[clock_time])
    push_kinds = SelectMultipleField("Send to my devices", choices=[],
                                     widget=ListWidget(prefix_label=False),
                                     option_widget=CheckboxInput())

    def validate(self, extra_validators=None):
        """Every field's rules, then: quiet hours need both ends, and two different ones."""
        valid = super().validate(extra_validators)
        start, end = self.quiet_start, self.quiet_end
        if start.errors or end.errors:
            return False
        if start.data and not end.data:
            end.errors.append("Give the time quiet hours end too, or clear both.")
        elif end.data and not start.data:
            start.errors.append("Give the time quiet hours start too, or clear both.")
        elif start.data and clock(start.data) == clock(end.data):
            end.errors.append("Quiet hours must end at another time than they start.")
        return valid and not (start.errors or end.errors)


def depot_now():
    """The time now on the depot's clock."""
    zone = ZoneInfo(current_app.config["DEPOT_TIMEZONE"])
    return utcnow().replace(tzinfo=timezone.utc).astimezone(zone)


@bp.route("/account/alerts", methods=("GET", "POST"))
@login_required
def alert_preferences():
    """Quiet hours and which kinds of alert go to the user's devices."""
    user = current_user._get_current_object()
    kinds = list(ROLE_KINDS.get(user.role, ()))
    muted = [kind for kind in (user.muted_kinds or "").split(",") if kind]
    form = AlertsForm(data={"quiet_start": user.quiet_start, "quiet_end": user.quiet_end,
                            "push_kinds": [k for k in kinds if k not in muted]})
    form.push_kinds.choices = kinds_for(user.role)
    if form.validate_on_submit():
        # Kinds this page does not show (another role's) stay as they were.
        muted = [k for k in muted if k not in kinds] + [
            k for k in kinds if k not in form.push_kinds.data]
        (User.update(quiet_start=clock(form.quiet_start.data),
                     quiet_end=clock(form.quiet_end.data), muted_kinds=",".join(muted))
         .where(User.id == user.id)
         .execute())
        flash("Alert preferences saved.")
        return redirect(url_for("inbox.alert_preferences"))
    status = 422 if form.errors else 200
    return render_template("auth/alerts.html", form=form, now=depot_now(),
                           zone=current_app.config["DEPOT_TIMEZONE"]), status
