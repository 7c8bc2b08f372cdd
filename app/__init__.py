"""Touchpoint: couriers hand the sales opportunities they see to the reps who own them.

`create_app` builds the Flask app: configuration, database, login, CSRF, rate
limits, security headers, blueprints and the command line.
"""
import os

import click
from flask import Flask
from flask_compress import Compress
from werkzeug.middleware.proxy_fix import ProxyFix

from . import config as settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class StartupError(click.ClickException):
    """The app cannot start as configured; the message says why, in one line
    (a ClickException, so `flask --app wsgi …` prints just that line)."""


def create_app(config=None):
    """Create the app; `config` (a dict) overrides defaults and environment."""
    app = Flask(__name__, instance_path=os.environ.get("INSTANCE_PATH") or
                os.path.join(ROOT, "instance"),
                template_folder=os.path.join(ROOT, "templates"),
                static_folder=os.path.join(ROOT, "static"))
    app.config.from_mapping(settings.defaults(app.instance_path))
    app.config.update(settings.from_environment())
    app.config.update(config or {})
    make_folders(app)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = settings.load_secret_key(app.instance_path)
    if app.config["PROXY_FIX"]:
        n = app.config["PROXY_FIX"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    from . import db, auth, errors, security, views, capture, api, cli, tasks, inbox, pwa, devices, pipeline
    from . import money, phones
    money.init_app(app)  # an unknown currency or locale stops the app here, not on a page
    phones.init_app(app)  # so does an unknown DEPOT_REGION; gives templates |phone and |tel
    db.init_app(app)
    tasks.init_app(app)
    auth.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    views.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(capture.bp)
    app.register_blueprint(pipeline.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(devices.bp)
    app.register_blueprint(inbox.bp)
    app.register_blueprint(pwa.bp)
    from .numbers import bp as numbers_bp
    app.register_blueprint(numbers_bp)
    from . import feed
    app.register_blueprint(feed.bp)
    from . import admin
    admin.init_app(app)
    cli.init_app(app)
    Compress(app)
    return app


def make_folders(app):
    """Create the folders the app writes to (instance, photos, a SQLite queue's),
    or stop with one line naming the folder and why it cannot be used."""
    folders = [app.instance_path, app.config["PHOTO_FOLDER"]]
    queue = app.config["QUEUE_URL"]
    if queue.startswith("sqlite:///") and os.path.dirname(queue[len("sqlite:///"):]):
        folders.append(os.path.dirname(queue[len("sqlite:///"):]))
    for folder in folders:
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            raise StartupError("Touchpoint cannot create the folder %s: %s." % (
                folder, exc.strerror or exc)) from None
        if not os.access(folder, os.W_OK | os.X_OK):
            raise StartupError("Touchpoint cannot write to the folder %s: permission denied."
                               % folder)
