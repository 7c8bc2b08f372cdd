"""The first schema: people, territories, routes, leads and their timeline.

Generated from the models with playhouse.schema_diff; defaults computed in
Python (timestamps, session tokens) are applied by the models, not the schema.
"""
from peewee import *


def up(migrator, db):
    class Territory(Model):
        name = CharField(unique=True, max_length=80)
        class Meta:
            database = db
            table_name = 'territory'
    db.create_tables([Territory])

    class Route(Model):
        code = CharField(unique=True, max_length=20)
        name = CharField(max_length=80, default='')
        territory = ForeignKeyField(Territory, null=True, on_delete='SET NULL')
        class Meta:
            database = db
            table_name = 'route'
    db.create_tables([Route])

    class User(Model):
        email = CharField(unique=True, max_length=254)
        name = CharField(max_length=100)
        phone = CharField(max_length=32, default='')
        role = CharField(index=True, max_length=10)
        active = BooleanField(default=True)
        password_hash = CharField(default='')
        session_token = CharField(max_length=64)
        route = ForeignKeyField(Route, null=True, on_delete='SET NULL')
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'user'
    db.create_tables([User])

    class ApiToken(Model):
        user = ForeignKeyField(User, on_delete='CASCADE')
        name = CharField(max_length=80, default='')
        token_hash = CharField(unique=True, max_length=64)
        created_at = DateTimeField()
        last_used_at = DateTimeField(null=True)
        revoked_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'api_token'
    db.create_tables([ApiToken])

    class Lead(Model):
        client_uuid = UUIDField(unique=True)
        courier = ForeignKeyField(User, on_delete='RESTRICT')
        route = ForeignKeyField(Route, null=True, on_delete='SET NULL')
        territory = ForeignKeyField(Territory, null=True, on_delete='SET NULL')
        assigned_rep = ForeignKeyField(User, null=True, on_delete='SET NULL')
        status = CharField(max_length=16, default='new')
        business_name = CharField(max_length=120)
        category = CharField(max_length=20)
        competitor = CharField(max_length=80, default='')
        temperature = CharField(max_length=8)
        contact_name = CharField(max_length=100, default='')
        contact_phone = CharField(max_length=32, default='')
        contact_email = CharField(max_length=254, default='')
        address = CharField(max_length=200, default='')
        postcode = CharField(max_length=12, default='')
        note = TextField(default='')
        expects_call = BooleanField(default=False)
        photo = CharField(null=True, max_length=64)
        lat = DoubleField(null=True)
        lng = DoubleField(null=True)
        created_at = DateTimeField()
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'lead'
            indexes = ((('courier', 'id'), False), (('territory', 'id'), False), (('assigned_rep', 'id'), False), (('status', 'id'), False))
    db.create_tables([Lead])

    class LeadEvent(Model):
        lead = ForeignKeyField(Lead, on_delete='CASCADE')
        kind = CharField(max_length=24)
        actor = ForeignKeyField(User, null=True, on_delete='SET NULL')
        detail = TextField(default='')
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'lead_event'
            indexes = ((('lead', 'id'), False),)
    db.create_tables([LeadEvent])

    class PostcodePrefix(Model):
        territory = ForeignKeyField(Territory, on_delete='CASCADE')
        prefix = CharField(unique=True, max_length=12)
        class Meta:
            database = db
            table_name = 'postcode_prefix'
    db.create_tables([PostcodePrefix])

    class TerritoryRep(Model):
        territory = ForeignKeyField(Territory, on_delete='CASCADE')
        rep = ForeignKeyField(User, on_delete='CASCADE')
        membership = CharField(max_length=10, default='primary')
        class Meta:
            database = db
            table_name = 'territory_rep'
            indexes = ((('territory', 'rep'), True),)
    db.create_tables([TerritoryRep])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('territory_rep'))
    migrator.migrate(migrator.drop_table('postcode_prefix'))
    migrator.migrate(migrator.drop_table('lead_event'))
    migrator.migrate(migrator.drop_table('lead'))
    migrator.migrate(migrator.drop_table('api_token'))
    migrator.migrate(migrator.drop_table('user'))
    migrator.migrate(migrator.drop_table('route'))
    migrator.migrate(migrator.drop_table('territory'))
