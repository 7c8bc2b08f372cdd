"""Importing users or routes from a CSV file: upload, a preview that lists
every row with what is wrong with it, then Apply, which adds every row in one
transaction, or nothing at all when any row is bad.

The file's text travels from the preview back to Apply inside the page, next
to a signature (by the app's secret key) of its SHA-256, the kind of import
and the manager who previewed it, so nothing else a browser could send is
accepted; Apply then reads and checks the rows again, inside the transaction
that adds them, against the depot as it is by then.
"""
import hashlib

from flask import Blueprint, current_app, render_template
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from peewee import IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import HiddenField, RadioField, SelectChoice
from wtforms.validators import AnyOf, InputRequired

from ..db import db
from ..models import Route, User
from .base import no_store, record
from .csvfile import (COLUMNS, KINDS, MAX_BYTES, MAX_ROWS, FileProblem, check, normalise,
                      parse, read_upload)
from .users import INVITE_DAYS, invite_link, issue_invite

bp = Blueprint("imports", __name__, url_prefix="/import")

PREVIEW_MAX_AGE = 3600


class UploadForm(FlaskForm):
    kind = RadioField("The file holds", default="users", validate_choice=False, choices=[
        SelectChoice(value, label) for value, label in KINDS.items()], validators=[
        InputRequired("Pick one."), AnyOf(KINDS, message="Users or routes.")])
    file = FileField("CSV file", validators=[FileRequired("Choose a CSV file.")])


class ApplyForm(FlaskForm):
    kind = HiddenField()
    content = HiddenField()
    signature = HiddenField()


# --- Applying ------------------------------------------------------------------------


def add_user(fields):
    user = User.create(**fields)
    record("user.create", user.email, source="CSV import", name=user.name, role=user.role,
           route=fields["route"].code if fields["route"] else "")
    return user, issue_invite(user)


def add_route(fields):
    route = Route.create(**fields)
    record("route.create", route.code, source="CSV import", name=route.name,
           territory=route.territory.name if route.territory_id else "")
    return route, None


def apply(kind, rows):
    """Add every row in one transaction after checking them again inside it:
    [(model, invite token or None)], or None when a row is bad (nothing added)."""
    with db.atomic():
        if not check(kind, rows):
            return None
        add = add_user if kind == "users" else add_route
        made = [add(row.fields) for row in rows]
        record("import.apply", KINDS[kind], rows=len(made))
    return made


# --- The signed preview --------------------------------------------------------------


def serializer():
    return URLSafeTimedSerializer(current_app.secret_key, salt="touchpoint.csv-import")


def signed(kind, content):
    """What the signature vouches for: this file, this kind, this manager."""
    return {"kind": kind, "sha256": hashlib.sha256(content.encode()).hexdigest(),
            "by": current_user.id}


def signature_problem(kind, content, signature):
    """Why Apply can't trust what it was sent, or None."""
    try:
        vouched = serializer().loads(signature or "", max_age=PREVIEW_MAX_AGE)
    except SignatureExpired:
        return "That preview is more than an hour old. Upload the file again."
    except BadSignature:
        return "That preview could not be verified. Upload the file again."
    if vouched != signed(kind, content):
        return "The file changed after its preview. Upload it again."
    return None


# --- Pages ---------------------------------------------------------------------------


def upload_page(form, error=None, status=200):
    return render_template("admin/import.html", form=form, columns=COLUMNS, error=error,
                           max_mb=MAX_BYTES // 2**20, max_rows=MAX_ROWS), status


def preview_page(kind, content, rows, note=None):
    """Every row and what is wrong with it; Apply only when nothing is."""
    bad = sum(1 for row in rows if row.problems)
    apply_form = None
    if not bad:
        apply_form = ApplyForm(formdata=None, data={
            "kind": kind, "content": content,
            "signature": serializer().dumps(signed(kind, content))})
    required, optional = COLUMNS[kind]
    return render_template("admin/import_preview.html", kind=kind, kinds=KINDS, rows=rows,
                           bad=bad, columns=required + optional, apply_form=apply_form,
                           note=note), 422 if bad else 200


@bp.errorhandler(RequestEntityTooLarge)
def too_large(exc):
    return upload_page(UploadForm(formdata=None), status=413, error=(
        "The file is larger than %d MB. Split it into smaller files." % (MAX_BYTES // 2**20)))


@bp.route("/", methods=("GET", "POST"))
def upload():
    """Upload a CSV file of users or routes, and see every row checked."""
    form = UploadForm()
    if not form.validate_on_submit():
        return upload_page(form, status=422 if form.errors else 200)
    try:
        content = read_upload(form.file.data)
        rows = parse(form.kind.data, content)
    except FileProblem as exc:
        form.file.errors.append(str(exc))
        return upload_page(form, status=422)
    check(form.kind.data, rows)
    return preview_page(form.kind.data, content, rows)


@bp.route("/apply", methods=("POST",))
def apply_file():
    """Add every row of a previewed file, or nothing if any is bad now."""
    form = ApplyForm()
    kind, content = form.kind.data, normalise(form.content.data or "")
    problem = (signature_problem(kind, content, form.signature.data)
               if form.validate_on_submit() else "The form was incomplete.")
    if problem:
        return upload_page(UploadForm(formdata=None), error=problem, status=400)
    rows = parse(kind, content)
    try:
        made = apply(kind, rows)
    except IntegrityError:
        made = None
        rows = parse(kind, content)
        check(kind, rows)
    if made is None:
        return preview_page(kind, content, rows, note=(
            "The depot changed since the preview, and now some rows can't be added. "
            "Nothing was added."))
    links = [(model, invite_link(token) if token else None) for model, token in made]
    return no_store(render_template("admin/import_done.html", kind=kind, kinds=KINDS,
                                    made=links, days=INVITE_DAYS))
