"""Errors a user can cause, each knowing its HTTP response.

Under /api/ every error is JSON with a stable `code`, a `message` and, for
validation, per-field messages; elsewhere it is a friendly page. No mistake a
user can make ends in a 500.
"""
from flask import current_app, jsonify, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    500: "internal_error",
}

MESSAGES = {
    401: "Log in, or send a valid `Authorization: Bearer` token.",
    403: "Your role may not do this.",
    404: "Not found.",
    413: ("That upload is too large: a photo may be up to {photo_mb} MB. Go back, choose a "
          "smaller photo (or none) and send again; what you typed is still there."),
    429: "Too many attempts. Wait a minute and try again.",
    500: "Something went wrong on our side. Nothing you sent was lost; try again.",
}


class ApiError(Exception):
    """An error answered as JSON: HTTP status, stable code, message, field messages."""

    def __init__(self, status, code, message, fields=None):
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields

    def response(self):
        body = {"code": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        return jsonify(error=body), self.status


def wants_json():
    return request.path.startswith("/api/")


def own_message(status):
    """Our message for a status, if we have one, filled in with our own numbers.

    Only these constants are ever formatted: a description can hold what a
    user sent, and formatting that would run their text as a format string.
    """
    message = MESSAGES.get(status)
    return message and message.format(photo_mb=current_app.config["PHOTO_MAX_BYTES"] // 2**20)


def _http_error(exc):
    status = exc.code or 500
    message = own_message(status) or exc.description
    if isinstance(exc, CSRFError):
        code, message = "csrf_failed", ("The form expired or came from another site "
                                        "(%s). Reload the page and try again." % exc.description)
    else:
        code = CODES.get(status, "error")
    if wants_json():
        response = ApiError(status, code, message).response()[0]
        response.status_code = status
        if exc.response is None and hasattr(exc, "get_headers"):
            for name, value in exc.get_headers():
                if name.lower() not in ("content-type", "content-length"):
                    response.headers[name] = value
        return response
    return render_template("error.html", status=status, message=message), status


def init_app(app):
    app.register_error_handler(ApiError, lambda exc: exc.response())
    app.register_error_handler(HTTPException, _http_error)

    @app.errorhandler(500)
    def _internal(exc):
        if wants_json():
            return ApiError(500, "internal_error", MESSAGES[500]).response()
        return render_template("error.html", status=500, message=MESSAGES[500]), 500

    from .auth import login_manager

    @login_manager.unauthorized_handler
    def _unauthorized():
        if wants_json():
            return ApiError(401, "unauthorized", MESSAGES[401]).response()
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
