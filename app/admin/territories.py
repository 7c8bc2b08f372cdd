"""Territories: adding, renaming and deleting them, the postcode prefixes that
lead to each, and their primary and backup reps.

A territory that routes or leads point at is never deleted. Its routes can be
moved to another territory first; its leads cannot, because a lead's territory
is history (the feed and the numbers count leads by it, and deleting would
turn them into unrouted leads), so such a territory can only be renamed.
"""
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from peewee import IntegrityError, fn
from wtforms import HiddenField, RadioField, SelectChoice, SelectField, StringField
from wtforms.validators import (AnyOf, DataRequired, InputRequired, Length, Regexp,
                                StopValidation)

from ..capture import text
from ..db import db
from ..inbox import id_bound
from ..models import (Lead, PostcodePrefix, Route, Territory, TerritoryRep, User,
                      normalize_postcode)
from .base import get_or_404, record

bp = Blueprint("territories", __name__, url_prefix="/territories")

MEMBERSHIPS = {"primary": "Primary: gets every new lead", "backup": "Backup: gets escalations"}


def territory_named(name, other_than=None):
    """The territory called name, ignoring case (there are few, so compared here:
    SQLite's LOWER() folds ASCII only)."""
    wanted = name.casefold()
    return next((t for t in Territory.select() if t.name.casefold() == wanted
                 and t.id != other_than), None)


class TerritoryForm(FlaskForm):
    name = text("Name", 80, required=True)
    territory_id = None

    def validate_name(self, field):
        other = territory_named(field.data, self.territory_id)
        if other is not None:
            raise StopValidation("There is already a territory called %s." % other.name)


class PrefixForm(FlaskForm):
    """A postcode prefix, normalised as leads' postcodes are: upper case, no spaces."""
    prefix = StringField("Postcode prefix", filters=[normalize_postcode], validators=[
        DataRequired("Required."), Length(max=12, message="At most 12 characters."),
        Regexp(r"\A[A-Z0-9]+\Z", message="Letters and digits only, e.g. AB1.")])

    def validate_prefix(self, field):
        taken = (PostcodePrefix.select(PostcodePrefix, Territory).join(Territory)
                 .where(PostcodePrefix.prefix == field.data).first())
        if taken is not None:
            raise StopValidation("%s already belongs to %s." % (field.data, taken.territory.name))


def membership_field():
    return RadioField("As", default="primary", validate_choice=False, choices=[
        SelectChoice(value, label) for value, label in MEMBERSHIPS.items()], validators=[
        InputRequired("Pick one."), AnyOf(MEMBERSHIPS, message="Primary or backup.")])


class RepForm(FlaskForm):
    rep = SelectField("Rep", choices=[])
    membership = membership_field()


class MembershipForm(FlaskForm):
    membership = HiddenField(validators=[AnyOf(MEMBERSHIPS, message="Primary or backup.")])


def rep_form(territory, submitted=False):
    """The form to add a rep: active reps not yet in the territory."""
    members = TerritoryRep.select(TerritoryRep.rep).where(TerritoryRep.territory == territory)
    form = RepForm() if submitted else RepForm(formdata=None)
    form.rep.choices = [SelectChoice(str(u.id), "%s (%s)" % (u.name, u.email)) for u in
                        User.select().where((User.role == "rep") & User.active
                                            & User.id.not_in(members)).order_by(User.name)]
    return form


def members_of(territory):
    """Every rep in the territory, primary first, deactivated ones included."""
    return (TerritoryRep.select(TerritoryRep, User).join(User)
            .where(TerritoryRep.territory == territory)
            .order_by(TerritoryRep.membership.desc(), User.name))


def territory_page(territory, status=200, error=None, **forms):
    """A territory's page with its forms; a form sent back with errors replaces its blank one."""
    blank = {"rename": TerritoryForm(formdata=None, obj=territory),
             "prefix": PrefixForm(formdata=None), "rep": rep_form(territory)}
    blank.update(forms)
    routes = territory.routes.order_by(Route.code)
    prefixes = territory.prefixes.order_by(PostcodePrefix.prefix)
    return render_template("admin/territory.html", territory=territory, forms=blank,
                           routes=routes, prefixes=prefixes, members=members_of(territory),
                           memberships=MEMBERSHIPS, error=error), status


@bp.route("/", methods=("GET", "POST"))
def index():
    """Every territory with its prefixes, reps and routes; add one."""
    form = TerritoryForm()
    if form.validate_on_submit():
        try:
            with db.atomic():
                territory = Territory.create(name=form.name.data)
                record("territory.create", territory.name)
        except IntegrityError:
            form.name.errors.append("There is already a territory called %s." % form.name.data)
        else:
            flash("Territory %s added. Now give it postcode prefixes and reps." % territory.name)
            return redirect(url_for(".show", territory_id=territory.id))
    counts = {"prefixes": count_by(PostcodePrefix), "reps": count_by(TerritoryRep),
              "routes": count_by(Route)}
    territories = Territory.select().order_by(Territory.name)
    return render_template("admin/territories.html", territories=territories, counts=counts,
                           form=form), 422 if form.errors else 200


def count_by(model):
    """{territory id: rows of model in it}."""
    return dict(model.select(model.territory, fn.COUNT(model.id))
                .group_by(model.territory).tuples())


@bp.route("/<int:territory_id>", methods=("GET", "POST"))
def show(territory_id):
    """A territory's page; rename it."""
    territory = get_or_404(Territory, territory_id)
    form = TerritoryForm(obj=territory)
    form.territory_id = territory.id
    if not form.validate_on_submit():
        return territory_page(territory, status=422 if form.errors else 200, rename=form)
    old = territory.name
    try:
        with db.atomic():
            territory.name = form.name.data
            territory.save()
            if old != territory.name:
                record("territory.rename", territory.name, before=old)
    except IntegrityError:
        form.name.errors.append("There is already a territory called %s." % form.name.data)
        return territory_page(get_or_404(Territory, territory_id), status=422, rename=form)
    flash("Saved.")
    return redirect(url_for(".show", territory_id=territory.id))


@bp.route("/<int:territory_id>/prefixes", methods=("POST",))
def add_prefix(territory_id):
    """Send leads whose postcode starts with a prefix to this territory."""
    territory = get_or_404(Territory, territory_id)
    form = PrefixForm()
    if form.validate_on_submit():
        try:
            with db.atomic():
                PostcodePrefix.create(territory=territory, prefix=form.prefix.data)
                record("prefix.add", form.prefix.data, territory=territory.name)
        except IntegrityError:
            form.prefix.errors.append("%s was just given to another territory." % form.prefix.data)
        else:
            flash("Postcodes starting %s now go to %s." % (form.prefix.data, territory.name))
            return redirect(url_for(".show", territory_id=territory.id))
    return territory_page(territory, status=422, prefix=form)


@bp.route("/<int:territory_id>/prefixes/<int:prefix_id>/remove", methods=("POST",))
def remove_prefix(territory_id, prefix_id):
    """Stop sending a prefix's leads to this territory."""
    territory = get_or_404(Territory, territory_id)
    prefix = PostcodePrefix.get_or_none((PostcodePrefix.id == id_bound(prefix_id))
                                        & (PostcodePrefix.territory == territory))
    if prefix is None:
        abort(404)
    with db.atomic():
        prefix.delete_instance()
        record("prefix.remove", prefix.prefix, territory=territory.name)
    flash("Removed %s from %s." % (prefix.prefix, territory.name))
    return redirect(url_for(".show", territory_id=territory.id))


@bp.route("/<int:territory_id>/reps", methods=("POST",))
def add_rep(territory_id):
    """Make a rep a primary or backup rep of this territory."""
    territory = get_or_404(Territory, territory_id)
    form = rep_form(territory, submitted=True)
    if not form.validate_on_submit():
        if not form.rep.choices:
            form.rep.errors = ["Every active rep is already in %s." % territory.name]
        return territory_page(territory, status=422, rep=form)
    rep = User.get_by_id(int(form.rep.data))
    with db.atomic():
        (TerritoryRep.insert(territory=territory, rep=rep, membership=form.membership.data)
         .on_conflict_ignore().execute())
        record("rep.add", rep.email, territory=territory.name, membership=form.membership.data)
    flash("%s is now a %s rep of %s." % (rep.name, form.membership.data, territory.name))
    return redirect(url_for(".show", territory_id=territory.id))


def membership_of(territory, rep_id):
    """The rep's membership of territory, or a 404."""
    membership = (TerritoryRep.select(TerritoryRep, User).join(User)
                  .where((TerritoryRep.territory == territory)
                         & (TerritoryRep.rep == id_bound(rep_id)))
                  .first())
    if membership is None:
        abort(404)
    return membership


@bp.route("/<int:territory_id>/reps/<int:rep_id>", methods=("POST",))
def change_rep(territory_id, rep_id):
    """Switch a rep between primary and backup."""
    territory = get_or_404(Territory, territory_id)
    membership = membership_of(territory, rep_id)
    form = MembershipForm()
    if not form.validate_on_submit():
        return territory_page(territory, status=422, error="Choose primary or backup.")
    with db.atomic():
        before = membership.membership
        membership.membership = form.membership.data
        membership.save()
        record("rep.change", membership.rep.email, territory=territory.name,
               membership=[before, membership.membership])
    flash("%s is now a %s rep of %s." % (membership.rep.name, membership.membership, territory.name))
    return redirect(url_for(".show", territory_id=territory.id))


@bp.route("/<int:territory_id>/reps/<int:rep_id>/remove", methods=("POST",))
def remove_rep(territory_id, rep_id):
    """Take a rep out of this territory."""
    territory = get_or_404(Territory, territory_id)
    membership = membership_of(territory, rep_id)
    with db.atomic():
        membership.delete_instance()
        record("rep.remove", membership.rep.email, territory=territory.name,
               membership=membership.membership)
    flash("%s no longer gets %s's leads." % (membership.rep.name, territory.name))
    return redirect(url_for(".show", territory_id=territory.id))


def why_not_delete(territory):
    """What still points at territory, in words, or None."""
    routes = [r.code for r in territory.routes.order_by(Route.code)]
    leads = Lead.select().where(Lead.territory == territory).count()
    reasons = []
    if routes:
        reasons.append("routes %s lead to it: move them to another territory first"
                       % ", ".join(routes))
    if leads:
        reasons.append("%d lead%s belong%s to it, and a territory with leads keeps its "
                       "history: rename it instead" % (leads, "" if leads == 1 else "s",
                                                       "s" if leads == 1 else ""))
    return "%s can't be deleted: %s." % (territory.name, "; ".join(reasons)) if reasons else None


@bp.route("/<int:territory_id>/delete", methods=("POST",))
def delete(territory_id):
    """Delete a territory nothing points at; its prefixes and rep memberships go with it."""
    territory = get_or_404(Territory, territory_id)
    with db.atomic():
        problem = why_not_delete(territory)
        if problem is None:
            prefixes = ", ".join(p.prefix for p in territory.prefixes)
            reps = ", ".join(m.rep.email for m in members_of(territory))
            territory.delete_instance()
            record("territory.delete", territory.name, prefixes=prefixes, reps=reps)
    if problem:
        return territory_page(territory, status=409, error=problem)
    flash("Territory %s deleted." % territory.name)
    return redirect(url_for(".index"))
