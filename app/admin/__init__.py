"""Running the depot, for managers: users and their invites, territories and
their postcode prefixes and reps, routes and their couriers, escalation
deadlines, CSV import of users and routes, and the audit log of every change.

Everything under /admin is one blueprint whose guard lets only managers in
(others get 403 on every page and POST); each part is a blueprint nested in
it. The invite page a new user opens is public, so it is a blueprint apart.
"""
from flask import Blueprint, render_template

from . import audit, deadlines, imports, invites, routes, territories, users
from .base import managers_only

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(managers_only)
for part in (users, territories, routes, deadlines, imports, audit):
    bp.register_blueprint(part.bp)


@bp.route("/")
def index():
    """The depot's menu."""
    return render_template("admin/index.html")


def init_app(app):
    app.register_blueprint(bp)
    app.register_blueprint(invites.bp)
