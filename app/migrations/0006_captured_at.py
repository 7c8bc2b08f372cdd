"""When the courier saw the lead: `lead.captured_at`, the phone's time of the
tap on Send, beside `created_at`, when the lead arrived (a lead typed with no
signal may arrive hours later).

Generated with playhouse.schema_diff ("add column lead.captured_at").
"""
from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.add_column('lead', 'captured_at', DateTimeField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('lead', 'captured_at'))
