"""JSON API v1: the same rules as the pages, for the PWA's outbox and for scripts.

Authentication is the session cookie plus an `X-CSRFToken` header (the PWA),
or `Authorization: Bearer <personal token>` (scripts). Lead bodies are checked
first for shape (types, unknown fields) against the OpenAPI schema, then by
the capture page's own CaptureForm, so both give the same answers.
"""
import functools
import json

from flask import Blueprint, current_app, jsonify, request, url_for
from flask_login import current_user
from jsonschema import Draft202012Validator
from werkzeug.datastructures import MultiDict

from . import photos
from .capture import CaptureForm, submit_lead
from .errors import ApiError
from .models import MAX_ID, DuplicateSubmission, Lead
from .openapi import LEAD_INPUT, document
from .params import iso, query_int

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")
_lead_shape = Draft202012Validator(LEAD_INPUT)


def api_role(*roles):
    """Only authenticated users (of one of roles, if given) may call the view."""
    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                raise ApiError(401, "unauthorized",
                               "Log in, or send a valid `Authorization: Bearer` token.")
            if roles and current_user.role not in roles:
                raise ApiError(403, "forbidden", "Only a %s may do this." % " or ".join(roles))
            return view(*args, **kwargs)
        return wrapped
    return decorator


def lead_json(lead):
    """The one JSON form of a lead that the API returns."""
    def person(user):
        return {"id": user.id, "name": user.name} if user else None
    return {
        "id": lead.id,
        "client_uuid": str(lead.client_uuid),
        "status": lead.status,
        "business_name": lead.business_name,
        "category": lead.category,
        "competitor": lead.competitor,
        "temperature": lead.temperature,
        "contact_name": lead.contact_name,
        "contact_phone": lead.contact_phone,
        "contact_email": lead.contact_email,
        "address": lead.address,
        "postcode": lead.postcode,
        "note": lead.note,
        "expects_call": lead.expects_call,
        "lat": lead.lat,
        "lng": lead.lng,
        "route": lead.route.code if lead.route_id else None,
        "territory": ({"id": lead.territory.id, "name": lead.territory.name}
                      if lead.territory_id else None),
        "courier": person(lead.courier),
        "assigned_rep": person(lead.assigned_rep) if lead.assigned_rep_id else None,
        "photo_url": (url_for("views.lead_photo", lead_id=lead.id) if lead.photo else None),
        "url": url_for("views.lead", lead_id=lead.id),
        "created_at": iso(lead.created_at),
        "captured_at": iso(lead.captured_at) if lead.captured_at else None,
        "updated_at": iso(lead.updated_at),
    }


def json_body():
    """The request's JSON object, or a clear error."""
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json.")
    try:
        body = json.loads(request.get_data(as_text=True))
    except ValueError as exc:
        raise ApiError(400, "malformed_json", "The body is not valid JSON: %s" % exc)
    except RecursionError:
        raise ApiError(400, "malformed_json", "The body is nested too deeply.")
    if not isinstance(body, dict):
        raise ApiError(400, "malformed_json", "The body must be a JSON object.")
    return body


SHAPE_MESSAGES = {
    "type": lambda e: "Must be %s." % _type_name(e.validator_value),
    "enum": lambda e: "Must be one of: %s." % ", ".join(e.validator_value),
    "maxLength": lambda e: "At most %d characters." % e.validator_value,
    "minimum": lambda e: "Must be at least %s." % e.validator_value,
    "maximum": lambda e: "Must be at most %s." % e.validator_value,
}


def _type_name(value):
    names = {"string": "text", "number": "a number", "boolean": "true or false",
             "null": "null", "integer": "a whole number"}
    values = value if isinstance(value, list) else [value]
    return " or ".join(names.get(v, v) for v in values)


def shape_errors(body):
    """Per-field messages for a body whose shape does not match LeadInput."""
    fields = {}
    for error in _lead_shape.iter_errors(body):
        if error.validator == "required":
            name = error.message.split("'")[1]
            fields.setdefault(name, []).append("Required.")
        elif error.validator == "additionalProperties":
            for name in sorted(set(body) - set(LEAD_INPUT["properties"])):
                fields.setdefault(name, []).append("Unknown field.")
        else:
            name = error.path[0] if error.path else "body"
            message = SHAPE_MESSAGES.get(error.validator, lambda e: e.message)(error)
            fields.setdefault(name, []).append(message)
    return fields


def unicode_errors(body):
    """Per-field messages for text holding a lone surrogate: JSON may escape one
    ("\\ud800"), but it is not Unicode, and no database can store it."""
    fields = {}
    for name, value in body.items():
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                fields[name] = ["Must be valid Unicode text."]
    return fields


def as_formdata(body):
    """A JSON lead as the form data a browser would post for it."""
    data = MultiDict()
    for name, value in body.items():
        if value is None or value is False:
            continue
        data[name] = "y" if value is True else str(value)
    return data


def invalid(fields):
    return ApiError(422, "validation_failed", "Some fields need fixing.", fields)


@bp.route("/leads", methods=("POST",))
@api_role("courier")
def create_lead():
    """Submit a lead; the same client_uuid again returns the first one (200)."""
    body = json_body()
    # Every field's problem at once: the form's rules, and the shape's word
    # (missing, type, unknown field) where the shape is wrong.
    broken_text = unicode_errors(body)
    form = CaptureForm(formdata=as_formdata({name: value for name, value in body.items()
                                             if name not in broken_text}), meta={"csrf": False})
    fields = {} if form.validate() else dict(form.errors)
    fields.update(shape_errors(body), **broken_text)
    if fields:
        raise invalid(fields)
    try:
        lead, created = submit_lead(current_user, form)
    except DuplicateSubmission:
        raise ApiError(409, "client_uuid_taken",
                       "This client_uuid belongs to another lead; make a new one.")
    response = jsonify(lead_json(lead))
    response.status_code = 201 if created else 200
    response.headers["Location"] = url_for("api.get_lead", lead_id=lead.id)
    return response


@bp.route("/leads", methods=("GET",))
@api_role()
def list_leads():
    """The leads the caller may see, newest first, a page at a time."""
    before = query_int("before", None, 1, MAX_ID)
    limit = query_int("limit", 25, 1, 100)
    leads, next_before = Lead.page(Lead.visible_to(current_user), before, limit)
    next_url = url_for("api.list_leads", before=next_before, limit=limit) if next_before else None
    return jsonify(items=[lead_json(lead) for lead in leads], next=next_url)


@bp.route("/leads/<int:lead_id>", methods=("GET",))
@api_role()
def get_lead(lead_id):
    """One lead the caller may see."""
    return jsonify(lead_json(Lead.get_visible(current_user, lead_id)))


@bp.route("/leads/<int:lead_id>/photo", methods=("PUT",))
@api_role("courier")
def put_photo(lead_id):
    """Attach (or replace) the photo of one's own lead; the body is the image."""
    lead = Lead.get_visible(current_user, lead_id)
    if request.mimetype not in PHOTO_TYPES:
        raise ApiError(415, "unsupported_media_type",
                       "Send the photo as the body, typed image/jpeg, image/png or image/webp.")
    limit = current_app.config["PHOTO_MAX_BYTES"]
    if (request.content_length or 0) > limit:
        raise ApiError(413, "too_large", "The photo is over %d MB." % (limit // 2**20))
    try:
        data = photos.prepare(request.stream, current_app.config)
    except photos.PhotoError as exc:
        raise invalid({"photo": [str(exc)]})
    old, lead.photo = lead.photo, photos.store(data)
    Lead.update(photo=lead.photo).where(Lead.id == lead.id).execute()
    photos.delete(old)
    return jsonify(lead_json(lead))


@bp.route("/openapi.json")
def openapi():
    """The OpenAPI 3.1 description of this API."""
    return jsonify(document())
