"""The feed as CSV: exactly what the filters show, streamed in keyset
batches (memory stays flat however many leads there are), UTF-8 with a BOM
for Excel, and text a spreadsheet would run as a formula made plain text."""
import csv
import io
from datetime import datetime
from decimal import Decimal

from flask import current_app

from ..models import Lead, Route, Territory
from ..views import local_time
from .pages import Courier, Rep, with_people

EXPORT_BATCH = 1000
# Spreadsheets run a cell that starts like a formula; such text gets a leading '.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EXPORT_COLUMNS = [
    ("id", Lead.id), ("created", Lead.created_at), ("business", Lead.business_name),
    ("category", Lead.category), ("temperature", Lead.temperature), ("status", Lead.status),
    ("courier", Courier.name), ("rep", Rep.name), ("territory", Territory.name),
    ("route", Route.code), ("postcode", Lead.postcode), ("contact_name", Lead.contact_name),
    ("contact_phone", Lead.contact_phone), ("contact_email", Lead.contact_email),
    ("note", Lead.note), ("expects_call", Lead.expects_call),
    ("acknowledged_at", Lead.acknowledged_at), ("closed_at", Lead.closed_at),
    ("weekly_volume", Lead.weekly_volume), ("weekly_value", Lead.weekly_value),
]
# weekly_value stays a plain number a spreadsheet can add up ("£1,200.50" would be
# text to many); the depot's currency code follows it in a column of its own.
CURRENCY_COLUMN = "currency"


def export_rows(filters):
    """Every lead the filters keep, in their sort, fetched a batch at a time
    (each batch a keyset query, so memory stays flat however many there are)."""
    columns = [column for _, column in EXPORT_COLUMNS]
    cursor = None
    while True:
        batch = list(with_people(columns, filters, cursor, EXPORT_BATCH).tuples())
        yield from batch
        if len(batch) < EXPORT_BATCH:
            return
        cursor = batch[-1][0]


def csv_chunks(rows):
    """The CSV's bytes: a BOM (so Excel reads UTF-8), the header, then the rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([name for name, _ in EXPORT_COLUMNS] + [CURRENCY_COLUMN])
    yield take(buffer)
    currency = current_app.config["DEPOT_CURRENCY"]
    for count, row in enumerate(rows, 1):
        writer.writerow([cell(value) for value in row] + [currency])
        if count % EXPORT_BATCH == 0:
            yield take(buffer)
    yield take(buffer)


def take(buffer):
    """What the buffer holds, encoded, leaving it empty."""
    data = buffer.getvalue().encode()
    buffer.seek(0)
    buffer.truncate()
    return data


def cell(value):
    """One value as a spreadsheet should see it: times in depot time, text
    that a spreadsheet would run as a formula made plain text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return local_time(value, "%Y-%m-%d %H:%M:%S")
    if isinstance(value, Decimal):
        return "%.2f" % value
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value
