"""The manager's feed: indexes for its filters, and a search index over each
lead's business name, contact name, postcode and note.

The search index is a table of its own that triggers keep in step with
`lead`: on SQLite an external-content FTS5 table, on PostgreSQL a tsvector
per lead with a GIN index. No model covers it, so schema_diff leaves it be;
app/search.py is the one place that reads it. Both split text into runs of
letters and digits, keep accents and ignore case, so both find the same leads.
"""
from peewee import SQL, SqliteDatabase

SQLITE_UP = [
    # prefix='3' indexes every word's first three letters too, so the most
    # common search, a word's start ("bak"), reads one list, newest first,
    # and stops after a page instead of merging every word it could begin.
    """CREATE VIRTUAL TABLE lead_search USING fts5(
        business_name, contact_name, postcode, note,
        content='lead', content_rowid='id', tokenize='unicode61 remove_diacritics 0',
        prefix='3')""",
    """CREATE TRIGGER lead_search_insert AFTER INSERT ON lead BEGIN
        INSERT INTO lead_search (rowid, business_name, contact_name, postcode, note)
        VALUES (new.id, new.business_name, new.contact_name, new.postcode, new.note);
    END""",
    """CREATE TRIGGER lead_search_delete AFTER DELETE ON lead BEGIN
        INSERT INTO lead_search (lead_search, rowid, business_name, contact_name, postcode, note)
        VALUES ('delete', old.id, old.business_name, old.contact_name, old.postcode, old.note);
    END""",
    """CREATE TRIGGER lead_search_update
        AFTER UPDATE OF business_name, contact_name, postcode, note ON lead BEGIN
        INSERT INTO lead_search (lead_search, rowid, business_name, contact_name, postcode, note)
        VALUES ('delete', old.id, old.business_name, old.contact_name, old.postcode, old.note);
        INSERT INTO lead_search (rowid, business_name, contact_name, postcode, note)
        VALUES (new.id, new.business_name, new.contact_name, new.postcode, new.note);
    END""",
    "INSERT INTO lead_search (lead_search) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER lead_search_update",
    "DROP TRIGGER lead_search_delete",
    "DROP TRIGGER lead_search_insert",
    "DROP TABLE lead_search",
]

# Everything but letters and digits becomes a space before PostgreSQL's parser
# sees it, so "joe@bakery.com" is three words here as it is in FTS5.
POSTGRES_UP = [
    """CREATE FUNCTION lead_search_document(business_name text, contact_name text,
                                            postcode text, note text)
        RETURNS tsvector LANGUAGE sql IMMUTABLE AS $$
        SELECT to_tsvector('simple', regexp_replace(
            concat_ws(' ', business_name, contact_name, postcode, note),
            '[^[:alnum:]]+', ' ', 'g'))
    $$""",
    """CREATE TABLE lead_search (
        lead_id integer PRIMARY KEY REFERENCES lead (id) ON DELETE CASCADE,
        document tsvector NOT NULL)""",
    "CREATE INDEX lead_search_document ON lead_search USING gin (document)",
    # Inserts are indexed a statement at a time (bulk inserts stay fast);
    # updates of the searched columns a row at a time.
    """CREATE FUNCTION lead_search_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO lead_search (lead_id, document)
        SELECT id, lead_search_document(business_name, contact_name, postcode, note)
        FROM inserted;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER lead_search_insert AFTER INSERT ON lead
        REFERENCING NEW TABLE AS inserted
        FOR EACH STATEMENT EXECUTE FUNCTION lead_search_inserted()""",
    """CREATE FUNCTION lead_search_updated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE lead_search
        SET document = lead_search_document(NEW.business_name, NEW.contact_name,
                                            NEW.postcode, NEW.note)
        WHERE lead_id = NEW.id;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER lead_search_update
        AFTER UPDATE OF business_name, contact_name, postcode, note ON lead
        FOR EACH ROW EXECUTE FUNCTION lead_search_updated()""",
    """INSERT INTO lead_search (lead_id, document)
        SELECT id, lead_search_document(business_name, contact_name, postcode, note)
        FROM lead""",
]
POSTGRES_DOWN = [
    "DROP TRIGGER lead_search_update ON lead",
    "DROP TRIGGER lead_search_insert ON lead",
    "DROP FUNCTION lead_search_updated()",
    "DROP FUNCTION lead_search_inserted()",
    "DROP TABLE lead_search",
    "DROP FUNCTION lead_search_document(text, text, text, text)",
]


def up(migrator, db):
    # Each filter of the feed walks one index newest first (keyset on id);
    # courier, territory, assigned rep and status have theirs since 0001.
    # A territory's leads of one status ("North, new") is a manager's daily view.
    migrator.migrate(migrator.add_index("lead", ("route_id", "id")))
    migrator.migrate(migrator.add_index("lead", ("territory_id", "status", "id")))
    migrator.migrate(migrator.add_index("lead", ("id",), name="lead_escalated",
                                        where=SQL('"escalated_at" IS NOT NULL')))
    for statement in SQLITE_UP if isinstance(db, SqliteDatabase) else POSTGRES_UP:
        db.execute_sql(statement)


def down(migrator, db):
    for statement in SQLITE_DOWN if isinstance(db, SqliteDatabase) else POSTGRES_DOWN:
        db.execute_sql(statement)
    migrator.migrate(migrator.drop_index("lead", "lead_escalated"))
    migrator.migrate(migrator.drop_index("lead", "lead_territory_id_status_id"))
    migrator.migrate(migrator.drop_index("lead", "lead_route_id_id"))
