"""The database: declared unbound here, bound to DATABASE_URL by the app factory.

SQLite (the default) gets WAL, foreign keys, a busy timeout and NORMAL sync on
every connection, and every transaction begins IMMEDIATE, so a read-then-write
never meets a lock upgrade it cannot win. PostgreSQL needs only its URL.

Connections are pooled: a request takes one at its start and gives it back at
its end, open. Opening one per request was over a quarter of a submit: a new
PostgreSQL backend each time, or on SQLite the pragmas and the WAL checkpoint
that the last connection to close runs (tests/bench/bench_submit.py).
"""
import os

from peewee import DatabaseProxy, SqliteDatabase
from playhouse.db_url import connect, schemes
from playhouse.migrations import Runner
from playhouse.pool import PooledDatabase, PooledSqliteDatabase

db = DatabaseProxy()

MIGRATIONS = os.path.join(os.path.dirname(__file__), "migrations")

# A pooled connection this old is closed when next given back or taken, not reused.
POOL_STALE_SECONDS = 300

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 10000,
    "synchronous": "normal",
}


def open_database(url, pooled=False):
    """A peewee database for a URL, with our SQLite settings applied; pooled,
    its connections are kept open between uses (as many as threads use it at once)."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        if pooled:
            # A pooled connection may be taken up by another thread, one at a time.
            return PooledSqliteDatabase(path, pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE",
                                        timeout=10, max_connections=None,
                                        stale_timeout=POOL_STALE_SECONDS,
                                        check_same_thread=False)
        return SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE",
                              timeout=10)
    if pooled:
        scheme, _, rest = url.partition("://")
        if scheme + "+pool" in schemes:
            url = "%s+pool://%s" % (scheme, rest)
        return connect(url, max_connections=None, stale_timeout=POOL_STALE_SECONDS)
    return connect(url)


def init_app(app):
    """Bind the database; each request takes a pooled connection for its length."""
    if isinstance(db.obj, PooledDatabase):
        db.obj.close_all()  # an earlier app's (the tests make many)
    db.initialize(open_database(app.config["DATABASE_URL"], pooled=True))

    @app.before_request
    def _connect():
        db.connect(reuse_if_open=True)

    @app.teardown_appcontext
    def _close(exc):
        if not db.is_closed():
            db.close()


# The SQL of each model's INSERT of a whole row, per database kind (insert_row).
_INSERT_SQL = {}


def insert_row(model, row):
    """Insert one row of model (values by field name, as in an unsaved
    instance's `__data__`, which holds its defaults); return its id. A field
    left out is inserted as NULL, not as its column's SQL default.

    peewee builds the INSERT's SQL once per model and it is reused: building
    it cost more than running it (~1 ms of a lead's ~1.4 ms on the hot path of
    a submit). The values go through each field's db_value, as peewee does.
    """
    fields = [field for field in model._meta.sorted_fields if not field.primary_key]
    key = (model, type(db.obj))
    sql = _INSERT_SQL.get(key)
    if sql is None:
        # Every field given, so peewee's columns are exactly `fields`, in order.
        sql = _INSERT_SQL[key] = model.insert({f: row.get(f.name) for f in fields}).sql()[0]
    cursor = db.execute_sql(sql, [field.db_value(row.get(field.name)) for field in fields])
    if db.returning_clause:  # PostgreSQL: INSERT … RETURNING id
        return cursor.fetchone()[0]
    return cursor.lastrowid


# The SQL of each SELECT on the hot path, per database kind (prepared).
_SELECT_SQL = {}


def prepared(model, name, build, params):
    """Instances of model from a SELECT whose shape never changes, only its
    values, as insert_row does for INSERTs: `build()` makes the peewee query
    (its SQL is built once, under `name`, and kept), `params` are this call's
    values in the order of that SQL's placeholders. Columns that are not
    model's fields come as plain attributes, as the database returns them.
    """
    key = (name, type(db.obj))
    sql = _SELECT_SQL.get(key)
    if sql is None:
        sql = _SELECT_SQL[key] = build().sql()[0]
    return list(model.raw(sql, *params))


def migrate():
    """Apply every pending migration; return the names applied."""
    with db.connection_context():
        return Runner(db.obj, MIGRATIONS).up()


def is_sqlite():
    return isinstance(db.obj, SqliteDatabase)
