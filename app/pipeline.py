"""The rep's workflow, from the lead's page: acknowledge, move on, decline,
notes, reassign and thanking the courier.

Each action is a small form posted to a route of its own, answered with a
redirect back to the lead and a flash. The rules a field must meet live in
the forms here; the rules of the lead's state and of who may do what live on
`Lead`. Every event is announced after it is committed. `lead_page` draws the
lead's page, for the lead view and for a form sent back with its errors
(422), a refusal (403) or a lead that moved on meanwhile (409).
"""
from decimal import Decimal

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import (DecimalField, HiddenField, IntegerField, SelectChoice, SelectField,
                     TextAreaField)
from wtforms.validators import (AnyOf, DataRequired, InputRequired, Length, Optional,
                                StopValidation)

from . import tasks
from .auth import role_required
from .capture import printable, strip
from .models import STATUSES, Lead, User, utcnow
from .notify import deadline
from .models.leads import (DECLINE_REASONS, MAX_WEEKLY_VALUE, MAX_WEEKLY_VOLUME,
                           NEXT_STEPS, NotAllowed, WorkflowError)

bp = Blueprint("pipeline", __name__, url_prefix="/leads/<int:lead_id>")

STEPS = ("contacted", "quoted", "won", "lost")
CENT = Decimal("0.01")


class Written(DataRequired):
    """Something must be written to send this form, though the box itself is
    optional on the lead's page: its label says nothing of "(required)"."""

    def __init__(self, message):
        super().__init__(message)
        self.field_flags = {}


def mark_deadlines(leads):
    """Give each lead its `due_at`: for a lead still new, when escalation flags
    it (by escalation's own rule, notify.deadline); None for the others."""
    allowed = {}
    for lead in leads:
        lead.due_at = None
        if lead.status == "new":
            if lead.temperature not in allowed:
                allowed[lead.temperature] = deadline(lead.temperature)
            lead.due_at = lead.created_at + allowed[lead.temperature]
    return leads


def weekly_volume_rule(form, field):
    """A whole number of parcels within reason (an unreadable one is already explained)."""
    if field.data is None:
        raise StopValidation()
    if not 0 <= field.data <= MAX_WEEKLY_VOLUME:
        raise StopValidation("Between 0 and {:,} parcels.".format(MAX_WEEKLY_VOLUME))


def weekly_value_rule(form, field):
    """An amount within reason, to the cent."""
    value = field.data
    if value is None:
        raise StopValidation()
    if not value.is_finite() or not 0 <= value <= MAX_WEEKLY_VALUE:
        raise StopValidation("Between 0 and {:,}.".format(MAX_WEEKLY_VALUE))
    if value != value.quantize(CENT):
        raise StopValidation("At most 2 decimals, e.g. 1200.50.")


def expected_status():
    return HiddenField(validators=[Optional(), AnyOf(STATUSES, message="Unknown status.")])


class StepForm(FlaskForm):
    """A step on (the button pressed says which); a win may say what the
    customer will ship a week."""
    expected = expected_status()
    to = HiddenField(validators=[InputRequired("Choose a step."),
                                 AnyOf(STEPS, message="Choose one of the steps.")])
    weekly_volume = IntegerField("Parcels a week", invalid_value_message="Must be a whole number.",
                                 validators=[Optional(), weekly_volume_rule])
    weekly_value = DecimalField("Value a week",
                                invalid_value_message="Must be a number, e.g. 1200.50.",
                                validators=[Optional(), weekly_value_rule])


class DeclineForm(FlaskForm):
    expected = expected_status()
    reason = SelectField("Why?", choices=[SelectChoice("", "Choose a reason…")] + [
                             SelectChoice(value, label)
                             for value, label in DECLINE_REASONS.items()],
                         validate_choice=False,
                         validators=[AnyOf(DECLINE_REASONS, message="Pick one of the reasons.")])


class NoteForm(FlaskForm):
    note = TextAreaField("Add a note", filters=[strip], validators=[
        Written("Write the note first."),
        Length(max=1000, message="At most 1000 characters."), printable])


class KudosForm(FlaskForm):
    message = TextAreaField("Thank the courier", filters=[strip], validators=[
        Written("Write a short thank-you first."),
        Length(max=280, message="At most 280 characters."), printable])


class ReassignForm(FlaskForm):
    rep = SelectField("Give it to", validate_choice=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        reps = User.select().where((User.role == "rep") & User.active).order_by(User.name)
        self.rep.choices = [SelectChoice("", "Choose a rep…")] + [
            SelectChoice(str(rep.id), rep.name) for rep in reps]
        self.rep.validators = [AnyOf([choice.value for choice in self.rep.choices[1:]],
                                     message="Choose one of the reps.")]


def lead_page(lead, status=200, error=None, **failed):
    """The lead's page with the forms this user may use; `failed` names a
    form sent back with its errors."""
    staff = current_user.role in ("rep", "manager")
    forms = {}
    if staff:
        forms = dict(step=StepForm(formdata=None), decline=DeclineForm(formdata=None),
                     note=NoteForm(formdata=None), kudos=KudosForm(formdata=None))
        if current_user.role == "manager":
            forms["reassign"] = ReassignForm(formdata=None)
        forms.update(failed)
    # Each problem is also listed at the top, which also covers a form whose
    # section the lead's present state no longer shows (a stale tab).
    problems = [(form[name].label.text if form[name].type != "HiddenField" else "", message)
                for form in failed.values() for name, messages in form.errors.items()
                for message in messages]
    mark_deadlines([lead])
    return render_template(
        "leads/detail.html", lead=lead, events=list(lead.timeline()), forms=forms, now=utcnow(),
        error=error, problems=problems, staff=staff,
        may_acknowledge=lead.may_acknowledge(current_user),
        may_work=staff and lead.may_work(current_user),
        next_steps=NEXT_STEPS.get(lead.status, ())), status


def _act(lead, action, *args, done):
    """Run a workflow action as the current user; on success announce its
    event and go back to the lead (or to the list, if it left the user's
    sight) with `done(event)` as the flash."""
    try:
        event = action(lead.id, current_user, *args)
    except NotAllowed as exc:
        return lead_page(lead, 403, error=str(exc))
    except WorkflowError as exc:
        return lead_page(Lead.get_by_id(lead.id), 409, error=str(exc))
    tasks.announce_later(event)
    flash(done(event))
    if not Lead.visible_to(current_user).where(Lead.id == lead.id).exists():
        return redirect(url_for("views.leads"))
    return redirect(url_for("views.lead", lead_id=lead.id))


def _workable(lead_id):
    """(the lead, None), or (the lead, a 403 page) if the user may not work it."""
    lead = Lead.get_visible(current_user, lead_id)
    try:
        lead.check_may_work(current_user)
    except NotAllowed as exc:
        return lead, lead_page(lead, 403, error=str(exc))
    return lead, None


@bp.route("/acknowledge", methods=("POST",))
@role_required("rep", "manager")
def acknowledge(lead_id):
    """Pick the lead up; a rep who was beaten to it is told who has it."""
    event = Lead.acknowledge(lead_id, current_user)
    lead = Lead.get_by_id(lead_id)
    if event:
        tasks.announce_later(event)
        flash("It's yours. %s will hear that you picked it up." % lead.courier.name)
    elif lead.assigned_rep_id == current_user.id:
        flash("You already have this lead.")
    elif lead.assigned_rep_id:
        flash("%s already picked this up." % lead.assigned_rep.name)
    else:
        flash("This lead is %s; there is nothing to pick up." % lead.status_label.lower())
    return redirect(url_for("views.lead", lead_id=lead_id))


@bp.route("/advance", methods=("POST",))
@role_required("rep", "manager")
def advance(lead_id):
    """Move the lead one step on: contacted, quoted, won or lost."""
    lead, refusal = _workable(lead_id)
    if refusal:
        return refusal
    form = StepForm()
    if not form.validate():
        return lead_page(lead, 422, step=form)
    courier = lead.courier.name
    done = {"contacted": "Marked as contacted.", "quoted": "Marked as quoted.",
            "won": "Won! %s will hear the good news." % courier,
            "lost": "Closed as lost. %s will hear how it went." % courier}
    return _act(lead, Lead.advance, form.to.data, form.expected.data,
                form.weekly_volume.data, form.weekly_value.data,
                done=lambda event: done[event.kind])


@bp.route("/decline", methods=("POST",))
@role_required("rep", "manager")
def decline(lead_id):
    """Close the lead with a reason, or hand it back to the managers."""
    lead, refusal = _workable(lead_id)
    if refusal:
        return refusal
    form = DeclineForm()
    if not form.validate():
        return lead_page(lead, 422, decline=form)

    def done(event):
        if event.kind == "returned":
            return "%s went back to the managers to find the right rep." % lead.business_name
        return "Closed: %s." % DECLINE_REASONS[event.detail].lower()
    return _act(lead, Lead.decline, form.reason.data, form.expected.data, done=done)


@bp.route("/notes", methods=("POST",))
@role_required("rep", "manager")
def add_note(lead_id):
    """Add a note to the lead's timeline."""
    lead = Lead.get_visible(current_user, lead_id)
    form = NoteForm()
    if not form.validate():
        return lead_page(lead, 422, note=form)
    return _act(lead, Lead.add_note, form.note.data, done=lambda event: "Note added.")


@bp.route("/kudos", methods=("POST",))
@role_required("rep", "manager")
def kudos(lead_id):
    """Thank the courier who sent the lead."""
    lead, refusal = _workable(lead_id)
    if refusal:
        return refusal
    form = KudosForm()
    if not form.validate():
        return lead_page(lead, 422, kudos=form)
    return _act(lead, Lead.thank_courier, form.message.data,
                done=lambda event: "Your thanks are on their way to %s." % lead.courier.name)


@bp.route("/reassign", methods=("POST",))
@role_required("manager")
def reassign(lead_id):
    """Give the lead to another rep."""
    lead = Lead.get_visible(current_user, lead_id)
    form = ReassignForm()
    if not form.validate():
        return lead_page(lead, 422, reassign=form)
    rep = User.get_by_id(int(form.rep.data))
    return _act(lead, Lead.reassign, rep, done=lambda event: "%s has this lead now." % rep.name)
