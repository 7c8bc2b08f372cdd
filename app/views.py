"""Pages every role shares: the home redirect, the lead list and the lead page.

Reps and managers get a list of the leads they may see, each saying who has
it; anyone who may see a lead gets its page: for reps and managers with the
workflow's buttons and the full timeline (app/pipeline.py), for its courier
with a friendly account of what became of it.
"""
import os
from datetime import timezone
from zoneinfo import ZoneInfo

from flask import (Blueprint, abort, current_app, redirect, render_template, request,
                   send_file, url_for)
from flask_login import current_user, login_required
from peewee import JOIN

from . import photos
from .auth import home_for, role_required
from .models import MAX_ID, Lead, Territory, User, utcnow
from .params import query_int
from .pipeline import lead_page, mark_deadlines

bp = Blueprint("views", __name__)

# The rep's lists of leads (`/leads?show=`), as the page names them.
LISTS = {"all": "All", "mine": "Mine", "waiting": "Not picked up"}


@bp.route("/")
def home():
    """Each role's home; the login page for everyone else."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(home_for(current_user))


@bp.route("/leads")
@role_required("rep", "manager")
def leads():
    """The leads this rep or manager may see, newest first: all, theirs, or
    those nobody has picked up yet (`?show=`)."""
    show = request.args.get("show", "all")
    if show not in LISTS:
        error = ("There is no list called \u201c%s\u201d. Choose All, Mine or Not picked up."
                 % show[:40])
        return render_template("leads/list.html", leads=[], show=None, lists=LISTS,
                               error=error), 400
    before = query_int("before", None, 1, MAX_ID)
    query = Lead.visible_to(current_user).select(Lead, User, Territory).join(
        User, on=Lead.courier).switch(Lead).join(Territory, join_type=JOIN.LEFT_OUTER)
    if show == "mine":
        query = query.where(Lead.assigned_rep == current_user.id)
    elif show == "waiting":
        query = query.where(Lead.status == "new")
    rows, next_before = Lead.page(query, before)
    mark_deadlines(rows)
    return render_template("leads/list.html", leads=rows, next_before=next_before, show=show,
                           lists=LISTS, now=utcnow())


@bp.route("/leads/<int:lead_id>")
@login_required
def lead(lead_id):
    """One lead: details, photo, timeline and what the user may do next."""
    return lead_page(Lead.get_visible(current_user, lead_id))


@bp.route("/leads/<int:lead_id>/photo")
@login_required
def lead_photo(lead_id):
    """The lead's photo, to those who may see the lead."""
    lead = Lead.get_visible(current_user, lead_id)
    if not lead.photo or not os.path.exists(photos.path(lead.photo)):
        abort(404)
    response = send_file(photos.path(lead.photo), mimetype="image/jpeg", max_age=86400)
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


def local_time(value, fmt="%d %b %H:%M"):
    """A stored UTC time in the depot's time zone."""
    if value is None:
        return ""
    zone = ZoneInfo(current_app.config["DEPOT_TIMEZONE"])
    return value.replace(tzinfo=timezone.utc).astimezone(zone).strftime(fmt)


def init_app(app):
    app.add_template_filter(local_time)
