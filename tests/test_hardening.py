"""Defects found from outside (issue 11), each with the bad value that found it.

A user's text is never run as a format string; every whole number a user can
send in a URL or a form is read by one bounded parser (app/params.py), so no
value of any length answers 500; "Mark all as read" with a bad `up_to` marks
nothing; the app makes its instance folder, or says in one line why it cannot.
"""
import html
import os
import subprocess
import sys
import uuid

import pytest

from app import push
from app.models import Lead, Notification, Setting
from conftest import bearer, csrf_token

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
API = "/api/v1"
# Each has fooled int() or a format string somewhere.
FORMATS = ["{}", "{photo_mb:>1000000}", "%s", "%(photo_mb)s"]
NOT_WHOLE = ["9" * 5000, "-1", "1_0", "\u0661\u0662", "9" * 20]
# Any answer to one of these is a page or a short JSON error, never a megabyte.
SMALL = 60_000


def text(response):
    return html.unescape(response.get_data(as_text=True))


def login(client, user):
    client.post("/login", data={"email": user.email, "password": "correct horse battery",
                                "csrf_token": csrf_token(client)})


def notify(user, title="Hot lead: Corner Shop"):
    """An unread notification for user, as the worker makes them."""
    return Notification.create(user=user, kind="new_lead", title=title,
                               body="New business · from Ann", path="/notifications")


def unread(user):
    return (Notification.select()
            .where((Notification.user == user) & Notification.read_at.is_null()).count())


# --- 1. A user's text is never a format string --------------------------------------


@pytest.mark.parametrize("value", FORMATS)
def test_feed_csv_with_format_characters_in_a_filter_is_refused_and_shows_them(
        client, depot, value):
    login(client, depot.manager)

    response = client.get("/feed.csv", query_string={"since": value})

    assert response.status_code == 400
    assert len(response.data) < SMALL
    assert "Since must be a date like 2025-03-31, not “%s”." % value in text(response)


@pytest.mark.parametrize("value", FORMATS)
def test_feed_page_with_format_characters_shows_them_as_typed(client, depot, value):
    login(client, depot.manager)

    response = client.get("/feed", query_string={"until": value, "sort": value})

    assert response.status_code == 400
    assert len(response.data) < SMALL
    assert "Until must be a date like 2025-03-31, not “%s”." % value in text(response)
    assert "not “%s”." % value in text(response).split("Sort by", 1)[1]


@pytest.mark.parametrize("value", FORMATS)
def test_api_with_format_characters_answers_a_short_json_error(client, depot, value):
    headers = bearer(depot.manager)

    changes = client.get(API + "/feed/changes", query_string={"since": value},
                         headers=headers)
    leads = client.get(API + "/leads", query_string={"before": value, "limit": value},
                       headers=headers)

    assert changes.status_code == 400 and changes.json["error"]["code"] == "invalid_parameter"
    assert "not “%s”." % value in changes.json["error"]["message"]
    assert leads.status_code == 400 and leads.json["error"]["code"] == "invalid_parameter"
    assert len(changes.data) < SMALL and len(leads.data) < SMALL


@pytest.mark.parametrize("value", FORMATS)
def test_a_page_echoing_format_characters_shows_them_as_typed(client, depot, value):
    login(client, depot.rep)

    listed = client.get("/leads", query_string={"show": value})
    inbox = client.get("/notifications", query_string={"before": value})

    assert listed.status_code == 400
    assert "There is no list called “%s”." % value in text(listed)
    assert inbox.status_code == 400 and "must be a whole number" in text(inbox)
    assert len(listed.data) < SMALL and len(inbox.data) < SMALL


# --- 2. Whole numbers: one bounded parser ---------------------------------------------


@pytest.mark.parametrize("value", NOT_WHOLE)
@pytest.mark.parametrize("name", ["territory", "route", "courier", "rep", "before"])
def test_feed_filters_refuse_what_is_not_an_id(client, depot, name, value):
    Lead.create(client_uuid=uuid.uuid4(), courier=depot.courier, business_name="Corner Shop",
                category="other", temperature="hot")
    login(client, depot.manager)

    page = client.get("/feed", query_string={name: value})
    export = client.get("/feed.csv", query_string={name: value})

    message = "%s must be an id (a whole number), not “%s”." % (name.capitalize(), value[:40])
    assert page.status_code == 400 and message in text(page)
    assert "Corner Shop" in text(page)  # the filter is left out; the page still shows
    assert export.status_code == 400 and message in text(export)


@pytest.mark.parametrize("value", NOT_WHOLE)
def test_feed_changes_refuse_what_is_not_an_id(client, depot, value):
    response = client.get(API + "/feed/changes", query_string={"territory": value,
                                                               "before": value},
                          headers=bearer(depot.manager))

    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_parameter"
    assert set(response.json["error"]["fields"]) == {"territory", "before"}


@pytest.mark.parametrize("value", NOT_WHOLE)
@pytest.mark.parametrize("path, name", [("/leads", "before"), ("/leads", "limit"),
                                        ("/notifications", "before"),
                                        ("/notifications", "limit")])
def test_api_lists_refuse_what_is_not_a_whole_number_in_range(client, depot, path, name, value):
    response = client.get(API + path, query_string={name: value}, headers=bearer(depot.rep))

    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_parameter"
    assert list(response.json["error"]["fields"]) == [name]


@pytest.mark.parametrize("value", NOT_WHOLE)
@pytest.mark.parametrize("role, path, name", [
    ("rep", "/leads", "before"),
    ("courier", "/my-leads", "before"),
    ("rep", "/notifications", "before"),
    ("manager", "/admin/audit/", "before"),
    ("manager", "/admin/users/", "after"),
])
def test_a_page_with_a_broken_cursor_says_so(client, depot, role, path, name, value):
    login(client, {"rep": depot.rep, "courier": depot.courier, "manager": depot.manager}[role])

    response = client.get(path, query_string={name: value})

    assert response.status_code == 400
    assert "This link is broken: “%s” must be a whole number" % name in text(response)
    assert len(response.data) < SMALL


@pytest.mark.parametrize("value", NOT_WHOLE)
def test_reading_one_notification_with_a_broken_cursor_changes_nothing(client, depot, value):
    note = notify(depot.rep)
    login(client, depot.rep)

    response = client.post("/notifications/%d/read?before=%s" % (note.id, value),
                           data={"csrf_token": csrf_token(client, "/notifications")})

    assert response.status_code == 400
    assert unread(depot.rep) == 1


@pytest.mark.parametrize("value", NOT_WHOLE + [" 7", "0"])
def test_deadlines_refuse_what_is_not_a_whole_number_of_minutes(client, depot, value):
    login(client, depot.manager)
    token = csrf_token(client, "/admin/deadlines/")

    response = client.post("/admin/deadlines/", data={"csrf_token": token, "hot": value,
                                                      "warm": "240", "fyi": "1440"})

    assert response.status_code == (302 if value == " 7" else 422)
    if value == " 7":
        assert Setting.read("deadline_hot_minutes") == 7
    else:
        assert "A whole number of minutes from 1 to 10080" in text(response)
        assert Setting.read("deadline_hot_minutes") is None


@pytest.mark.parametrize("value, seconds", [
    ("9" * 5000, 3600), ("0" * 5000 + "30", 30), ("120", 120), ("\u00b2", 60),
    ("\u0661\u0662", 60), ("-1", 60), ("1_0", 60), ("9" * 20, 3600)])
def test_any_retry_after_a_push_service_sends_is_read_without_failing(value, seconds):
    assert push.parse_retry_after(value) == seconds


# --- 5. "Mark all as read" with a bad up_to marks nothing -------------------------------


@pytest.mark.parametrize("up_to", ["abc", "", "1_0", "\u0661\u0662", "-1", "9" * 5000])
def test_mark_all_read_with_a_bad_up_to_is_refused_and_marks_nothing(client, depot, up_to):
    notify(depot.rep, "One"), notify(depot.rep, "Two")
    login(client, depot.rep)

    response = client.post("/notifications/read-all", data={
        "csrf_token": csrf_token(client, "/notifications"), "up_to": up_to})

    assert response.status_code == 400
    assert "“up_to” must be a whole number" in text(response)
    assert unread(depot.rep) == 2


def test_api_mark_all_read_with_a_bad_up_to_is_refused_and_marks_nothing(client, depot):
    notify(depot.rep)

    response = client.post(API + "/notifications/read-all?up_to=abc", headers=bearer(depot.rep))

    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_parameter"
    assert unread(depot.rep) == 1


# --- 8. The instance folder -------------------------------------------------------------


def flask_command(tmp_path, *args, **env):
    """Run `flask --app wsgi ARGS` as an operator would, with env on top of a clean one."""
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("INSTANCE_", "DATABASE_", "QUEUE_", "PHOTO_", "SECRET_"))}
    base.update(SECRET_KEY="set-by-the-operator",
                DATABASE_URL="sqlite:///%s" % (tmp_path / "db" / "touchpoint.db"), **env)
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT,
                          env=base, capture_output=True, text=True, timeout=120)


def test_a_missing_instance_folder_is_created(tmp_path):
    instance = tmp_path / "not" / "there" / "yet"

    done = flask_command(tmp_path, "migrate", INSTANCE_PATH=str(instance))

    assert done.returncode == 0, done.stderr
    assert "Applied:" in done.stdout
    assert (instance / "queue.db").is_file() and (instance / "photos").is_dir()


@pytest.mark.parametrize("setting", ["INSTANCE_PATH", "PHOTO_FOLDER"])
def test_a_folder_that_cannot_be_made_is_named_in_one_line(tmp_path, setting):
    (tmp_path / "a-file").write_text("not a folder")
    folder = tmp_path / "a-file" / "instance"
    env = {setting: str(folder)}
    if setting == "PHOTO_FOLDER":
        env["INSTANCE_PATH"] = str(tmp_path / "instance")

    done = flask_command(tmp_path, "migrate", **env)

    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        "Error: Touchpoint cannot create the folder %s: Not a directory." % folder)
