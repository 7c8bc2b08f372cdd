"""The command line, `flask --app wsgi …`, for operators and scripts.

Passwords are read from a prompt or standard input, never from an argument
(which would land in shell history and the process list).
"""
import os
import secrets
import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.serving import run_simple

from . import demo as demo_depot
from . import phones, push, synth, tasks
from .auth import MIN_PASSWORD, deactivate, set_password
from .db import db, migrate
from .models import ROLES, ApiToken, Lead, Route, User


def _read_password():
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


@click.command("migrate")
@with_appcontext
def migrate_command():
    """Apply pending database migrations."""
    applied = migrate()
    click.echo("Applied: %s" % ", ".join(applied) if applied else "Database is up to date.")


@click.command("create-user")
@with_appcontext
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--phone", default="", help="Stored in E.164; without a country code, "
              "a number in DEPOT_REGION.")
@click.option("--route", "route_code", default=None, help="A courier's route code.")
def create_user_command(email, name, role, phone, route_code):
    """Create a user; the password is read from a prompt or stdin."""
    email = email.strip().lower()
    with db.connection_context():
        if User.by_email(email):
            raise click.ClickException("A user with that email already exists.")
        if phone:
            try:
                phone = phones.e164(phone, current_app.config["DEPOT_REGION"])
            except ValueError as exc:
                raise click.ClickException("Phone: %s" % exc)
        route = None
        if route_code:
            route = Route.get_or_none(Route.code == route_code)
            if route is None:
                raise click.ClickException("No route %r." % route_code)
        password = _read_password()
        _check_password(password)
        user = User.create(email=email, name=name, role=role, phone=phone, route=route)
        set_password(user, password)
    click.echo("Created %s %s (%s)." % (role, name, email))


@click.command("set-password")
@with_appcontext
@click.argument("email")
def set_password_command(email):
    """Set EMAIL's password (from a prompt or stdin); their sessions end and
    their API tokens are revoked."""
    with db.connection_context():
        user = _existing_user(email)
        password = _read_password()
        _check_password(password)
        tokens = set_password(user, password)
    click.echo("Password set for %s; their other sessions have ended and %d API token(s) "
               "were revoked." % (user.email, tokens))


@click.command("deactivate")
@with_appcontext
@click.argument("email")
def deactivate_command(email):
    """Deactivate EMAIL: no more logins, their sessions and tokens stop now, and
    their devices get no more alerts."""
    with db.connection_context():
        user = _existing_user(email)
        devices, tokens = deactivate(user)
    click.echo("Deactivated %s; %d device(s) removed, %d API token(s) revoked."
               % (user.email, devices, tokens))


def _existing_user(email):
    user = User.by_email(email)
    if user is None:
        raise click.ClickException("No user with that email.")
    return user


def _check_password(password):
    if len(password) < MIN_PASSWORD:
        raise click.ClickException("Use a password of at least %d characters." % MIN_PASSWORD)


@click.command("token")
@with_appcontext
@click.argument("email")
@click.option("--name", default="cli", help="What the token is for.")
def token_command(email, name):
    """Create a personal API token for EMAIL and print it (once)."""
    with db.connection_context():
        user = User.by_email(email)
        if user is None or not user.active:
            raise click.ClickException("No active user with that email.")
        row, token = ApiToken.issue(user, name)
    click.echo(token)
    click.echo("Token #%d for %s. It is shown only now; revoke it with "
               "`flask --app wsgi revoke-token %d`." % (row.id, user.email, row.id), err=True)


@click.command("tokens")
@with_appcontext
@click.argument("email")
def tokens_command(email):
    """List EMAIL's API tokens: which still work, and when each was revoked."""
    with db.connection_context():
        user = _existing_user(email)
        rows = list(ApiToken.select().where(ApiToken.user == user).order_by(ApiToken.id))
    if not rows:
        click.echo("%s has no API tokens." % user.email)
    for row in rows:
        state = ("revoked %s" % row.revoked_at.strftime("%Y-%m-%d %H:%M UTC")
                 if row.revoked_at else "works")
        used = row.last_used_at.strftime("%Y-%m-%d %H:%M UTC") if row.last_used_at else "never"
        click.echo("#%d  %-20s  made %s  last used %s  %s" % (
            row.id, row.name, row.created_at.strftime("%Y-%m-%d %H:%M UTC"), used, state))


@click.command("revoke-token")
@with_appcontext
@click.argument("token_id", type=int)
def revoke_token_command(token_id):
    """Revoke the API token with this id."""
    with db.connection_context():
        row = ApiToken.get_or_none(ApiToken.id == token_id)
        if row is None:
            raise click.ClickException("No token #%d." % token_id)
        row.revoke()
    click.echo("Revoked token #%d." % token_id)


@click.command("demo")
@with_appcontext
def demo_command():
    """Create a demo depot with people, routes and ~50 leads, and print the logins."""
    migrate()
    with db.connection_context():
        if User.select().exists():
            raise click.ClickException("The database already has users; demo data goes "
                                       "only into an empty one.")
        logins = demo_depot.create()
    _print_logins(logins)


@click.command("synth")
@with_appcontext
@click.option("--leads", default=1_000_000, show_default=True, type=click.IntRange(min=0))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--force", is_flag=True, help="Add to a database that already has leads.")
def synth_command(leads, seed, force):
    """Fill the database with a synthetic depot and N realistic leads, for
    benchmarks and demos (never a real depot's database)."""
    migrate()
    with db.connection_context():
        existing = Lead.select().count()
        if existing and not force:
            raise click.ClickException("The database already has %d leads; synthetic data goes "
                                       "into an empty one (add --force to add anyway)." % existing)
        click.echo("Adding %s synthetic leads (seed %d)…" % (f"{leads:,}", seed))
        made = synth.fill(leads, seed, echo=click.echo)
    click.echo("Done: %s leads and %s events in %.0f s (%s leads/s)." % (
        f"{made.leads:,}", f"{made.events:,}", made.seconds,
        f"{made.leads / max(made.seconds, 1e-9):,.0f}"))
    click.echo("Log in as manager1@%s, rep01@%s or courier001@%s; password for all: %s"
               % (synth.DOMAIN, synth.DOMAIN, synth.DOMAIN, synth.PASSWORD))


def _print_logins(logins):
    click.echo("Demo logins (password for all: %s):" % demo_depot.PASSWORD)
    for user in logins:
        click.echo("  %-8s %-28s %s" % (user.role, user.email, user.name))


VAPID_PRIVATE, VAPID_PUBLIC = "vapid_private.pem", "vapid_public.pem"


def write_vapid_keys(instance_path, force=False):
    """Generate the server's VAPID key pair into instance_path; return the
    application server key. Existing keys stay unless force is set."""
    private_pem, public_pem, server_key = push.generate_vapid_keys()
    os.makedirs(instance_path, exist_ok=True)
    private_path = os.path.join(instance_path, VAPID_PRIVATE)
    # Created 0600 under a temporary name and then put in place, so that the key
    # is never readable by others, and without force never replaces one.
    tmp = "%s.%s" % (private_path, secrets.token_hex(4))
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
        f.write(private_pem)
    try:
        if force:
            os.replace(tmp, private_path)
        else:
            os.link(tmp, private_path)
    except FileExistsError:
        raise click.ClickException(
            "%s already exists. Replacing it stops alerts to every device until it "
            "enables alerts again; to do that anyway, add --force." % private_path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    with open(os.path.join(instance_path, VAPID_PUBLIC), "wb") as f:
        f.write(public_pem)
    return server_key


@click.command("vapid-keys")
@with_appcontext
@click.option("--force", is_flag=True, help="Replace existing keys (devices must enable "
                                            "alerts again).")
def vapid_keys_command(force):
    """Generate the web push (VAPID) key pair into the instance folder."""
    instance_path = current_app.instance_path
    server_key = write_vapid_keys(instance_path, force)
    click.echo("Wrote %s (private, mode 0600; keep it out of the repository and back it "
               "up) and %s." % (os.path.join(instance_path, VAPID_PRIVATE),
                                os.path.join(instance_path, VAPID_PUBLIC)))
    click.echo("Application server key: %s" % server_key)
    click.echo("Now set VAPID_SUBJECT to how push services can reach you, e.g.\n"
               "  export VAPID_SUBJECT=mailto:ops@your-company.com\n"
               "(a real address: push services refuse localhost and example domains). "
               "Every app instance and worker needs this same key.")
    if current_app.config["VAPID_PRIVATE_KEY"]:
        click.echo("Note: VAPID_PRIVATE_KEY is set in the environment and is used "
                   "instead of this file.", err=True)


@click.command("serve")
@with_appcontext
@click.option("--demo", is_flag=True, help="Load the demo depot into an empty database.")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
def serve_command(demo, host, port):
    """Migrate, optionally load demo data, and serve the app and its worker
    (development server; see the README for production)."""
    migrate()
    with db.connection_context():
        if demo and not User.select().exists():
            _print_logins(demo_depot.create())
        elif demo:
            click.echo("Demo data already loaded; log in as before (password %s)."
                       % demo_depot.PASSWORD)
    app = current_app._get_current_object()
    app.config["DEVELOPMENT"] = True
    if not (app.config["VAPID_PRIVATE_KEY"]
            or os.path.exists(os.path.join(app.instance_path, VAPID_PRIVATE))):
        write_vapid_keys(app.instance_path)
        click.echo("Generated web push keys in %s (see `vapid-keys`)." % app.instance_path)
    worker = tasks.consumer(app)
    worker.start()
    click.echo("Touchpoint is at http://%s:%d/ (the worker runs alongside)" % (host, port))
    try:
        # app.run() refuses to start inside the flask command, so call werkzeug directly.
        run_simple(host, port, app, threaded=True)
    finally:
        worker.stop(graceful=True)


def init_app(app):
    for command in (migrate_command, create_user_command, set_password_command,
                    deactivate_command, token_command, tokens_command,
                    revoke_token_command, demo_command, synth_command, vapid_keys_command,
                    serve_command):
        app.cli.add_command(command)
