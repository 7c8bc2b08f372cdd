"""Reading what a request sends in its URL: whole numbers within bounds, and
the timestamps the JSON API writes.

Every integer a user can put in a URL or a form goes through `whole_number`,
which looks at the digits before it converts them: `int()` would also take
"1_0", "١٢" or " 7", and on more than 4,300 digits it raises instead of
answering (Python's guard against quadratic conversion).
"""
from flask import request

from .errors import ApiError


def whole_number(raw, low, high):
    """The int that `raw` (plain ASCII digits) spells, if it lies in [low, high]; else None."""
    if not isinstance(raw, str) or not (raw.isascii() and raw.isdigit()):
        return None
    if len(raw.lstrip("0")) > len(str(high)):
        return None
    value = int(raw)
    return value if low <= value <= high else None


def query_int(name, default, low, high, source=None):
    """An API parameter (query string, or `source`) as a bounded int; a clear 400 if it is not one."""
    raw = (request.args if source is None else source).get(name)
    if raw is None:
        return default
    value = whole_number(raw, low, high)
    if value is None:
        raise ApiError(400, "invalid_parameter",
                       "`%s` must be a whole number from %d to %d." % (name, low, high),
                       {name: ["Must be a whole number from %d to %d." % (low, high)]})
    return value


def iso(value):
    """A naive UTC datetime as the API writes it: seconds, then Z."""
    return value.replace(microsecond=0).isoformat() + "Z"
