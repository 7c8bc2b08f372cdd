"""Search over leads' business names, contact names, postcodes and notes.

`matching(query, text)` is the one interface: it joins a query over Lead to
the search index, keeps the leads whose text matches, and names the column to
order and page by. Underneath, SQLite answers from an FTS5 table and
PostgreSQL from a GIN-indexed tsvector table, both kept in step with `lead`
by triggers (app/migrations/0004_feed_search.py). The user's text never
reaches either query language as syntax: it is cut into words of letters and
digits, each quoted, all required, the last one a prefix ("joe bak" finds
"Joe's Bakery").
"""
import re

from peewee import Expression, Table, fn

from .db import is_sqlite
from .models import Lead

MAX_WORDS = 12
MAX_WORD = 64
# Runs of letters and digits: the words FTS5's unicode61 tokenizer and the
# PostgreSQL document (punctuation replaced by spaces) both index.
WORD = re.compile(r"[^\W_]+")

# FTS5's hidden column named after the table matches against every column.
_fts = Table("lead_search", ("rowid", "lead_search"))
_tsvectors = Table("lead_search", ("lead_id", "document"))


def words(text):
    """The words of a search, lower case, in order, at most MAX_WORDS."""
    return [word[:MAX_WORD] for word in WORD.findall((text or "").lower())][:MAX_WORDS]


def matching(query, text):
    """query (over Lead) kept to the leads in which every word of text
    appears, the last as a prefix: (query, key).

    Order and bound pages by `key` (the index's own copy of the lead id), not
    by Lead.id: then FTS5 walks its index newest first and stops after a page
    (it serves ORDER BY rowid DESC and rowid < n itself, where it cannot see
    through Lead.id), and PostgreSQL may drive from either table.
    """
    found = words(text)
    if not found:
        raise ValueError("Nothing to search for in %r." % text)
    if is_sqlite():
        expression = " ".join('"%s"' % word for word in found) + "*"
        query = (query.join_from(Lead, _fts, on=(_fts.rowid == Lead.id))
                 .where(Expression(_fts.lead_search, "MATCH", expression)))
        return query, _fts.rowid
    expression = " & ".join("'%s'" % word for word in found) + ":*"
    query = (query.join_from(Lead, _tsvectors, on=(_tsvectors.lead_id == Lead.id))
             .where(Expression(_tsvectors.document, "@@",
                               fn.to_tsquery("simple", expression))))
    return query, _tsvectors.lead_id
