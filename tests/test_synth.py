"""Synthetic data at scale (`flask --app wsgi synth`): a whole depot and many
leads whose statuses, timelines and alerts hang together, made the same way
for the same seed."""
from collections import Counter, defaultdict
from datetime import datetime

from app import synth
from app.models import (CATEGORIES, STATUSES, TEMPERATURES, Lead, LeadEvent, PostcodePrefix,
                        Route, Territory, TerritoryRep, User, route_lead, utcnow)
from app.models.leads import CLOSED_STATUSES, DECLINE_REASONS
from app.notify import deadline, unannounced_events
from conftest import Auth

LEADS = 2_000
# The event that puts a lead in each status (a manager's assignment also picks one up).
STATUS_EVENTS = {"acknowledged": {"acknowledged", "assigned"}, "contacted": {"contacted"},
                 "quoted": {"quoted"}, "won": {"won"}, "lost": {"lost"},
                 "declined": {"declined"}}


def run_synth(runner, *args):
    """The command with LEADS leads and a fixed seed."""
    return runner.invoke(args=["synth", "--leads", str(LEADS), "--seed", "3", *args])


def events_by_lead():
    """Every event, in order, grouped by lead id."""
    found = defaultdict(list)
    for event in LeadEvent.select().order_by(LeadEvent.id):
        found[event.lead_id].append(event)
    return found


def test_synth_fills_a_whole_depot_with_the_leads_asked_for(runner, client):
    result = run_synth(runner)
    assert result.exit_code == 0, result.output
    assert Lead.select().count() == LEADS
    assert (Territory.select().count(), Route.select().count()) == (8, 60)
    roles = Counter(role for role, in User.select(User.role).tuples())
    assert roles == {"courier": 300, "rep": 40, "manager": 3}
    assert TerritoryRep.select().where(TerritoryRep.membership == "backup").count() == 16
    assert {s for s, in Lead.select(Lead.status).distinct().tuples()} == set(STATUSES)
    assert {c for c, in Lead.select(Lead.category).distinct().tuples()} == set(CATEGORIES)
    assert {t for t, in Lead.select(Lead.temperature).distinct().tuples()} == set(TEMPERATURES)
    assert synth.PASSWORD in result.output and "manager1@synth.touchpoint" in result.output
    manager = User.by_email("manager1@synth.touchpoint")
    assert Auth(client).login(manager, synth.PASSWORD).status_code == 302


def test_most_synthetic_leads_are_closed_and_recent_ones_more_common(runner):
    assert run_synth(runner).exit_code == 0
    statuses = Counter(s for s, in Lead.select(Lead.status).tuples())
    assert sum(statuses[s] for s in CLOSED_STATUSES) > 0.8 * LEADS
    assert statuses["won"] > 0.15 * LEADS and statuses["new"] < 0.05 * LEADS
    created = sorted(c for c, in Lead.select(Lead.created_at).tuples())
    span = created[-1] - created[0]
    older_half = sum(1 for c in created if c < created[0] + span / 2)
    assert older_half < 0.4 * LEADS
    assert [c for c, in Lead.select(Lead.created_at).order_by(Lead.id).tuples()] == created


def test_every_lead_has_the_events_and_fields_its_status_implies(runner):
    assert run_synth(runner).exit_code == 0
    events = events_by_lead()
    for lead in Lead.select():
        timeline = events[lead.id]
        kinds = [e.kind for e in timeline]
        assert kinds[0] == "created" and kinds.count("created") == 1
        assert (timeline[0].actor_id, timeline[0].created_at) == (lead.courier_id, lead.created_at)
        assert [e.created_at for e in timeline] == sorted(e.created_at for e in timeline)
        if lead.status == "new":
            assert lead.acknowledged_at is None and lead.assigned_rep_id is None
        else:
            pick_up = next(e for e in timeline if e.kind in ("acknowledged", "assigned"))
            assert pick_up.created_at == lead.acknowledged_at >= lead.created_at
            assert lead.assigned_rep_id is not None
            last_step = [e.kind for e in timeline if e.kind in STATUS_EVENTS[lead.status]]
            assert last_step, (lead.id, lead.status, kinds)
        assert (lead.closed_at is not None) == (lead.status in CLOSED_STATUSES)
        if lead.closed_at:
            assert lead.closed_at >= lead.acknowledged_at
        won = lead.status == "won"
        assert (lead.weekly_volume is not None, lead.weekly_value is not None) == (won, won)
        assert (lead.decline_reason in DECLINE_REASONS) == (lead.status == "declined")
        assert (lead.escalated_at is not None) == ("escalated" in kinds)


def test_kudos_and_notes_come_from_the_rep_who_has_the_lead(runner):
    assert run_synth(runner).exit_code == 0
    events = events_by_lead()
    kudos = 0
    for lead in Lead.select().where(Lead.status != "new"):
        for event in events[lead.id]:
            if event.kind in ("kudos", "note", "contacted", "quoted", "won", "lost", "declined"):
                assert event.actor_id == lead.assigned_rep_id
            kudos += event.kind == "kudos"
    assert kudos > 0
    assert LeadEvent.select().where(LeadEvent.kind == "kudos").join(Lead).where(
        Lead.status == "won").count() > 0.3 * Lead.select().where(Lead.status == "won").count()


def test_synthetic_leads_are_routed_as_real_ones_would_be(runner):
    assert run_synth(runner).exit_code == 0
    sample = Lead.select().order_by(Lead.id).limit(300)
    assert all(lead.territory_id == route_lead(lead) for lead in sample)
    assert Lead.select().where(Lead.territory.is_null()).exists()  # some unrouted
    assert PostcodePrefix.select().count() == 18


def test_synthetic_history_leaves_the_worker_nothing_to_announce_or_escalate(app, runner):
    before = utcnow()
    assert run_synth(runner).exit_code == 0
    assert LeadEvent.select().where(LeadEvent.announced_at.is_null()).count() == 0
    with app.app_context():
        assert unannounced_events() == []
        waiting = Lead.select().where((Lead.status == "new") & Lead.escalated_at.is_null())
        assert all(lead.created_at + deadline(lead.temperature) > before for lead in waiting)


def test_synth_refuses_a_database_with_leads_unless_forced(runner):
    assert runner.invoke(args=["synth", "--leads", "100"]).exit_code == 0
    result = runner.invoke(args=["synth", "--leads", "100"])
    assert result.exit_code != 0 and "already has 100 leads" in result.output
    assert Lead.select().count() == 100
    result = runner.invoke(args=["synth", "--leads", "100", "--force"])
    assert result.exit_code == 0, result.output
    assert Lead.select().count() == 200
    assert Territory.select().count() == 8 and User.select().count() == 343
    assert Lead.select(Lead.client_uuid).distinct().count() == 200


def test_synth_makes_the_same_depot_for_the_same_seed(app):
    now = datetime(2026, 3, 1, 12, 30)
    with app.app_context():
        first = fingerprint(600, 5, now)
        wipe()
        assert fingerprint(600, 5, now) == first
        wipe()
        assert fingerprint(600, 6, now) != first


def fingerprint(leads, seed, now):
    """Fill with a seed and describe the result by names, not ids."""
    synth.fill(leads, seed, echo=lambda *_: None, now=now)
    emails = dict(User.select(User.id, User.email).tuples())
    names = [(u.email, u.name, u.role) for u in User.select().order_by(User.email)]
    rows = [(lead.client_uuid, lead.business_name, lead.postcode, lead.note, lead.status,
             lead.category, lead.temperature, emails[lead.courier_id],
             emails.get(lead.assigned_rep_id), lead.created_at, lead.acknowledged_at,
             lead.weekly_value) for lead in Lead.select().order_by(Lead.id)]
    kinds = Counter(k for k, in LeadEvent.select(LeadEvent.kind).tuples())
    return names, rows, kinds


def wipe():
    """Empty the depot, leads first."""
    for model in (LeadEvent, Lead, TerritoryRep, User, Route, PostcodePrefix, Territory):
        model.delete().execute()
