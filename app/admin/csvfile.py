"""Reading a CSV file of users or routes, and checking every row of it.

A file that can't be read as a whole (not UTF-8 text, too large, wrong
columns) raises `FileProblem`; otherwise each row notes what is wrong with
it. Rows are checked with the same fields as the forms that add one user or
route, plus what only a whole file can get wrong: the same email or code
twice, or one the depot already has.
"""
import csv
import io
import os

from werkzeug.datastructures import MultiDict

from ..capture import text
from ..models import Route, Territory, User
from .routes import RouteFields, upper
from .users import PersonFields

MAX_BYTES = 1024 * 1024
MAX_ROWS = 5000
KINDS = {"users": "Users", "routes": "Routes"}
# Per kind: the columns a file must have, and those it may have.
COLUMNS = {"users": (("email", "name", "role"), ("phone", "route")),
           "routes": (("code",), ("name", "territory"))}
EXTENSIONS = (".csv", ".txt")
SAVE_AS = "In your spreadsheet, use Save as → “CSV UTF-8 (comma delimited)”."


class FileProblem(Exception):
    """A file that can't be read as a CSV of this kind; says what to do about it."""


class Row:
    """One row of the file: its number as a spreadsheet shows it, its values,
    what is wrong with it and, once checked, what to store."""

    def __init__(self, number, values):
        self.number, self.values, self.problems, self.fields = number, values, [], {}


class ImportedUser(PersonFields):
    route = text("Route", 20)


class ImportedRoute(RouteFields):
    territory = text("Territory", 80)


# --- Reading the file ----------------------------------------------------------------


def read_upload(storage):
    """The text of an uploaded CSV file; FileProblem if it is none."""
    extension = os.path.splitext(storage.filename or "")[1].lower()
    if extension not in EXTENSIONS:
        raise FileProblem("Choose a .csv file%s. %s" % (
            " (this one is %s)" % extension if extension else "", SAVE_AS))
    data = storage.stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise FileProblem("The file is larger than %d MB. Split it into smaller files."
                          % (MAX_BYTES // 2**20))
    if b"\0" in data:
        raise FileProblem("This is not a text file. %s" % SAVE_AS)
    try:
        return normalise(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise FileProblem("The file is not UTF-8 text (see line %d). %s"
                          % (data.count(b"\n", 0, exc.start) + 1, SAVE_AS))


def normalise(content):
    """Line ends as "\\n" (a browser sends CRLF back in the Apply form) and no BOM."""
    return content.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def columns_of(kind, header):
    """The header's column names (trimmed, lower case); FileProblem if they are wrong."""
    required, optional = COLUMNS[kind]
    names = [name.strip().lower() for name in header]
    problems = []
    for label, found in (("Unknown", [n for n in names if n not in required + optional]),
                         ("Missing", [n for n in required if n not in names]),
                         ("Repeated", sorted({n for n in names if names.count(n) > 1}))):
        if found:
            problems.append("%s column%s: %s." % (label, "s" if len(found) > 1 else "",
                                                   ", ".join(n or "(blank)" for n in found)))
    if problems:
        raise FileProblem("%s The first row must name the columns %s, and may add %s." % (
            " ".join(problems), ", ".join(required), ", ".join(optional)))
    return names


def parse(kind, content):
    """The file's rows (numbered as a spreadsheet numbers them, the header being
    row 1); FileProblem for a file that can't be read as a whole."""
    records = csv.reader(io.StringIO(content))
    try:
        header = next(records, None)
        if header is None or not any(cell.strip() for cell in header):
            raise FileProblem("The file is empty: its first row must name the columns.")
        names, rows = columns_of(kind, header), []
        for number, record in enumerate(records, start=2):
            if not any(cell.strip() for cell in record):
                continue
            if len(rows) == MAX_ROWS:
                raise FileProblem("The file has more than %d rows. Split it into smaller "
                                  "files." % MAX_ROWS)
            rows.append(Row(number, dict(zip(names, (cell.strip() for cell in record)))))
            if len(record) != len(names):
                rows[-1].problems.append("Has %d values; the first row names %d columns."
                                         % (len(record), len(names)))
    except csv.Error as exc:
        raise FileProblem("Row %d can't be read: %s." % (records.line_num, exc))
    if not rows:
        raise FileProblem("The file has no rows under its first row.")
    return rows


# --- Checking the rows ---------------------------------------------------------------


def checked_form(form_class, row):
    """Row's values through the form that adds one; its problems noted on the row."""
    form = form_class(formdata=MultiDict(row.values), meta={"csrf": False})
    form.validate()
    row.problems += ["%s: %s" % (form[name].label.text, " ".join(errors))
                     for name, errors in form.errors.items()]
    return form


def already_stored(field, values):
    """Which of values field already holds (asked in chunks, for SQLite's limits)."""
    values, found = sorted(set(values) - {""}), set()
    for start in range(0, len(values), 500):
        found.update(v for (v,) in field.model.select(field)
                     .where(field.in_(values[start:start + 500])).tuples())
    return found


def check_unique(row, label, value, seen, stored, noun):
    """Note on row a value that an earlier row or the depot already has."""
    if value in seen:
        row.problems.append("%s: %s is also in row %d." % (label, value, seen[value]))
    elif value in stored:
        row.problems.append("%s: %s already exists." % (label, noun % value))
    seen.setdefault(value, row.number)


def check_users(rows):
    routes = {route.code: route for route in Route.select()}
    stored = already_stored(User.email, [r.values.get("email", "").lower() for r in rows])
    seen = {}
    for row in rows:
        form = checked_form(ImportedUser, row)
        if form.email.data and not form.email.errors:
            check_unique(row, "Email", form.email.data, seen, stored, "a user with email %s")
        code = "" if form.route.errors else upper(form.route.data or "")
        if code and code not in routes:
            row.problems.append("Route: there is no route %s." % code)
        elif code and form.role.data != "courier":
            row.problems.append("Route: only couriers have a route.")
        row.fields = {"name": form.name.data, "email": form.email.data,
                      "phone": form.phone.data or "", "role": form.role.data,
                      "route": routes.get(code)}


def check_routes(rows):
    territories = {t.name.casefold(): t for t in Territory.select()}
    stored = already_stored(Route.code, [upper(r.values.get("code", "")) for r in rows])
    seen = {}
    for row in rows:
        form = checked_form(ImportedRoute, row)
        if form.code.data and not form.code.errors:
            check_unique(row, "Code", form.code.data, seen, stored, "route %s")
        territory = territories.get((form.territory.data or "").casefold())
        if form.territory.data and territory is None:
            row.problems.append("Territory: there is no territory called %s." % form.territory.data)
        row.fields = {"code": form.code.data, "name": form.name.data or "",
                      "territory": territory}


def check(kind, rows):
    """Note on each row what is wrong with it; whether every row is fine."""
    (check_users if kind == "users" else check_routes)(rows)
    return not any(row.problems for row in rows)
