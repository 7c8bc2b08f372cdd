"""Deliveries survive a dead worker and a push service's Retry-After:
`delivery.claimed_by` names the worker process sending it, `heartbeat` says
which of those are alive, `push_service_pause` holds every worker off a push
service until the time it asked for (app/delivery.py).
"""
from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.add_column('delivery', 'claimed_by',
                                         CharField(max_length=64, null=True)))

    class Heartbeat(Model):
        id = CharField(max_length=64, primary_key=True)
        host = CharField(max_length=255)
        pid = IntegerField()
        beat_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'heartbeat'

    class PushServicePause(Model):
        origin = CharField(max_length=255, primary_key=True)
        until = DateTimeField()
        class Meta:
            database = db
            table_name = 'push_service_pause'
    db.create_tables([Heartbeat, PushServicePause])


def down(migrator, db):
    db.execute_sql('DROP TABLE push_service_pause')
    db.execute_sql('DROP TABLE heartbeat')
    migrator.migrate(migrator.drop_column('delivery', 'claimed_by'))
