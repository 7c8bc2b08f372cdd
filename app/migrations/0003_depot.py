"""Running the depot: settings, the audit log of managers' changes, invitations.

Generated with playhouse.schema_diff; Python-side defaults live in the models.
"""
from peewee import *


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class AuditEntry(Model):
        actor = ForeignKeyField(User, null=True, on_delete='SET NULL')
        action = CharField(max_length=40)
        subject = CharField(max_length=200, default='')
        detail = TextField(default='')
        created_at = DateTimeField(index=True)
        class Meta:
            database = db
            table_name = 'audit_entry'
    db.create_tables([AuditEntry])

    class Invite(Model):
        user = ForeignKeyField(User, on_delete='CASCADE')
        token_hash = CharField(unique=True, max_length=64)
        created_at = DateTimeField()
        expires_at = DateTimeField()
        used_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'invite'
    db.create_tables([Invite])

    class Setting(Model):
        key = CharField(unique=True, max_length=64)
        value = TextField()
        class Meta:
            database = db
            table_name = 'setting'
    db.create_tables([Setting])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('setting'))
    migrator.migrate(migrator.drop_table('invite'))
    migrator.migrate(migrator.drop_table('audit_entry'))
