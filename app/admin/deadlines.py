"""Deadlines: how long a lead of each temperature may stay new before it is
escalated. Managers' values are Settings ("deadline_hot_minutes", …), which
`notify.deadline` prefers to the configured defaults."""
from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import IntegerField
from wtforms.validators import InputRequired, StopValidation

from ..db import db
from ..models import TEMPERATURES, Setting
from ..params import whole_number
from .base import record

bp = Blueprint("deadlines", __name__, url_prefix="/deadlines")

MAX_MINUTES = 7 * 24 * 60
MESSAGE = "A whole number of minutes from 1 to %d (a week)." % MAX_MINUTES


class MinutesField(IntegerField):
    """A whole number of minutes from 1 to a week, read by `whole_number`
    (int() would also take "1_0" or "١٢", and fail on 4,300 digits)."""

    def process_formdata(self, valuelist):
        if valuelist:
            self.data = whole_number(valuelist[0].strip(), 1, MAX_MINUTES)
            if self.data is None:
                raise ValueError(MESSAGE)


def whole_minutes(form, field):
    """An unreadable value is already explained (by MinutesField)."""
    if field.data is None:
        raise StopValidation()


def minutes_field(label):
    return MinutesField(label, validators=[InputRequired("Required."), whole_minutes])


class DeadlineForm(FlaskForm):
    hot = minutes_field("Hot leads, in minutes")
    warm = minutes_field("Warm leads, in minutes")
    fyi = minutes_field("FYI leads, in minutes")


def key(temperature):
    return "deadline_%s_minutes" % temperature


def default(temperature):
    return current_app.config["DEADLINE_%s_MINUTES" % temperature.upper()]


def effective():
    """{temperature: (minutes in force, whether that is the configured default)}."""
    result = {}
    for temperature in TEMPERATURES:
        value = Setting.read(key(temperature))
        result[temperature] = (default(temperature), True) if value is None else (value, False)
    return result


def spoken(minutes):
    """Minutes as a person says them: "15 minutes", "4 hours", "1 day 2 hours"."""
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [(days, "day"), (hours, "hour"), (mins, "minute")]
    return " ".join("%d %s%s" % (n, unit, "" if n == 1 else "s") for n, unit in parts if n)


@bp.route("/", methods=("GET", "POST"))
def edit():
    """Show the deadlines in force and change them."""
    current = effective()
    form = DeadlineForm(data={t: minutes for t, (minutes, _) in current.items()})
    if form.validate_on_submit():
        with db.atomic():
            for temperature in TEMPERATURES:
                before, value = current[temperature][0], form[temperature].data
                if value != before:
                    Setting.write(key(temperature), value)
                    record("deadline.change", temperature, minutes=[before, value])
        flash("Deadlines saved: hot %s, warm %s, FYI %s." % tuple(
            spoken(form[t].data) for t in TEMPERATURES))
        return redirect(url_for(".edit"))
    return render_template("admin/deadlines.html", form=form, current=current,
                           spoken=spoken), 422 if form.errors else 200
