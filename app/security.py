"""Request-wide protections: CSRF, rate limits, cookie flags and security headers.

CSRF is checked here rather than by Flask-WTF's default hook so that requests
authenticated by a Bearer token skip it: a browser never attaches our tokens
cross-site, and a request that carries one is never authenticated by cookie
(see app/auth.py).
"""
import re

from flask import has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from flask_limiter import Limiter
from flask_login import current_user
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)
# Rate-limit storages whose counts live in one process (limits' in-memory one).
PER_PROCESS_STORAGES = ("memory://",)


def limits_are_per_process(storage_uri):
    """Whether counts kept in storage_uri are each process's own, so that N
    processes would allow N times the limit."""
    return storage_uri.strip().lower().startswith(PER_PROCESS_STORAGES)

SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")
# POSTs that change nothing and cannot carry our token: the phone's share
# sheet posts a photo to the share target (app/pwa.py), which only redirects.
CSRF_FREE_PATHS = ("/share",)

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "worker-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


# A path on this site: "/" then printable ASCII, never "//" or "/\" (which a
# browser reads as another host), no spaces or control characters.
LOCAL_PATH = re.compile(r"/(?![/\\])[\x21-\x5b\x5d-\x7e]*\Z")


def is_local_path(target):
    """Whether target is safe to redirect to: a path on this site."""
    return isinstance(target, str) and LOCAL_PATH.match(target) is not None


def bearer_token():
    """The token of an `Authorization: Bearer …` header, or None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


class SessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app):
        forced = app.config["FORCE_HTTPS_COOKIES"]
        return forced or (has_request_context() and request.is_secure)


def init_app(app):
    csrf.init_app(app)
    # Each app takes the limiter's storage from its config, but flask-limiter keeps
    # the first app's RATELIMIT_KEY_PREFIX for the life of the process: one app a
    # process, as gunicorn and the consumer run it, is what the prefix relies on.
    limiter.init_app(app)
    app.session_interface = SessionInterface()

    @app.before_request
    def _check_csrf():
        if request.method in SAFE_METHODS or bearer_token() is not None:
            return
        if request.path in CSRF_FREE_PATHS:
            return
        # An API call with no session at all gets the API's 401, not a CSRF error:
        # with no one logged in there is nothing a forged request could do.
        if request.path.startswith("/api/") and not current_user.is_authenticated:
            return
        csrf.protect()

    @app.after_request
    def _security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "same-origin"
        headers["Permissions-Policy"] = "geolocation=(self), camera=(self), microphone=()"
        if request.is_secure:
            headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        return response
