"""The installable app: manifest, service worker, offline page, versioned
static files, and the small session endpoint the offline outbox relies on.

Static URLs carry a hash of their file (`?v=…`), so the service worker can
keep them cache-first forever and a new deploy is a new URL. The service
worker is served from /sw.js (a worker served from /static/ could only control
/static/), rendered with this deploy's version and the files it precaches.
"""
import hashlib
import os

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from .api import api_role

bp = Blueprint("pwa", __name__)

# The app shell: what a phone needs to open the app with no signal at all.
SHELL = ["css/app.css", "js/app.js", "js/outbox.js", "js/capture.js", "js/push.js",
         "icons/icon-192.png", "icons/icon-512.png", "icons/icon-maskable-512.png",
         "icons/apple-touch-icon.png", "icons/new-lead-96.png"]
_hashes = {}


def static_hash(filename):
    """A short hash of a static file's bytes, computed once per process."""
    if filename not in _hashes:
        path = os.path.join(current_app.static_folder, filename)
        try:
            with open(path, "rb") as f:
                _hashes[filename] = hashlib.sha256(f.read()).hexdigest()[:12]
        except OSError:
            _hashes[filename] = "missing"
    return _hashes[filename]


def version():
    """This deploy's version: changes whenever any shell file changes."""
    joined = "".join(static_hash(name) for name in SHELL)
    return hashlib.sha256(joined.encode()).hexdigest()[:12]


@bp.app_url_defaults
def _version_static_urls(endpoint, values):
    if endpoint == "static" and "v" not in values:
        values["v"] = static_hash(values["filename"])


@bp.after_app_request
def _cache_versioned_static(response):
    """A static file asked for by its current hash never changes: browsers may
    keep it a year without asking again. Any other static URL is revalidated."""
    if request.endpoint == "static" and response.status_code in (200, 304):
        filename = (request.view_args or {}).get("filename", "")
        if request.args.get("v") == static_hash(filename):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        else:
            response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/manifest.webmanifest")
def manifest():
    """The web app manifest; start_url lands each role on its own home."""
    body = {
        "name": "Touchpoint — leads from the route",
        "short_name": "Touchpoint",
        "description": "Pass the sales leads you see on your route to the right rep.",
        "id": "/",
        "start_url": "/?source=pwa",
        "scope": "/",
        "display": "standalone",
        "orientation": "portrait",
        "theme_color": "#0b4f9c",
        "background_color": "#ffffff",
        "icons": [
            {"src": url_for("static", filename="icons/icon-192.png"), "sizes": "192x192",
             "type": "image/png", "purpose": "any"},
            {"src": url_for("static", filename="icons/icon-512.png"), "sizes": "512x512",
             "type": "image/png", "purpose": "any"},
            {"src": url_for("static", filename="icons/icon-maskable-512.png"),
             "sizes": "512x512", "type": "image/png", "purpose": "maskable"},
        ],
        # Share a photo from the camera or gallery to Touchpoint: the service
        # worker takes the POST (it works offline) and opens a new lead with it.
        "share_target": {
            "action": url_for("pwa.share"), "method": "POST", "enctype": "multipart/form-data",
            "params": {"title": "title", "text": "text",
                       "files": [{"name": "photo", "accept": ["image/*"]}]},
        },
        "shortcuts": [{
            "name": "New lead", "short_name": "New lead", "url": "/leads/new?source=shortcut",
            "icons": [{"src": url_for("static", filename="icons/new-lead-96.png"),
                       "sizes": "96x96", "type": "image/png"}],
        }],
    }
    response = jsonify(body)
    response.mimetype = "application/manifest+json"
    return response


@bp.route("/sw.js")
def service_worker():
    """The service worker, for scope / and never cached by the browser's HTTP cache."""
    precache = [url_for("static", filename=name) for name in SHELL] + [url_for("pwa.offline")]
    response = current_app.response_class(
        render_template("pwa/sw.js", version=version(), precache=precache),
        mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/share", methods=("GET", "POST"))
def share():
    """The share target without a service worker (which normally answers it):
    open an empty lead. The image is dropped: there is no lead yet to keep it
    on, and the courier can still take or choose the photo there."""
    return redirect(url_for("capture.new_lead"), 303)


@bp.route("/offline")
def offline():
    """What the service worker shows when a page cannot be fetched."""
    return render_template("pwa/offline.html")


@bp.route("/api/v1/session")
@api_role()
def session_info():
    """Who is logged in and a fresh CSRF token, for the outbox before it sends."""
    return jsonify(user={"id": current_user.id, "name": current_user.name,
                         "role": current_user.role},
                   csrf_token=generate_csrf())
