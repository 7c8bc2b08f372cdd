"""Routes: each route's code and name, the territory its leads go to, and the
couriers who drive it.

Codes are stored upper case ("n-01" is N-01), as the depot writes them on
vans. `RouteFields` holds the rules for a code and name; the CSV import checks
each of its rows with the very same fields.
"""
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from peewee import JOIN, IntegrityError
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Regexp, StopValidation

from ..capture import strip, text
from ..db import db
from ..inbox import id_bound
from ..models import Route, Territory, User
from .base import get_or_404, record

bp = Blueprint("routes", __name__, url_prefix="/routes")


def upper(value):
    return value.upper() if isinstance(value, str) else value


class RouteFields(FlaskForm):
    """A route's code and name, typed or imported."""
    code = StringField("Code", filters=[strip, upper], validators=[
        DataRequired("Required."), Length(max=20, message="At most 20 characters."),
        Regexp(r"\A[A-Z0-9][A-Z0-9 ._/-]*\Z",
               message="Letters, digits, spaces and - _ . / only, e.g. N-01.")])
    name = text("Name", 80)


class RouteForm(RouteFields):
    territory = SelectField("Territory", choices=[])
    route_id = None

    def validate_code(self, field):
        other = Route.get_or_none(Route.code == field.data)
        if other is not None and other.id != self.route_id:
            raise StopValidation("Route %s already exists." % other.code)


class CourierForm(FlaskForm):
    courier = SelectField("Courier", choices=[])


def route_form(route=None, submitted=True):
    """The route form (blank, or filled from route), offering every territory."""
    data = ({"code": route.code, "name": route.name, "territory": str(route.territory_id or "")}
            if route else None)
    form = RouteForm(data=data) if submitted else RouteForm(formdata=None, data=data)
    form.route_id = route.id if route else None
    form.territory.choices = [SelectChoice("", "No territory: its leads go by postcode")] + [
        SelectChoice(str(t.id), t.name) for t in Territory.select().order_by(Territory.name)]
    return form


def courier_form(route, submitted=False):
    """The form to put a courier on route: every active courier not already on it."""
    form = CourierForm() if submitted else CourierForm(formdata=None)
    couriers = (User.select(User, Route).join(Route, JOIN.LEFT_OUTER)
                .where((User.role == "courier") & User.active
                       & ((User.route != route) | User.route.is_null()))
                .order_by(User.name))
    form.courier.choices = [SelectChoice(str(c.id), "%s (%s)" % (
        c.name, "now on %s" % c.route.code if c.route_id else "no route")) for c in couriers]
    return form


def describe(route):
    """A route as the audit log records it."""
    return {"code": route.code, "name": route.name,
            "territory": route.territory.name if route.territory_id else ""}


def save_route(route, form):
    """Store a validated form on route (new or not); return {field: [before, after]}."""
    before = describe(route) if route.id else {}
    route.code, route.name = form.code.data, form.name.data or ""
    route.territory = int(form.territory.data) if form.territory.data else None
    route.save()
    after = describe(route)
    return {name: [before.get(name, ""), value] for name, value in after.items()
            if before.get(name, "") != value}


def route_page(route, status=200, error=None, **forms):
    """A route's page with its forms; a form sent back with errors replaces its blank one."""
    blank = {"edit": route_form(route, submitted=False), "courier": courier_form(route)}
    blank.update(forms)
    couriers = route.couriers.order_by(User.name)
    return render_template("admin/route.html", route=route, forms=blank, couriers=couriers,
                           error=error), status


@bp.route("/", methods=("GET", "POST"))
def index():
    """Every route with its territory and couriers; add one."""
    form = route_form()
    if form.validate_on_submit():
        try:
            with db.atomic():
                route = Route()
                changes = save_route(route, form)
                record("route.create", route.code, **changes)
        except IntegrityError:
            form.code.errors.append("Route %s already exists." % form.code.data)
        else:
            flash("Route %s added. Now put its couriers on it." % route.code)
            return redirect(url_for(".show", route_id=route.id))
    routes = (Route.select(Route, Territory).join(Territory, JOIN.LEFT_OUTER)
              .order_by(Route.code))
    couriers = {}
    for courier in User.select().where(User.route.is_null(False)).order_by(User.name):
        couriers.setdefault(courier.route_id, []).append(courier)
    return render_template("admin/routes.html", routes=routes, couriers=couriers,
                           form=form), 422 if form.errors else 200


@bp.route("/<int:route_id>", methods=("GET", "POST"))
def show(route_id):
    """A route's page; change its code, name or territory."""
    route = get_or_404(Route, route_id)
    form = route_form(route)
    if not form.validate_on_submit():
        return route_page(route, status=422 if form.errors else 200, edit=form)
    try:
        with db.atomic():
            changes = save_route(route, form)
            if changes:
                record("route.update", route.code, **changes)
    except IntegrityError:
        form.code.errors.append("Route %s already exists." % form.code.data)
        return route_page(get_or_404(Route, route_id), status=422, edit=form)
    flash("Saved." if changes else "Nothing changed.")
    return redirect(url_for(".show", route_id=route.id))


@bp.route("/<int:route_id>/couriers", methods=("POST",))
def assign(route_id):
    """Put a courier on this route (off the one they were on)."""
    route = get_or_404(Route, route_id)
    form = courier_form(route, submitted=True)
    if not form.validate_on_submit():
        if not form.courier.choices:
            form.courier.errors = ["Every active courier is already on %s." % route.code]
        return route_page(route, status=422, courier=form)
    courier = User.get_by_id(int(form.courier.data))
    before = courier.route.code if courier.route_id else ""
    with db.atomic():
        courier.route = route
        courier.save()
        record("route.assign", courier.email, route=[before, route.code])
    flash("%s now drives %s." % (courier.name, route.code))
    return redirect(url_for(".show", route_id=route.id))


@bp.route("/<int:route_id>/couriers/<int:user_id>/remove", methods=("POST",))
def unassign(route_id, user_id):
    """Take a courier off this route."""
    route = get_or_404(Route, route_id)
    courier = User.get_or_none((User.id == id_bound(user_id)) & (User.route == route))
    if courier is None:
        abort(404)
    with db.atomic():
        courier.route = None
        courier.save()
        record("route.unassign", courier.email, route=route.code)
    flash("%s is no longer on %s." % (courier.name, route.code))
    return redirect(url_for(".show", route_id=route.id))
