"""Accounts, sessions, CSRF, roles and the headers every response carries."""
import hashlib
import io
import os
import re
from html import unescape

import pytest

from app.auth import deactivate, set_password
from app.models import ApiToken, Lead, TerritoryRep
from app.security import CSRF_FREE_PATHS
from conftest import PASSWORD, Auth, bearer, csrf_token, make_user


def test_each_role_lands_on_its_home(client, auth, depot):
    assert auth.login(depot.courier).headers["Location"] == "/leads/new"
    auth.logout()
    assert auth.login(depot.rep).headers["Location"] == "/leads"
    auth.logout()
    assert auth.login(depot.manager).headers["Location"] == "/feed"


def test_login_ignores_email_case(client, auth, depot):
    depot.courier.email = "ann@depot.test"
    response = client.post("/login", data={"email": "  ANN@Depot.TEST ", "password": PASSWORD,
                                            "csrf_token": csrf_token(client)})
    assert response.status_code == 302


def _failed_login(client, email, password):
    response = client.post("/login", data={"email": email, "password": password,
                                            "csrf_token": csrf_token(client)})
    page = response.get_data(as_text=True).replace(email, "EMAIL")
    # CSRF tokens carry a timestamp, which may tick between two requests.
    return response.status_code, re.sub(r'(content|value)="[\w.-]{60,}"', "TOKEN", page)


def test_login_does_not_say_whether_the_email_exists(client, depot):
    deactivate(depot.courier2)
    wrong_password = _failed_login(client, depot.courier.email, "not the password")
    unknown_email = _failed_login(client, "nobody@depot.test", "not the password")
    inactive_user = _failed_login(client, depot.courier2.email, PASSWORD)
    assert wrong_password[0] == 401
    assert "don&#39;t match an active account" in wrong_password[1]
    assert wrong_password == unknown_email == inactive_user


@pytest.mark.parametrize("data, message", [
    ({"email": "", "password": "x"}, "This field is required."),
    ({"email": "a@b.c", "password": ""}, "This field is required."),
    ({"email": "a" * 300 + "@b.c", "password": "x"}, "Field cannot be longer than 254 characters."),
])
def test_login_form_bad_input_is_explained(client, data, message):
    response = client.post("/login", data=dict(data, csrf_token=csrf_token(client)))
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)


def test_login_attempts_are_rate_limited(app, make_app):
    client = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute").test_client()
    token = csrf_token(client)
    codes = [client.post("/login", data={"email": "x@y.z", "password": "wrong",
                                         "csrf_token": token}).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    assert "Too many attempts" in client.post("/login", data={"csrf_token": token}).get_data(as_text=True)


@pytest.mark.parametrize("target, expected", [
    ("/my-leads", "/my-leads"),
    ("//evil.example/steal", "/leads/new"),
    ("https://evil.example/", "/leads/new"),
    ("/\\evil.example", "/leads/new"),
    ("/%09/evil.example", "/leads/new"),
    ("/%0a/evil.example", "/leads/new"),
    ("/my leads", "/leads/new"),
])
def test_login_returns_only_to_pages_of_this_site(client, depot, target, expected):
    response = client.post("/login?next=" + target, data={
        "email": depot.courier.email, "password": PASSWORD, "csrf_token": csrf_token(client)})
    assert response.headers["Location"] == expected


def test_session_cookie_is_httponly_lax_and_bounded(client, auth, depot):
    cookie = auth.login(depot.courier).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
    assert "Secure" not in cookie
    assert client.application.config["PERMANENT_SESSION_LIFETIME"].days == 14


def test_session_cookie_is_secure_over_https(app, depot):
    client = app.test_client()
    token = csrf_token(client)
    response = client.post("/login", data={"email": depot.courier.email, "password": PASSWORD,
                                           "csrf_token": token}, base_url="https://localhost",
                           headers={"Referer": "https://localhost/login"})
    assert response.status_code == 302
    assert "; Secure" in response.headers["Set-Cookie"]
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_deactivating_a_user_ends_their_session_at_once(app, client, auth, depot):
    auth.login(depot.courier)
    assert client.get("/my-leads").status_code == 200
    deactivate(depot.courier)
    assert client.get("/my-leads").headers["Location"].startswith("/login")


def test_new_password_ends_every_other_session(app, depot):
    phone, laptop = Auth(app.test_client()), Auth(app.test_client())
    phone.login(depot.courier)
    laptop.login(depot.courier)
    response = laptop.client.post("/account/password", data={
        "current": PASSWORD, "new": "a brand new secret", "confirm": "a brand new secret",
        "csrf_token": csrf_token(laptop.client, "/account/password")})
    assert response.status_code == 302
    assert laptop.client.get("/my-leads").status_code == 200
    assert phone.client.get("/my-leads").headers["Location"].startswith("/login")
    assert laptop.login(depot.courier, "a brand new secret").status_code == 302


def test_set_password_ends_sessions(app, client, auth, depot):
    auth.login(depot.rep)
    with app.app_context():
        set_password(depot.rep, "another password!")
    assert client.get("/leads").status_code == 302


@pytest.mark.parametrize("data, message", [
    ({"current": "wrong one", "new": "long enough pw", "confirm": "long enough pw"},
     "That is not your current password."),
    ({"current": PASSWORD, "new": "short", "confirm": "short"}, "Use 10 to 200 characters."),
    ({"current": PASSWORD, "new": "long enough pw", "confirm": "long enough px"},
     "The two new passwords differ."),
    ({"current": PASSWORD, "new": "x" * 201, "confirm": "x" * 201}, "Use 10 to 200 characters."),
])
def test_password_change_bad_input_keeps_old_password(client, auth, depot, data, message):
    auth.login(depot.courier)
    response = client.post("/account/password",
                           data=dict(data, csrf_token=csrf_token(client, "/account/password")))
    assert message in response.get_data(as_text=True)
    assert client.get("/my-leads").status_code == 200
    auth.logout()
    assert auth.login(depot.courier).status_code == 302


def test_logout_needs_a_post_with_csrf(client, auth, depot):
    auth.login(depot.courier)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/my-leads").status_code == 200
    auth.logout()
    assert client.get("/my-leads").status_code == 302


def _state_changing_routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods & {"POST", "PUT", "PATCH", "DELETE"}):
            yield method, rule.rule.replace("<int:lead_id>", "1")


def test_every_state_change_without_csrf_token_is_refused(app, client, auth, depot):
    routes = list(_state_changing_routes(app))
    assert ("POST", "/leads/new") in routes and ("PUT", "/api/v1/leads/1/photo") in routes
    auth.login(depot.courier)
    for method, path in routes:
        if path in CSRF_FREE_PATHS:
            continue  # changes nothing: see the test below
        response = client.open(path, method=method, data={"business_name": "x"})
        assert response.status_code == 400, (method, path)
        if path.startswith("/api/"):
            assert response.json["error"]["code"] == "csrf_failed"


def test_the_share_target_needs_no_csrf_token_because_it_changes_nothing(app, client, auth,
                                                                         depot):
    assert CSRF_FREE_PATHS == ("/share",)
    auth.login(depot.courier)

    response = client.post("/share", data={"photo": (io.BytesIO(b"\xff\xd8 not stored"), "a.jpg")},
                           content_type="multipart/form-data")

    assert response.status_code == 303 and response.headers["Location"].endswith("/leads/new")
    assert Lead.select().count() == 0
    photos = app.config["PHOTO_FOLDER"]
    assert not os.path.isdir(photos) or os.listdir(photos) == []


def test_bearer_token_calls_need_no_csrf_token(client, depot):
    response = client.post("/api/v1/leads", headers=bearer(depot.courier), json={
        "client_uuid": "6f1c7a52-07a4-4a8e-9a55-6c1d2b0c9e11", "business_name": "Bakery",
        "category": "other", "temperature": "fyi"})
    assert response.status_code == 201


def test_api_tokens_are_stored_only_as_hashes(depot):
    row, token = ApiToken.issue(depot.courier)
    stored = ApiToken.get_by_id(row.id)
    assert token not in (stored.token_hash, stored.name)
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()


@pytest.mark.parametrize("role, path", [
    ("courier", "/leads"),
    ("rep", "/leads/new"), ("rep", "/my-leads"),
    ("manager", "/leads/new"), ("manager", "/my-leads"),
])
def test_roles_get_403_on_pages_not_theirs(client, auth, role, path):
    auth.login(make_user(role))
    assert client.get(path).status_code == 403


def test_anonymous_visitors_are_sent_to_login(client):
    for path in ("/", "/leads", "/leads/new", "/my-leads", "/leads/1", "/account",
                 "/account/password"):
        assert client.get(path).headers["Location"].startswith("/login"), path


@pytest.mark.parametrize("path", ["/login", "/static/css/app.css", "/api/v1/openapi.json",
                                  "/no-such-page", "/api/v1/leads"])
def test_security_headers_on_every_response(client, path):
    headers = client.get(path).headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in headers


def test_pages_have_no_inline_scripts(client, auth, depot):
    auth.login(depot.courier)
    for path in ("/login", "/leads/new", "/my-leads", "/account", "/account/password"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>" not in html and "onclick=" not in html, path


# --- The account page ----------------------------------------------------------------

def settings_links(html):
    return re.findall(r'<li><a href="([^"]+)"><span class="title">(.*?)</span>', html)


@pytest.mark.parametrize("who, role, where, links", [
    ("courier", "Courier", ("Route", "R1 — North loop"),
     [("/account/password", "Password"), ("/account/alerts", "Alerts"), ("/devices", "Devices"),
      ("/my-record", "My record")]),
    ("rep", "Sales rep", ("Territory", "North"),
     [("/account/password", "Password"), ("/account/alerts", "Alerts"), ("/devices", "Devices"),
      ("/numbers", "Numbers")]),
    ("backup", "Sales rep", ("Territory", "North (backup)"),
     [("/account/password", "Password"), ("/account/alerts", "Alerts"), ("/devices", "Devices"),
      ("/numbers", "Numbers")]),
    ("manager", "Manager", None,
     [("/account/password", "Password"), ("/account/alerts", "Alerts"), ("/devices", "Devices"),
      ("/numbers", "Numbers"), ("/admin/", "Running the depot")]),
])
def test_account_page_says_who_you_are_and_lists_your_settings(client, auth, depot, who, role,
                                                                where, links):
    user = getattr(depot, who)
    auth.login(user)

    html = client.get("/account").get_data(as_text=True)

    facts = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", html, re.S))
    assert facts["Name"] == user.name and facts["Role"] == role
    if where:
        assert unescape(facts[where[0]]) == where[1]
    assert "Route" not in facts if who != "courier" else "Territory" not in facts
    assert settings_links(html) == links
    assert '<form method="post" action="/logout" class="logout">' in html
    assert 'name="current"' not in html  # the password form has its own page


def test_a_rep_in_two_territories_sees_both(client, auth, depot):
    TerritoryRep.create(territory=depot.south, rep=depot.rep, membership="backup")
    auth.login(depot.rep)

    facts = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", client.get("/account").get_data(
        as_text=True), re.S))

    assert facts["Territories"] == "North, South (backup)"


def test_the_header_links_to_the_account_page_and_logout_works_from_it(client, auth, depot):
    auth.login(depot.courier)
    html = client.get("/my-leads").get_data(as_text=True)
    assert '<a href="/account">Account</a>' in html

    token = csrf_token(client, "/account")
    assert client.post("/logout", data={"csrf_token": token}).headers["Location"] == "/login"
    assert client.get("/account").headers["Location"].startswith("/login")


def test_logout_without_csrf_token_is_refused(client, auth, depot):
    auth.login(depot.courier)
    assert client.post("/logout").status_code == 400
    assert client.get("/account").status_code == 200


def test_login_page_says_what_touchpoint_is_and_has_a_full_width_button(client):
    html = client.get("/login").get_data(as_text=True)
    assert '<p class="intro">Touchpoint takes the sales leads couriers spot' in html
    assert '<button type="submit" class="primary big">Log in</button>' in html
