"""Phone numbers in E.164: `lead.contact_phone` and `user.phone`, stored as
they were typed until now, become E.164 (+442079460000) wherever they are a
valid number, national ones read in DEPOT_REGION (the app's setting under
`flask migrate`, else the environment's, else GB). Any other value is left
exactly as it is, and shown as stored. No column changes.
"""
import os

import phonenumbers
from flask import current_app, has_app_context
from peewee import *


def depot_region():
    if has_app_context():
        return current_app.config["DEPOT_REGION"]
    return os.environ.get("DEPOT_REGION") or "GB"


def e164(text, region):
    """text in E.164 if it is a valid number, else None."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise(db, table, column, region):
    """Rewrite table.column in E.164 where it is a valid number: each number
    is parsed once, and rows are updated 500 ids a statement."""
    numbers, ids = {}, {}
    rows = db.execute_sql('SELECT id, "%s" FROM "%s" WHERE "%s" <> \'\'' % (column, table, column))
    for row_id, text in rows.fetchall():
        if text not in numbers:
            numbers[text] = e164(text, region)
        if numbers[text] and numbers[text] != text:
            ids.setdefault(numbers[text], []).append(row_id)
    for number, changed in ids.items():
        for start in range(0, len(changed), 500):
            chunk = changed[start:start + 500]
            db.execute_sql('UPDATE "%s" SET "%s" = %s WHERE id IN (%s)' % (
                table, column, db.param, ", ".join([db.param] * len(chunk))), [number] + chunk)


def up(migrator, db):
    region = depot_region()
    normalise(db, 'lead', 'contact_phone', region)
    normalise(db, 'user', 'phone', region)


def down(migrator, db):
    """Nothing to undo: an E.164 number is as good a way to write it as any."""
