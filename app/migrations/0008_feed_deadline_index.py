"""The feed ordered by deadline walks each temperature's new leads in the order
they were sent: an index on lead (status, temperature, created_at, id).

Generated with playhouse.schema_diff ("add index lead (status, temperature,
created_at, id)").
"""
from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.add_index('lead', ('status', 'temperature', 'created_at', 'id')))


def down(migrator, db):
    migrator.migrate(migrator.drop_index('lead', 'lead_status_temperature_created_at_id'))
