"""The courier's capture: the New lead form, where a lead went, and My leads.

Every lead here is sent the way a phone without JavaScript sends it: the page
is fetched, and the form is posted back as multipart with the page's CSRF token.
"""
import io
import json
import os
import re
import uuid
from html import unescape
from html.parser import HTMLParser

import pytest
from markupsafe import escape
from PIL import Image

from app.models import CATEGORIES, TEMPERATURES, Lead, LeadEvent
from conftest import bearer, lead_form

TEXT_FIELDS = ("business_name", "competitor", "contact_name", "contact_phone",
               "contact_email", "address", "postcode", "note", "lat", "lng")
CHOICES = {"category": tuple(CATEGORIES), "temperature": tuple(TEMPERATURES)}


class PageForm(HTMLParser):
    """What a browser without JavaScript makes of the New lead form: the
    form's attributes, the fields it would send as they stand, and the page's
    scripts."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.form_attrs, self.fields, self.file_fields, self.scripts = None, {}, [], []
        self.submit_buttons = 0
        self._in_form, self._textarea, self._script = False, None, None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self._script = (attrs, [])
        elif tag == "form" and "capture" in (attrs.get("class") or "").split():
            self.form_attrs, self._in_form = attrs, True
        elif not self._in_form:
            return
        elif tag == "button" and attrs.get("type", "submit") == "submit":
            self.submit_buttons += 1
        elif tag == "textarea":
            self._textarea = attrs["name"]
            self.fields[self._textarea] = ""
        elif tag == "input":
            kind = attrs.get("type", "text")
            if kind == "file":
                self.file_fields.append(attrs["name"])
            elif kind not in ("radio", "checkbox"):
                self.fields[attrs["name"]] = attrs.get("value", "")
            elif "checked" in attrs:
                self.fields[attrs["name"]] = attrs.get("value", "on")

    def handle_data(self, data):
        if self._textarea:
            self.fields[self._textarea] += data
        if self._script:
            self._script[1].append(data)

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea:
            # A browser drops the one newline right after <textarea>.
            self.fields[self._textarea] = re.sub(r"^\r?\n", "", self.fields[self._textarea])
            self._textarea = None
        elif tag == "script" and self._script:
            self.scripts.append((self._script[0], "".join(self._script[1])))
            self._script = None
        elif tag == "form":
            self._in_form = False

    def data(self):
        return dict(self.fields)


def tiny_jpeg():
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (20, 120, 200)).save(out, "JPEG")
    return out.getvalue()


def post_lead(client, data, photo=None, filename="photo.jpg", mimetype="image/jpeg"):
    """Fetch the New lead page and post `data` back with its CSRF token."""
    page = client.get("/leads/new")
    assert page.status_code == 200
    form = PageForm(page.get_data(as_text=True)).data()
    body = dict(data, csrf_token=form["csrf_token"])
    if photo is not None:
        body["photo"] = (io.BytesIO(photo), filename, mimetype)
    return client.post("/leads/new", data=body, content_type="multipart/form-data")


def send(client, **overrides):
    """Send a valid lead (with `overrides`) and return the stored Lead."""
    response = post_lead(client, lead_form(**overrides))
    assert response.status_code == 302, response.get_data(as_text=True)
    lead_id = int(re.fullmatch(r"/leads/(\d+)/sent", response.headers["Location"]).group(1))
    return Lead.get_by_id(lead_id)


def stored_photos(app):
    folder = app.config["PHOTO_FOLDER"]
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def field_block(html, name):
    """The `.field` div (or chips fieldset) that holds the control named `name`."""
    pattern = r'<div class="field[^"]*"[^>]*>.*?</div>|<fieldset class="chips.*?</fieldset>'
    for match in re.finditer(pattern, html, re.S):
        if 'name="%s"' % name in match.group(0):
            return match.group(0)
    raise AssertionError("no field holds %r" % name)


def error_of(html, name):
    """The error text shown for field `name` (inside its field, with id <name>-error)."""
    assert html.count('id="%s-error"' % name) == 1, "one error element per field"
    block = field_block(html, name)
    found = re.search(r'<p class="error" id="%s-error">(.*?)</p>' % name, block, re.S)
    assert found, "the error stands inside the %s field" % name
    return unescape(found.group(1))


def assert_form_kept(html, data):
    """Everything the courier typed is back in the re-rendered form."""
    for name in TEXT_FIELDS:
        value = (data.get(name) or "").strip()
        if value:
            assert str(escape(value)) in field_block(html, name), name
    for name, choices in CHOICES.items():
        if data.get(name) in choices:
            assert re.search(r'<input checked[^>]*value="%s"' % data[name],
                             field_block(html, name)), name
    if data.get("expects_call"):
        assert re.search(r'<input checked[^>]*name="expects_call"', html)


# --- Sending a lead and seeing where it went -------------------------------------

@pytest.mark.parametrize("courier, postcode, territory", [
    ("courier", "AB1 2CD", "North"),   # by the courier's route R1
    ("courier", "CD1 1AA", "North"),   # the route wins over the postcode
    ("rover", "CD1 1AA", "South"),     # route without territory: postcode prefix CD
    ("rover", "cd1 1aa", "South"),     # whatever its case
    ("rover", "AB1 2CD", "North"),     # prefix AB
    ("rover", "AB9 1AA", "South"),     # AB9 is longer than AB, so it wins
    ("rover", "ZZ1 1ZZ", None),        # no prefix matches: unrouted
    ("rover", "", None),
])
def test_courier_sees_where_the_lead_went(client, auth, depot, courier, postcode, territory):
    auth.login(getattr(depot, courier))
    response = post_lead(client, lead_form(postcode=postcode))
    assert response.status_code == 302
    lead = Lead.get()
    assert response.headers["Location"] == "/leads/%d/sent" % lead.id

    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Joe&#39;s Bakery" in page
    if territory:
        assert "went to the <strong>%s</strong> sales team" % territory in page
        assert lead.territory.name == territory
    else:
        assert "went to the <strong>managers</strong>" in page
        assert lead.territory is None


def test_confirmation_names_the_primary_reps_not_the_backups(client, auth, depot):
    auth.login(depot.courier)
    page = client.get(post_lead(client, lead_form()).headers["Location"]).get_data(as_text=True)
    assert "sales team (Dana)" in page
    assert "Finn" not in page


def test_lead_keeps_everything_the_courier_typed(client, auth, depot):
    auth.login(depot.courier)
    lead = send(client, category="competitor", competitor="Speedy Parcels",
                postcode="ab1 2cd", lat="51.5074", lng="-0.1278",
                note="Opens Monday.\nAsk for Joe\tafter 10.")
    assert (lead.business_name, lead.category, lead.competitor, lead.temperature) == (
        "Joe's Bakery", "competitor", "Speedy Parcels", "hot")
    assert (lead.contact_name, lead.contact_phone, lead.contact_email) == (
        "Joe", "+442079460000", "joe@joesbakery.co.uk")  # the phone in E.164
    assert (lead.address, lead.postcode) == ("1 High St", "AB1 2CD")
    assert lead.note == "Opens Monday.\nAsk for Joe\tafter 10."
    assert lead.expects_call is True
    assert (lead.lat, lead.lng) == (51.5074, -0.1278)
    assert (lead.courier_id, lead.route_id, lead.status) == (depot.courier.id, depot.r1.id, "new")
    assert [e.kind for e in LeadEvent.select().where(LeadEvent.lead == lead)] == ["created"]


def test_only_name_category_and_temperature_are_needed(client, auth, depot):
    auth.login(depot.courier)
    lead = send(client, contact_name=None, contact_phone=None, contact_email=None,
                address=None, postcode=None, note=None, expects_call=None)
    assert (lead.contact_name, lead.postcode, lead.note, lead.expects_call) == ("", "", "", False)
    assert lead.lat is None and lead.lng is None and lead.photo is None


def test_competitor_is_dropped_unless_the_category_is_a_competitor(client, auth, depot):
    auth.login(depot.courier)
    lead = send(client, category="moving", competitor="Speedy Parcels")
    assert lead.competitor == ""


def test_surrounding_spaces_are_trimmed(client, auth, depot):
    auth.login(depot.courier)
    lead = send(client, business_name="  Joe's Bakery \n", contact_email=" joe@joesbakery.co.uk ")
    assert (lead.business_name, lead.contact_email) == ("Joe's Bakery", "joe@joesbakery.co.uk")


@pytest.mark.parametrize("field, limit", [
    ("business_name", 120), ("competitor", 80), ("contact_name", 100), ("address", 200),
    ("note", 1000),
])
def test_text_at_its_length_limit_is_accepted(client, auth, depot, field, limit):
    auth.login(depot.courier)
    lead = send(client, **{field: "é" * limit, "category": "competitor"})
    assert getattr(lead, field) == "é" * limit


# --- My leads --------------------------------------------------------------------

def test_my_leads_lists_every_lead_the_courier_sent_newest_first_with_its_status(
        client, auth, depot):
    auth.login(depot.courier2)
    send(client, business_name="Bob's own lead")
    auth.logout()
    auth.login(depot.courier)
    first = send(client, business_name="First Florist")
    send(client, business_name="Second Smithy")
    Lead.update(status="won").where(Lead.id == first.id).execute()

    page = client.get("/my-leads")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    cards = re.findall(r'<span class="title">(.*?)</span>\s*<span class="badges">'
                       r'<span class="pill status [^"]*">(.*?)</span>', html)
    assert cards == [("Second Smithy", "Sent"), ("First Florist", "Won")]
    assert "Bob&#39;s own lead" not in html
    assert "Older leads" not in html


def test_courier_with_no_leads_is_invited_to_send_one(client, auth, depot):
    auth.login(depot.courier)
    html = client.get("/my-leads").get_data(as_text=True)
    assert "You haven't sent a lead yet." in html
    assert 'href="/leads/new"' in html


def test_older_leads_pages_show_every_lead_once(client, auth, depot):
    expected = []
    for n in range(60):
        courier = depot.courier if n % 4 else depot.courier2  # Bob's leads in between
        lead, _ = Lead.submit(courier, {"business_name": "Shop %02d" % n, "category": "other",
                                        "temperature": "warm"}, uuid.uuid4())
        if courier == depot.courier:
            expected.insert(0, lead.business_name)
    auth.login(depot.courier)

    seen, url, pages = [], "/my-leads", 0
    while url:
        html = client.get(url).get_data(as_text=True)
        pages += 1
        names = re.findall(r'<span class="title">(.*?)</span>', html)
        assert 0 < len(names) <= 25
        seen += names
        older = re.search(r'<a class="button" href="([^"]+)">Older leads</a>', html)
        url = unescape(older.group(1)) if older else None
    assert seen == expected            # newest first, none skipped, none repeated
    assert (len(seen), pages) == (45, 2)


# --- Exactly once ----------------------------------------------------------------

def test_double_tap_on_send_makes_one_lead(client, auth, depot):
    auth.login(depot.courier)
    data = lead_form()
    first = post_lead(client, data)
    second = post_lead(client, data)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert Lead.select().count() == 1
    assert LeadEvent.select().count() == 1


def test_each_new_form_is_a_new_lead(client, auth, depot):
    auth.login(depot.courier)
    uuids = [PageForm(client.get("/leads/new").get_data(as_text=True)).data()["client_uuid"]
             for _ in range(2)]
    assert uuids[0] != uuids[1]
    for client_uuid in uuids:
        send(client, client_uuid=client_uuid)
    assert Lead.select().count() == 2


def test_form_id_of_another_couriers_lead_is_refused_without_revealing_it(client, auth, depot):
    auth.login(depot.courier2)
    data = lead_form(business_name="Bob's secret lead")
    send(client, **data)
    auth.logout()
    auth.login(depot.courier)
    response = post_lead(client, lead_form(client_uuid=data["client_uuid"]))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "This form was already used" in error_of(html, "business_name")
    assert "secret" not in html
    fresh = PageForm(html).data()["client_uuid"]
    assert fresh != data["client_uuid"]
    assert Lead.select().count() == 1
    # The re-rendered form, sent as it stands, goes through.
    send(client, client_uuid=fresh)
    assert Lead.select().where(Lead.courier == depot.courier).count() == 1


# --- Bad input -------------------------------------------------------------------

LONG = "x" * 10_000
PHONE_MESSAGE = "Use digits, spaces and + ( ) - only, e.g. +44 20 7946 0000."
PHONE_TOO_SHORT = "Too short for a phone number: give every digit, with the area code."
BOTH = "Give both latitude and longitude, or neither."

BAD_INPUT = [
    # id, overrides, field, message
    ("name empty", {"business_name": ""}, "business_name", "Required."),
    ("name missing", {"business_name": None}, "business_name", "Required."),
    ("name only spaces", {"business_name": "   \t "}, "business_name", "Required."),
    ("name 121 chars", {"business_name": "x" * 121}, "business_name", "At most 120 characters."),
    ("name 10,000 chars", {"business_name": LONG}, "business_name", "At most 120 characters."),
    ("name with NUL", {"business_name": "Joe\x00s Bakery"}, "business_name",
     "Remove the special (control) characters."),
    ("name with escape codes", {"business_name": "Joe\x1b[31m"}, "business_name",
     "Remove the special (control) characters."),
    ("note with NUL", {"note": "Opens\x00Monday"}, "note",
     "Remove the special (control) characters."),
    ("contact with NUL", {"contact_name": "Jo\x00e"}, "contact_name",
     "Remove the special (control) characters."),
    ("note 1001 chars", {"note": "n" * 1001}, "note", "At most 1000 characters."),
    ("note 10,000 chars", {"note": LONG}, "note", "At most 1000 characters."),
    ("contact 10,000 chars", {"contact_name": LONG}, "contact_name", "At most 100 characters."),
    ("address 10,000 chars", {"address": LONG}, "address", "At most 200 characters."),
    ("competitor 81 chars", {"category": "competitor", "competitor": "c" * 81}, "competitor",
     "At most 80 characters."),
    ("email without domain", {"contact_email": "joe@"}, "contact_email",
     "That doesn't look like an email address."),
    ("email as words", {"contact_email": "joe at the bakery"}, "contact_email",
     "That doesn't look like an email address."),
    ("phone as words", {"contact_phone": "call me"}, "contact_phone", PHONE_MESSAGE),
    ("phone with letters", {"contact_phone": "+44 20 CALL NOW"}, "contact_phone",
     PHONE_MESSAGE),
    ("phone too short", {"contact_phone": "12"}, "contact_phone", PHONE_TOO_SHORT),
    ("phone without its number", {"contact_phone": "+44 20"}, "contact_phone", PHONE_TOO_SHORT),
    ("phone too long", {"contact_phone": "+44 20 7946 0000 0000"}, "contact_phone",
     "Too long for a phone number"),
    ("phone of no country", {"contact_phone": "+99 123 4567"}, "contact_phone",
     "No country has that code"),
    ("phone not in use", {"contact_phone": "020 7946 000"}, "contact_phone",
     "Not a phone number in use (+44, United Kingdom)"),
    ("phone only signs", {"contact_phone": "+()"}, "contact_phone", "That isn't a phone number"),
    ("postcode with symbols", {"postcode": "AB1 <2CD>"}, "postcode",
     "Letters, digits and spaces only."),
    ("postcode with semicolon", {"postcode": "AB1;2CD"}, "postcode",
     "Letters, digits and spaces only."),
    ("postcode 13 chars", {"postcode": "AB12 3456 789"}, "postcode", "At most 12 characters."),
    ("lat 999", {"lat": "999", "lng": "0"}, "lat", "Latitude is between -90 and 90."),
    ("lat -90.5", {"lat": "-90.5", "lng": "0"}, "lat", "Latitude is between -90 and 90."),
    ("lng 200", {"lat": "51.5", "lng": "200"}, "lng", "Longitude is between -180 and 180."),
    ("lat without lng", {"lat": "51.5"}, "lng", BOTH),
    ("lng without lat", {"lng": "-0.12"}, "lng", BOTH),
    ("lat as words", {"lat": "abc", "lng": "0"}, "lat", "Must be a number."),
    ("lat nan", {"lat": "nan", "lng": "0"}, "lat", "Must be a number."),
    ("lng infinity", {"lat": "0", "lng": "inf"}, "lng", "Must be a number."),
    ("category missing", {"category": None}, "category", "Pick one."),
    ("category unknown", {"category": "spam"}, "category", "Not a valid choice."),
    ("temperature missing", {"temperature": None}, "temperature", "Pick one."),
    ("temperature unknown", {"temperature": "lukewarm"}, "temperature", "Not a valid choice."),
]


@pytest.mark.parametrize("overrides, field, message",
                         [case[1:] for case in BAD_INPUT], ids=[case[0] for case in BAD_INPUT])
def test_bad_input_is_explained_next_to_its_field_and_nothing_is_stored(
        app, client, auth, depot, overrides, field, message):
    auth.login(depot.courier)
    data = lead_form(**overrides)
    response = post_lead(client, data, photo=tiny_jpeg())
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'role="alert">Check the fields marked below' in html
    assert message in error_of(html, field)
    assert_form_kept(html, data)
    assert PageForm(html).data()["client_uuid"] == data["client_uuid"]
    assert Lead.select().count() == 0
    assert LeadEvent.select().count() == 0
    assert stored_photos(app) == []


def test_note_of_exactly_1000_characters_is_accepted_and_1001_is_not(client, auth, depot):
    auth.login(depot.courier)
    assert post_lead(client, lead_form(note="n" * 1001)).status_code == 422
    assert send(client, note="n" * 1000).note == "n" * 1000


@pytest.mark.parametrize("lat, lng", [("90", "180"), ("-90", "-180"), ("0", "0"),
                                      ("51.5074", "-0.1278")])
def test_positions_at_the_edges_of_the_map_are_accepted(client, auth, depot, lat, lng):
    auth.login(depot.courier)
    lead = send(client, lat=lat, lng=lng)
    assert (lead.lat, lead.lng) == (float(lat), float(lng))


@pytest.mark.parametrize("client_uuid", ["not-a-uuid", "", "0b7c8a3e-5d41-4f2a-9c3b-1e2f3a4b5c6"])
def test_a_damaged_form_id_is_explained_and_replaced_so_the_form_can_be_sent(
        app, client, auth, depot, client_uuid):
    auth.login(depot.courier)
    data = lead_form(client_uuid=client_uuid)
    response = post_lead(client, data, photo=tiny_jpeg())
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'<p class="error" id="client_uuid-error">[^<]+</p>', html)
    assert_form_kept(html, data)
    assert Lead.select().count() == 0 and stored_photos(app) == []
    fresh = PageForm(html).data()["client_uuid"]
    assert str(uuid.UUID(fresh)) == fresh
    send(client, client_uuid=fresh)
    assert Lead.select().count() == 1


def test_form_without_csrf_token_is_refused_and_nothing_is_stored(client, auth, depot):
    auth.login(depot.courier)
    client.get("/leads/new")
    response = client.post("/leads/new", data=lead_form(), content_type="multipart/form-data")
    assert response.status_code == 400
    assert "Reload the page and try again" in response.get_data(as_text=True)
    response = client.post("/leads/new", data=lead_form(csrf_token="forged"),
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert Lead.select().count() == 0


# --- Who may see what ------------------------------------------------------------

@pytest.mark.parametrize("role", ["rep", "manager"])
@pytest.mark.parametrize("path", ["/leads/new", "/my-leads"])
def test_reps_and_managers_have_no_capture_pages(client, auth, depot, role, path):
    auth.login(getattr(depot, role))
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("role", ["rep", "manager"])
def test_reps_and_managers_cannot_send_a_lead(client, auth, depot, role):
    auth.login(getattr(depot, role))
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"',
                      client.get("/leads").get_data(as_text=True)).group(1)
    response = client.post("/leads/new", data=lead_form(csrf_token=token),
                           content_type="multipart/form-data")
    assert response.status_code == 403
    assert Lead.select().count() == 0


def test_courier_cannot_open_the_reps_lead_list(client, auth, depot):
    auth.login(depot.courier)
    assert client.get("/leads").status_code == 403


def test_courier_cannot_see_another_couriers_lead(client, auth, depot):
    auth.login(depot.courier2)
    post_lead(client, lead_form(business_name="Bob's lead"), photo=tiny_jpeg())
    lead = Lead.get()
    paths = ["/leads/%d" % lead.id, "/leads/%d/sent" % lead.id, "/leads/%d/photo" % lead.id]
    assert [client.get(p).status_code for p in paths] == [200, 200, 200]
    auth.logout()
    auth.login(depot.courier)
    for path in paths:
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"Bob" not in response.data
    assert "Bob&#39;s lead" not in client.get("/my-leads").get_data(as_text=True)


def _leads_in_each_territory(client, auth, depot):
    """A North lead (route R1), a South lead (route R2) and an unrouted one, with photos."""
    leads = {}
    for key, courier, postcode in (("north", depot.courier, ""), ("south", depot.courier2, ""),
                                   ("unrouted", depot.rover, "ZZ1 1ZZ")):
        auth.login(courier)
        post_lead(client, lead_form(business_name="Lead " + key, postcode=postcode),
                  photo=tiny_jpeg())
        auth.logout()
        leads[key] = Lead.get(Lead.business_name == "Lead " + key)
    return leads


@pytest.mark.parametrize("viewer, visible", [
    ("rep", {"north"}),
    ("backup", {"north"}),
    ("rep_south", {"south"}),
    ("manager", {"north", "south", "unrouted"}),
])
def test_reps_see_the_leads_of_their_territories_and_managers_see_all(
        client, auth, depot, viewer, visible):
    leads = _leads_in_each_territory(client, auth, depot)
    auth.login(getattr(depot, viewer))
    for key, lead in leads.items():
        expected = 200 if key in visible else 404
        assert client.get("/leads/%d" % lead.id).status_code == expected, key
        assert client.get("/leads/%d/photo" % lead.id).status_code == expected, key
    listed = re.findall(r'<span class="title">Lead (\w+)</span>',
                        client.get("/leads").get_data(as_text=True))
    assert set(listed) == visible
    assert client.get("/leads/%d/sent" % leads["north"].id).status_code == 403


def test_missing_lead_is_404_even_for_a_manager(client, auth, depot):
    auth.login(depot.manager)
    assert client.get("/leads/999999").status_code == 404
    assert client.get("/leads/999999/photo").status_code == 404


@pytest.mark.parametrize("path", ["/leads/new", "/my-leads", "/leads", "/leads/1",
                                  "/leads/1/sent", "/leads/1/photo"])
def test_anonymous_visitors_are_sent_to_login(client, depot, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


# --- Without JavaScript ----------------------------------------------------------

def test_capture_page_works_without_javascript(client, auth, depot):
    auth.login(depot.courier)
    response = client.get("/leads/new")
    html = response.get_data(as_text=True)
    page = PageForm(html)
    # No inline script runs (CSP); the form's rules ride along as inert JSON data.
    assert all((attrs.get("src") and not body.strip()) or attrs.get("type") == "application/json"
               for attrs, body in page.scripts)
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert page.form_attrs["method"] == "post"
    assert page.form_attrs["enctype"] == "multipart/form-data"
    assert page.form_attrs.get("action") in (None, "", "/leads/new")
    assert page.submit_buttons == 1
    assert page.file_fields == ["photo"]

    # A browser sends the form as it stands once the name and a chip are filled in.
    data = dict(page.data(), business_name="Corner Café", category="other")
    assert data["temperature"] == "warm"
    response = client.post("/leads/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 302
    lead = Lead.get()
    assert (lead.business_name, lead.temperature, lead.expects_call, lead.lat) == (
        "Corner Café", "warm", False, None)


# --- The phone's copy of the rules ------------------------------------------------

def page_rules(client):
    html = client.get("/leads/new").get_data(as_text=True)
    found = re.search(r'<script type="application/json" id="capture-rules">(.*?)</script>', html, re.S)
    return json.loads(found.group(1))


# An unknown chip cannot be sent from the page, so the phone need not check it;
# of a phone number the phone checks only its characters (the server says more).
PHONE_CHECKS = [case for case in BAD_INPUT if case[3] != "Not a valid choice."
                and (case[2] != "contact_phone" or case[3] == PHONE_MESSAGE)]


@pytest.mark.parametrize("overrides, field, message", [case[1:] for case in PHONE_CHECKS],
                         ids=[case[0] for case in PHONE_CHECKS])
def test_the_page_carries_each_rule_with_the_servers_own_message(
        client, auth, depot, overrides, field, message):
    auth.login(depot.courier)
    rules = page_rules(client)
    assert message in json.dumps(rules[field])
    # and the server still says it for that bad value
    response = post_lead(client, lead_form(**overrides))
    assert message in error_of(response.get_data(as_text=True), field)


def test_the_rules_name_fields_in_plain_words_and_skip_what_the_courier_never_types(
        client, auth, depot):
    auth.login(depot.courier)
    rules = page_rules(client)
    assert rules["category"] == {"label": "What did you see?", "required": "Pick one."}
    assert rules["contact_email"]["label"] == "Email"
    assert not {"client_uuid", "csrf_token", "captured_at", "photo", "expects_call"} & set(rules)
    assert rules["lng"]["pair"] == ["lat", BOTH]


@pytest.mark.parametrize("email", ["orders@bakery.test", "a@localhost", "joe@"])
def test_an_email_the_phone_may_pass_is_still_the_servers_to_refuse(client, auth, depot, email):
    auth.login(depot.courier)
    response = post_lead(client, lead_form(contact_email=email))
    assert response.status_code == 422
    assert "doesn't look like an email" in error_of(response.get_data(as_text=True), "contact_email")


def test_the_api_reports_every_failing_field_at_once(client, depot):
    body = {"client_uuid": str(uuid.uuid4()), "temperature": "hot", "contact_email": "joe@",
            "lat": "north", "colour": "blue"}
    response = client.post("/api/v1/leads", json=body, headers=bearer(depot.courier))
    assert response.status_code == 422
    fields = response.json["error"]["fields"]
    assert set(fields) == {"business_name", "category", "contact_email", "lat", "colour"}
    assert fields["business_name"] == ["Required."]
    assert fields["category"] == ["Required."]
    assert fields["contact_email"] == ["That doesn't look like an email address."]
    assert fields["lat"] == ["Must be a number or null."]
    assert fields["colour"] == ["Unknown field."]
    assert Lead.select().count() == 0


def test_the_chips_error_is_under_their_question_and_on_each_chip(client, auth, depot):
    auth.login(depot.courier)
    response = post_lead(client, lead_form(category=None))
    html = response.get_data(as_text=True)
    chips = field_block(html, "category")
    assert chips.index('id="category-error"') < chips.index('name="category"')
    assert chips.count('aria-invalid="true"') == len(CATEGORIES)
    assert chips.count('aria-describedby="category-error"') == len(CATEGORIES) + 1
    # the no-JS page keeps "Which competitor?" in the page (CSS shows it on that chip)
    assert 'name="competitor"' in html


def test_only_required_fields_say_required(client, auth, depot):
    auth.login(depot.courier)
    html = client.get("/leads/new").get_data(as_text=True)
    assert html.count("(required)") == 1
    assert re.search(r'Business name <span class="req">\(required\)</span>', html)
    assert "autofocus" in field_block(html, "business_name")


def test_a_share_without_the_service_worker_opens_a_new_lead(client, auth, depot):
    auth.login(depot.courier)
    response = client.post("/share", data={"photo": (io.BytesIO(tiny_jpeg()), "shop.jpg", "image/jpeg")},
                           content_type="multipart/form-data")
    assert response.status_code == 303
    assert response.headers["Location"] == "/leads/new"
    assert Lead.select().count() == 0


def test_the_manifest_offers_to_receive_shared_photos(client):
    share = client.get("/manifest.webmanifest").json["share_target"]
    assert share["action"] == "/share"
    assert (share["method"], share["enctype"]) == ("POST", "multipart/form-data")
    assert share["params"]["files"] == [{"name": "photo", "accept": ["image/*"]}]
