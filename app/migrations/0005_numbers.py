"""The numbers: an index on lead.created_at, so that a period's leads are
found without reading the whole table (app/numbers/figures.py).

Generated with playhouse.schema_diff ("add index lead (created_at)").
"""
from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.add_index('lead', ('created_at',)))


def down(migrator, db):
    migrator.migrate(migrator.drop_index('lead', 'lead_created_at'))
