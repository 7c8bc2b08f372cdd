"""Issue 11, items 4, 6 and 7, each with the bad values that found it:
API tokens end with a new password and with a deactivation (and stay ended
after a reactivation); one-line fields fold line breaks on the page, in the
API and in the CSV import; phone numbers are checked by libphonenumber,
stored in E.164 and shown as the depot writes them."""
import re
import uuid

import phonenumbers
import pytest
from playhouse.migrations import Runner

from app.db import MIGRATIONS, db, migrate
from app.models import ApiToken, AuditEntry, Invite, Lead, User
from conftest import PASSWORD, Auth, bearer, csrf_token, lead_form, make_user
from test_admin import DOMAIN, Manager, apply_fields, page, upload, user_form
from test_capture import assert_form_kept, error_of, page_rules, post_lead

API_LEADS = "/api/v1/leads"
NEW_PASSWORD = "a brand new secret"


def works(client, headers):
    """The HTTP status a Bearer token gets from the API."""
    return client.get(API_LEADS, headers=headers).status_code


def api_lead(**overrides):
    body = {"client_uuid": str(uuid.uuid4()), "business_name": "Joe's Bakery",
            "category": "new_business", "temperature": "hot"}
    body.update(overrides)
    return body


# --- 4. Tokens end as sessions end ------------------------------------------------


def test_changing_ones_password_on_the_account_page_ends_ones_api_tokens(app, client, depot):
    headers = bearer(depot.courier, "van script")
    other = bearer(depot.courier2)
    assert works(client, headers) == 200
    browser = Auth(app.test_client())
    browser.login(depot.courier)
    response = browser.client.post("/account/password", data={
        "current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD,
        "csrf_token": csrf_token(browser.client, "/account/password")}, follow_redirects=True)
    assert "your API tokens no longer work" in page(response)
    assert works(client, headers) == 401
    assert client.post(API_LEADS, json=api_lead(), headers=headers).status_code == 401
    assert Lead.select().count() == 0
    assert ApiToken.get(ApiToken.user == depot.courier).revoked_at is not None
    assert works(client, other) == 200  # only the courier's own tokens end
    assert works(client, bearer(depot.courier, "new script")) == 200


def test_a_password_set_with_an_invite_link_ends_the_users_api_tokens(app, client, depot):
    headers = bearer(depot.rep)
    assert works(client, headers) == 200
    _, token = Invite.issue(depot.rep)
    visitor = app.test_client()
    response = visitor.post("/invite/" + token, data={
        "new": NEW_PASSWORD, "confirm": NEW_PASSWORD,
        "csrf_token": csrf_token(visitor, "/invite/" + token)})
    assert response.status_code == 302
    assert works(client, headers) == 401


def test_set_password_on_the_command_line_ends_the_users_api_tokens(runner, client, depot):
    headers = bearer(depot.rep)
    result = runner.invoke(args=["set-password", depot.rep.email], input=NEW_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "1 API token(s) were revoked" in result.output
    assert works(client, headers) == 401


def test_a_token_from_before_a_deactivation_stays_dead_after_reactivation(
        app, client, runner, depot):
    headers = bearer(depot.courier, "van script")
    assert works(client, headers) == 200
    admin = Manager(app.test_client(), depot.manager)
    response = admin.post("/admin/users/%d/deactivate" % depot.courier.id, follow_redirects=True)
    assert "Their API tokens are revoked." in page(response)
    assert works(client, headers) == 401
    admin.post("/admin/users/%d/reactivate" % depot.courier.id)
    assert User.get_by_id(depot.courier.id).active
    assert works(client, headers) == 401
    assert client.post(API_LEADS, json=api_lead(), headers=headers).status_code == 401
    entry = (AuditEntry.select().where(AuditEntry.action == "user.deactivate").get())
    assert '"tokens_revoked": 1' in entry.detail
    listed = runner.invoke(args=["tokens", depot.courier.email]).output
    assert re.search(r"#\d+\s+van script .* revoked \d{4}-\d\d-\d\d", listed), listed
    fresh = runner.invoke(args=["token", depot.courier.email]).stdout.strip()
    assert works(client, {"Authorization": "Bearer " + fresh}) == 200
    assert client.post(API_LEADS, json=api_lead(),
                       headers={"Authorization": "Bearer " + fresh}).status_code == 201


def test_deactivating_on_the_command_line_ends_tokens_for_good(runner, client, depot):
    headers = bearer(depot.rep)
    result = runner.invoke(args=["deactivate", depot.rep.email])
    assert "1 API token(s) revoked" in result.output
    User.update(active=True).where(User.id == depot.rep.id).execute()
    assert works(client, headers) == 401


# --- 6. One-line fields fold their line breaks --------------------------------------

FOLDED = {"business_name": ("Joe's\r\nBakery", "Joe's Bakery"),
          "contact_name": ("a\rb", "a b"),
          "address": ("1 High St\n\t Flat 2 ", "1 High St Flat 2"),
          "competitor": ("Speedy\u2028Parcels", "Speedy Parcels"),
          "postcode": ("ab1\n2cd", "AB1 2CD")}
NOTE = "Opens Monday.\r\nAsk for Joe\n\nafter 10."


def test_line_breaks_in_one_line_fields_of_the_page_become_one_space(client, auth, depot):
    auth.login(depot.courier)
    typed = {name: value for name, (value, _) in FOLDED.items()}
    response = post_lead(client, lead_form(category="competitor", note=NOTE, **typed))
    assert response.status_code == 302
    lead = Lead.get()
    assert {name: getattr(lead, name) for name in FOLDED} == {
        name: folded for name, (_, folded) in FOLDED.items()}
    assert lead.note.splitlines() == ["Opens Monday.", "Ask for Joe", "", "after 10."]


def test_line_breaks_in_one_line_fields_of_the_api_become_one_space(client, depot):
    typed = {name: value for name, (value, _) in FOLDED.items()}
    response = client.post(API_LEADS, json=api_lead(category="competitor", note=NOTE, **typed),
                           headers=bearer(depot.courier))
    assert response.status_code == 201, response.json
    assert {name: response.json[name] for name in FOLDED} == {
        name: folded for name, (_, folded) in FOLDED.items()}
    assert response.json["note"].splitlines() == ["Opens Monday.", "Ask for Joe", "",
                                                  "after 10."]
    lead = Lead.get()
    assert (lead.business_name, lead.contact_name) == ("Joe's Bakery", "a b")


def test_spaces_without_a_line_break_are_kept_as_typed(client, depot):
    response = client.post(API_LEADS, json=api_lead(business_name="Joe's  Bakery"),
                           headers=bearer(depot.courier))
    assert response.json["business_name"] == "Joe's  Bakery"


@pytest.mark.parametrize("name", ["\n", "\r\n", "\t", " \r \n "])
def test_a_name_of_line_breaks_only_is_missing_on_the_page_and_in_the_api(
        client, auth, depot, name):
    response = client.post(API_LEADS, json=api_lead(business_name=name),
                           headers=bearer(depot.courier))
    assert response.status_code == 422
    assert response.json["error"]["fields"]["business_name"] == ["Required."]
    auth.login(depot.courier)
    response = post_lead(client, lead_form(business_name=name))
    assert response.status_code == 422
    assert "Required." in error_of(response.get_data(as_text=True), "business_name")
    assert Lead.select().count() == 0


def test_a_users_name_folds_its_line_breaks_when_added_and_when_imported(app, depot):
    admin = Manager(app.test_client(), depot.manager)
    response = admin.post("/admin/users/new", user_form(name="Hana\r\nDriver", invite=None))
    assert response.status_code == 302
    assert User.by_email("hana@" + DOMAIN).name == "Hana Driver"
    csv = ('email,name,role\n"ida@%s","Ida\r\nDriver",courier\n' % DOMAIN)
    preview = upload(admin, csv)
    assert preview.status_code == 200, page(preview)
    admin.post("/admin/import/apply", apply_fields(preview))
    assert User.by_email("ida@" + DOMAIN).name == "Ida Driver"


# --- 7. Phone numbers ---------------------------------------------------------------

# As people write the same London number, and what is stored.
WRITTEN = ["020 7946 0000", "+44 20 7946 0000", "+44 (0)20 7946 0000", "(020) 7946-0000",
           "00 44 20 7946 0000", "020.7946.0000", "+442079460000", " 020 7946 0000 "]
BAD_PHONES = [
    ("12", "Too short for a phone number"),
    ("+44 20", "Too short for a phone number"),
    ("999", "Too short for a phone number"),
    ("call me", "Use digits, spaces and + ( ) - only"),
    ("+44 20 CALL NOW", "Use digits, spaces and + ( ) - only"),
    ("0800 FLOWERS", "Use digits, spaces and + ( ) - only"),
    ("020 7946 0000 ext 12", "Use digits, spaces and + ( ) - only"),
    ("+99 123 4567", "No country has that code"),
    ("020 7946 000", "Not a phone number in use (+44, United Kingdom): check the digits; "
                     "a number from abroad starts with + and its country code."),
    ("202 555 0123", "a number from abroad starts with + and its country code"),
    ("+44 20 7946 0000 0000", "Too long for a phone number"),
    ("7946 0000", "Add the area code"),
    ("+()", "That isn't a phone number"),
]


@pytest.mark.parametrize("typed", WRITTEN)
def test_a_number_however_written_is_stored_in_e164(client, auth, depot, typed):
    auth.login(depot.courier)
    assert post_lead(client, lead_form(contact_phone=typed)).status_code == 302
    assert Lead.get().contact_phone == "+442079460000"


@pytest.mark.parametrize("typed, message", BAD_PHONES, ids=[typed for typed, _ in BAD_PHONES])
def test_a_bad_number_is_explained_on_the_page_and_in_the_api(client, auth, depot, typed,
                                                               message):
    response = client.post(API_LEADS, json=api_lead(contact_phone=typed),
                           headers=bearer(depot.courier))
    assert response.status_code == 422
    assert message in " ".join(response.json["error"]["fields"]["contact_phone"])
    auth.login(depot.courier)
    data = lead_form(contact_phone=typed)
    response = post_lead(client, data)
    assert response.status_code == 422
    html_text = response.get_data(as_text=True)
    assert message in error_of(html_text, "contact_phone")
    assert_form_kept(html_text, data)  # the number as typed, to correct
    assert Lead.select().count() == 0


def test_the_api_answers_the_number_in_e164_and_the_rep_sees_it_as_the_depot_writes_it(
        client, auth, depot):
    response = client.post(API_LEADS, json=api_lead(contact_phone="020 7946 0123"),
                           headers=bearer(depot.courier))
    assert response.json["contact_phone"] == "+442079460123"
    auth.login(depot.rep)
    detail = client.get("/leads/%d" % response.json["id"]).get_data(as_text=True)
    assert '<a href="tel:+442079460123">020 7946 0123</a>' in detail
    assert 'href="tel:+442079460123">Call' in detail


def test_a_number_from_abroad_is_shown_in_the_international_format(client, auth, depot):
    response = client.post(API_LEADS, json=api_lead(contact_phone="0049 30 123456"),
                           headers=bearer(depot.courier))
    assert response.json["contact_phone"] == "+4930123456"
    auth.login(depot.rep)
    detail = client.get("/leads/%d" % response.json["id"]).get_data(as_text=True)
    assert '<a href="tel:+4930123456">+49 30 123456</a>' in detail


def test_a_depot_in_another_region_reads_and_shows_its_own_national_numbers(make_app):
    app = make_app(DEPOT_REGION="DE")
    client = app.test_client()
    db.connect(reuse_if_open=True)
    try:
        courier, rep = make_user("courier"), make_user("manager")
        response = client.post(API_LEADS, json=api_lead(contact_phone="030 123456"),
                               headers=bearer(courier))
        assert response.json["contact_phone"] == "+4930123456"
        refused = client.post(API_LEADS, json=api_lead(contact_phone="020 7946 0000"),
                              headers=bearer(courier))
        assert "(+49, Germany)" in refused.json["error"]["fields"]["contact_phone"][0]
        Auth(client).login(rep)
        detail = client.get("/leads/%d" % response.json["id"]).get_data(as_text=True)
        assert '<a href="tel:+4930123456">030 123456</a>' in detail
    finally:
        db.close()


@pytest.mark.parametrize("region", ["XX", "gb", "UK", "GBR", "001"])
def test_an_unknown_depot_region_stops_the_app_at_start_up(make_app, region):
    with pytest.raises(ValueError, match=r"DEPOT_REGION must be a region code .* not '%s'"
                       % region):
        make_app(DEPOT_REGION=region)


def test_the_phones_own_check_never_refuses_a_number_the_server_takes(client, auth, depot):
    """The phone checks characters only (its regex is the server's first check):
    every way of writing a number the server stores passes it, and the bad
    numbers it cannot judge are left to the server, which says more."""
    auth.login(depot.courier)
    rule = page_rules(client)["contact_phone"]
    pattern, message = rule["pattern"]
    assert message == "Use digits, spaces and + ( ) - only, e.g. +44 20 7946 0000."
    for typed in WRITTEN + ["+1 202-555-0123", "+49 30 123456", "020\t7946 0000"]:
        assert re.search(pattern, typed), typed
    refused_by_phone = {typed for typed, _ in BAD_PHONES if not re.search(pattern, typed)}
    assert refused_by_phone == {typed for typed, why in BAD_PHONES
                                if why.startswith("Use digits")}


def test_a_users_phone_is_checked_stored_in_e164_and_shown_nationally(app, depot):
    admin = Manager(app.test_client(), depot.manager)
    response = admin.post("/admin/users/new", user_form(phone="+44 20 7946 00", invite=None))
    assert response.status_code == 422
    assert "Not a phone number in use" in page(response)
    assert User.by_email("hana@" + DOMAIN) is None
    response = admin.post("/admin/users/new", user_form(phone="(020) 7946-0001", invite=None))
    hana = User.by_email("hana@" + DOMAIN)
    assert hana.phone == "+442079460001"
    assert 'value="020 7946 0001"' in page(admin.get("/admin/users/%d" % hana.id))


def test_an_imported_users_phone_is_checked_and_stored_in_e164(app, depot):
    admin = Manager(app.test_client(), depot.manager)
    bad = upload(admin, "email,name,role,phone\nida@%s,Ida,courier,123\n" % DOMAIN)
    assert bad.status_code == 422
    assert "Phone: Too short for a phone number" in page(bad)
    good = upload(admin, "email,name,role,phone\nida@%s,Ida,courier,020 7946 0002\n" % DOMAIN)
    admin.post("/admin/import/apply", apply_fields(good))
    assert User.by_email("ida@" + DOMAIN).phone == "+442079460002"


def test_create_user_on_the_command_line_checks_and_stores_the_phone(runner, app):
    def create(email, phone):
        return runner.invoke(args=["create-user", "--email", email, "--name", "Nia",
                                   "--role", "courier", "--phone", phone],
                             input="a long enough password\n")

    result = create("nia@depot.test", "+44 20")
    assert result.exit_code != 0
    assert "Phone: Too short for a phone number" in result.output
    assert User.by_email("nia@depot.test") is None
    assert create("nia@depot.test", "020 7946 0003").exit_code == 0
    assert User.by_email("nia@depot.test").phone == "+442079460003"


def test_the_migration_stores_valid_numbers_in_e164_and_leaves_the_rest(app, depot):
    courier = depot.courier
    legacy = {"+44 20 7946 0000": "+442079460000", "0113 496 0123": "+441134960123",
              "(0161) 496-0999": "+441614960999", "+49 30 123456": "+4930123456",
              "12 34 56": "12 34 56", "+44 20": "+44 20", "": ""}
    leads = {}
    for typed in legacy:
        lead, _ = Lead.submit(courier, {"business_name": "Shop", "category": "other",
                                        "temperature": "warm", "contact_phone": typed},
                              uuid.uuid4())
        leads[lead.id] = typed
    User.update(phone="020 7946 0001").where(User.id == depot.rep.id).execute()
    User.update(phone="0800 1").where(User.id == depot.manager.id).execute()
    runner = Runner(db.obj, MIGRATIONS)
    runner.History.delete().where(runner.History.name == "0009_phone_e164").execute()

    assert migrate() == ["0009_phone_e164"]

    stored = {lead.id: lead.contact_phone for lead in Lead.select()}
    assert stored == {lead_id: legacy[typed] for lead_id, typed in leads.items()}
    assert User.get_by_id(depot.rep.id).phone == "+442079460001"
    assert User.get_by_id(depot.manager.id).phone == "0800 1"


def is_e164(number):
    parsed = phonenumbers.parse(number)
    return phonenumbers.is_valid_number(parsed) and number == phonenumbers.format_number(
        parsed, phonenumbers.PhoneNumberFormat.E164)


def test_the_demo_depot_has_only_valid_numbers_in_e164(runner, app):
    assert runner.invoke(args=["demo"]).exit_code == 0
    numbers = ([lead.contact_phone for lead in Lead.select() if lead.contact_phone]
               + [user.phone for user in User.select() if user.phone])
    assert len(numbers) > 10
    assert [n for n in numbers if not is_e164(n)] == []


def test_synthetic_leads_have_only_valid_numbers_in_e164(runner, app):
    assert runner.invoke(args=["synth", "--leads", "300", "--seed", "5"]).exit_code == 0
    numbers = [phone for (phone,) in Lead.select(Lead.contact_phone)
               .where(Lead.contact_phone != "").tuples()]
    assert len(numbers) > 50
    assert [n for n in numbers if not is_e164(n)] == []


def test_the_api_document_says_what_a_phone_number_may_be_and_that_it_comes_back_in_e164(
        client):
    schemas = client.get("/api/v1/openapi.json").json["components"]["schemas"]
    assert "national, in the depot's region" in schemas["LeadInput"]["properties"][
        "contact_phone"]["description"]
    assert schemas["Lead"]["properties"]["contact_phone"]["description"].startswith(
        "E.164, e.g. +442079460000")
