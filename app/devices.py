"""Devices: the browsers on which a user enabled alerts, as the PWA registers
them through the API and as the user sees and tests them on the Devices page.

A subscription is stored only if the worker could really deliver to it: an
https endpoint on a push service the depot allows (PUSH_SERVICE_HOSTS) and
keys of the right size and shape, each problem reported against its field.
The endpoint is the device's identity: posting it again updates its keys, and
an endpoint stored for another user moves to the caller, because the browser
profile changed hands.
"""
import base64
import binascii
import logging
import re
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from flask import (Blueprint, abort, current_app, flash, jsonify, redirect, render_template,
                   request, url_for)
from flask_login import current_user, login_required
from jsonschema import Draft202012Validator
from peewee import IntegrityError

from . import notify, push, tasks
from .api import SHAPE_MESSAGES, api_role, invalid, json_body
from .db import db
from .errors import ApiError
from .models import Delivery, Notification, PushSubscription
from .openapi import SUBSCRIPTION_INPUT, SUBSCRIPTION_REMOVAL

log = logging.getLogger(__name__)

bp = Blueprint("devices", __name__)

_subscription_shape = Draft202012Validator(SUBSCRIPTION_INPUT)
_removal_shape = Draft202012Validator(SUBSCRIPTION_REMOVAL)

# RFC 3986's characters: no spaces, quotes, backslashes or anything non-ASCII,
# which URL parsers disagree about.
URL_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
HOST_CHARACTERS = re.compile(r"[a-z0-9.:-]+")
BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")
P256DH_BYTES, AUTH_BYTES = 65, 16

# (token in the User-Agent, name), first match wins: Edge and Opera also say Chrome,
# and Chrome also says Safari.
BROWSERS = (("Edg", "Edge"), ("OPR/", "Opera"), ("SamsungBrowser", "Samsung Internet"),
            ("Firefox/", "Firefox"), ("FxiOS", "Firefox"), ("CriOS", "Chrome"),
            ("Chrome/", "Chrome"), ("Safari/", "Safari"))
SYSTEMS = (("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"),
           ("Windows", "Windows"), ("CrOS", "ChromeOS"), ("Macintosh", "Mac"),
           ("Linux", "Linux"))
NOT_CONFIGURED = "Alerts are not set up on this server, so no device can get them yet."


@bp.record_once
def _check_push_identity(state):
    """Say at startup, not at the first alert, that the push settings are wrong."""
    with state.app.app_context():
        notify.vapid()


def device_label(user_agent):
    """A name a person recognises their device by, e.g. "Chrome on Android"."""
    user_agent = user_agent or ""
    browser = next((name for token, name in BROWSERS if token in user_agent), None)
    system = next((name for token, name in SYSTEMS if token in user_agent), None)
    if browser and system:
        return "%s on %s" % (browser, system)
    if system:
        return "A browser on %s" % system
    return browser or "Unknown device"


def allowed_push_host(host, allowed):
    """Whether host is on the comma-separated allowlist (".x.com": x.com and below)."""
    for entry in (e.strip().lower() for e in allowed.split(",")):
        if entry.startswith("."):
            if host == entry[1:] or host.endswith(entry):
                return True
        elif entry and host == entry:
            return True
    return False


def endpoint_problem(endpoint):
    """Why the worker must never post to endpoint, or None."""
    if not URL_CHARACTERS.fullmatch(endpoint):
        return "Must be a URL, without spaces or characters a URL cannot hold."
    try:
        parts = urlsplit(endpoint)
        parts.port
    except ValueError:
        return "Must be a valid URL."
    if parts.scheme != "https" or not parts.hostname:
        return "Must be an https:// URL."
    if "@" in parts.netloc:
        return "Must not hold a user name or password."
    host = parts.hostname
    if not HOST_CHARACTERS.fullmatch(host) or not allowed_push_host(
            host, current_app.config["PUSH_SERVICE_HOSTS"]):
        return "%s is not a push service this server sends alerts to." % host
    return None


def _decode(text):
    """The bytes of base64url text (padding optional), or None."""
    if not BASE64URL.fullmatch(text):
        return None
    bare = text.rstrip("=")
    try:
        return base64.urlsafe_b64decode(bare + "=" * (-len(bare) % 4))
    except (ValueError, binascii.Error):
        return None


def key_problems(p256dh, auth):
    """Per-field messages for keys that are not a P-256 point and a 16-byte secret."""
    fields = {}
    point, secret = _decode(p256dh), _decode(auth)
    if point is None:
        fields["keys.p256dh"] = ["Must be base64url (A-Z, a-z, 0-9, - and _)."]
    elif len(point) != P256DH_BYTES:
        fields["keys.p256dh"] = ["Must be a %d-byte uncompressed P-256 public key, not %d "
                                 "bytes." % (P256DH_BYTES, len(point))]
    else:
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        except ValueError:
            fields["keys.p256dh"] = ["Is not a point on the P-256 curve."]
    if secret is None:
        fields["keys.auth"] = ["Must be base64url (A-Z, a-z, 0-9, - and _)."]
    elif len(secret) != AUTH_BYTES:
        fields["keys.auth"] = ["Must be %d bytes, not %d." % (AUTH_BYTES, len(secret))]
    return fields


def shape_errors(validator, body):
    """Per-field messages (nested fields as "keys.auth") for a body of the wrong shape."""
    fields = {}
    for error in validator.iter_errors(body):
        where = [str(p) for p in error.path]
        if error.validator == "required":
            names = [".".join(where + [error.message.split("'")[1]])]
            message = "Required."
        elif error.validator == "additionalProperties":
            names = [".".join(where + [name]) for name in
                     sorted(set(error.instance) - set(error.schema["properties"]))]
            message = "Unknown field."
        elif error.validator == "type" and error.validator_value == "object":
            names, message = [".".join(where)], "Must be an object."
        else:
            names = [".".join(where) or "body"]
            message = SHAPE_MESSAGES.get(error.validator, lambda e: e.message)(error)
        for name in names:
            fields.setdefault(name, []).append(message)
    return fields


def subscription_errors(body):
    """Per-field messages for a PushSubscription we could not deliver to."""
    fields = shape_errors(_subscription_shape, body)
    if fields:
        return fields
    endpoint, keys = body["endpoint"], body["keys"]
    problem = endpoint_problem(endpoint)
    if problem:
        fields["endpoint"] = [problem]
    fields.update(key_problems(keys["p256dh"], keys["auth"]))
    if not fields:
        # The sender's own check has the last word; what is left for it to refuse
        # is an endpoint on our own network (allowed only in development).
        try:
            push.check_subscription(endpoint, keys["p256dh"], keys["auth"],
                                    development=notify.development())
        except push.InvalidSubscription as exc:
            fields["endpoint"] = [str(exc)]
    return fields


def too_many_devices():
    limit = current_app.config["PUSH_MAX_DEVICES"]
    return ApiError(409, "too_many_devices",
                    "Alerts already reach %d devices of yours, the most allowed. Remove one "
                    "on the Devices page (%s), then try again."
                    % (limit, url_for("devices.devices")))


def store_subscription(user, endpoint, p256dh, auth, label):
    """Save user's device, upserting by endpoint; return (subscription, created)."""
    with db.atomic():
        found = PushSubscription.get_or_none(PushSubscription.endpoint == endpoint)
        if found is not None and found.user_id == user.id:
            if (found.p256dh, found.auth) != (p256dh, auth):
                found.failure_count, found.first_failure_at = 0, None
            found.p256dh, found.auth, found.label = p256dh, auth, label
            found.save()
            return found, False
        if found is not None:
            # Deleted, not updated: its pending deliveries are the last owner's alerts.
            found.delete_instance()
        if user.push_subscriptions.count() >= current_app.config["PUSH_MAX_DEVICES"]:
            raise too_many_devices()
        return PushSubscription.create(user=user, endpoint=endpoint, p256dh=p256dh,
                                       auth=auth, label=label), True


def device_json(subscription):
    """The JSON the API returns for one of the caller's devices."""
    return {"id": subscription.id, "label": subscription.label,
            "created_at": subscription.created_at.replace(microsecond=0).isoformat() + "Z"}


@bp.route("/api/v1/push/key")
@api_role()
def public_key():
    """The application server key a browser subscribes with."""
    vapid = notify.vapid()
    if vapid is None:
        raise ApiError(503, "push_not_configured", NOT_CONFIGURED)
    return jsonify(public_key=vapid.application_server_key)


@bp.route("/api/v1/push/subscriptions", methods=("POST",))
@api_role()
def subscribe():
    """Enable alerts on the caller's device (the browser's PushSubscription)."""
    body = json_body()
    fields = subscription_errors(body)
    if fields:
        raise invalid(fields)
    if request.args.get("resync") == "1" and not (
            current_user.push_subscriptions
            .where(PushSubscription.endpoint == body["endpoint"]).exists()):
        raise ApiError(404, "not_subscribed", "This device's alerts were turned off on the "
                       "Devices page; tap Enable alerts to turn them on again.")
    keys = body["keys"]
    values = (current_user._get_current_object(), body["endpoint"], keys["p256dh"].rstrip("="),
              keys["auth"].rstrip("="), device_label(request.headers.get("User-Agent")))
    try:
        subscription, created = store_subscription(*values)
    except IntegrityError:
        # Another request stored the same endpoint between our read and write.
        subscription, created = store_subscription(*values)
    response = jsonify(device_json(subscription))
    response.status_code = 201 if created else 200
    return response


@bp.route("/api/v1/push/subscriptions", methods=("DELETE",))
@api_role()
def unsubscribe():
    """Stop alerts to one of the caller's devices, named by its endpoint."""
    body = json_body()
    fields = shape_errors(_removal_shape, body)
    if fields:
        raise invalid(fields)
    removed = (PushSubscription.delete()
               .where((PushSubscription.endpoint == body["endpoint"])
                      & (PushSubscription.user == current_user.id))
               .execute())
    if not removed:
        raise ApiError(404, "not_found", "None of your devices has this endpoint.")
    return "", 204


def own_device(device_id):
    """One of the current user's devices, or 404."""
    device = PushSubscription.get_or_none((PushSubscription.id == device_id)
                                          & (PushSubscription.user == current_user.id))
    if device is None:
        abort(404)
    return device


@bp.route("/devices")
@login_required
def devices():
    """The user's devices that get alerts, each to test or remove."""
    rows = (PushSubscription.select()
            .where(PushSubscription.user == current_user.id)
            .order_by(PushSubscription.created_at, PushSubscription.id))
    return render_template("devices/list.html", devices=list(rows),
                           push_ready=notify.vapid() is not None,
                           not_configured=NOT_CONFIGURED)


@bp.route("/devices/<int:device_id>/test", methods=("POST",))
@login_required
def test_alert(device_id):
    """Send a test alert to one of the user's devices, through the worker."""
    device = own_device(device_id)
    name = device.label or "your device"
    if notify.vapid() is None:
        flash(NOT_CONFIGURED)
        return redirect(url_for("devices.devices"))
    with db.atomic():
        note = Notification.create(user=current_user.id, kind="test", title="Test alert",
                                   body="Alerts reach %s." % name, path="/devices")
        delivery = Delivery.create(notification=note, subscription=device)
    try:
        tasks.deliver(delivery.id)
    except Exception:
        # Still pending, so the worker's every-minute sweep sends it.
        log.exception("Could not queue test alert %s; the sweep will send it.", delivery.id)
    flash("Test alert sent to %s." % name)
    return redirect(url_for("devices.devices"))


@bp.route("/devices/<int:device_id>/remove", methods=("POST",))
@login_required
def remove(device_id):
    """Stop alerts to one of the user's devices."""
    device = own_device(device_id)
    device.delete_instance()
    flash("Removed %s; it gets no more alerts. To have them again, open Touchpoint on it "
          "and tap Enable alerts." % device.label)
    return redirect(url_for("devices.devices"))
