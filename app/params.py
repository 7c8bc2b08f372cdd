"""Reading what a request sends in its URL: whole numbers within bounds, and
the timestamps the JSON API writes.

Every integer a user can put in a URL or a form goes through `whole_number`,
which looks at the digits before it converts them: `int()` would also take
"1_0", "١٢" or " 7", and on more than 4,300 digits it raises instead of
answering (Python's guard against quadratic conversion).

`query_int` refuses a bad value with a 400 that says what was expected, as
JSON under /api/ and as an error page elsewhere. Pages refuse rather than
ignore: their numbers (a `before` cursor, the `up_to` of "Mark all as read")
come from links and forms we wrote, so a bad one is a broken or hand-edited
link, and quietly showing the first page instead would look like the list had
ended or started over — or, for `up_to`, mark more read than the user saw.
"""
from flask import abort, request

from .errors import ApiError, wants_json


def whole_number(raw, low, high):
    """The int that `raw` (plain ASCII digits) spells, if it lies in [low, high]; else None."""
    if not isinstance(raw, str) or not (raw.isascii() and raw.isdigit()):
        return None
    digits = raw.lstrip("0") or "0"
    if len(digits) > len(str(high)):
        return None
    value = int(digits)
    return value if low <= value <= high else None


def query_int(name, default, low, high, source=None):
    """A parameter (query string, or `source`, e.g. request.form) as a bounded
    int, `default` when it is absent; a clear 400 if it is not one."""
    raw = (request.args if source is None else source).get(name)
    if raw is None:
        return default
    value = whole_number(raw, low, high)
    if value is None:
        expected = "a whole number from %d to %d" % (low, high)
        if not wants_json():
            abort(400, "This link is broken: “%s” must be %s. Go back and follow a link "
                       "on the page." % (name, expected))
        raise ApiError(400, "invalid_parameter", "`%s` must be %s." % (name, expected),
                       {name: ["Must be %s." % expected]})
    return value


def iso(value):
    """A naive UTC datetime as the API writes it: seconds, then Z."""
    return value.replace(microsecond=0).isoformat() + "Z"
