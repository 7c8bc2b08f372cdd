"""The database settings, the schema migrations, routing and who sees a lead."""
import uuid

import peewee
import pytest
from playhouse.schema_diff import diff_models

from app.db import db, is_sqlite
from app.models import MODELS, Lead, LeadEvent, PostcodePrefix, Route, User, route_lead
from conftest import make_user

FIELDS = {"business_name": "Corner Shop", "category": "other", "temperature": "warm"}


def submit(courier, **fields):
    lead, _ = Lead.submit(courier, dict(FIELDS, **fields), uuid.uuid4())
    return lead


def test_migrations_build_exactly_the_models_schema(app):
    assert not diff_models(db.obj, MODELS)


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(app):
    if not is_sqlite():
        assert isinstance(db.obj, peewee.PostgresqlDatabase)
        return
    assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 10000
    assert db.execute_sql("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_emails_are_unique_whatever_their_case(depot):
    assert User.by_email("  ANN@Depot.Test ") == depot.courier
    with pytest.raises(peewee.IntegrityError), db.atomic():
        make_user("rep", "ANN@depot.test".lower())


@pytest.mark.parametrize("courier, postcode, territory", [
    ("courier", "", "north"),            # by the courier's route
    ("courier", "CD1 1AA", "north"),     # the route wins over the postcode
    ("rover", "cd1 1aa", "south"),       # a route with no territory: by postcode
    ("rover", "AB1 2CD", "north"),       # prefix AB
    ("rover", "AB9 2CD", "south"),       # the longest prefix (AB9) beats AB
    ("rover", "ZZ1 1ZZ", None),          # nothing matches: unrouted
    ("rover", "", None),
])
def test_leads_route_by_route_then_longest_postcode_prefix(depot, courier, postcode, territory):
    lead = submit(getattr(depot, courier), postcode=postcode)
    expected = getattr(depot, territory).id if territory else None
    assert lead.territory_id == expected
    assert route_lead(lead) == expected


def test_a_new_lead_has_a_created_event_by_its_courier(depot):
    lead = submit(depot.courier)
    events = list(lead.timeline())
    assert [(e.kind, e.actor_id) for e in events] == [("created", depot.courier.id)]
    assert lead.status == "new" and lead.route_id == depot.r1.id


def test_who_sees_a_lead(depot):
    north_lead = submit(depot.courier)
    south_lead = submit(depot.courier2)
    unrouted = submit(depot.rover, postcode="ZZ1")

    def seen_by(user):
        return {lead.id for lead in Lead.visible_to(user)}

    assert seen_by(depot.courier) == {north_lead.id}
    assert seen_by(depot.courier2) == {south_lead.id}
    assert seen_by(depot.rep) == {north_lead.id}
    assert seen_by(depot.backup) == {north_lead.id}
    assert seen_by(depot.rep_south) == {south_lead.id}
    assert seen_by(depot.manager) == {north_lead.id, south_lead.id, unrouted.id}
    Lead.update(assigned_rep=depot.rep).where(Lead.id == unrouted.id).execute()
    assert seen_by(depot.rep) == {north_lead.id, unrouted.id}


def test_page_walks_every_lead_once_newest_first(depot):
    ids = [submit(depot.courier).id for _ in range(7)]
    seen, before = [], None
    while True:
        rows, before = Lead.page(Lead.visible_to(depot.courier), before, limit=3)
        seen += [lead.id for lead in rows]
        if before is None:
            break
    assert seen == sorted(ids, reverse=True)


def test_removing_a_route_keeps_its_leads(depot):
    lead = submit(depot.courier)
    Route.delete().where(Route.id == depot.r1.id).execute()
    assert Lead.get_by_id(lead.id).route_id is None
    assert LeadEvent.select().where(LeadEvent.lead == lead).count() == 1


def test_postcode_prefixes_are_unique(depot):
    with pytest.raises(peewee.IntegrityError), db.atomic():
        PostcodePrefix.create(territory=depot.south, prefix="AB")


@pytest.mark.parametrize("before", [-10**30, -1, 0, 10**30])
def test_page_takes_any_whole_number_without_failing(depot, before):
    submit(depot.courier)
    rows, _ = Lead.page(Lead.visible_to(depot.courier), before)
    assert len(rows) == (1 if before == 10**30 else 0)
