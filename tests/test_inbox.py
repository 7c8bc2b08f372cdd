"""The in-app inbox and alert preferences, as a rep, a courier and the PWA use them.

Every test runs on SQLite and on PostgreSQL (see conftest.py). Every JSON answer
is checked against the OpenAPI document the API serves (test_api's fixture loads
it). The last tests go end to end through the real worker and push service.
"""
import html
import logging
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.models import Delivery, Notification, User, utcnow
from conftest import Auth, bearer, csrf_token, enable_push, make_user, wait_for
from test_api import assert_error, assert_matches_openapi, send_lead, served_openapi  # noqa: F401

API = "/api/v1"


def notify(user, lead_id, title="Hot lead: Corner Shop", body="New business · from Ann",
           path=None, read=False, age=None):
    """A notification for user, straight into the database, as the worker makes them."""
    return Notification.create(
        user=user, lead=lead_id, kind="new_lead", title=title, body=body,
        path="/leads/%d" % lead_id if path is None else path,
        created_at=utcnow() - (age or timedelta(0)), read_at=utcnow() if read else None)


@pytest.fixture
def lead(client, depot):
    """A lead Ann sent to the North territory (Dana's); its JSON."""
    return send_lead(client, depot.courier, business_name="Corner Shop")


def page(client, path="/notifications"):
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def listed(html_text):
    """(unread?, title) of each notification on an inbox page, in order."""
    items = re.findall(r'<li class="notification( unread)?">.*?<span class="title">'
                       r'(?:<span class="unread-dot" aria-hidden="true"></span>'
                       r'<span class="visually-hidden">Unread: </span>)?(.*?)</span>',
                       html_text, re.S)
    return [(bool(unread), html.unescape(title)) for unread, title in items]


def bell(html_text):
    """The bell's accessible text and its badge (None when there is none)."""
    match = re.search(r'<a class="bell" href="/notifications">.*?'
                      r'<span class="visually-hidden">(.*?)</span>'
                      r'(?:<span class="badge" aria-hidden="true">(.*?)</span>)?</a>',
                      html_text, re.S)
    assert match, "no bell in the page header"
    return match.group(1), match.group(2)


def unread(user):
    return Notification.select().where((Notification.user == user)
                                       & Notification.read_at.is_null()).count()


def post_page(client, path, data=None):
    """POST a page's form as the browser does, with the page's CSRF token."""
    return client.post(path, data=dict({"csrf_token": csrf_token(client, "/notifications")},
                                       **(data or {})))


# --- The bell ---------------------------------------------------------------------


def test_bell_shows_how_many_of_ones_own_notifications_are_unread_on_every_page(
        client, auth, depot, lead):
    for n in range(3):
        notify(depot.rep, lead["id"], title="Lead %d" % n)
    notify(depot.rep, lead["id"], read=True)
    notify(depot.manager, lead["id"])
    auth.login(depot.rep)

    for path in ("/leads", "/leads/%d" % lead["id"], "/notifications", "/account/password",
                 "/account/alerts"):
        assert bell(page(client, path)) == ("Notifications, 3 unread", "3"), path


def test_bell_with_nothing_unread_says_so_and_shows_no_badge(client, auth, depot, lead):
    notify(depot.courier, lead["id"], read=True)
    auth.login(depot.courier)

    assert bell(page(client, "/my-leads")) == ("Notifications, none unread", None)


def test_bell_badge_stops_at_99_plus(client, auth, depot, lead):
    Notification.insert_many([{"user": depot.rep.id, "lead": lead["id"], "kind": "new_lead",
                               "title": "Lead %d" % n} for n in range(100)]).execute()
    auth.login(depot.rep)

    assert bell(page(client, "/leads")) == ("Notifications, 100 unread", "99+")


def test_bell_costs_one_count_query_and_none_when_logged_out(client, auth, depot, lead, caplog):
    notify(depot.rep, lead["id"])
    auth.login(depot.rep)

    with caplog.at_level(logging.DEBUG, logger="peewee"):
        page(client, "/leads")
    logged_in = [r.msg[0] for r in caplog.records if '"notification"' in str(r.msg)]
    auth.logout()
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="peewee"):
        login_page = page(client, "/login")
    logged_out = [r.msg[0] for r in caplog.records if '"notification"' in str(r.msg)]

    assert len(logged_in) == 1 and "COUNT" in logged_in[0], logged_in
    assert logged_out == []
    assert 'class="bell"' not in login_page


# --- The inbox page -----------------------------------------------------------------


def test_inbox_lists_only_ones_own_notifications_newest_first_with_unread_marked(
        client, auth, depot, lead):
    notify(depot.rep, lead["id"], title="Oldest", age=timedelta(days=2), read=True)
    notify(depot.rep, lead["id"], title="Older", body="Still new after its deadline",
           age=timedelta(hours=2))
    notify(depot.rep_south, lead["id"], title="Eve's, not Dana's")
    notify(depot.rep, lead["id"], title="Newest")
    auth.login(depot.rep)

    text = page(client)

    assert listed(text) == [(True, "Newest"), (True, "Older"), (False, "Oldest")]
    assert "Still new after its deadline" in text
    assert "just now" in text and "2 h ago" in text and "2 days ago" in text
    assert "Mark all as read" in text


def test_empty_inbox_says_so(client, auth, depot):
    auth.login(depot.courier)

    text = page(client)

    assert listed(text) == []
    assert "Nothing yet" in text
    assert "Mark all as read" not in text


def test_inbox_pages_by_id_and_shows_each_notification_once(client, auth, depot, lead):
    for n in range(27):
        notify(depot.rep, lead["id"], title="Lead %02d" % n)
    auth.login(depot.rep)

    first = page(client)
    older = re.search(r'href="(/notifications\?before=\d+)"', first).group(1)
    notify(depot.rep, lead["id"], title="Arrived while reading")
    second = page(client, older)

    assert [t for _, t in listed(first)] == ["Lead %02d" % n for n in range(26, 1, -1)]
    assert [t for _, t in listed(second)] == ["Lead 01", "Lead 00"]
    assert "Older notifications" not in second


@pytest.mark.parametrize("before", ["-1", str(-10**30), str(10**30), "x"])
def test_inbox_with_an_odd_before_says_the_link_is_broken(client, auth, depot, lead, before):
    notify(depot.rep, lead["id"], title="Only one")
    auth.login(depot.rep)

    response = client.get("/notifications", query_string={"before": before})

    assert response.status_code == 400
    assert "must be a whole number" in response.get_data(as_text=True)


@pytest.mark.parametrize("up_to", [str(-10**30), str(10**30)])
def test_mark_all_read_with_an_odd_up_to_is_refused(client, auth, depot, lead, up_to):
    notify(depot.rep, lead["id"])
    auth.login(depot.rep)

    response = post_page(client, "/notifications/read-all", {"up_to": up_to})

    assert response.status_code == 400
    assert unread(depot.rep) == 1


def test_opening_a_notification_marks_it_read_and_goes_to_its_lead(client, auth, depot, lead):
    note = notify(depot.rep, lead["id"])
    other = notify(depot.rep, lead["id"])
    auth.login(depot.rep)

    response = post_page(client, "/notifications/%d/open" % note.id)

    assert response.status_code == 302
    assert response.headers["Location"] == "/leads/%d" % lead["id"]
    assert Notification.get_by_id(note.id).read_at is not None
    assert Notification.get_by_id(other.id).read_at is None
    assert "Corner Shop" in page(client, response.headers["Location"])
    assert bell(page(client)) == ("Notifications, 1 unread", "1")


def test_mark_one_read_stays_on_the_inbox(client, auth, depot, lead):
    note = notify(depot.rep, lead["id"], title="Just this one")
    notify(depot.rep, lead["id"], title="Another")
    auth.login(depot.rep)

    response = post_page(client, "/notifications/%d/read" % note.id)

    assert response.status_code == 302
    assert response.headers["Location"] == "/notifications"
    assert listed(page(client)) == [(True, "Another"), (False, "Just this one")]


def test_mark_all_read_marks_those_the_page_showed_and_no_one_elses(client, auth, depot, lead):
    notify(depot.rep, lead["id"], title="Seen 1")
    notify(depot.rep, lead["id"], title="Seen 2")
    notify(depot.rep_south, lead["id"], title="Eve's")
    auth.login(depot.rep)
    text = page(client)
    up_to = re.search(r'name="up_to" value="(\d+)"', text).group(1)
    notify(depot.rep, lead["id"], title="Arrived after the page loaded")

    response = post_page(client, "/notifications/read-all", {"up_to": up_to})

    assert response.status_code == 302
    assert listed(page(client)) == [(True, "Arrived after the page loaded"),
                                    (False, "Seen 2"), (False, "Seen 1")]
    assert unread(depot.rep_south) == 1


def test_mark_all_read_without_up_to_marks_every_one(client, auth, depot, lead):
    for n in range(3):
        notify(depot.rep, lead["id"])
    auth.login(depot.rep)

    post_page(client, "/notifications/read-all")

    assert unread(depot.rep) == 0


@pytest.mark.parametrize("action", ["open", "read"])
def test_another_users_notification_is_404_and_stays_unread(client, auth, depot, lead, action):
    theirs = notify(depot.rep_south, lead["id"])
    auth.login(depot.rep)

    response = post_page(client, "/notifications/%d/%s" % (theirs.id, action))

    assert response.status_code == 404
    assert "Location" not in response.headers
    assert Notification.get_by_id(theirs.id).read_at is None


@pytest.mark.parametrize("notification_id", [999999, 2**31, 2**63 - 1, 2**63, 10**30])
@pytest.mark.parametrize("action", ["open", "read"])
def test_notification_that_does_not_exist_is_404(client, auth, depot, notification_id, action):
    auth.login(depot.rep)

    response = post_page(client, "/notifications/%d/%s" % (notification_id, action))

    assert response.status_code == 404


@pytest.mark.parametrize("path", [
    "//evil.example", "https://evil.example", "http://evil.example/leads/1",
    "/\\evil.example", "/\t/evil.example", "/ /evil.example", "/\n/evil.example",
    "javascript:alert(1)", "evil.example", "", "\\\\evil.example",
])
def test_crafted_path_is_never_followed_off_site(client, auth, depot, lead, path):
    note = notify(depot.rep, lead["id"], path=path)
    auth.login(depot.rep)

    response = post_page(client, "/notifications/%d/open" % note.id)
    listed_json = client.get(API + "/notifications").json["items"]

    assert response.status_code == 302
    assert response.headers["Location"] == "/leads/%d" % lead["id"]
    assert Notification.get_by_id(note.id).read_at is not None
    assert listed_json[0]["path"] == "/leads/%d" % lead["id"]


def test_crafted_path_without_a_lead_goes_to_the_inbox(client, auth, depot):
    note = Notification.create(user=depot.rep, kind="new_lead", title="Odd",
                               path="//evil.example")
    auth.login(depot.rep)

    response = post_page(client, "/notifications/%d/open" % note.id)

    assert response.headers["Location"] == "/notifications"


@pytest.mark.parametrize("action", ["%d/open", "%d/read", "read-all"])
def test_page_posts_without_the_csrf_token_are_refused(client, auth, depot, lead, action):
    note = notify(depot.rep, lead["id"])
    auth.login(depot.rep)

    response = client.post("/notifications/" + (action % note.id if "%" in action else action))

    assert response.status_code == 400
    assert "The form expired" in response.get_data(as_text=True)
    assert Notification.get_by_id(note.id).read_at is None


def test_inbox_needs_a_login(client, depot):
    response = client.get("/notifications")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


# --- The inbox's JSON ---------------------------------------------------------------


def api_get(client, path, headers, template=None, **query):
    response = client.get(API + path, query_string=query or None, headers=headers)
    assert_matches_openapi(response, template or path.split("?")[0], "get")
    return response


def api_post(client, path, headers, template, **query):
    response = client.post(API + path, query_string=query or None, headers=headers)
    assert_matches_openapi(response, template, "post")
    return response


def test_api_lists_ones_own_notifications_as_documented(client, depot, lead):
    old = notify(depot.rep, lead["id"], title="Old", read=True)
    new = notify(depot.rep, lead["id"], title="New", body="From Ann")
    notify(depot.rep_south, lead["id"], title="Eve's")

    response = api_get(client, "/notifications", bearer(depot.rep))

    assert response.status_code == 200
    assert response.json["next"] is None
    first, second = response.json["items"]
    assert first == {"id": new.id, "kind": "new_lead", "title": "New", "body": "From Ann",
                     "path": "/leads/%d" % lead["id"], "lead_id": lead["id"],
                     "created_at": first["created_at"], "read": False}
    assert first["created_at"].endswith("Z")
    assert (second["id"], second["read"]) == (old.id, True)


def test_api_pages_with_next_until_there_is_no_more(client, depot, lead):
    ids = [notify(depot.rep, lead["id"]).id for _ in range(5)]
    headers = bearer(depot.rep)

    seen, url = [], "/notifications?limit=2"
    while url:
        response = api_get(client, url, headers, "/notifications")
        seen += [item["id"] for item in response.json["items"]]
        url = response.json["next"] and response.json["next"][len(API):]

    assert seen == ids[::-1]


@pytest.mark.parametrize("name, value", [("before", "0"), ("before", "x"), ("limit", "101"),
                                         ("limit", "0"), ("before", str(2**63))])
def test_api_bad_paging_parameter_is_400(client, depot, name, value):
    response = api_get(client, "/notifications", bearer(depot.rep), **{name: value})

    assert_error(response, 400, "invalid_parameter")
    assert list(response.json["error"]["fields"]) == [name]


def test_api_unread_count_is_the_bells_number(client, depot, lead):
    notify(depot.courier, lead["id"])
    notify(depot.courier, lead["id"])
    notify(depot.courier, lead["id"], read=True)
    notify(depot.rep, lead["id"])

    response = api_get(client, "/notifications/unread-count", bearer(depot.courier))

    assert response.status_code == 200
    assert response.json == {"unread": 2}


def test_api_marks_one_read(client, depot, lead):
    note = notify(depot.rep, lead["id"])
    other = notify(depot.rep, lead["id"])
    headers = bearer(depot.rep)

    response = api_post(client, "/notifications/%d/read" % note.id, headers,
                        "/notifications/{notification_id}/read")
    again = api_post(client, "/notifications/%d/read" % note.id, headers,
                     "/notifications/{notification_id}/read")

    assert response.status_code == 200
    assert (response.json["id"], response.json["read"]) == (note.id, True)
    assert again.status_code == 200 and again.json == response.json
    assert Notification.get_by_id(other.id).read_at is None


def test_api_reads_all_up_to_an_id_and_answers_the_count_left(client, depot, lead):
    seen = [notify(depot.rep, lead["id"]).id for _ in range(2)]
    notify(depot.rep, lead["id"])
    notify(depot.rep_south, lead["id"])
    headers = bearer(depot.rep)

    partly = api_post(client, "/notifications/read-all", headers, "/notifications/read-all",
                      up_to=seen[-1])
    fully = api_post(client, "/notifications/read-all", headers, "/notifications/read-all")

    assert (partly.status_code, partly.json) == (200, {"unread": 1})
    assert (fully.status_code, fully.json) == (200, {"unread": 0})
    assert unread(depot.rep_south) == 1


@pytest.mark.parametrize("notification_id", ["theirs", 999999, 2**63])
def test_api_another_users_or_no_notification_is_404(client, depot, lead, notification_id):
    theirs = notify(depot.rep_south, lead["id"])
    target = theirs.id if notification_id == "theirs" else notification_id

    response = api_post(client, "/notifications/%d/read" % target, bearer(depot.rep),
                        "/notifications/{notification_id}/read")

    assert_error(response, 404, "not_found")
    assert Notification.get_by_id(theirs.id).read_at is None


def test_api_with_session_needs_the_csrf_header_to_change_anything(client, depot, lead):
    note = notify(depot.rep, lead["id"])
    Auth(client).login(depot.rep)
    path, template = "/notifications/%d/read" % note.id, "/notifications/{notification_id}/read"

    listed_ok = api_get(client, "/notifications", {})
    without = api_post(client, path, {}, template)
    wrong = api_post(client, "/notifications/read-all", {"X-CSRFToken": "forged"},
                     "/notifications/read-all")
    assert Notification.get_by_id(note.id).read_at is None
    with_token = api_post(client, path, {"X-CSRFToken": csrf_token(client, "/notifications")},
                          template)

    assert listed_ok.status_code == 200
    assert_error(without, 400, "csrf_failed")
    assert_error(wrong, 400, "csrf_failed")
    assert with_token.status_code == 200
    assert Notification.get_by_id(note.id).read_at is not None


@pytest.mark.parametrize("method, path, template", [
    ("get", "/notifications", "/notifications"),
    ("get", "/notifications/unread-count", "/notifications/unread-count"),
    ("post", "/notifications/1/read", "/notifications/{notification_id}/read"),
    ("post", "/notifications/read-all", "/notifications/read-all"),
])
def test_api_without_credentials_is_401(client, depot, method, path, template):
    response = getattr(client, method)(API + path)

    assert_matches_openapi(response, template, method)
    assert_error(response, 401, "unauthorized")


# --- Alert preferences --------------------------------------------------------------


def save_preferences(client, quiet_start="", quiet_end="", push_kinds=()):
    """POST the Alerts page's form as the browser does."""
    return client.post("/account/alerts", data={
        "csrf_token": csrf_token(client, "/account/alerts"), "quiet_start": quiet_start,
        "quiet_end": quiet_end, "push_kinds": list(push_kinds)})


def preferences(user):
    user = User.get_by_id(user.id)
    return user.quiet_start, user.quiet_end, user.muted_kinds


def checked_kinds(html_text):
    return re.findall(r'<input checked id="push_kinds-\d+" name="push_kinds" type="checkbox" '
                      r'value="(\w+)">', html_text)


def test_preferences_are_saved_and_shown_again(client, auth, depot):
    auth.login(depot.rep)

    response = save_preferences(client, "22:00", "6:30", ["escalated", "assigned"])
    text = page(client, "/account/alerts")

    assert response.status_code == 302
    assert response.headers["Location"] == "/account/alerts"
    assert preferences(depot.rep) == ("22:00", "06:30", "new_lead")
    assert "Alert preferences saved." in text
    assert 'value="22:00"' in text and 'value="06:30"' in text
    assert checked_kinds(text) == ["escalated", "assigned"]


def test_clearing_preferences_sends_everything_to_the_devices_again(client, auth, depot):
    User.update(quiet_start="21:00", quiet_end="05:00", muted_kinds="kudos,progress").where(
        User.id == depot.courier.id).execute()
    auth.login(depot.courier)

    response = save_preferences(client, "", "", ["acknowledged", "progress", "kudos"])

    assert response.status_code == 302
    assert preferences(depot.courier) == (None, None, "")


@pytest.mark.parametrize("role, offered", [
    ("courier", ["acknowledged", "progress", "kudos"]),
    ("rep", ["new_lead", "escalated", "assigned"]),
    ("manager", ["new_lead", "escalated", "assigned"]),
])
def test_preferences_offer_the_kinds_of_alert_ones_role_gets(client, auth, depot, role, offered):
    auth.login(make_user(role))

    text = page(client, "/account/alerts")

    assert re.findall(r'name="push_kinds" type="checkbox" value="(\w+)"', text) == offered
    assert checked_kinds(text) == offered
    assert "go to your notifications in the app only" in text


def test_preferences_page_says_which_clock_it_means(app, client, auth, depot):
    app.config["DEPOT_TIMEZONE"] = "Europe/London"
    auth.login(depot.rep)

    text = page(client, "/account/alerts")

    assert "depot time (Europe/London)" in text
    assert datetime.now(ZoneInfo("Europe/London")).strftime("%H:") in text


def test_account_page_links_to_the_alert_preferences(client, auth, depot):
    auth.login(depot.courier)

    assert 'href="/account/alerts"' in page(client, "/account")


CLOCK = "Use the 24-hour clock as HH:MM, e.g. 22:00 or 06:30."


@pytest.mark.parametrize("start, end, field, message", [
    ("25:00", "06:00", "quiet_start", CLOCK),
    ("7pm", "06:00", "quiet_start", CLOCK),
    ("22:00", "7am", "quiet_end", CLOCK),
    ("24:00", "06:00", "quiet_start", CLOCK),
    ("22:60", "06:00", "quiet_start", CLOCK),
    ("22:0", "06:00", "quiet_start", CLOCK),
    ("22.00", "06:00", "quiet_start", CLOCK),
    ("２２:００", "06:00", "quiet_start", CLOCK),
    ("22:00", "", "quiet_end", "Give the time quiet hours end too, or clear both."),
    ("", "06:00", "quiet_start", "Give the time quiet hours start too, or clear both."),
    ("22:00", "22:00", "quiet_end", "Quiet hours must end at another time than they start."),
    ("7:00", "07:00", "quiet_end", "Quiet hours must end at another time than they start."),
])
def test_bad_quiet_hours_are_refused_next_to_the_field_and_nothing_is_saved(
        client, auth, depot, start, end, field, message):
    User.update(quiet_start="21:00", quiet_end="05:00", muted_kinds="escalated").where(
        User.id == depot.rep.id).execute()
    auth.login(depot.rep)

    response = save_preferences(client, start, end, ["new_lead"])
    text = response.get_data(as_text=True)

    assert response.status_code == 422
    error = re.search(r'<p class="error" id="%s-error">(.*?)</p>' % field, text)
    assert error and html.unescape(error.group(1)) == message
    assert 'aria-describedby="%s-hint %s-error"' % (field, field) in text
    assert 'value="%s"' % html.escape(start) in text or not start
    assert 'value="%s"' % html.escape(end) in text or not end
    assert checked_kinds(text) == ["new_lead"]
    assert preferences(depot.rep) == ("21:00", "05:00", "escalated")


def test_kind_of_another_role_is_refused(client, auth, depot):
    auth.login(depot.rep)

    response = save_preferences(client, push_kinds=["new_lead", "kudos"])

    assert response.status_code == 422
    assert 'id="push_kinds-error"' in response.get_data(as_text=True)
    assert preferences(depot.rep) == (None, None, "")


def test_preferences_without_the_csrf_token_are_refused(client, auth, depot):
    auth.login(depot.rep)

    response = client.post("/account/alerts", data={"quiet_start": "22:00",
                                                    "quiet_end": "06:00"})

    assert response.status_code == 400
    assert preferences(depot.rep) == (None, None, "")


# --- End to end: preferences decide what reaches the devices ---------------------------


def quiet_hours_around_now(app):
    """Quiet hours from an hour ago to an hour from now, on the depot's clock."""
    now = datetime.now(ZoneInfo(app.config["DEPOT_TIMEZONE"]))
    return ((now - timedelta(hours=1)).strftime("%H:%M"),
            (now + timedelta(hours=1)).strftime("%H:%M"))


def alert_reps(client, depot, push_service):
    """Dana's phone and a second North rep's (who set no preferences); a lead from Ann
    reaches them, and once the second phone has it, Dana's alert is decided too."""
    dana = enable_push(depot.rep, push_service)
    second = enable_push(make_user("rep", territory=depot.north), push_service)
    lead = send_lead(client, depot.courier, business_name="Corner Shop")
    [message] = wait_for(lambda: push_service.delivered(second))
    assert message.payload["lead_id"] == lead["id"]
    note = wait_for(lambda: Notification.get_or_none(Notification.user == depot.rep))
    return lead, note, dana


def test_rep_in_quiet_hours_gets_the_lead_in_the_app_but_no_push(
        app, client, auth, depot, push_service, worker):
    # Not UTC, and not a whole number of hours from it: quiet hours are depot time.
    app.config["DEPOT_TIMEZONE"] = "Asia/Kathmandu"
    auth.login(depot.rep)
    assert save_preferences(client, *quiet_hours_around_now(app),
                            ["new_lead", "escalated", "assigned"]).status_code == 302

    lead, note, dana = alert_reps(client, depot, push_service)

    assert (note.lead_id, note.title) == (lead["id"], "Hot lead: Corner Shop")
    assert Delivery.select().where(Delivery.notification == note).count() == 0
    assert push_service.received(dana) == []
    assert bell(page(client, "/leads")) == ("Notifications, 1 unread", "1")


def test_rep_who_muted_new_leads_gets_them_in_the_app_but_no_push(
        client, auth, depot, push_service, worker):
    auth.login(depot.rep)
    assert save_preferences(client, "", "", ["escalated", "assigned"]).status_code == 302

    lead, note, dana = alert_reps(client, depot, push_service)

    assert note.lead_id == lead["id"]
    assert Delivery.select().where(Delivery.notification == note).count() == 0
    assert push_service.received(dana) == []
    assert listed(page(client)) == [(True, "Hot lead: Corner Shop")]


def test_rep_with_preferences_cleared_gets_the_push(
        app, client, auth, depot, push_service, worker):
    app.config["DEPOT_TIMEZONE"] = "Asia/Kathmandu"
    auth.login(depot.rep)
    save_preferences(client, *quiet_hours_around_now(app), ["escalated"])
    assert save_preferences(client, "", "", ["new_lead", "escalated", "assigned"]
                            ).status_code == 302

    lead, note, dana = alert_reps(client, depot, push_service)

    [message] = wait_for(lambda: push_service.delivered(dana))
    assert message.payload["lead_id"] == lead["id"]
    assert message.payload["path"] == "/leads/%d" % lead["id"]
    assert note.read_at is None


def test_openapi_document_lists_the_notification_operations(served_openapi):
    paths = served_openapi["paths"]

    assert {(path, method) for path, item in paths.items() if path.startswith("/notifications")
            for method in item} == {
        ("/notifications", "get"), ("/notifications/unread-count", "get"),
        ("/notifications/{notification_id}/read", "post"), ("/notifications/read-all", "post")}
    assert {"Notification", "NotificationPage", "UnreadCount"} <= set(
        served_openapi["components"]["schemas"])
