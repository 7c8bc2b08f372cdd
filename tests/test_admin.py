"""Running the depot: users and invites, territories, routes, deadlines, CSV
import and the audit log — for managers only."""
import hashlib
import html
import io
import json
import re
import time
import uuid
from datetime import timedelta

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from app import notify
from app.models import (AuditEntry, Invite, Lead, PostcodePrefix, PushSubscription, Route,
                        Setting, Territory, TerritoryRep, User, utcnow)
from conftest import Auth, csrf_token, make_user

DOMAIN = "touchpoint-depot.example"
NEW_PASSWORD = "a long new password"


class Manager:
    """A logged-in manager's browser: GETs, and POSTs carrying the CSRF token."""

    def __init__(self, client, user):
        Auth(client).login(user)
        self.client, self.user = client, user
        self.token = csrf_token(client, "/admin/")

    def get(self, path, **kwargs):
        return self.client.get(path, **kwargs)

    def post(self, path, data=None, **kwargs):
        return self.client.post(path, data=dict(data or {}, csrf_token=self.token), **kwargs)


@pytest.fixture
def admin(client, depot):
    return Manager(client, depot.manager)


def page(response):
    """A response's text with HTML entities resolved, to look for messages in."""
    return html.unescape(response.get_data(as_text=True))


def actions():
    """The audit log's actions, oldest first."""
    return [e.action for e in AuditEntry.select().order_by(AuditEntry.id)]


def last_audit(action):
    entry = (AuditEntry.select().where(AuditEntry.action == action)
             .order_by(AuditEntry.id.desc()).first())
    return entry, json.loads(entry.detail)


def user_form(**overrides):
    data = {"name": "Hana Driver", "email": "hana@" + DOMAIN, "phone": "+44 20 7946 0001",
            "role": "courier", "route": "", "invite": "y"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def invite_token(response):
    """The token of the invite link a page shows."""
    return re.search(r"/invite/([A-Za-z0-9_-]+)", page(response)).group(1)


# --- Who may come in -----------------------------------------------------------------


def depot_requests(app, depot):
    """Every (method, path) under /admin, with real ids in the paths."""
    ids = {"user_id": depot.courier.id, "territory_id": depot.north.id, "route_id": depot.r1.id,
           "rep_id": depot.rep.id, "prefix_id": PostcodePrefix.get(prefix="AB").id}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin"):
            continue
        path = rule.rule
        for name, value in ids.items():
            path = path.replace("<int:%s>" % name, str(value))
        for method in sorted(rule.methods & {"GET", "POST"}):
            yield method, path


@pytest.mark.parametrize("role", ["courier", "rep"])
def test_every_depot_page_and_post_is_403_for_couriers_and_reps(app, client, depot, role):
    user = depot.courier if role == "courier" else depot.rep
    Auth(client).login(user)
    token = csrf_token(client, "/account/password")
    requests = list(depot_requests(app, depot))
    assert len(requests) >= 25
    for method, path in requests:
        response = client.open(path, method=method, data={"csrf_token": token, "name": "X"})
        assert response.status_code == 403, (method, path)
    assert AuditEntry.select().count() == 0
    assert Territory.get_by_id(depot.north.id).name == "North"


def test_depot_pages_send_visitors_to_login(client, depot):
    for path in ("/admin/", "/admin/users/", "/admin/audit/", "/admin/import/"):
        assert client.get(path).headers["Location"].startswith("/login"), path


def test_manager_opens_every_depot_page(app, admin, depot):
    for method, path in depot_requests(app, depot):
        if method == "GET":
            response = admin.get(path)
            assert response.status_code == 200, path
            assert "style=" not in page(response) and "<script>" not in page(response), path


@pytest.mark.parametrize("role, shown", [("manager", True), ("rep", False), ("courier", False)])
def test_account_page_links_managers_to_admin(client, role, shown):
    Auth(client).login(make_user(role))
    assert ('href="/admin/"' in page(client.get("/account"))) is shown


# --- Users ---------------------------------------------------------------------------


def test_manager_adds_a_courier_and_sees_the_invite_link_once(admin, depot):
    response = admin.post("/admin/users/new", user_form(route=str(depot.r1.id)))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    user = User.by_email("hana@" + DOMAIN)
    assert (user.name, user.role, user.route_id, user.password_hash) == (
        "Hana Driver", "courier", depot.r1.id, "")
    assert Invite.usable(invite_token(response)).user_id == user.id
    assert actions() == ["user.create", "user.invite"]
    entry, detail = last_audit("user.create")
    assert entry.actor_id == depot.manager.id and entry.subject == user.email
    assert detail["route"] == ["", "R1"] and detail["role"] == ["", "courier"]


def test_manager_adds_a_rep_to_territories_without_an_invite(admin, depot):
    response = admin.post("/admin/users/new", user_form(
        role="rep", invite=None, **{"territory_%d" % depot.north.id: "backup",
                                    "territory_%d" % depot.south.id: "primary"}))
    user = User.by_email("hana@" + DOMAIN)
    assert response.headers["Location"] == "/admin/users/%d" % user.id
    memberships = {m.territory_id: m.membership for m in user.memberships}
    assert memberships == {depot.north.id: "backup", depot.south.id: "primary"}
    assert Invite.select().count() == 0
    assert last_audit("user.create")[1]["territories"] == ["", "North (backup), South (primary)"]


@pytest.mark.parametrize("overrides, field, message", [
    ({"name": ""}, "name", "Required."),
    ({"name": "x" * 101}, "name", "At most 100 characters."),
    ({"name": "Hana\x00"}, "name", "Remove the special (control) characters."),
    ({"email": ""}, "email", "Required."),
    ({"email": "not-an-email"}, "email", "That doesn't look like an email address."),
    ({"email": "GUS@" + DOMAIN.upper()}, "email", "Already used by Gus Boss."),
    ({"phone": "call me"}, "phone", "Use digits, spaces and + ( ) - only"),
    ({"role": None}, "role", "Required."),
    ({"role": "boss"}, "role", "Must be courier, rep or manager."),
    ({"role": "rep", "route": "R1"}, "route", "Only couriers have a route"),
    ({"route": "999999"}, "route", "Not a valid choice."),
    ({"territory": "primary"}, "territory", "Only reps belong to territories"),
])
def test_adding_a_user_with_bad_input_is_explained_next_to_the_field(admin, depot, overrides,
                                                                      field, message):
    make_user("manager", "gus@" + DOMAIN, "Gus Boss")
    if overrides.get("route") == "R1":
        overrides["route"] = str(depot.r1.id)
    if "territory" in overrides:
        overrides["territory_%d" % depot.north.id] = overrides.pop("territory")
    before = User.select().count()
    response = admin.post("/admin/users/new", user_form(**overrides))
    assert response.status_code == 422
    text = page(response)
    error = re.search(r'id="(%s[^"]*)-error">([^<]*)<' % field, text)
    assert error and message in error.group(2), text
    kept = "call me" if field == "phone" else "+44 20 7946 0001"
    assert 'value="%s"' % kept in text
    assert User.select().count() == before and AuditEntry.select().count() == 0


def test_editing_a_user_changes_role_and_territories_and_records_what_changed(admin, depot):
    response = admin.post("/admin/users/%d" % depot.courier.id, {
        "name": "Ann Seller", "email": depot.courier.email, "phone": "", "role": "rep",
        "route": "", "territory_%d" % depot.south.id: "primary"})
    assert response.status_code == 302
    ann = User.get_by_id(depot.courier.id)
    assert (ann.name, ann.role, ann.route_id) == ("Ann Seller", "rep", None)
    assert ann.territory_ids() == [depot.south.id]
    entry, detail = last_audit("user.update")
    assert detail == {"name": ["Ann", "Ann Seller"], "role": ["courier", "rep"],
                      "route": ["R1", ""], "territories": ["", "South (primary)"]}
    assert entry.subject == "ann@depot.test"


def test_editing_a_rep_into_a_courier_needs_their_territories_cleared(admin, depot):
    data = {"name": "Dana", "email": depot.rep.email, "role": "courier", "route": "",
            "territory_%d" % depot.north.id: "primary"}
    response = admin.post("/admin/users/%d" % depot.rep.id, data)
    assert response.status_code == 422
    assert "Only reps belong to territories" in page(response)
    data["territory_%d" % depot.north.id] = ""
    assert admin.post("/admin/users/%d" % depot.rep.id, data).status_code == 302
    assert TerritoryRep.select().where(TerritoryRep.rep == depot.rep).count() == 0


def test_saving_an_unchanged_user_records_nothing(admin, depot):
    data = {"name": "Ann", "email": depot.courier.email, "role": "courier",
            "route": str(depot.r1.id)}
    assert admin.post("/admin/users/%d" % depot.courier.id, data).status_code == 302
    assert AuditEntry.select().count() == 0


def test_email_is_unique_ignoring_case_when_editing(admin, depot):
    other = make_user("courier", "zoe@" + DOMAIN, "Zoe")
    response = admin.post("/admin/users/%d" % other.id, {
        "name": "Zoe", "email": "Gus@Depot.Test", "role": "courier"})
    assert response.status_code == 422
    assert "Already used by Gus." in page(response)


def test_a_manager_cannot_change_their_own_role_or_deactivate_themselves(admin, depot):
    me = depot.manager
    response = admin.post("/admin/users/%d" % me.id, {"name": me.name, "email": me.email,
                                                       "role": "courier"})
    assert response.status_code == 422
    assert "You can't change your own role" in page(response)
    response = admin.post("/admin/users/%d/deactivate" % me.id)
    assert response.status_code == 409
    assert "You can't deactivate yourself" in page(response)
    assert User.get_by_id(me.id).active and User.get_by_id(me.id).role == "manager"


def test_deactivating_ends_sessions_removes_devices_and_blocks_login(app, admin, depot):
    phone = Auth(app.test_client())
    phone.login(depot.courier)
    assert phone.client.get("/my-leads").status_code == 200
    for n in range(2):
        PushSubscription.create(user=depot.courier, endpoint="https://fcm.googleapis.com/%d" % n,
                                p256dh="p", auth="a")
    _, token = Invite.issue(depot.courier)
    response = admin.post("/admin/users/%d/deactivate" % depot.courier.id, follow_redirects=True)
    assert "logged out everywhere, and 2 devices will get no more alerts" in page(response)
    assert phone.client.get("/my-leads").headers["Location"].startswith("/login")
    assert PushSubscription.select().where(PushSubscription.user == depot.courier).count() == 0
    assert phone.login(depot.courier).status_code == 401
    assert Invite.usable(token) is None
    assert last_audit("user.deactivate")[1] == {"devices_removed": 2, "tokens_revoked": 0}
    assert PushSubscription.select().count() == 0


def test_reactivated_user_logs_in_again(app, admin, depot):
    admin.post("/admin/users/%d/deactivate" % depot.courier.id)
    response = admin.post("/admin/users/%d/reactivate" % depot.courier.id)
    assert response.status_code == 302
    assert Auth(app.test_client()).login(depot.courier).status_code == 302
    assert actions() == ["user.deactivate", "user.reactivate"]


@pytest.mark.parametrize("query, expected", [
    ({}, {"Ann", "Bob", "Cat", "Dana", "Eve", "Finn", "Gus"}),
    ({"q": "an"}, {"Ann", "Dana"}),
    ({"q": "EVE@DEPOT"}, {"Eve"}),
    ({"role": "rep"}, {"Dana", "Eve", "Finn"}),
    ({"role": "courier", "q": "b"}, {"Bob"}),
    ({"status": "deactivated"}, {"Cat"}),
    ({"status": "active", "role": "courier"}, {"Ann", "Bob"}),
    ({"q": "nobody"}, set()),
    ({"q": "%"}, set()),
    ({"q": "\x00"}, {"Ann", "Bob", "Cat", "Dana", "Eve", "Finn", "Gus"}),
    ({"role": "wizard", "status": "maybe"}, {"Ann", "Bob", "Cat", "Dana", "Eve", "Finn", "Gus"}),
])
def test_users_list_searches_and_filters(admin, depot, query, expected):
    User.update(active=False).where(User.id == depot.rover.id).execute()
    response = admin.get("/admin/users/", query_string=query)
    assert response.status_code == 200
    names = set(re.findall(r'<span class="title">([^<]+)</span>', page(response)))
    assert names == expected


def test_users_list_pages_through_everyone_once(admin, depot):
    for n in range(60):
        make_user("courier", "c%02d@%s" % (n, DOMAIN), "Courier %02d" % (n % 7))
    seen, url = [], "/admin/users/?role=courier"
    while url:
        text = page(admin.get(url))
        seen += re.findall(r'href="/admin/users/(\d+)"', text)
        more = re.search(r'href="(/admin/users/\?[^"]*after=[^"]*)"', text)
        url = more.group(1) if more else None
    assert len(seen) == len(set(seen)) == 63


# --- Invites -------------------------------------------------------------------------


def invite(admin, user):
    return invite_token(admin.post("/admin/users/%d/invite" % user.id))


def test_invite_link_sets_the_password_logs_in_and_works_once(app, admin, depot):
    newcomer = make_user("courier", "ivy@" + DOMAIN, "Ivy", password="unused password")
    token = invite(admin, newcomer)
    visitor = app.test_client()
    form = visitor.get("/invite/" + token)
    assert form.status_code == 200 and "Welcome, Ivy" in page(form)
    assert form.headers["Cache-Control"] == "no-store"
    response = visitor.post("/invite/" + token, data={
        "new": NEW_PASSWORD, "confirm": NEW_PASSWORD,
        "csrf_token": csrf_token(visitor, "/invite/" + token)})
    assert response.headers["Location"] == "/leads/new"
    assert visitor.get("/my-leads").status_code == 200
    assert Auth(app.test_client()).login(newcomer, NEW_PASSWORD).status_code == 302
    again = app.test_client().get("/invite/" + token)
    assert again.status_code == 410 and "already been used" in page(again)
    entry, _ = last_audit("invite.accept")
    assert entry.actor_id == newcomer.id


def test_invite_link_expires(app, admin, depot):
    token = invite(admin, depot.courier)
    Invite.update(expires_at=utcnow() - timedelta(seconds=1)).execute()
    response = app.test_client().get("/invite/" + token)
    assert response.status_code == 410 and "has expired" in page(response)


def test_a_new_invite_link_replaces_the_old_one(app, admin, depot):
    old, new = invite(admin, depot.courier), invite(admin, depot.courier)
    assert app.test_client().get("/invite/" + old).status_code == 410
    assert app.test_client().get("/invite/" + new).status_code == 200


@pytest.mark.parametrize("token", ["not-a-token", "x" * 500, "%00"])
def test_a_wrong_invite_token_is_a_clear_404(client, depot, token):
    response = client.get("/invite/" + token)
    assert response.status_code == 404
    assert "This invite link is not valid" in page(response)
    response = client.post("/invite/" + token, data={
        "new": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": csrf_token(client)})
    assert response.status_code == 404


def test_invite_of_a_deactivated_user_cannot_be_used(app, admin, depot):
    _, token = Invite.issue(depot.courier)
    User.update(active=False).where(User.id == depot.courier.id).execute()
    response = app.test_client().get("/invite/" + token)
    assert response.status_code == 410 and "deactivated" in page(response)
    response = admin.post("/admin/users/%d/invite" % depot.courier.id)
    assert response.status_code == 409 and "Reactivate Ann" in page(response)


@pytest.mark.parametrize("new, confirm, message", [
    ("short", "short", "Use 10 to 200 characters."),
    (NEW_PASSWORD, NEW_PASSWORD + "!", "The two new passwords differ."),
    ("", "", "This field is required."),
    ("x" * 201, "x" * 201, "Use 10 to 200 characters."),
])
def test_invite_password_bad_input_keeps_the_link_usable(app, admin, depot, new, confirm,
                                                          message):
    token = invite(admin, depot.courier)
    visitor = app.test_client()
    response = visitor.post("/invite/" + token, data={
        "new": new, "confirm": confirm, "csrf_token": csrf_token(visitor, "/invite/" + token)})
    assert response.status_code == 422 and message in page(response)
    assert Invite.usable(token) is not None
    assert Auth(app.test_client()).login(depot.courier).status_code == 302


def test_invite_page_is_rate_limited(app, make_app, depot):
    client = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute").test_client()
    codes = [client.get("/invite/guess-%d" % n).status_code for n in range(4)]
    assert codes == [404, 404, 404, 429]


# --- Territories ---------------------------------------------------------------------


def test_manager_adds_and_renames_a_territory(admin, depot):
    response = admin.post("/admin/territories/", {"name": "East"})
    east = Territory.get(name="East")
    assert response.headers["Location"] == "/admin/territories/%d" % east.id
    assert admin.post("/admin/territories/%d" % east.id, {"name": "East End"}).status_code == 302
    assert Territory.get_by_id(east.id).name == "East End"
    assert actions() == ["territory.create", "territory.rename"]
    assert last_audit("territory.rename")[1] == {"before": "East"}


@pytest.mark.parametrize("name, message", [
    ("", "Required."),
    ("north", "There is already a territory called North."),
    ("  SOUTH ", "There is already a territory called South."),
    ("x" * 81, "At most 80 characters."),
    ("East\x07", "Remove the special (control) characters."),
])
def test_territory_names_are_checked(admin, depot, name, message):
    east = Territory.create(name="East")
    response = admin.post("/admin/territories/", {"name": name})
    assert response.status_code == 422 and message in page(response)
    response = admin.post("/admin/territories/%d" % east.id, {"name": name})
    assert response.status_code == 422 and message in page(response)
    assert [t.name for t in Territory.select().order_by(Territory.id)] == ["North", "South", "East"]
    assert AuditEntry.select().count() == 0


def test_renaming_a_territory_to_its_own_name_in_other_case_is_fine(admin, depot):
    assert admin.post("/admin/territories/%d" % depot.north.id, {"name": "NORTH"}).status_code == 302
    assert Territory.get_by_id(depot.north.id).name == "NORTH"


def test_postcode_prefixes_are_normalised_added_and_removed(admin, depot):
    response = admin.post("/admin/territories/%d/prefixes" % depot.north.id, {"prefix": " ab 12 "})
    assert response.status_code == 302
    prefix = PostcodePrefix.get(prefix="AB12")
    assert prefix.territory_id == depot.north.id
    response = admin.post("/admin/territories/%d/prefixes/%d/remove" % (depot.north.id, prefix.id))
    assert response.status_code == 302
    assert PostcodePrefix.get_or_none(prefix="AB12") is None
    assert actions() == ["prefix.add", "prefix.remove"]
    assert last_audit("prefix.add")[0].subject == "AB12"


@pytest.mark.parametrize("prefix, message", [
    ("", "Required."),
    ("   ", "Required."),
    ("ab", "AB already belongs to North."),
    ("cd", "CD already belongs to South."),
    ("A-1", "Letters and digits only, e.g. AB1."),
    ("é1", "Letters and digits only, e.g. AB1."),
    ("A" * 13, "At most 12 characters."),
])
def test_bad_or_taken_prefixes_are_refused_with_the_owner_named(admin, depot, prefix, message):
    response = admin.post("/admin/territories/%d/prefixes" % depot.south.id, {"prefix": prefix})
    assert response.status_code == 422
    assert message in page(response)
    assert PostcodePrefix.select().count() == 3


def test_removing_another_territorys_prefix_is_404(admin, depot):
    ab = PostcodePrefix.get(prefix="AB")
    response = admin.post("/admin/territories/%d/prefixes/%d/remove" % (depot.south.id, ab.id))
    assert response.status_code == 404
    assert PostcodePrefix.get_or_none(prefix="AB") is not None


def test_reps_are_added_switched_and_removed(admin, depot):
    base = "/admin/territories/%d/reps" % depot.south.id
    response = admin.post(base, {"rep": str(depot.rep.id), "membership": "backup"})
    assert response.status_code == 302
    assert [r.name for r in depot.south.reps("backup")] == ["Dana"]
    assert admin.post("%s/%d" % (base, depot.rep.id), {"membership": "primary"}).status_code == 302
    assert {r.name for r in depot.south.reps("primary")} == {"Dana", "Eve"}
    assert admin.post("%s/%d/remove" % (base, depot.rep.id)).status_code == 302
    assert [r.name for r in depot.south.reps()] == ["Eve"]
    assert actions() == ["rep.add", "rep.change", "rep.remove"]
    assert last_audit("rep.change")[1] == {"membership": ["backup", "primary"],
                                           "territory": "South"}


@pytest.mark.parametrize("data, message", [
    ({"rep": "courier", "membership": "primary"}, "Not a valid choice."),
    ({"rep": "member", "membership": "primary"}, "Not a valid choice."),
    ({"rep": "rep", "membership": "boss"}, "Primary or backup."),
    ({"rep": "rep"}, "Pick one."),
])
def test_adding_a_rep_refuses_non_reps_members_and_bad_memberships(admin, depot, data, message):
    who = {"courier": depot.courier, "member": depot.rep_south, "rep": depot.rep}[data["rep"]]
    response = admin.post("/admin/territories/%d/reps" % depot.south.id,
                          dict(data, rep=str(who.id)))
    assert response.status_code == 422 and message in page(response)
    assert TerritoryRep.select().where(TerritoryRep.territory == depot.south).count() == 1


def test_switching_membership_of_a_non_member_is_404(admin, depot):
    response = admin.post("/admin/territories/%d/reps/%d" % (depot.south.id, depot.rep.id),
                          {"membership": "backup"})
    assert response.status_code == 404


def test_a_territory_with_routes_or_leads_is_not_deleted(admin, depot):
    Lead.create(client_uuid=uuid.uuid4(), courier=depot.courier, territory=depot.north,
                business_name="Bakery", category="other", temperature="fyi")
    response = admin.post("/admin/territories/%d/delete" % depot.north.id)
    assert response.status_code == 409
    text = page(response)
    assert "routes R1 lead to it: move them to another territory first" in text
    assert "1 lead belongs to it" in text
    assert Territory.get_or_none(Territory.id == depot.north.id) is not None
    assert AuditEntry.select().count() == 0


def test_deleting_an_unused_territory_takes_its_prefixes_and_memberships(admin, depot):
    admin.post("/admin/routes/%d" % depot.r2.id, {"code": "R2", "name": "", "territory": ""})
    response = admin.post("/admin/territories/%d/delete" % depot.south.id)
    assert response.headers["Location"] == "/admin/territories/"
    assert Territory.get_or_none(Territory.id == depot.south.id) is None
    assert PostcodePrefix.select().where(PostcodePrefix.prefix.in_(["AB9", "CD"])).count() == 0
    assert TerritoryRep.select().where(TerritoryRep.rep == depot.rep_south).count() == 0
    assert last_audit("territory.delete")[1] == {"prefixes": "AB9, CD",
                                                 "reps": "eve@depot.test"}


# --- Routes --------------------------------------------------------------------------


def test_manager_adds_a_route_and_moves_it_to_another_territory(admin, depot):
    response = admin.post("/admin/routes/", {"code": " n-07 ", "name": "Docks",
                                             "territory": str(depot.north.id)})
    route = Route.get(code="N-07")
    assert response.headers["Location"] == "/admin/routes/%d" % route.id
    assert (route.name, route.territory_id) == ("Docks", depot.north.id)
    admin.post("/admin/routes/%d" % route.id, {"code": "N-07", "name": "Docks",
                                               "territory": str(depot.south.id)})
    assert Route.get_by_id(route.id).territory_id == depot.south.id
    assert actions() == ["route.create", "route.update"]
    assert last_audit("route.update")[1] == {"territory": ["North", "South"]}


@pytest.mark.parametrize("data, message", [
    ({"code": ""}, "Required."),
    ({"code": "r1"}, "Route R1 already exists."),
    ({"code": "-R"}, "Letters, digits, spaces and - _ . / only"),
    ({"code": "R<1>"}, "Letters, digits, spaces and - _ . / only"),
    ({"code": "R" * 21}, "At most 20 characters."),
    ({"code": "R5", "name": "x" * 81}, "At most 80 characters."),
    ({"code": "R5", "territory": "999999"}, "Not a valid choice."),
])
def test_bad_routes_are_refused(admin, depot, data, message):
    response = admin.post("/admin/routes/", data)
    assert response.status_code == 422 and message in page(response)
    assert Route.select().count() == 3


def test_couriers_are_put_on_and_taken_off_a_route(admin, depot):
    base = "/admin/routes/%d/couriers" % depot.r1.id
    assert admin.post(base, {"courier": str(depot.courier2.id)}).status_code == 302
    assert User.get_by_id(depot.courier2.id).route_id == depot.r1.id
    assert admin.post("%s/%d/remove" % (base, depot.courier.id)).status_code == 302
    assert User.get_by_id(depot.courier.id).route_id is None
    assert actions() == ["route.assign", "route.unassign"]
    assert last_audit("route.assign")[1] == {"route": ["R2", "R1"]}


@pytest.mark.parametrize("who", ["rep", "courier"])
def test_only_couriers_not_yet_on_the_route_can_be_put_on_it(admin, depot, who):
    user = depot.rep if who == "rep" else depot.courier
    response = admin.post("/admin/routes/%d/couriers" % depot.r1.id, {"courier": str(user.id)})
    assert response.status_code == 422 and "Not a valid choice." in page(response)


def test_taking_off_a_courier_who_is_not_on_the_route_is_404(admin, depot):
    response = admin.post("/admin/routes/%d/couriers/%d/remove" % (depot.r2.id, depot.courier.id))
    assert response.status_code == 404
    assert User.get_by_id(depot.courier.id).route_id == depot.r1.id


# --- Deadlines -----------------------------------------------------------------------


def deadlines(app):
    """The deadline of each temperature, as escalation reads it."""
    with app.app_context():
        return [notify.deadline(t) for t in ("hot", "warm", "fyi")]


def test_deadlines_show_the_configured_defaults_until_changed(app, admin, depot):
    text = page(admin.get("/admin/deadlines/"))
    assert "15 minutes (the default)" in text and "4 hours (the default)" in text
    assert "1 day (the default)" in text


def test_changed_deadlines_are_stored_and_used_for_escalation(app, admin, depot):
    response = admin.post("/admin/deadlines/", {"hot": "5", "warm": "240", "fyi": "2880"})
    assert response.status_code == 302
    assert (Setting.read("deadline_hot_minutes"), Setting.read("deadline_warm_minutes"),
            Setting.read("deadline_fyi_minutes")) == (5, None, 2880)
    assert deadlines(app) == [timedelta(minutes=5), timedelta(minutes=240), timedelta(days=2)]
    assert "5 minutes" in page(admin.get("/admin/deadlines/"))
    assert [json.loads(e.detail) for e in AuditEntry.select().order_by(AuditEntry.id)] == [
        {"minutes": [15, 5]}, {"minutes": [1440, 2880]}]


@pytest.mark.parametrize("value, message", [
    ("", "Required."),
    ("0", "A whole number of minutes from 1 to 10080"),
    ("10081", "A whole number of minutes from 1 to 10080"),
    ("-5", "A whole number of minutes from 1 to 10080"),
    ("abc", "A whole number of minutes from 1 to 10080"),
    ("1.5", "A whole number of minutes from 1 to 10080"),
    ("1_0", "A whole number of minutes from 1 to 10080"),
    ("\u0661\u0662", "A whole number of minutes from 1 to 10080"),
    ("99999999999999999999999", "A whole number of minutes from 1 to 10080"),
])
def test_bad_deadlines_are_refused(app, admin, depot, value, message):
    response = admin.post("/admin/deadlines/", {"hot": value, "warm": "240", "fyi": "1440"})
    assert response.status_code == 422
    text = page(response)
    assert text.count(message) == 1 and 'value="%s"' % value in text
    assert Setting.read("deadline_hot_minutes") is None
    assert deadlines(app)[0] == timedelta(minutes=15)


def test_deadline_bounds_are_accepted(app, admin, depot):
    assert admin.post("/admin/deadlines/", {"hot": "1", "warm": "10080", "fyi": " 60 "}).status_code == 302
    assert deadlines(app) == [
        timedelta(minutes=1), timedelta(minutes=10080), timedelta(minutes=60)]


# --- CSV import ----------------------------------------------------------------------

USERS_CSV = ("email,name,role,phone,route\n"
             "ida@{d},Ida Driver,courier,+44 20 7946 0002,r1\n"
             "jon@{d},Jon Seller,rep,,\n"
             "kim@{d},Kim O'Boss,Manager,,\n").format(d=DOMAIN)


def upload(admin, content, kind="users", filename="people.csv"):
    data = content.encode() if isinstance(content, str) else content
    return admin.post("/admin/import/", {"kind": kind, "file": (io.BytesIO(data), filename)},
                      content_type="multipart/form-data")


def apply_fields(response):
    """The hidden fields of a preview's Apply form."""
    found = re.findall(r'<input id="(kind|content|signature)" name="\1" type="hidden" '
                       r'value="([^"]*)"', response.get_data(as_text=True))
    return {name: html.unescape(value) for name, value in found}


def test_a_good_users_file_is_previewed_then_applied_in_one_go(admin, depot):
    preview = upload(admin, USERS_CSV)
    assert preview.status_code == 200
    assert "All 3 rows can be added" in page(preview)
    assert User.by_email("ida@" + DOMAIN) is None
    done = admin.post("/admin/import/apply", apply_fields(preview))
    assert done.status_code == 200 and done.headers["Cache-Control"] == "no-store"
    ida, jon, kim = (User.by_email("%s@%s" % (n, DOMAIN)) for n in ("ida", "jon", "kim"))
    assert (ida.role, ida.route_id, ida.phone) == ("courier", depot.r1.id, "+442079460002")
    assert (jon.role, kim.role, kim.name) == ("rep", "manager", "Kim O'Boss")
    tokens = re.findall(r"/invite/([A-Za-z0-9_-]+)", page(done))
    assert [Invite.usable(t).user_id for t in tokens] == [ida.id, jon.id, kim.id]
    assert actions() == ["user.create", "user.invite"] * 3 + ["import.apply"]
    assert last_audit("import.apply")[1] == {"rows": 3}


def test_a_file_with_one_bad_row_applies_nothing_and_names_the_row_and_reason(admin, depot):
    content = USERS_CSV + "bad-email,Lee,courier,,\n"
    response = upload(admin, content)
    assert response.status_code == 422
    text = page(response)
    assert "1 of 4 rows can't be added, so nothing will be" in text
    row = re.search(r"Row 5</span>.*?</li>\s*</ul>", text, re.S).group(0)
    assert "Email: That doesn't look like an email address." in row
    assert apply_fields(response) == {}
    assert User.select().count() == 7 and AuditEntry.select().count() == 0


@pytest.mark.parametrize("row, reason", [
    ("lee@{d},,courier,,", "Name: Required."),
    ("lee@{d},Lee,pilot,,", "Role: Must be courier, rep or manager."),
    ("lee@{d},Lee,,,", "Role: Required."),
    ("lee@{d},Lee,courier,call me,", "Phone: Use digits"),
    ("lee@{d},Lee,courier,,R77", "Route: there is no route R77."),
    ("lee@{d},Lee,rep,,R1", "Route: only couriers have a route."),
    ("IDA@{d},Ida Again,courier,,", "Email: ida@{d} is also in row 2."),
    ("PAT@{d},Pat,manager,,", "Email: a user with email pat@{d} already exists."),
    ("lee@{d},Lee\x01,courier,,", "Name: Remove the special (control) characters."),
    ("lee@{d},Lee,courier", "Has 3 values; the first row names 5 columns."),
    ("lee@{d},Lee,courier,,,extra", "Has 6 values; the first row names 5 columns."),
])
def test_each_bad_users_row_is_reported_with_its_reason(admin, depot, row, reason):
    make_user("manager", "pat@" + DOMAIN, "Pat")
    content = USERS_CSV + row.format(d=DOMAIN) + "\n"
    response = upload(admin, content)
    assert response.status_code == 422
    text = page(response)
    assert re.search(r"Row 5</span>.*?%s" % re.escape(reason.format(d=DOMAIN)), text, re.S), text
    assert text.count('class="import-row bad"') == 1
    assert User.select().count() == 8


def test_duplicates_inside_a_file_are_reported_on_the_later_row(admin, depot):
    content = "email,name,role\nmo@{d},Mo,rep\n\nMO@{d},Mo Two,rep\n".format(d=DOMAIN)
    text = page(upload(admin, content))
    assert re.search(r"Row 4</span>.*?Email: mo@%s is also in row 2\." % re.escape(DOMAIN),
                     text, re.S)
    assert text.count('class="import-row bad"') == 1


def test_a_file_with_a_bom_and_windows_line_ends_is_read(admin, depot):
    content = "\ufeffEmail, Name ,ROLE\r\nnia@{d},Nia,courier\r\n".format(d=DOMAIN)
    preview = upload(admin, content.encode("utf-8"))
    assert preview.status_code == 200
    admin.post("/admin/import/apply", apply_fields(preview))
    assert User.by_email("nia@" + DOMAIN).name == "Nia"


def test_apply_accepts_the_content_as_a_browser_sends_it_back(admin, depot):
    preview = upload(admin, "email,name,role\nola@{d},Ola,rep\n".format(d=DOMAIN))
    fields = apply_fields(preview)
    fields["content"] = fields["content"].replace("\n", "\r\n")
    assert admin.post("/admin/import/apply", fields).status_code == 200
    assert User.by_email("ola@" + DOMAIN) is not None


@pytest.mark.parametrize("content, filename, message", [
    (b"", "people.csv", "The file is empty"),
    (b"\n\n  \n", "people.csv", "The file is empty"),
    (b"\xef\xbb\xbf", "people.csv", "The file is empty"),
    (b"email,name,role\n", "people.csv", "The file has no rows under its first row."),
    (b"email,name,role\n,,\n", "people.csv", "The file has no rows under its first row."),
    (b"e-mail,name,role\nx@y.example,X,rep\n", "people.csv",
     "Unknown column: e-mail. Missing column: email. The first row must name the columns "
     "email, name, role, and may add phone, route."),
    (b"email,name,role,email\n", "people.csv", "Repeated column: email."),
    (b"email,name,role,\n", "people.csv", "Unknown column: (blank)."),
    (b"code,territory\nR5,North\n", "people.csv", "Missing columns: email, name, role."),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "people.csv", "This is not a text file."),
    (b"PK\x03\x04\x14\x00\x06\x00", "people.xlsx", "Choose a .csv file (this one is .xlsx)."),
    (b"email,name,role\n", "people", "Choose a .csv file."),
    ("email,name,role\nzoé@x.example,Zoé,rep\n".encode("latin-1"), "people.csv",
     "The file is not UTF-8 text (see line 2)."),
    (b'email,name,role\n"unterminated,x,rep\n' + b"x" * 200000, "people.csv",
     "can't be read: field larger than field limit"),
    (b"email,name,role\n" + b"a@b.example,A,rep\n" * 5001, "people.csv",
     "The file has more than 5000 rows."),
    (b"email,name,role\n" + b"x" * (1024 * 1024), "people.csv", "The file is larger than 1 MB."),
])
def test_files_that_are_not_a_readable_csv_are_refused_with_a_clear_error(
        admin, depot, content, filename, message):
    response = upload(admin, content, filename=filename)
    assert response.status_code == 422
    error = re.search(r'id="file-error">([^<]*)<', page(response))
    assert error and message in error.group(1), page(response)
    assert User.select().count() == 7


def test_no_file_or_no_kind_is_explained(admin, depot):
    response = admin.post("/admin/import/", {"kind": "users"}, content_type="multipart/form-data")
    assert response.status_code == 422 and "Choose a CSV file." in page(response)
    response = upload(admin, USERS_CSV, kind="everything")
    assert response.status_code == 422 and "Users or routes." in page(response)


def test_a_request_over_the_size_limit_gets_the_import_page(app, admin, depot):
    app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024
    response = upload(admin, b"email,name,role\n" + b"x" * (3 * 1024 * 1024))
    assert response.status_code == 413
    assert "The file is larger than 1 MB" in page(response)


def test_a_routes_file_is_checked_and_applied(admin, depot):
    bad = upload(admin, "code,name,territory\nn-01,North one,north\nr1,Dup,\nS-9,,Atlantis\n",
                 kind="routes")
    assert bad.status_code == 422
    text = page(bad)
    assert re.search(r"Row 3</span>.*?Code: route R1 already exists\.", text, re.S)
    assert re.search(r"Row 4</span>.*?Territory: there is no territory called Atlantis\.",
                     text, re.S)
    good = upload(admin, "code,name,territory\nn-01,North one,north\nS-9,,\n", kind="routes")
    assert good.status_code == 200
    assert admin.post("/admin/import/apply", apply_fields(good)).status_code == 200
    n01, s9 = Route.get(code="N-01"), Route.get(code="S-9")
    assert (n01.name, n01.territory_id, s9.territory_id) == ("North one", depot.north.id, None)
    assert actions() == ["route.create", "route.create", "import.apply"]


def test_apply_checks_again_and_adds_nothing_if_the_depot_changed(admin, depot):
    preview = upload(admin, USERS_CSV)
    make_user("rep", "jon@" + DOMAIN, "Jon Already")
    response = admin.post("/admin/import/apply", apply_fields(preview))
    assert response.status_code == 422
    text = page(response)
    assert "The depot changed since the preview" in text
    assert re.search(r"Row 3</span>.*?already exists", text, re.S)
    assert User.by_email("ida@" + DOMAIN) is None and AuditEntry.select().count() == 0


def test_applying_twice_adds_the_rows_once(admin, depot):
    fields = apply_fields(upload(admin, USERS_CSV))
    assert admin.post("/admin/import/apply", fields).status_code == 200
    assert admin.post("/admin/import/apply", fields).status_code == 422
    assert User.select().where(User.email.endswith(DOMAIN)).count() == 3


@pytest.mark.parametrize("tamper, message", [
    (lambda f: dict(f, content=f["content"] + "eve@x.example,Eve,manager\n"),
     "The file changed after its preview."),
    (lambda f: dict(f, kind="routes"), "The file changed after its preview."),
    (lambda f: dict(f, signature=f["signature"][:-2] + "xx"), "could not be verified"),
    (lambda f: dict(f, signature=""), "could not be verified"),
    (lambda f: {"kind": "users"}, "could not be verified"),
])
def test_apply_trusts_only_what_the_preview_signed(admin, depot, tamper, message):
    fields = apply_fields(upload(admin, USERS_CSV))
    response = admin.post("/admin/import/apply", tamper(fields))
    assert response.status_code == 400 and message in page(response)
    assert User.select().count() == 7


def test_another_managers_preview_cannot_be_applied(app, admin, depot):
    fields = apply_fields(upload(admin, USERS_CSV))
    other = Manager(app.test_client(), make_user("manager", "max@" + DOMAIN, "Max"))
    response = other.post("/admin/import/apply", fields)
    assert response.status_code == 400 and User.by_email("ida@" + DOMAIN) is None


@pytest.mark.parametrize("age, status", [(0, 200), (3601, 400)])
def test_a_preview_older_than_an_hour_cannot_be_applied(app, admin, depot, age, status):
    fields = apply_fields(upload(admin, USERS_CSV))

    class AgedSigner(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - age

    signer = URLSafeTimedSerializer(app.secret_key, salt="touchpoint.csv-import",
                                    signer=AgedSigner)
    fields["signature"] = signer.dumps({
        "kind": "users", "sha256": hashlib.sha256(fields["content"].encode()).hexdigest(),
        "by": depot.manager.id})
    response = admin.post("/admin/import/apply", fields)
    assert response.status_code == status
    assert ("more than an hour old" in page(response)) is (status == 400)


# --- The audit log -------------------------------------------------------------------


def test_audit_log_lists_changes_newest_first_with_who_and_what(admin, depot):
    admin.post("/admin/territories/", {"name": "East"})
    admin.post("/admin/deadlines/", {"hot": "10", "warm": "240", "fyi": "1440"})
    text = page(admin.get("/admin/audit/"))
    assert text.index("Deadline changed: hot") < text.index("Territory added: East")
    assert "by Gus" in text and "15 → 10" in text


def test_audit_log_filters_by_action_and_pages_without_gaps(admin, depot):
    for n in range(120):
        AuditEntry.record(depot.manager, "prefix.add" if n % 2 else "route.create", "S%03d" % n)
    seen, url = [], "/admin/audit/?action=route.create"
    while url:
        text = page(admin.get(url))
        seen += re.findall(r"Route added: (S\d+)", text)
        more = re.search(r'href="(/admin/audit/\?[^"]*before=[^"]*)"', text)
        url = html.unescape(more.group(1)) if more else None
        if url is not None:
            AuditEntry.record(depot.manager, "route.create", "late")
    assert seen == ["S%03d" % n for n in range(118, -1, -2)]


def test_audit_log_ignores_unknown_filters(admin, depot):
    AuditEntry.record(depot.manager, "route.create", "R5")
    response = admin.get("/admin/audit/", query_string={"action": "drop table"})
    assert response.status_code == 200 and "Route added: R5" in page(response)


@pytest.mark.parametrize("before", ["abc", str(2**70), "9" * 5000])
def test_audit_log_with_a_broken_cursor_says_so(admin, depot, before):
    response = admin.get("/admin/audit/", query_string={"before": before})
    assert response.status_code == 400 and "This link is broken" in page(response)


def test_a_departed_reps_open_leads_are_counted_and_linked_to_the_feed(admin, depot):
    def lead(status):
        return Lead.create(client_uuid=uuid.uuid4(), courier=depot.courier, territory=depot.north,
                           business_name="Kept %s" % status, category="other", temperature="warm",
                           postcode="AB1 2CD", status=status, assigned_rep=depot.rep)
    kept = [lead("acknowledged"), lead("quoted")]
    lead("won")
    admin.post("/admin/users/%d/deactivate" % depot.rep.id)
    text = page(admin.get("/admin/users/%d" % depot.rep.id))
    assert "2 open leads assigned to Dana, who can no longer work them" in text
    link = html.unescape(re.search(r'href="(/feed\?[^"]+)">see them in the feed', text).group(1))
    feed = page(admin.get(link))
    assert all(lead.business_name in feed for lead in kept) and "Kept won" not in feed
