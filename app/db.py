"""The database: declared unbound here, bound to DATABASE_URL by the app factory.

SQLite (the default) gets WAL, foreign keys, a busy timeout and NORMAL sync on
every connection, and every transaction begins IMMEDIATE, so a read-then-write
never meets a lock upgrade it cannot win. PostgreSQL needs only its URL.
"""
import os

from peewee import DatabaseProxy, SqliteDatabase
from playhouse.db_url import connect
from playhouse.migrations import Runner

db = DatabaseProxy()

MIGRATIONS = os.path.join(os.path.dirname(__file__), "migrations")

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 10000,
    "synchronous": "normal",
}


def open_database(url):
    """A peewee database for a URL, with our SQLite settings applied."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        return SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE",
                              timeout=10)
    return connect(url)


def init_app(app):
    """Bind the database and open a connection per request."""
    db.initialize(open_database(app.config["DATABASE_URL"]))

    @app.before_request
    def _connect():
        db.connect(reuse_if_open=True)

    @app.teardown_appcontext
    def _close(exc):
        if not db.is_closed():
            db.close()


def migrate():
    """Apply every pending migration; return the names applied."""
    with db.connection_context():
        return Runner(db.obj, MIGRATIONS).up()


def is_sqlite():
    return isinstance(db.obj, SqliteDatabase)
