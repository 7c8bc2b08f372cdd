"""People: the users list with search and filters, adding and editing a user
(role, a courier's route, a rep's territories), one-time invite links, and
deactivating or reactivating an account.

`PersonFields` holds the rules every user's name, email, phone and role meet;
the CSV import checks each of its rows with the very same fields.
"""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from peewee import JOIN, IntegrityError
from wtforms import BooleanField, RadioField, SelectChoice, SelectField, StringField
from wtforms.validators import AnyOf, DataRequired, Email, InputRequired, Length, StopValidation

from .. import auth
from ..capture import CONTROL_CHARS, phone_number, printable, strip, text
from ..db import db
from ..inbox import id_bound
from ..models import (MAX_ID, ROLES, Invite, Lead, PushSubscription, Route, Territory,
                      TerritoryRep, User, utcnow)
from ..models.leads import OPEN_STATUSES
from ..params import query_int
from .base import get_or_404, no_store, record

bp = Blueprint("users", __name__, url_prefix="/users")

PAGE_SIZE = 50
INVITE_DAYS = 7
ROLE_LABELS = {"courier": "Courier", "rep": "Sales rep", "manager": "Manager"}
MEMBERSHIPS = {"": "Not a member", "primary": "Primary rep", "backup": "Backup rep"}
EMAIL_MESSAGE = "That doesn't look like an email address."


def lower(value):
    return value.lower() if isinstance(value, str) else value


def an_email(form, field):
    """A valid address; a user's stored address is kept as it is, so that an old
    account can still be edited."""
    if field.data and field.data == getattr(form, "current_email", None):
        return
    Email(EMAIL_MESSAGE)(form, field)


class PersonFields(FlaskForm):
    """Who a user is and what they do: the rules for every user, typed or imported."""
    name = text("Name", 100, required=True)
    email = StringField("Email", filters=[strip, lower], validators=[
        DataRequired("Required."), Length(max=254, message="At most 254 characters."),
        printable, an_email])
    phone = phone_number("Phone")
    role = RadioField("Role", choices=[SelectChoice(r, label) for r, label in ROLE_LABELS.items()],
                      filters=[strip, lower], validate_choice=False, validators=[
                          InputRequired("Required."),
                          AnyOf(ROLES, message="Must be courier, rep or manager.")])


class UserForm(PersonFields):
    """A user as a manager adds or edits them; one membership field per territory
    is added by `user_form`."""
    route = SelectField("Route")
    invite = BooleanField("Make a one-time invite link to set their password", default=True)
    user, territories, current_email = None, (), None

    def validate_email(self, field):
        other = User.by_email(field.data)
        if other is not None and (self.user is None or other.id != self.user.id):
            raise StopValidation("Already used by %s." % other.name)

    def validate_role(self, field):
        if self.user is not None and self.user.id == current_user.id and field.data != self.user.role:
            raise StopValidation("You can't change your own role; ask another manager.")

    def membership_fields(self):
        return [self["territory_%d" % t.id] for t in self.territories]

    def validate(self, extra_validators=None):
        """Every field's rules, then: only couriers have a route, only reps territories."""
        valid = super().validate(extra_validators)
        if self.route.data and self.role.data != "courier":
            self.route.errors.append("Only couriers have a route: choose “No route”.")
            valid = False
        chosen = [f for f in self.membership_fields() if f.data]
        if chosen and self.role.data != "rep":
            chosen[0].errors.append("Only reps belong to territories: choose “Not a member”.")
            valid = False
        return valid


def user_form(user=None):
    """The user form with a membership choice per territory, filled from user if given."""
    territories = list(Territory.select().order_by(Territory.name))
    fields = {"territory_%d" % t.id: SelectField(t.name, default="", choices=[
        SelectChoice(value, label) for value, label in MEMBERSHIPS.items()]) for t in territories}
    form = type("UserForm", (UserForm,), fields)(data=user_data(user) if user else None)
    form.user, form.territories = user, territories
    form.current_email = user.email if user else None
    form.route.choices = [SelectChoice("", "No route")] + [
        SelectChoice(str(r.id), "%s — %s" % (r.code, r.name) if r.name else r.code)
        for r in Route.select().order_by(Route.code)]
    return form


def user_data(user):
    """A user's current values, as the form holds them."""
    data = {"name": user.name, "email": user.email, "phone": user.phone, "role": user.role,
            "route": str(user.route_id or "")}
    for membership in TerritoryRep.select().where(TerritoryRep.rep == user):
        data["territory_%d" % membership.territory_id] = membership.membership
    return data


def describe(user):
    """A user as the audit log records them."""
    memberships = (TerritoryRep.select(TerritoryRep, Territory).join(Territory)
                   .where(TerritoryRep.rep == user).order_by(Territory.name))
    return {"name": user.name, "email": user.email, "phone": user.phone, "role": user.role,
            "route": user.route.code if user.route_id else "",
            "territories": ", ".join("%s (%s)" % (m.territory.name, m.membership)
                                     for m in memberships)}


def save_user(user, form):
    """Store a validated form on user (new or not); return {field: [before, after]}."""
    before = describe(user) if user.id else {}
    user.name, user.email = form.name.data, form.email.data
    user.phone, user.role = form.phone.data or "", form.role.data
    user.route = int(form.route.data) if form.route.data else None
    user.save()
    wanted = {int(f.name.split("_")[1]): f.data for f in form.membership_fields() if f.data}
    set_memberships(user, wanted)
    after = describe(user)
    return {name: [before.get(name, ""), value] for name, value in after.items()
            if before.get(name, "") != value}


def set_memberships(user, wanted):
    """Make user's territory memberships exactly wanted ({territory id: membership})."""
    stale = TerritoryRep.delete().where(TerritoryRep.rep == user)
    if wanted:
        stale = stale.where(TerritoryRep.territory.not_in(list(wanted)))
    stale.execute()
    for territory_id, membership in wanted.items():
        (TerritoryRep.insert(territory=territory_id, rep=user, membership=membership)
         .on_conflict(conflict_target=[TerritoryRep.territory, TerritoryRep.rep],
                      update={TerritoryRep.membership: membership})
         .execute())


def issue_invite(user):
    """A fresh one-time link for user (earlier unused ones stop working); its token."""
    now = utcnow()
    (Invite.update(expires_at=now)
     .where((Invite.user == user) & Invite.used_at.is_null() & (Invite.expires_at > now))
     .execute())
    _, token = Invite.issue(user, days=INVITE_DAYS)
    record("user.invite", user.email, expires_in_days=INVITE_DAYS)
    return token


def invite_link(token):
    return url_for("invites.accept", token=token, _external=True)


def matching_users(q, role, status):
    """Users whose name or email contains q, of a role, active or not."""
    query = User.select(User, Route).join(Route, JOIN.LEFT_OUTER)
    q = CONTROL_CHARS.sub("", q).strip()
    if q:
        query = query.where(User.name.contains(q) | User.email.contains(q.lower()))
    if role in ROLES:
        query = query.where(User.role == role)
    if status in ("active", "deactivated"):
        query = query.where(User.active == (status == "active"))
    return query


def page_after(query, after_id):
    """A page of users by name from after the user with after_id: (rows, next after id)."""
    after = User.get_or_none(User.id == after_id) if after_id else None
    if after is not None:
        query = query.where((User.name > after.name)
                            | ((User.name == after.name) & (User.id > after.id)))
    rows = list(query.order_by(User.name, User.id).limit(PAGE_SIZE + 1))
    return rows[:PAGE_SIZE], (rows[PAGE_SIZE - 1].id if len(rows) > PAGE_SIZE else None)


@bp.route("/")
def index():
    """Every user by name: search by name or email, filter by role and status."""
    filters = {name: request.args.get(name, "")[:100] for name in ("q", "role", "status")}
    after = query_int("after", None, 0, MAX_ID)
    users, next_after = page_after(matching_users(**filters), id_bound(after or 0))
    return render_template("admin/users.html", users=users, next_after=next_after,
                           filters=filters, roles=ROLE_LABELS)


@bp.route("/new", methods=("GET", "POST"))
def new():
    """Add a user, by default with a one-time link to set their password."""
    form = user_form()
    if form.validate_on_submit():
        try:
            with db.atomic():
                user = User()
                changes = save_user(user, form)
                record("user.create", user.email, **changes)
                token = issue_invite(user) if form.invite.data else None
        except IntegrityError:
            form.email.errors.append("Already used by another user.")
        else:
            if token:
                return no_store(render_template("admin/invite_link.html", user=user,
                                                link=invite_link(token), days=INVITE_DAYS,
                                                created=True))
            flash("%s added. Make them an invite link when they need to log in." % user.name)
            return redirect(url_for(".edit", user_id=user.id))
    return render_template("admin/user_new.html", form=form), 422 if form.errors else 200


def user_page(user, form=None, error=None, status=200):
    """A user's page: their details, the edit form and what else may be done."""
    devices = PushSubscription.select().where(PushSubscription.user == user).count()
    # A rep's open leads stay theirs when they leave: the page counts them and
    # links to the feed that lists them, so a manager hands each on knowingly.
    open_leads = (Lead.select().where((Lead.assigned_rep == user)
                                      & Lead.status.in_(OPEN_STATUSES)).count())
    return render_template("admin/user.html", user=user, form=form or user_form(user),
                           devices=devices, open_leads=open_leads,
                           open_statuses=OPEN_STATUSES, error=error), status


@bp.route("/<int:user_id>", methods=("GET", "POST"))
def edit(user_id):
    """A user's page; change their details, role, route or territories."""
    user = get_or_404(User, user_id)
    form = user_form(user)
    if not form.validate_on_submit():
        return user_page(user, form, status=422 if form.errors else 200)
    try:
        with db.atomic():
            changes = save_user(user, form)
            if changes:
                record("user.update", user.email, **changes)
    except IntegrityError:
        form.email.errors.append("Already used by another user.")
        return user_page(User.get_by_id(user.id), form, status=422)
    flash("Saved." if changes else "Nothing changed.")
    return redirect(url_for(".edit", user_id=user.id))


@bp.route("/<int:user_id>/invite", methods=("POST",))
def invite(user_id):
    """Make a one-time link with which the user sets their password, shown once."""
    user = get_or_404(User, user_id)
    if not user.active:
        return user_page(user, error="Reactivate %s before inviting them." % user.name,
                         status=409)
    with db.atomic():
        token = issue_invite(user)
    return no_store(render_template("admin/invite_link.html", user=user, link=invite_link(token),
                                    days=INVITE_DAYS, created=False))


@bp.route("/<int:user_id>/deactivate", methods=("POST",))
def deactivate(user_id):
    """Lock a user out now: sessions end, API tokens are revoked, devices and
    unused invite links go."""
    user = get_or_404(User, user_id)
    if user.id == current_user.id:
        return user_page(user, error="You can't deactivate yourself; ask another manager.",
                         status=409)
    if not user.active:
        flash("%s was already deactivated." % user.name)
        return redirect(url_for(".edit", user_id=user.id))
    with db.atomic():
        (Invite.update(expires_at=utcnow())
         .where((Invite.user == user) & Invite.used_at.is_null()).execute())
        devices, tokens = auth.deactivate(user)
        record("user.deactivate", user.email, devices_removed=devices, tokens_revoked=tokens)
    flash("%s is deactivated: logged out everywhere, and %d device%s will get no more alerts."
          % (user.name, devices, "" if devices == 1 else "s")
          + (" Their API tokens are revoked." if tokens else ""))
    return redirect(url_for(".edit", user_id=user.id))


@bp.route("/<int:user_id>/reactivate", methods=("POST",))
def reactivate(user_id):
    """Let a deactivated user log in again (with their old password, or an
    invite); the API tokens revoked at deactivation stay revoked."""
    user = get_or_404(User, user_id)
    if not user.active:
        with db.atomic():
            user.active = True
            user.save()
            record("user.reactivate", user.email)
    flash("%s can log in again." % user.name)
    return redirect(url_for(".edit", user_id=user.id))
