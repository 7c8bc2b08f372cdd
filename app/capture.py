"""The courier's capture: the New lead form, its confirmation and "My leads".

`CaptureForm` holds every rule a lead's fields must meet; the JSON API checks
its bodies with the very same form, so a page and a script can never disagree.
"""
import math
import re
import uuid
from datetime import datetime, timezone

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import (BooleanField, SelectChoice, FileField, FloatField, HiddenField, RadioField,
                     StringField, TextAreaField)
from wtforms.validators import (DataRequired, Email, InputRequired, Length,
                                NumberRange, Optional, Regexp, StopValidation,
                                ValidationError)

from . import phones, photos, tasks
from .auth import role_required
from .models import CATEGORIES, MAX_ID, TEMPERATURES, DuplicateSubmission, Lead
from .params import query_int

bp = Blueprint("capture", __name__)
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
PRINTABLE_MESSAGE = "Remove the special (control) characters."
BOTH_COORDINATES_MESSAGE = "Give both latitude and longitude, or neither."
# What the phone can check of an email address before it queues a lead. The
# server's Email() (email_validator) says more, e.g. it refuses reserved
# domains such as .test, so a lead the phone accepted can still be refused.
EMAIL_SHAPE = r"^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$"


# A line break or tab, with the spaces around it: none belongs in a
# one-line field (a name, an address line), on the page, in the API or in a CSV.
LINE_BREAK = re.compile(r"\s*[\t\n\r\x85\u2028\u2029]\s*")


def strip(value):
    return value.strip() if isinstance(value, str) else value


def one_line(value):
    """value on one line: each line break or tab (with the spaces around it)
    becomes one space, and the ends are trimmed."""
    return LINE_BREAK.sub(" ", value).strip() if isinstance(value, str) else value


def printable(form, field):
    """Refuse control characters (a NUL would not even store in PostgreSQL)."""
    if isinstance(field.data, str) and CONTROL_CHARS.search(field.data):
        raise ValidationError(PRINTABLE_MESSAGE)


def finite(form, field):
    """Stop at a number that could not be read (the field already says so) or
    is not finite, so that no range message follows it."""
    if field.data is None:
        raise StopValidation()
    if not math.isfinite(field.data):
        raise StopValidation("Must be a number.")


def a_uuid(form, field):
    try:
        uuid.UUID(field.data or "")
    except ValueError:
        raise ValidationError("Must be a UUID, e.g. 0b7c8a3e-5d41-4f2a-9c3b-1e2f3a4b5c6d.")


class CaptureTimeField(HiddenField):
    """When the courier tapped Send, by the phone's clock: ISO 8601 with its
    zone (e.g. 2026-12-01T09:30:00Z), held as naive UTC. Empty when the page
    posted without JavaScript (then it was sent the moment it was typed)."""

    def process_formdata(self, valuelist):
        self.data = None
        raw = valuelist[0].strip() if valuelist else ""
        if not raw:
            return
        try:
            when = datetime.fromisoformat(raw) if len(raw) <= 40 else None
        except ValueError:
            when = None
        if when is None or when.tzinfo is None:
            raise ValueError("Must be a date and time with its zone, e.g. 2026-12-01T09:30:00Z.")
        self.data = when.astimezone(timezone.utc).replace(tzinfo=None)

    def _value(self):
        return self.data.isoformat() + "Z" if self.data else ""


def text(label, max_length, *validators, required=False, field_class=StringField):
    """A one-line text field (see `one_line`) of at most max_length characters."""
    first = [DataRequired("Required.")] if required else [Optional()]
    return field_class(label, filters=[one_line], validators=first + [
        Length(max=max_length, message="At most %d characters." % max_length),
        printable, *validators])


def phone_number(label):
    """A phone number as people write it, stored in E.164 (app/phones.py)."""
    return text(label, 32, phones.a_number, field_class=phones.PhoneField)


def _choices(labels):
    return [SelectChoice(value, label) for value, label in labels.items()]


class CaptureForm(FlaskForm):
    """A lead as a courier sends it: only the business name, category and
    temperature are required, so a lead takes seconds."""
    client_uuid = HiddenField(validators=[InputRequired("Required."), a_uuid])
    business_name = text("Business name", 120, required=True)
    category = RadioField("What did you see?", choices=_choices(CATEGORIES),
                          validators=[InputRequired("Pick one.")])
    competitor = text("Which competitor?", 80)
    temperature = RadioField("How hot?", choices=_choices(TEMPERATURES),
                             default="warm", validators=[InputRequired("Pick one.")])
    contact_name = text("Contact name", 100)
    contact_phone = phone_number("Phone")
    contact_email = text("Email", 254, Email("That doesn't look like an email address."))
    address = text("Address", 200)
    postcode = text("Postcode", 12, Regexp(r"^[A-Za-z0-9 -]*$",
                                           message="Letters, digits and spaces only."))
    note = TextAreaField("Note", filters=[strip], validators=[
        Optional(), Length(max=1000, message="At most 1000 characters."), printable])
    expects_call = BooleanField("The customer expects a call")
    lat = FloatField("Latitude", invalid_value_message="Must be a number.", validators=[
        Optional(), finite, NumberRange(-90, 90, "Latitude is between -90 and 90.")])
    lng = FloatField("Longitude", invalid_value_message="Must be a number.", validators=[
        Optional(), finite, NumberRange(-180, 180, "Longitude is between -180 and 180.")])
    photo = FileField("Photo")
    captured_at = CaptureTimeField()

    def validate(self, extra_validators=None):
        """Every field's rules, then: a position needs both of its coordinates.

        (Not a `validate_lng`: an empty field's Optional() ends its chain, so
        that would never see a latitude given without a longitude.)
        """
        valid = super().validate(extra_validators)
        if not (self.lat.errors or self.lng.errors) and (
                (self.lat.data is None) != (self.lng.data is None)):
            self.lng.errors.append(BOTH_COORDINATES_MESSAGE)
            valid = False
        return valid


def client_rules(form):
    """Each field's label and rules with their messages, read off the form's
    own validators, for the phone to check a lead before it queues it (the
    page renders them as JSON), so phone and server say the same words."""
    rules = {}
    for field in form:
        if isinstance(field, (HiddenField, FileField, BooleanField)):
            continue
        rule = {"label": field.label.text}
        for v in field.validators:
            if isinstance(v, (DataRequired, InputRequired)):
                rule["required"] = v.message
            elif isinstance(v, Length) and v.max != -1:
                rule["max"] = [v.max, v.message]
            elif isinstance(v, Email):
                rule["pattern"] = [EMAIL_SHAPE, v.message]
            elif isinstance(v, Regexp):
                rule["pattern"] = [v.regex.pattern, v.message]
            elif v is phones.a_number:
                rule["pattern"] = [phones.SHAPE, phones.SHAPE_MESSAGE]
            elif isinstance(v, NumberRange):
                rule["range"] = [v.min, v.max, v.message]
            elif v is printable:
                rule["forbid"] = [CONTROL_CHARS.pattern, PRINTABLE_MESSAGE]
            elif v is finite:
                rule["number"] = field.invalid_value_message
        rules[field.name] = rule
    rules["lng"]["pair"] = ["lat", BOTH_COORDINATES_MESSAGE]
    return rules


# The form's fields a Lead stores as they are (the photo is handled apart).
LEAD_FIELDS = ("business_name", "category", "competitor", "temperature", "contact_name",
               "contact_phone", "contact_email", "address", "postcode", "note",
               "expects_call", "lat", "lng", "captured_at")


def lead_fields(form):
    """The lead's columns from a validated CaptureForm."""
    values = {name: getattr(form, name).data for name in LEAD_FIELDS}
    for name, value in values.items():
        if value is None and name not in ("lat", "lng", "captured_at"):
            values[name] = ""
    values["postcode"] = values["postcode"].upper()
    if values["category"] != "competitor":
        values["competitor"] = ""
    return values


def submit_lead(courier, form, photo_bytes=None):
    """Store a validated lead (and its prepared photo); return (lead, created)."""
    fields = lead_fields(form)
    name = photos.store(photo_bytes) if photo_bytes else None
    try:
        lead, created = Lead.submit(courier, dict(fields, photo=name), form.client_uuid.data)
    except BaseException:
        photos.delete(name)
        raise
    if created:
        tasks.announce_later(lead.created_event)
    else:
        photos.delete(name)
    return lead, created


@bp.route("/leads/new", methods=("GET", "POST"))
@role_required("courier")
def new_lead():
    """The New lead form; on success, the confirmation page."""
    form = CaptureForm()
    if request.method == "GET":
        form.client_uuid.data = str(uuid.uuid4())
    elif not form.validate():
        if form.client_uuid.errors:
            # A damaged id would fail every resend; no lead has it, so a new one is safe.
            form.client_uuid.data = str(uuid.uuid4())
    else:
        photo_bytes = _form_photo(form)
        if photo_bytes is not False:
            try:
                lead, _ = submit_lead(current_user, form, photo_bytes)
            except DuplicateSubmission:
                form.client_uuid.data = str(uuid.uuid4())
                form.business_name.errors.append("This form was already used. Check and send again.")
            else:
                return redirect(url_for("capture.sent", lead_id=lead.id))
    status = 422 if form.errors else 200
    return render_template("capture/new.html", form=form, rules=client_rules(form)), status


def _form_photo(form):
    """The uploaded photo prepared for storage, None if none, False if refused."""
    upload = form.photo.data
    if not upload or not getattr(upload, "filename", None):
        return None
    try:
        return photos.prepare(upload.stream, current_app.config)
    except photos.PhotoError as exc:
        form.photo.errors = [str(exc)]
        return False


@bp.route("/leads/<int:lead_id>/sent")
@role_required("courier")
def sent(lead_id):
    """Where the courier's lead went."""
    lead = Lead.get_visible(current_user, lead_id)
    return render_template("capture/sent.html", lead=lead)


@bp.route("/my-leads")
@role_required("courier")
def my_leads():
    """Every lead the courier sent, newest first, with its status."""
    before = query_int("before", None, 1, MAX_ID)
    leads, next_before = Lead.page(Lead.visible_to(current_user), before)
    return render_template("capture/mine.html", leads=leads, next_before=next_before)
