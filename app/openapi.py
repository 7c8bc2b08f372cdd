"""The OpenAPI 3.1 document of API v1.

The lead input schema is derived from CaptureForm, the same form the capture
page uses, and the push subscription schemas are the ones app/devices.py
validates with, so the document cannot drift from what the API really accepts.
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
    properties["contact_phone"].update(description=(
        "A phone number as people write it: national, in the depot's region "
        "(DEPOT_REGION, e.g. 020 7946 0000 in GB), or international with + or 00 "
        "and its country code (+49 30 123456); digits, spaces and + ( ) - . / only. "
        "It must be a number in use (libphonenumber's metadata); it is stored and "
        "returned in E.164."))
    properties["captured_at"].update(format="date-time", description=(
        "When the courier tapped Send, by the phone's clock, with its zone. A time "
        "over 10 minutes after arrival or over 30 days before it is not believed "
        "and stored as null."))
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
    props["contact_phone"]["description"] = (
        "E.164, e.g. +442079460000 (empty when none was given). A number stored "
        "before numbers were checked, which is not a valid one, is as it was typed.")
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
        "captured_at": {"type": ["string", "null"], "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    })
    return {"type": "object", "properties": props, "required": sorted(props),
            "additionalProperties": False}


SUBSCRIPTION_INPUT = {
    "type": "object", "required": ["endpoint", "keys"], "additionalProperties": False,
    "description": "A browser's PushSubscription.toJSON().",
    "properties": {
        "endpoint": {"type": "string", "maxLength": 1024, "description": (
            "The push service URL: https, on a host the server allows (PUSH_SERVICE_HOSTS), "
            "without a user name or password.")},
        "keys": {"type": "object", "required": ["p256dh", "auth"], "additionalProperties": False,
                 "properties": {
                     "p256dh": {"type": "string", "description": (
                         "The device's P-256 public key: 65 bytes, uncompressed, base64url "
                         "(padding optional).")},
                     "auth": {"type": "string", "description": (
                         "The device's 16-byte authentication secret, base64url.")}}},
        "expirationTime": {"type": ["number", "null"], "description": "Accepted and ignored."},
    },
}

SUBSCRIPTION_REMOVAL = {
    "type": "object", "required": ["endpoint"], "additionalProperties": False,
    "properties": {"endpoint": {"type": "string", "maxLength": 1024}},
}

DEVICE = {
    "type": "object", "required": ["id", "label", "created_at"], "additionalProperties": False,
    "properties": {
        "id": {"type": "integer"},
        "label": {"type": "string", "description": "E.g. \"Chrome on Android\"."},
        "created_at": {"type": "string", "format": "date-time"},
    },
}

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


def _errors(*statuses, notes=None):
    """Error responses for statuses; notes replace the lead-centred descriptions."""
    text = {400: "Malformed request or parameter", 401: "Not authenticated",
            403: "The caller's role may not do this", 404: "No such lead the caller may see",
            409: "client_uuid belongs to another lead", 413: "Too large",
            415: "Wrong Content-Type", 422: "Validation failed; see fields",
            429: "Rate limited", 503: "Not available on this server"}
    text.update(notes or {})
    return _responses(*[(s, text[s], "Error") for s in statuses])


LEAD_ID = {"name": "lead_id", "in": "path", "required": True, "schema": {"type": "integer"}}


def document():
    """The whole OpenAPI document."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Touchpoint API", "version": "1",
                 "description": ("Leads couriers send, and the devices that get alerts, "
                                 "for the PWA and for scripts.")},
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
            **_notification_paths(),
            "/push/key": {
                "get": {"summary": "The application server key to subscribe a browser with",
                        "responses": {**_responses((200, "The key", "PushKey")),
                                      **_errors(401, 503, notes={
                                          503: "`push_not_configured`: this server sends "
                                               "no push alerts"})}},
            },
            "/push/subscriptions": {
                "post": {"summary": "Enable alerts on this device (upsert by endpoint)",
                         "description": (
                             "The same endpoint again updates its keys (200); an endpoint "
                             "stored for another user moves to the caller, since the "
                             "browser changed hands (201)."),
                         "parameters": [{
                             "name": "resync", "in": "query", "schema": {"enum": ["1"]},
                             "description": "The app's check at start: only refresh a device "
                                            "the caller still has; 404 if it was removed."}],
                         "requestBody": {"required": True, "content": {"application/json": {
                             "schema": {"$ref": "#/components/schemas/SubscriptionInput"}}}},
                         "responses": {**_responses(
                             (201, "Stored as one of the caller's devices", "Device"),
                             (200, "Already the caller's; keys updated", "Device")),
                             **_errors(400, 401, 404, 409, 413, 415, 422, notes={
                                 404: "`not_subscribed` (resync only): this device was "
                                      "removed; the app turns its alerts off",
                                 409: "`too_many_devices`: the caller has PUSH_MAX_DEVICES "
                                      "devices; remove one on the Devices page"})}},
                "delete": {"summary": "Stop alerts to one of the caller's devices",
                           "requestBody": {"required": True, "content": {"application/json": {
                               "schema": {"$ref": "#/components/schemas/SubscriptionRemoval"}}}},
                           "responses": {"204": {"description": "Removed"},
                                         **_errors(400, 401, 404, 413, 415, 422, notes={
                                             404: "No device of the caller's has this "
                                                  "endpoint"})}},
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
                "SubscriptionInput": SUBSCRIPTION_INPUT,
                "SubscriptionRemoval": SUBSCRIPTION_REMOVAL,
                "Device": DEVICE,
                "PushKey": {"type": "object", "required": ["public_key"],
                            "additionalProperties": False, "properties": {
                                "public_key": {"type": "string", "description": (
                                    "The applicationServerKey (base64url) for "
                                    "pushManager.subscribe().")}}},
                "Error": ERROR,
                **_notification_schemas(),
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


# --- The in-app notifications (app/inbox.py) ------------------------------------------

NOTIFICATION_ID = {"name": "notification_id", "in": "path", "required": True,
                   "schema": {"type": "integer"}}


def _notification_paths():
    """The operations on the caller's in-app notifications."""
    not_found = _responses((404, "No such notification of the caller's", "Error"))
    paging = [
        {"name": "before", "in": "query", "schema": {"type": "integer", "minimum": 1},
         "description": "Continue after this notification id (from `next`)."},
        {"name": "limit", "in": "query",
         "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 25}}]
    return {
        "/notifications": {
            "get": {"summary": "The caller's notifications, newest first",
                    "parameters": paging,
                    "responses": {
                        **_responses((200, "A page of notifications", "NotificationPage")),
                        **_errors(400, 401)}},
        },
        "/notifications/unread-count": {
            "get": {"summary": "How many of the caller's notifications are unread",
                    "responses": {**_responses((200, "The unread count", "UnreadCount")),
                                  **_errors(401)}},
        },
        "/notifications/{notification_id}/read": {
            "post": {"summary": "Mark one of the caller's notifications read",
                     "parameters": [NOTIFICATION_ID],
                     "responses": {**_responses((200, "The notification, read", "Notification")),
                                   **_errors(400, 401), **not_found}},
        },
        "/notifications/read-all": {
            "post": {"summary": "Mark the caller's notifications read",
                     "parameters": [
                         {"name": "up_to", "in": "query",
                          "schema": {"type": "integer", "minimum": 1},
                          "description": "Only those with this id or lower: the newest "
                                         "one the user saw, so that none arriving since "
                                         "is marked unseen."}],
                     "responses": {**_responses((200, "The unread count now", "UnreadCount")),
                                   **_errors(400, 401)}},
        },
    }


def _notification_schemas():
    """The component schemas of the notification operations."""
    return {
        "Notification": {
            "type": "object", "additionalProperties": False,
            "required": ["id", "kind", "title", "body", "path", "lead_id", "created_at", "read"],
            "properties": {
                "id": {"type": "integer"},
                "kind": {"type": "string", "description": (
                    "What happened: new_lead, escalated, assigned, acknowledged, progress, "
                    "kudos; more may come, so show unknown ones plainly.")},
                "title": {"type": "string"},
                "body": {"type": "string"},
                "path": {"type": "string", "pattern": "^/(?![/\\\\])",
                         "description": "Where opening it goes: a path on this site."},
                "lead_id": {"type": ["integer", "null"]},
                "created_at": {"type": "string", "format": "date-time"},
                "read": {"type": "boolean"},
            }},
        "NotificationPage": {
            "type": "object", "required": ["items", "next"], "additionalProperties": False,
            "properties": {
                "items": {"type": "array",
                          "items": {"$ref": "#/components/schemas/Notification"}},
                "next": {"type": ["string", "null"]}}},
        "UnreadCount": {
            "type": "object", "required": ["unread"], "additionalProperties": False,
            "properties": {"unread": {"type": "integer", "minimum": 0}}},
    }
