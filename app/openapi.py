"""The OpenAPI 3.1 document of API v1.

The lead input schema is derived from CaptureForm, the same form the capture
page uses, so the document cannot drift from what the API really accepts.
"""
from wtforms import BooleanField, FileField, FloatField, RadioField
from wtforms.fields.core import UnboundField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from .capture import CaptureForm
from .models import STATUSES


def _field_schema(unbound):
    validators = unbound.kwargs.get("validators", [])
    cls = unbound.field_class
    if issubclass(cls, BooleanField):
        return {"type": "boolean"}
    if issubclass(cls, RadioField):
        return {"type": "string", "enum": [c.value for c in unbound.kwargs["choices"]]}
    if issubclass(cls, FloatField):
        schema = {"type": ["number", "null"]}
        for v in validators:
            if isinstance(v, NumberRange):
                schema.update(minimum=v.min, maximum=v.max)
        return schema
    schema = {"type": "string"}
    for v in validators:
        if isinstance(v, Length) and v.max != -1:
            schema["maxLength"] = v.max
    if not any(isinstance(v, (DataRequired, InputRequired)) for v in validators):
        schema["type"] = ["string", "null"]
    return schema


def lead_input_schema():
    """JSON Schema of a lead body, read off CaptureForm's fields."""
    fields = sorted(((name, f) for name, f in vars(CaptureForm).items()
                     if isinstance(f, UnboundField) and not issubclass(f.field_class, FileField)),
                    key=lambda item: item[1].creation_counter)
    properties = {name: _field_schema(f) for name, f in fields}
    properties["client_uuid"].update(format="uuid", description=(
        "Made by the client once per lead; sending it again returns the same lead."))
    required = [name for name, f in fields
                if any(isinstance(v, (DataRequired, InputRequired))
                       for v in f.kwargs.get("validators", []))]
    return {"type": "object", "properties": properties, "required": required,
            "additionalProperties": False}


LEAD_INPUT = lead_input_schema()

PERSON = {"type": "object", "required": ["id", "name"], "additionalProperties": False,
          "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}


def _lead_schema():
    props = {name: dict(schema) for name, schema in LEAD_INPUT["properties"].items()}
    for schema in props.values():
        schema.pop("maxLength", None)
        if schema.get("type") == ["string", "null"]:
            schema["type"] = "string"
    props.update({
        "id": {"type": "integer"},
        "status": {"type": "string", "enum": list(STATUSES)},
        "route": {"type": ["string", "null"]},
        "territory": {"oneOf": [{"type": "null"}, {
            "type": "object", "required": ["id", "name"], "additionalProperties": False,
            "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}]},
        "courier": {"$ref": "#/components/schemas/Person"},
        "assigned_rep": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Person"}]},
        "photo_url": {"type": ["string", "null"]},
        "url": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    })
    return {"type": "object", "properties": props, "required": sorted(props),
            "additionalProperties": False}


ERROR = {
    "type": "object", "required": ["error"], "additionalProperties": False,
    "properties": {"error": {
        "type": "object", "required": ["code", "message"], "additionalProperties": False,
        "properties": {
            "code": {"type": "string", "description": "Stable; safe to branch on."},
            "message": {"type": "string"},
            "fields": {"type": "object", "additionalProperties": {
                "type": "array", "items": {"type": "string"}}},
        }}},
}


def _responses(*pairs):
    out = {}
    for status, description, schema in pairs:
        out[str(status)] = {"description": description, "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/%s" % schema}}}}
    return out


def _errors(*statuses):
    text = {400: "Malformed request or parameter", 401: "Not authenticated",
            403: "The caller's role may not do this", 404: "No such lead the caller may see",
            409: "client_uuid belongs to another lead", 413: "Too large",
            415: "Wrong Content-Type", 422: "Validation failed; see fields",
            429: "Rate limited"}
    return _responses(*[(s, text[s], "Error") for s in statuses])


LEAD_ID = {"name": "lead_id", "in": "path", "required": True, "schema": {"type": "integer"}}


def document():
    """The whole OpenAPI document."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Touchpoint API", "version": "1",
                 "description": "Leads couriers send, for the PWA and for scripts."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}, {"session": [], "csrf": []}],
        "paths": {
            "/leads": {
                "post": {"summary": "Submit a lead (idempotent by client_uuid)",
                         "requestBody": {"required": True, "content": {"application/json": {
                             "schema": {"$ref": "#/components/schemas/LeadInput"}}}},
                         "responses": {**_responses(
                             (201, "Created", "Lead"),
                             (200, "Already submitted with this client_uuid", "Lead")),
                             **_errors(400, 401, 403, 409, 413, 415, 422)}},
                "get": {"summary": "Leads the caller may see, newest first",
                        "parameters": [
                            {"name": "before", "in": "query", "schema": {"type": "integer", "minimum": 1},
                             "description": "Continue after this lead id (from `next`)."},
                            {"name": "limit", "in": "query",
                             "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 25}}],
                        "responses": {**_responses((200, "A page of leads", "LeadPage")),
                                      **_errors(400, 401)}},
            },
            "/leads/{lead_id}": {
                "get": {"summary": "One lead", "parameters": [LEAD_ID],
                        "responses": {**_responses((200, "The lead", "Lead")), **_errors(401, 404)}},
            },
            "/leads/{lead_id}/photo": {
                "put": {"summary": "Attach or replace the photo of one's own lead",
                        "parameters": [LEAD_ID],
                        "requestBody": {"required": True, "content": {
                            t: {"schema": {"type": "string", "contentMediaType": t}}
                            for t in ("image/jpeg", "image/png", "image/webp")}},
                        "responses": {**_responses((200, "The lead with its photo", "Lead")),
                                      **_errors(400, 401, 403, 404, 413, 415, 422)}},
            },
        },
        "components": {
            "schemas": {
                "LeadInput": LEAD_INPUT,
                "Lead": _lead_schema(),
                "LeadPage": {"type": "object", "required": ["items", "next"],
                             "additionalProperties": False, "properties": {
                                 "items": {"type": "array", "items": {"$ref": "#/components/schemas/Lead"}},
                                 "next": {"type": ["string", "null"]}}},
                "Person": PERSON,
                "Error": ERROR,
            },
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "A personal token from `flask --app wsgi token EMAIL`."},
                "session": {"type": "apiKey", "in": "cookie", "name": "touchpoint_session"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRFToken",
                         "description": "From the page's <meta name=\"csrf-token\">; "
                                        "needed with the session cookie on every change."},
            },
        },
    }
