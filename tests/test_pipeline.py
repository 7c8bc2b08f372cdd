"""The rep's workflow: acknowledge (first one wins), work the lead to won,
lost or declined, notes, reassigning and kudos, and what the courier sees of it.

Pages are used as a phone without JavaScript uses them: a form posted back
with the page's CSRF token. Races are real threads on real connections.
"""
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from html import unescape

import pytest

from app import tasks
from app.db import db
from app.models import Delivery, Lead, LeadEvent, Notification, Setting, User, utcnow
from app.models.leads import NotAllowed, WorkflowError
from app.notify import escalate_overdue
from conftest import Auth, bearer, csrf_token, enable_push, make_user, wait_for
from test_capture import error_of

FIELDS = {"business_name": "Joe's Bakery", "category": "new_business", "temperature": "hot",
          "contact_name": "Joe", "contact_phone": "+44 20 7946 0000",
          "address": "1 High St", "postcode": "AB1 2CD"}
# The steps that bring a new lead (acknowledged by Dana) to each status.
STEPS_TO = {"acknowledged": [], "contacted": ["contacted"], "quoted": ["contacted", "quoted"],
            "won": ["contacted", "quoted", "won"], "lost": ["contacted", "quoted", "lost"]}
# A valid post for each workflow action (reassign's rep is filled in per test).
ACTIONS = {"acknowledge": {}, "advance": {"to": "contacted"}, "decline": {"reason": "not_a_fit"},
           "notes": {"note": "Called; back Monday."}, "kudos": {"message": "Thanks!"},
           "reassign": {}}


def new_lead(courier, **fields):
    lead, _ = Lead.submit(courier, dict(FIELDS, **fields), uuid.uuid4())
    return lead


def lead_at(depot, status, **fields):
    """A lead from Ann, picked up by Dana and worked to `status`."""
    lead = new_lead(depot.courier, **fields)
    if status == "new":
        return lead
    Lead.acknowledge(lead.id, depot.rep)
    if status == "declined":
        Lead.decline(lead.id, depot.rep, "not_a_fit")
    for step in STEPS_TO.get(status, []):
        Lead.advance(lead.id, depot.rep, step)
    return Lead.get_by_id(lead.id)


def snapshot(lead):
    """Everything stored about a lead: its row and its timeline."""
    row = Lead.select().where(Lead.id == lead.id).dicts().get()
    events = [(e.kind, e.actor_id, e.detail) for e in
              LeadEvent.select().where(LeadEvent.lead == lead.id).order_by(LeadEvent.id)]
    return row, events


def kinds(lead):
    return [e.kind for e in
            LeadEvent.select().where(LeadEvent.lead == lead.id).order_by(LeadEvent.id)]


def act(client, lead, action, token=True, **data):
    """Post one of the lead page's forms, with the page's CSRF token."""
    if token:
        data["csrf_token"] = csrf_token(client, "/")
    return client.post("/leads/%d/%s" % (lead.id, action), data=data)


def flashed(client, lead=None):
    """The flash messages the lead's page (or the lead list) shows next."""
    page = client.get("/leads/%d" % lead.id if lead else "/leads")
    return [unescape(m) for m in re.findall(r'<p class="flash" role="status">(.*?)</p>',
                                             page.get_data(as_text=True))]


def logged_in(app, user):
    client = app.test_client()
    Auth(client).login(user)
    return client


# --- Acknowledge: the first rep wins ----------------------------------------------

def test_first_rep_to_acknowledge_owns_the_lead(depot):
    lead = new_lead(depot.courier)
    event = Lead.acknowledge(lead.id, depot.rep)
    assert (event.kind, event.actor_id, event.lead_id) == ("acknowledged", depot.rep.id, lead.id)
    lead = Lead.get_by_id(lead.id)
    assert (lead.status, lead.assigned_rep_id) == ("acknowledged", depot.rep.id)
    assert lead.acknowledged_at is not None and lead.updated_at >= lead.acknowledged_at


def test_second_rep_cannot_acknowledge_taken_lead(depot):
    lead = new_lead(depot.courier)
    Lead.acknowledge(lead.id, depot.rep)
    before = snapshot(lead)
    assert Lead.acknowledge(lead.id, depot.backup) is None
    assert Lead.acknowledge(lead.id, depot.rep) is None
    assert snapshot(lead) == before


def test_rep_beaten_to_it_is_told_who_took_it(app, depot):
    lead = new_lead(depot.courier)
    dana, finn = logged_in(app, depot.rep), logged_in(app, depot.backup)
    assert act(dana, lead, "acknowledge").status_code == 302
    response = act(finn, lead, "acknowledge")
    assert response.status_code == 302
    assert response.headers["Location"] == "/leads/%d" % lead.id
    assert flashed(dana, lead) == ["It's yours. Ann will hear that you picked it up."]
    assert flashed(finn, lead) == ["Dana already picked this up."]
    assert act(dana, lead, "acknowledge").status_code == 302
    assert flashed(dana, lead) == ["You already have this lead."]
    assert kinds(lead) == ["created", "acknowledged"]


@pytest.mark.parametrize("who", ["backup", "manager"])
def test_backup_reps_and_managers_may_acknowledge(client, auth, depot, who):
    lead = new_lead(depot.courier)
    auth.login(getattr(depot, who))
    assert act(client, lead, "acknowledge").status_code == 302
    assert Lead.get_by_id(lead.id).assigned_rep_id == getattr(depot, who).id


def test_fifty_threads_acknowledging_one_lead_make_one_owner_one_event_one_alert(
        depot, push_service, worker):
    phone = enable_push(depot.courier, push_service)
    lead = new_lead(depot.courier)
    reps = [depot.rep, depot.backup, depot.manager] + [
        make_user("rep", name="Rep %d" % n, territory=depot.north) for n in range(47)]
    start = threading.Barrier(len(reps), timeout=30)

    def tap(rep):
        # Each thread has a connection of its own (peewee's are per thread).
        with db.connection_context():
            start.wait()
            event = Lead.acknowledge(lead.id, rep)
        if event is not None:
            tasks.announce_later(event)
        return rep, event

    with ThreadPoolExecutor(max_workers=len(reps)) as pool:
        results = list(pool.map(tap, reps))

    [(winner, event)] = [(rep, event) for rep, event in results if event is not None]
    assert len(results) == 50
    lead = Lead.get_by_id(lead.id)
    assert (lead.status, lead.assigned_rep_id) == ("acknowledged", winner.id)
    acknowledged = LeadEvent.select().where((LeadEvent.lead == lead.id)
                                            & (LeadEvent.kind == "acknowledged"))
    assert [(e.id, e.actor_id) for e in acknowledged] == [(event.id, winner.id)]

    [message] = wait_for(lambda: push_service.delivered(phone))
    assert message.payload["title"] == "%s picked up your lead for Joe's Bakery" % winner.name
    wait_for(lambda: Delivery.select().where(Delivery.status == "sent").count() == 1)
    notes = Notification.select().where((Notification.user == depot.courier)
                                        & (Notification.kind == "acknowledged"))
    assert notes.count() == 1
    assert len(push_service.received(phone)) == 1
    assert Delivery.select().count() == 1


def test_reps_racing_through_the_page_see_one_winner_and_who_it_was(app, depot):
    lead = new_lead(depot.courier)
    reps = [depot.rep, depot.backup] + [make_user("rep", name="Rep %d" % n, territory=depot.north)
                                        for n in range(4)]
    clients = [(rep, logged_in(app, rep)) for rep in reps]
    tokens = {rep.id: csrf_token(client, "/") for rep, client in clients}
    start = threading.Barrier(len(clients), timeout=30)

    def tap(rep_and_client):
        rep, client = rep_and_client
        start.wait()
        return client.post("/leads/%d/acknowledge" % lead.id,
                           data={"csrf_token": tokens[rep.id]}).status_code

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        assert list(pool.map(tap, clients)) == [302] * len(clients)

    winner = Lead.get_by_id(lead.id).assigned_rep
    assert kinds(lead) == ["created", "acknowledged"]
    for rep, client in clients:
        expected = ("It's yours. Ann will hear that you picked it up." if rep.id == winner.id
                    else "%s already picked this up." % winner.name)
        assert flashed(client, lead) == [expected]


def test_courier_hears_when_a_rep_picks_up_the_lead(app, client, depot, push_service, worker):
    phone = enable_push(depot.courier, push_service)
    sent = client.post("/api/v1/leads", headers=bearer(depot.courier), json={
        "client_uuid": str(uuid.uuid4()), "business_name": "Joe's Bakery",
        "category": "new_business", "temperature": "hot"})
    assert sent.status_code == 201
    lead = Lead.get_by_id(sent.json["id"])

    dana = logged_in(app, depot.rep)
    page = dana.get("/leads/%d" % lead.id).get_data(as_text=True)
    form = re.search(r'<form method="post" action="(/leads/\d+/acknowledge)".*?</form>', page, re.S)
    assert form and ">Acknowledge</button>" in form.group(0)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.group(0)).group(1)
    assert dana.post(form.group(1), data={"csrf_token": token}).status_code == 302

    [message] = wait_for(lambda: push_service.delivered(phone))
    assert message.payload["title"] == "Dana picked up your lead for Joe's Bakery"
    assert message.payload["path"] == "/leads/%d" % lead.id
    Auth(client).login(depot.courier)
    page = client.get("/leads/%d" % lead.id).get_data(as_text=True)
    assert "Dana has your lead" in page and "Dana picked up your lead" in page


# --- Working the lead ------------------------------------------------------------

def test_rep_works_a_lead_from_acknowledged_to_won(client, auth, depot):
    lead = lead_at(depot, "acknowledged")
    auth.login(depot.rep)
    for step, flash in (("contacted", "Marked as contacted."), ("quoted", "Marked as quoted."),
                        ("won", "Won! Ann will hear the good news.")):
        response = act(client, lead, "advance", to=step, expected=Lead.get_by_id(lead.id).status)
        assert response.status_code == 302
        assert flashed(client, lead) == [flash]
        event = LeadEvent.select().order_by(LeadEvent.id.desc()).get()
        assert (event.kind, event.actor_id) == (step, depot.rep.id)
        assert Lead.get_by_id(lead.id).status == step
    lead = Lead.get_by_id(lead.id)
    assert lead.closed_at is not None
    assert (lead.weekly_volume, lead.weekly_value) == (None, None)
    assert kinds(lead) == ["created", "acknowledged", "contacted", "quoted", "won"]


def test_a_win_records_what_the_customer_ships(client, auth, depot):
    lead = lead_at(depot, "quoted")
    auth.login(depot.rep)
    response = act(client, lead, "advance", to="won", expected="quoted",
                   weekly_volume="40", weekly_value="1200.50")
    assert response.status_code == 302
    lead = Lead.get_by_id(lead.id)
    assert (lead.status, lead.weekly_volume, lead.weekly_value) == ("won", 40, Decimal("1200.50"))
    assert (LeadEvent.get(LeadEvent.kind == "won").detail
            == "40 parcels a week, worth £1,200.50 a week")
    auth.logout()
    auth.login(depot.courier)
    page = client.get("/leads/%d" % lead.id).get_data(as_text=True)
    assert "Won! 🎉 40 parcels a week, worth £1,200.50 a week." in page


def test_a_quoted_lead_can_be_lost(client, auth, depot):
    lead = lead_at(depot, "quoted")
    auth.login(depot.rep)
    assert act(client, lead, "advance", to="lost", expected="quoted").status_code == 302
    lead = Lead.get_by_id(lead.id)
    assert lead.status == "lost" and lead.closed_at is not None
    assert kinds(lead)[-1] == "lost"


@pytest.mark.parametrize("status", ["acknowledged", "contacted", "quoted"])
@pytest.mark.parametrize("reason, courier_words", [
    ("duplicate", "Closed: someone had already passed it on"),
    ("existing_customer", "Closed: already a customer"),
    ("not_a_fit", "Closed: not a fit for us this time"),
])
def test_an_open_lead_can_be_declined_with_a_reason(client, auth, depot, status, reason,
                                                    courier_words):
    lead = lead_at(depot, status)
    auth.login(depot.rep)
    assert act(client, lead, "decline", reason=reason, expected=status).status_code == 302
    lead = Lead.get_by_id(lead.id)
    assert (lead.status, lead.decline_reason) == ("declined", reason)
    assert lead.closed_at is not None and lead.assigned_rep_id == depot.rep.id
    event = LeadEvent.select().order_by(LeadEvent.id.desc()).get()
    assert (event.kind, event.actor_id, event.detail) == ("declined", depot.rep.id, reason)
    auth.logout()
    auth.login(depot.courier)
    assert courier_words in client.get("/leads/%d" % lead.id).get_data(as_text=True)


def test_not_my_territory_hands_the_lead_back_to_the_managers(
        app, client, auth, depot, push_service, worker):
    desk = enable_push(depot.manager, push_service)
    lead = lead_at(depot, "contacted")
    auth.login(depot.rep)
    response = act(client, lead, "decline", reason="not_my_territory", expected="contacted")
    assert response.status_code == 302
    assert response.headers["Location"] == "/leads"
    assert flashed(client) == ["Joe's Bakery went back to the managers to find the right rep."]
    lead = Lead.get_by_id(lead.id)
    assert (lead.status, lead.territory_id, lead.assigned_rep_id) == ("new", None, None)
    assert lead.acknowledged_at is None and lead.closed_at is None
    event = LeadEvent.select().order_by(LeadEvent.id.desc()).get()
    assert (event.kind, event.actor_id, event.detail) == ("returned", depot.rep.id,
                                                          "Was routed to North")

    [message] = wait_for(lambda: push_service.delivered(desk))
    assert message.payload["title"] == "Back to the managers: Joe's Bakery"
    assert message.payload["path"] == "/leads/%d" % lead.id
    assert client.get("/leads/%d" % lead.id).status_code == 404
    gus = logged_in(app, depot.manager)
    page = gus.get("/leads/%d" % lead.id).get_data(as_text=True)
    assert "Unrouted — for the managers" in page and ">Acknowledge</button>" in page


@pytest.mark.parametrize("status, action, data, message", [
    ("new", "advance", {"to": "contacted"}, "Acknowledge this lead first."),
    ("new", "decline", {"reason": "duplicate"}, "Acknowledge this lead first."),
    ("acknowledged", "advance", {"to": "quoted"},
     "A lead that is acknowledged can't be marked quoted; the next step is contacted."),
    ("acknowledged", "advance", {"to": "won"},
     "A lead that is acknowledged can't be marked won; the next step is contacted."),
    ("contacted", "advance", {"to": "contacted"},
     "A lead that is contacted can't be marked contacted; the next step is quoted."),
    ("quoted", "advance", {"to": "contacted"},
     "A lead that is quoted can't be marked contacted; the next step is won or lost."),
    ("won", "advance", {"to": "lost"}, "This lead is closed (Won); nothing was changed."),
    ("won", "decline", {"reason": "duplicate"}, "This lead is closed (Won); nothing was changed."),
    ("lost", "advance", {"to": "won"}, "This lead is closed (Lost); nothing was changed."),
    ("declined", "advance", {"to": "contacted"},
     "This lead is closed (Declined); nothing was changed."),
    ("won", "reassign", {}, "This lead is closed (Won); there is nobody to hand it to."),
])
def test_illegal_steps_are_refused_and_change_nothing(client, auth, depot, status, action,
                                                      data, message):
    lead = lead_at(depot, status)
    if action == "reassign":
        data = {"rep": str(depot.rep_south.id)}
    auth.login(depot.manager)
    before = snapshot(lead)
    response = act(client, lead, action, expected=status, **data)
    assert response.status_code == 409
    assert message in unescape(response.get_data(as_text=True))
    assert snapshot(lead) == before


def test_illegal_steps_are_refused_by_the_model_too(depot):
    lead = lead_at(depot, "acknowledged")
    before = snapshot(lead)
    with pytest.raises(WorkflowError, match="the next step is contacted"):
        Lead.advance(lead.id, depot.rep, "won")
    with pytest.raises(WorkflowError, match="Pick one of the reasons"):
        Lead.decline(lead.id, depot.rep, "bored")
    with pytest.raises(NotAllowed):
        Lead.advance(lead.id, depot.backup, "contacted")
    with pytest.raises(NotAllowed):
        Lead.acknowledge(lead.id, depot.courier)
    assert snapshot(lead) == before


def test_a_second_tab_cannot_take_the_same_step_again(app, depot):
    lead = lead_at(depot, "acknowledged")
    tab1, tab2 = logged_in(app, depot.rep), logged_in(app, depot.rep)
    assert act(tab1, lead, "advance", to="contacted", expected="acknowledged").status_code == 302
    response = act(tab2, lead, "advance", to="contacted", expected="acknowledged")
    assert response.status_code == 409
    assert ("This lead changed meanwhile: it is contacted now and Dana has it. Nothing was changed."
            in unescape(response.get_data(as_text=True)))
    # Nor may a stale tab take a different step than the page it shows offered.
    response = act(tab2, lead, "decline", reason="duplicate", expected="acknowledged")
    assert response.status_code == 409
    assert kinds(lead) == ["created", "acknowledged", "contacted"]
    assert Lead.get_by_id(lead.id).status == "contacted"


def test_two_threads_taking_the_same_step_advance_the_lead_once(depot):
    lead = lead_at(depot, "acknowledged")
    start = threading.Barrier(8, timeout=30)

    def step(_):
        with db.connection_context():
            start.wait()
            try:
                return Lead.advance(lead.id, depot.rep, "contacted", expected="acknowledged")
            except WorkflowError:
                return None

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(step, range(8)))
    assert len([r for r in results if r is not None]) == 1
    assert kinds(lead) == ["created", "acknowledged", "contacted"]


def test_a_step_worked_out_from_a_stale_read_changes_nothing(depot):
    # However the timing falls, the update itself checks the status it was read with.
    lead = lead_at(depot, "acknowledged")
    stale = Lead.get_by_id(lead.id)
    Lead.advance(lead.id, depot.rep, "contacted")
    before = snapshot(lead)
    with pytest.raises(WorkflowError, match="changed meanwhile: it is contacted now"):
        stale._step(depot.rep, {"status": "contacted"}, "contacted")
    assert snapshot(lead) == before


# --- Notes, reassigning and kudos -------------------------------------------------

def test_any_rep_who_sees_the_lead_adds_notes_the_courier_never_sees(app, client, auth, depot):
    lead = lead_at(depot, "acknowledged")
    finn = logged_in(app, depot.backup)
    note = "  Spoke to Joe; wants rates for 40/wk.\nCall Tue.  "
    assert act(finn, lead, "notes", note=note).status_code == 302
    assert flashed(finn, lead) == ["Note added."]
    event = LeadEvent.select().order_by(LeadEvent.id.desc()).get()
    assert (event.kind, event.actor_id, event.detail) == (
        "note", depot.backup.id, "Spoke to Joe; wants rates for 40/wk.\nCall Tue.")
    assert "wants rates for 40/wk" in finn.get("/leads/%d" % lead.id).get_data(as_text=True)
    auth.login(depot.courier)
    page = client.get("/leads/%d" % lead.id).get_data(as_text=True)
    assert "wants rates" not in page and "Finn" not in page


@pytest.mark.parametrize("status, previous", [("new", "Nobody"), ("contacted", "Dana")])
def test_manager_reassigns_a_lead_to_another_rep(app, client, auth, depot, status, previous):
    lead = lead_at(depot, status)
    auth.login(depot.manager)
    response = act(client, lead, "reassign", rep=str(depot.rep_south.id))
    assert response.status_code == 302
    assert flashed(client, lead) == ["Eve has this lead now."]
    lead = Lead.get_by_id(lead.id)
    assert lead.assigned_rep_id == depot.rep_south.id
    assert lead.status == ("acknowledged" if status == "new" else status)
    assert lead.acknowledged_at is not None
    event = LeadEvent.select().order_by(LeadEvent.id.desc()).get()
    assert (event.kind, event.actor_id, event.detail) == (
        "assigned", depot.manager.id, "%s → Eve" % previous)
    # Eve now sees the lead (though it is not in her territory) and works it; Dana no more.
    eve = logged_in(app, depot.rep_south)
    to = "contacted" if lead.status == "acknowledged" else "quoted"
    assert act(eve, lead, "advance", to=to).status_code == 302
    dana = logged_in(app, depot.rep)
    assert act(dana, lead, "kudos", message="Thanks!").status_code == 403


def test_reassigning_to_the_rep_who_has_it_changes_nothing(client, auth, depot):
    lead = lead_at(depot, "contacted")
    auth.login(depot.manager)
    before = snapshot(lead)
    response = act(client, lead, "reassign", rep=str(depot.rep.id))
    assert response.status_code == 409
    assert "Dana already has this lead." in response.get_data(as_text=True)
    assert snapshot(lead) == before


def test_rep_thanks_the_courier_who_hears_it(app, client, auth, depot, worker):
    lead = lead_at(depot, "won")
    auth.login(depot.rep)
    response = act(client, lead, "kudos", message="Great spot, Ann — 40 parcels a week!")
    assert response.status_code == 302
    assert flashed(client, lead) == ["Your thanks are on their way to Ann."]
    event = LeadEvent.select().order_by(LeadEvent.id.desc()).get()
    assert (event.kind, event.actor_id, event.detail) == (
        "kudos", depot.rep.id, "Great spot, Ann — 40 parcels a week!")
    note = wait_for(lambda: Notification.get_or_none(Notification.kind == "kudos"))
    assert (note.user_id, note.title, note.body) == (
        depot.courier.id, "Dana says thanks!", "Great spot, Ann — 40 parcels a week!")
    ann = logged_in(app, depot.courier)
    page = ann.get("/leads/%d" % lead.id).get_data(as_text=True)
    assert "Dana says thanks: “Great spot, Ann — 40 parcels a week!”" in page


# --- Who may do what ------------------------------------------------------------

@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_couriers_may_not_post_any_workflow_action(client, auth, depot, action):
    lead = lead_at(depot, "acknowledged")
    data = dict(ACTIONS[action], rep=str(depot.rep_south.id))
    for courier in (depot.courier, depot.courier2):   # their own lead, and another's
        auth.login(courier)
        before = snapshot(lead)
        assert act(client, lead, action, **data).status_code == 403
        assert snapshot(lead) == before
        auth.logout()


@pytest.mark.parametrize("action", sorted(set(ACTIONS) - {"reassign"}))
@pytest.mark.parametrize("status", ["new", "acknowledged"])
def test_reps_of_another_territory_do_not_even_find_the_lead(client, auth, depot, action, status):
    lead = lead_at(depot, status)
    auth.login(depot.rep_south)
    before = snapshot(lead)
    response = act(client, lead, action, **ACTIONS[action])
    assert response.status_code == 404
    assert b"Joe" not in response.data
    assert snapshot(lead) == before


@pytest.mark.parametrize("action", ["advance", "decline", "kudos"])
def test_only_the_rep_who_has_the_lead_or_a_manager_moves_it_on(app, depot, action):
    lead = lead_at(depot, "acknowledged")
    finn = logged_in(app, depot.backup)
    before = snapshot(lead)
    response = act(finn, lead, action, expected="acknowledged", **ACTIONS[action])
    assert response.status_code == 403
    assert ("Only Dana, who has this lead, or a manager can do that."
            in response.get_data(as_text=True))
    assert snapshot(lead) == before
    gus = logged_in(app, depot.manager)
    assert act(gus, lead, action, expected="acknowledged", **ACTIONS[action]).status_code == 302
    assert kinds(lead)[-1] == {"advance": "contacted", "decline": "declined",
                               "kudos": "kudos"}[action]


def test_reps_may_not_reassign(client, auth, depot):
    lead = lead_at(depot, "acknowledged")
    auth.login(depot.rep)
    before = snapshot(lead)
    assert act(client, lead, "reassign", rep=str(depot.backup.id)).status_code == 403
    assert snapshot(lead) == before


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_workflow_forms_without_csrf_token_are_refused(client, auth, depot, action):
    lead = lead_at(depot, "acknowledged")
    auth.login(depot.manager)
    before = snapshot(lead)
    data = dict(ACTIONS[action], rep=str(depot.rep_south.id))
    response = act(client, lead, action, token=False, **data)
    assert response.status_code == 400
    assert "The form expired or came from another site" in response.get_data(as_text=True)
    assert snapshot(lead) == before


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_anonymous_posts_are_sent_to_login(client, depot, action):
    lead = lead_at(depot, "new")
    response = act(client, lead, action, **ACTIONS[action])
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert Lead.get_by_id(lead.id).status == "new"


# --- Bad input: explained next to its field, nothing stored ----------------------

@pytest.mark.parametrize("action, data, field, message", [
    ("notes", {"note": "x" * 1001}, "note", "At most 1000 characters."),
    ("notes", {"note": "   "}, "note", "Write the note first."),
    ("notes", {"note": "bell\x07"}, "note", "Remove the special (control) characters."),
    ("advance", {"to": "won", "weekly_volume": "-1"}, "weekly_volume",
     "Between 0 and 1,000,000 parcels."),
    ("advance", {"to": "won", "weekly_volume": "abc"}, "weekly_volume", "Must be a whole number."),
    ("advance", {"to": "won", "weekly_volume": "1.5"}, "weekly_volume", "Must be a whole number."),
    ("advance", {"to": "won", "weekly_volume": "9" * 30}, "weekly_volume",
     "Between 0 and 1,000,000 parcels."),
    ("advance", {"to": "won", "weekly_value": "1e999"}, "weekly_value",
     "Between 0 and 10,000,000."),
    ("advance", {"to": "won", "weekly_value": "NaN"}, "weekly_value", "Between 0 and 10,000,000."),
    ("advance", {"to": "won", "weekly_value": "-Infinity"}, "weekly_value",
     "Between 0 and 10,000,000."),
    ("advance", {"to": "won", "weekly_value": "-0.01"}, "weekly_value",
     "Between 0 and 10,000,000."),
    ("advance", {"to": "won", "weekly_value": "12.345"}, "weekly_value",
     "At most 2 decimals, e.g. 1200.50."),
    ("advance", {"to": "won", "weekly_value": "1,200"}, "weekly_value",
     "Must be a number, e.g. 1200.50."),
    ("decline", {"reason": "bored"}, "reason", "Pick one of the reasons."),
    ("decline", {"reason": ""}, "reason", "Pick one of the reasons."),
    ("kudos", {"message": ""}, "message", "Write a short thank-you first."),
    ("kudos", {"message": "x" * 281}, "message", "At most 280 characters."),
    ("reassign", {"rep": "999999"}, "rep", "Choose one of the reps."),
    ("reassign", {"rep": "courier"}, "rep", "Choose one of the reps."),
    ("reassign", {"rep": "inactive"}, "rep", "Choose one of the reps."),
    ("reassign", {"rep": "abc"}, "rep", "Choose one of the reps."),
])
def test_bad_input_is_explained_next_to_its_field_and_nothing_is_stored(
        client, auth, depot, action, data, field, message):
    lead = lead_at(depot, "quoted")
    if data.get("rep") == "courier":
        data = {"rep": str(depot.courier.id)}
    elif data.get("rep") == "inactive":
        data = {"rep": str(make_user("rep", territory=depot.north).id)}
        User.update(active=False).where(User.id == int(data["rep"])).execute()
    auth.login(depot.manager if action == "reassign" else depot.rep)
    before = snapshot(lead)
    response = act(client, lead, action, expected="quoted", **data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error_of(html, field) == message
    assert "Nothing was saved." in html
    assert snapshot(lead) == before


def test_what_was_typed_is_kept_when_a_form_comes_back(client, auth, depot):
    lead = lead_at(depot, "quoted")
    auth.login(depot.rep)
    response = act(client, lead, "advance", to="won", expected="quoted",
                   weekly_volume="40", weekly_value="12.345")
    html = response.get_data(as_text=True)
    assert re.search(r'name="weekly_volume"[^>]*value="40"', html)
    assert re.search(r'name="weekly_value"[^>]*value="12.345"', html)


@pytest.mark.parametrize("to", ["", "promoted"])
def test_an_unknown_step_is_explained(client, auth, depot, to):
    lead = lead_at(depot, "acknowledged")
    auth.login(depot.rep)
    before = snapshot(lead)
    response = act(client, lead, "advance", to=to, expected="acknowledged")
    assert response.status_code == 422
    assert re.search(r"<li>(Choose a step|Choose one of the steps)\.</li>",
                     response.get_data(as_text=True))
    assert snapshot(lead) == before


@pytest.mark.parametrize("action, data", [
    ("notes", {"note": "x" * 1000}),
    ("kudos", {"message": "x" * 280}),
    ("advance", {"to": "won", "weekly_volume": "1000000", "weekly_value": "10000000"}),
    ("advance", {"to": "won", "weekly_volume": "0", "weekly_value": "0"}),
])
def test_input_at_its_limits_is_accepted(client, auth, depot, action, data):
    lead = lead_at(depot, "quoted")
    auth.login(depot.rep)
    assert act(client, lead, action, expected="quoted", **data).status_code == 302
    lead = Lead.get_by_id(lead.id)
    if action == "advance":
        assert (lead.weekly_volume, lead.weekly_value) == (
            int(data["weekly_volume"]), Decimal(data["weekly_value"]))


# --- The pages ----------------------------------------------------------------

def test_a_new_lead_offers_the_rep_one_big_acknowledge_button_call_and_map(client, auth, depot):
    lead = new_lead(depot.courier, lat=51.5074, lng=-0.1278)
    auth.login(depot.rep)
    html = client.get("/leads/%d" % lead.id).get_data(as_text=True)
    assert html.count('class="primary big">Acknowledge</button>') == 1
    assert '<a class="button big" href="tel:+442079460000">Call Joe</a>' in html
    assert ('href="https://www.openstreetmap.org/?mlat=51.50740&amp;mlon=-0.12780'
            '#map=18/51.50740/-0.12780"' in html)
    assert "Nobody has picked it up yet" in html
    assert 'value="contacted"' not in html and "Send thanks" not in html


def test_without_a_position_the_map_searches_the_address(client, auth, depot):
    lead = new_lead(depot.courier)
    auth.login(depot.rep)
    html = client.get("/leads/%d" % lead.id).get_data(as_text=True)
    assert 'href="https://www.openstreetmap.org/search?query=1+High+St+AB1+2CD"' in html


@pytest.mark.parametrize("status, buttons", [
    ("acknowledged", ["contacted"]),
    ("contacted", ["quoted"]),
    ("quoted", ["won", "lost"]),
    ("won", []),
])
def test_the_rep_who_has_the_lead_sees_its_next_steps(client, auth, depot, status, buttons):
    lead = lead_at(depot, status)
    auth.login(depot.rep)
    html = client.get("/leads/%d" % lead.id).get_data(as_text=True)
    assert re.findall(r'<button type="submit" name="to" value="(\w+)"', html) == buttons
    assert ("Decline this lead" in html) == bool(buttons)
    assert "Send thanks" in html and "Add note" in html
    assert ">Acknowledge</button>" not in html and "Reassign" not in html
    assert "Dana has it" in html


def test_other_reps_of_the_territory_see_who_has_it_but_no_steps(client, auth, depot):
    lead = lead_at(depot, "contacted")
    auth.login(depot.backup)
    html = client.get("/leads/%d" % lead.id).get_data(as_text=True)
    assert "Dana has it" in html and "Add note" in html
    assert 'name="to"' not in html and "Send thanks" not in html and ">Acknowledge<" not in html


def test_managers_get_a_reassign_choice_of_active_reps(client, auth, depot):
    zed = make_user("rep", name="Zed")
    User.update(active=False).where(User.id == zed.id).execute()
    lead = lead_at(depot, "contacted")
    auth.login(depot.manager)
    html = client.get("/leads/%d" % lead.id).get_data(as_text=True)
    select = re.search(r'<select[^>]*name="rep".*?</select>', html, re.S).group(0)
    assert re.findall(r"<option[^>]*>([^<]*)</option>", select) == [
        "Choose a rep…", "Dana", "Eve", "Finn"]


def test_the_timeline_shows_every_step_with_its_actor_and_notes(client, auth, depot):
    lead = lead_at(depot, "contacted")
    Lead.add_note(lead.id, depot.backup, "Joe is away till Friday")
    Lead.reassign(lead.id, depot.manager, depot.rep_south)
    auth.login(depot.manager)
    html = unescape(client.get("/leads/%d" % lead.id).get_data(as_text=True))
    items = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", item)).strip()
             for item in re.findall(r"<li class=\"event-\w+\">(.*?)</li>", html, re.S)]
    assert [re.sub(r"^\d\d \w{3} \d\d:\d\d ", "", item) for item in items] == [
        "Lead sent · Ann", "Acknowledged · Dana", "Contacted · Dana",
        "Note · Finn Joe is away till Friday", "Reassigned · Gus — Dana → Eve"]


def test_the_courier_reads_a_friendly_timeline_without_notes(client, auth, depot):
    lead = lead_at(depot, "quoted")
    Lead.add_note(lead.id, depot.rep, "Internal: margin is thin")
    Lead.advance(lead.id, depot.rep, "won", weekly_volume=40)
    Lead.thank_courier(lead.id, depot.rep, "Brilliant spot!")
    auth.login(depot.courier)
    html = unescape(client.get("/leads/%d" % lead.id).get_data(as_text=True))
    items = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", item)).strip()
             for item in re.findall(r"<li class=\"event-\w+\">(.*?)</li>", html, re.S)]
    assert [re.sub(r"^\d\d \w{3} \d\d:\d\d ", "", item) for item in items] == [
        "You sent this lead. Thank you!", "Dana picked up your lead",
        "Dana got in touch with the customer", "Quote sent", "Won! 🎉 40 parcels a week.",
        "Dana says thanks: “Brilliant spot!”"]
    assert "margin" not in html and "<form method=\"post\" action=\"/leads/" not in html
    assert "Dana has your lead" in html


def test_lists_say_who_has_each_lead_and_reps_which_were_escalated(app, client, auth, depot):
    lead_at(depot, "acknowledged", business_name="Taken")
    waiting = new_lead(depot.courier, business_name="Waiting")
    Lead.update(escalated_at=waiting.created_at).where(Lead.id == waiting.id).execute()
    auth.login(depot.rep)
    html = client.get("/leads").get_data(as_text=True)
    cards = {re.search(r'class="title">(\w+)<', card).group(1): card
             for card in re.findall(r'<li class="card.*?</li>', html, re.S)}
    assert "Dana has it" in cards["Taken"] and "Escalated" not in cards["Taken"]
    assert "Nobody has picked it up yet" in cards["Waiting"]
    assert '<span class="marker escalated">Escalated</span>' in cards["Waiting"]
    ann = logged_in(app, depot.courier)
    mine = ann.get("/my-leads").get_data(as_text=True)
    assert "Dana has your lead" in mine and "Waiting for a rep to pick it up" in mine
    # "Escalated" is the depot's word; the courier's lead is just waiting for a rep.
    assert "marker escalated" not in mine and "Escalated" not in mine


def test_lead_page_works_without_javascript(client, auth, depot):
    lead = lead_at(depot, "quoted")
    auth.login(depot.manager)
    response = client.get("/leads/%d" % lead.id)
    html = response.get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "no inline scripts"
    assert not re.search(r"<[^>]+\son[a-z]+=", html), "no inline event handlers"
    forms = re.findall(r"<form[^>]*>.*?</form>", html, re.S)
    actions = {re.search(r'action="([^"]+)"', f).group(1).rsplit("/", 1)[1] for f in forms
               if "/leads/%d/" % lead.id in f}
    assert actions == {"advance", "decline", "notes", "kudos", "reassign"}
    for form in forms:
        if "/leads/%d/" % lead.id in form:
            assert 'method="post"' in form and 'name="csrf_token"' in form


# --- Urgency where the rep works: deadlines, lists, badges -------------------------

def sent_ago(lead, minutes):
    """Make the lead look as if it was sent `minutes` ago."""
    Lead.update(created_at=utcnow() - timedelta(minutes=minutes)).where(Lead.id == lead.id).execute()
    return Lead.get_by_id(lead.id)


def card_of(html, business_name):
    for card in re.findall(r'<li class="card.*?</li>', html, re.S):
        if '<span class="title">%s</span>' % business_name in card:
            return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", card)).strip()
    raise AssertionError("no card for %s" % business_name)


def test_rep_sees_due_in_and_overdue_by_the_rule_escalation_uses(app, client, auth, depot):
    Setting.write("deadline_hot_minutes", 30)  # the managers' setting, not the default
    soon = sent_ago(new_lead(depot.courier, business_name="Soon", temperature="hot"), 18.5)
    late = sent_ago(new_lead(depot.courier, business_name="Late", temperature="hot"), 95.5)
    sent_ago(new_lead(depot.courier, business_name="Warm", temperature="warm"), 95.5)
    taken = sent_ago(lead_at(depot, "acknowledged", business_name="Taken"), 95)
    with app.app_context():
        escalate_overdue()
    escalated = {lead.business_name for lead in Lead.select().where(Lead.escalated_at.is_null(False))}
    assert escalated == {"Late"}
    auth.login(depot.rep)

    html = client.get("/leads").get_data(as_text=True)

    # Half minutes, so that the words hold for the 30 s the test may take.
    assert "due in 11 min" in card_of(html, "Soon")
    assert "overdue by 1 h 5 min" in card_of(html, "Late")
    assert "due in 2 h 24 min" in card_of(html, "Warm")
    assert "due in" not in card_of(html, "Taken") and "overdue" not in card_of(html, "Taken")
    page = client.get("/leads/%d" % late.id).get_data(as_text=True)
    assert '<span class="due late">overdue by 1 h 5 min</span>' in page
    page = client.get("/leads/%d" % soon.id).get_data(as_text=True)
    assert '<span class="due">due in 11 min</span>' in page
    assert "due in" not in client.get("/leads/%d" % taken.id).get_data(as_text=True)


def test_status_and_temperature_are_two_badges(client, auth, depot):
    lead = new_lead(depot.courier, business_name="Corner", temperature="hot")
    auth.login(depot.rep)

    card = re.search(r'<li class="card.*?</li>', client.get("/leads").get_data(as_text=True),
                     re.S).group(0)
    page = client.get("/leads/%d" % lead.id).get_data(as_text=True)

    assert re.findall(r'<span class="pill (\w+)[^"]*">(.*?)</span>', card) == [
        ("status", "New"), ("temp", "Hot")]
    assert re.findall(r'<span class="pill (\w+)[^"]*">(.*?)</span>', page) == [
        ("status", "New"), ("temp", "Hot — wants a call today")]


@pytest.mark.parametrize("show, shown", [
    ("all", {"Mine", "Theirs", "Waiting"}), ("mine", {"Mine"}), ("waiting", {"Waiting"})])
def test_rep_lists_all_theirs_or_not_picked_up(client, auth, depot, show, shown):
    lead_at(depot, "contacted", business_name="Mine")
    theirs = new_lead(depot.courier, business_name="Theirs")
    Lead.acknowledge(theirs.id, depot.backup)
    new_lead(depot.courier, business_name="Waiting")
    new_lead(depot.courier2, business_name="South")  # Eve's territory: never Dana's
    auth.login(depot.rep)

    response = client.get("/leads?show=%s" % show)

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert set(re.findall(r'<span class="title">(\w+)</span>', html)) == shown
    current = re.findall(r'<a href="([^"]*)" aria-current="page">', html)
    assert current == ["/leads" if show == "all" else "/leads?show=%s" % show]


@pytest.mark.parametrize("show", ["", "MINE", "nobody", "mine ", "<b>x</b>", "x" * 500])
def test_an_unknown_list_is_a_clear_400(client, auth, depot, show):
    new_lead(depot.courier, business_name="Waiting")
    auth.login(depot.rep)

    response = client.get("/leads", query_string={"show": show})

    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Choose All, Mine or Not picked up." in html
    assert "<b>x</b>" not in html and "x" * 41 not in html
    assert "Waiting" not in html and 'href="/leads?show=mine"' in html


def test_the_lists_pages_keep_their_filter(client, auth, depot):
    for n in range(30):
        new_lead(depot.courier, business_name="Shop%02d" % n)
    auth.login(depot.rep)

    html = client.get("/leads?show=waiting").get_data(as_text=True)
    older = re.search(r'href="(/leads\?[^"]*before=\d+[^"]*)"', html).group(1)

    assert "show=waiting" in unescape(older)
    html = client.get(unescape(older)).get_data(as_text=True)
    assert len(re.findall(r'<span class="title">Shop\d\d</span>', html)) == 5


def test_the_optional_boxes_do_not_say_required(client, auth, depot):
    lead = lead_at(depot, "acknowledged")
    auth.login(depot.rep)

    html = client.get("/leads/%d" % lead.id).get_data(as_text=True)

    assert "Add a note" in html and "Thank the courier" in html
    assert "(required)" not in html
    response = act(client, lead, "notes", note="  ")
    assert error_of(response.get_data(as_text=True), "note") == "Write the note first."


# --- What couriers see ----------------------------------------------------------------

@pytest.mark.parametrize("status, word", [("new", "Sent"), ("acknowledged", "Picked up"),
                                          ("won", "Won"), ("lost", "Not this time"),
                                          ("declined", "Closed")])
def test_couriers_see_their_own_words_and_no_stale_temperature(app, depot, status, word):
    lead = lead_at(depot, status, business_name="Corner", temperature="hot")
    Lead.update(escalated_at=utcnow()).where(Lead.id == lead.id).execute()
    ann = logged_in(app, depot.courier)

    for path in ("/my-leads", "/leads/%d" % lead.id):
        html = ann.get(path).get_data(as_text=True)
        badges = re.findall(r'<span class="pill [^"]*">(.*?)</span>', html)
        closed = status in ("won", "lost", "declined")
        assert badges == ([word] if closed else [word, "Hot" if path == "/my-leads"
                                                 else "Hot — wants a call today"]), path
        for internal in ("Escalated", "escalated", "overdue", "due in", "Acknowledged"):
            assert internal not in html.split("<main>")[1], (path, internal)


# --- When the courier saw it ------------------------------------------------------


def seen_minutes_before_arrival(lead, minutes):
    Lead.update(captured_at=lead.created_at - timedelta(minutes=minutes)).where(
        Lead.id == lead.id).execute()


def test_a_lead_that_waited_on_the_phone_shows_when_it_was_seen_and_when_it_arrived(
        client, auth, depot):
    lead = new_lead(depot.courier)
    seen_minutes_before_arrival(lead, 40)

    auth.login(depot.rep)
    staff = unescape(client.get("/leads/%d" % lead.id).get_data(as_text=True))
    auth.logout()
    auth.login(depot.courier)
    courier = unescape(client.get("/leads/%d" % lead.id).get_data(as_text=True))

    assert "<dt>Seen</dt>" in staff and "<dt>Arrived</dt>" in staff
    assert "seen on the route at" in staff
    assert "You saw it at" in courier and "when the signal came back" in courier


@pytest.mark.parametrize("minutes", [None, 0.5])
def test_a_lead_sent_at_once_shows_one_time(client, auth, depot, minutes):
    lead = new_lead(depot.courier)
    if minutes is not None:
        seen_minutes_before_arrival(lead, minutes)

    auth.login(depot.rep)
    staff = client.get("/leads/%d" % lead.id).get_data(as_text=True)

    assert "<dt>Sent</dt>" in staff
    assert "<dt>Seen</dt>" not in staff and "seen on the route" not in staff
