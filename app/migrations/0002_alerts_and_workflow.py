"""Alerts: push devices, in-app notifications and deliveries; the lead's
workflow timestamps and outcome; users' alert preferences.

Generated with playhouse.schema_diff; Python-side defaults live in the models.
"""
from peewee import *


def up(migrator, db):
    class Lead(Model):
        class Meta:
            database = db
            table_name = 'lead'

    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class Notification(Model):
        user = ForeignKeyField(User, on_delete='CASCADE')
        lead = ForeignKeyField(Lead, null=True, on_delete='CASCADE')
        kind = CharField(max_length=24)
        title = CharField(max_length=200)
        body = CharField(max_length=500, default='')
        path = CharField(max_length=200, default='/')
        created_at = DateTimeField()
        read_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'notification'
            indexes = ((('user', 'read_at'), False), (('user', 'id'), False))
    db.create_tables([Notification])

    class PushSubscription(Model):
        user = ForeignKeyField(User, on_delete='CASCADE')
        endpoint = CharField(unique=True, max_length=1024)
        p256dh = CharField(max_length=100)
        auth = CharField(max_length=40)
        label = CharField(max_length=80, default='')
        created_at = DateTimeField()
        last_success_at = DateTimeField(null=True)
        failure_count = IntegerField(default=0)
        first_failure_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'push_subscription'
    db.create_tables([PushSubscription])

    class Delivery(Model):
        notification = ForeignKeyField(Notification, on_delete='CASCADE')
        subscription = ForeignKeyField(PushSubscription, on_delete='CASCADE')
        status = CharField(max_length=12, default='pending')
        attempts = IntegerField(default=0)
        last_error = CharField(max_length=200, default='')
        created_at = DateTimeField()
        updated_at = DateTimeField()
        next_attempt_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'delivery'
            indexes = ((('notification', 'subscription'), True), (('status', 'next_attempt_at'), False))
    db.create_tables([Delivery])

    migrator.migrate(migrator.add_column('user', 'quiet_start', CharField(null=True, max_length=5)))
    migrator.migrate(migrator.add_column('user', 'quiet_end', CharField(null=True, max_length=5)))
    migrator.migrate(migrator.add_column('user', 'muted_kinds', CharField(max_length=200, default='')))
    migrator.migrate(migrator.add_column('lead', 'acknowledged_at', DateTimeField(null=True)))
    migrator.migrate(migrator.add_column('lead', 'escalated_at', DateTimeField(null=True)))
    migrator.migrate(migrator.add_column('lead', 'closed_at', DateTimeField(null=True)))
    migrator.migrate(migrator.add_column('lead', 'decline_reason', CharField(max_length=24, default='')))
    migrator.migrate(migrator.add_column('lead', 'weekly_volume', IntegerField(null=True)))
    migrator.migrate(migrator.add_column('lead', 'weekly_value', DecimalField(null=True, max_digits=12, decimal_places=2)))
    migrator.migrate(migrator.add_column('lead_event', 'announced_at', DateTimeField(index=True, null=True)))
    # Events from before alerts existed must not be announced now, all at once.
    db.execute_sql('UPDATE "lead_event" SET announced_at = created_at')


def down(migrator, db):
    migrator.migrate(migrator.drop_index('lead_event', 'lead_event_announced_at'))
    migrator.migrate(migrator.drop_column('lead_event', 'announced_at'))
    migrator.migrate(migrator.drop_column('lead', 'weekly_value'))
    migrator.migrate(migrator.drop_column('lead', 'weekly_volume'))
    migrator.migrate(migrator.drop_column('lead', 'decline_reason'))
    migrator.migrate(migrator.drop_column('lead', 'closed_at'))
    migrator.migrate(migrator.drop_column('lead', 'escalated_at'))
    migrator.migrate(migrator.drop_column('lead', 'acknowledged_at'))
    migrator.migrate(migrator.drop_column('user', 'muted_kinds'))
    migrator.migrate(migrator.drop_column('user', 'quiet_end'))
    migrator.migrate(migrator.drop_column('user', 'quiet_start'))
    migrator.migrate(migrator.drop_table('delivery'))
    migrator.migrate(migrator.drop_table('push_subscription'))
    migrator.migrate(migrator.drop_table('notification'))
