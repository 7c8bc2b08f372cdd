"""The manager's opportunity feed: filters that combine, keyset pages that
stay put while leads arrive, search, the live list's ETag, and the CSV export.

A spread of leads with known attributes is made directly (so each one's age,
status and escalation are exactly what a case needs); every case then asks
the page, the CSV and the changes endpoint, which must agree.
"""
import csv
import io
import logging
import re
import tracemalloc
import uuid
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from axe_playwright_python.sync_playwright import Axe
from peewee import fn

from app.db import is_sqlite
from app.feed.pages import dates_first
from app.models import AuditEntry, Lead, Setting, utcnow
from app.notify import escalate_overdue
from browser import browser, chromium, log_in, server, van_depot  # noqa: F401
from conftest import bearer
from test_browser_van import TARGETS

SECOND = timedelta(seconds=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# Who sent each lead of the spread, where, to whom it went and how it stands.
SPREAD = {
    "bakery": dict(courier="courier", route="r1", territory="north", status="new",
                   temperature="hot", category="new_business", age=timedelta(minutes=5)),
    "florist": dict(courier="courier", route="r1", territory="north", status="new",
                    temperature="hot", category="competitor", age=HOUR, escalated=True),
    "garage": dict(courier="courier2", route="r2", territory="south", rep="rep_south",
                   status="acknowledged", temperature="warm", category="moving", age=2 * DAY),
    "print": dict(courier="courier2", route="r2", territory="south", rep="rep_south",
                  status="won", temperature="fyi", category="unhappy", age=40 * DAY),
    "deli": dict(courier="rover", route="off_route", status="new", temperature="warm",
                 category="other", age=5 * HOUR),
    "books": dict(courier="rover", route="off_route", status="new", temperature="fyi",
                  category="asked_services", age=2 * HOUR),
    "pharmacy": dict(courier="courier", route="r1", territory="north", rep="rep",
                     status="declined", temperature="warm", category="new_business",
                     age=10 * DAY, escalated=True),
    "salon": dict(courier="courier", route="r1", territory="north", rep="rep",
                  status="contacted", temperature="hot", category="unhappy", age=3 * HOUR),
}


def make_lead(courier, business_name="Corner Shop", **fields):
    """A lead stored exactly as given (no routing, no events)."""
    fields.setdefault("category", "other")
    fields.setdefault("temperature", "warm")
    return Lead.create(client_uuid=uuid.uuid4(), courier=courier, business_name=business_name,
                       **fields)


@pytest.fixture
def spread(depot):
    """The leads of SPREAD by name, made oldest first (ids grow with time)."""
    now, leads = utcnow(), {}
    for name, spec in sorted(SPREAD.items(), key=lambda item: -item[1]["age"]):
        created = now - spec["age"]
        leads[name] = make_lead(
            getattr(depot, spec["courier"]), name.capitalize(),
            route=getattr(depot, spec["route"]),
            territory=getattr(depot, spec["territory"]) if "territory" in spec else None,
            assigned_rep=getattr(depot, spec["rep"]) if "rep" in spec else None,
            status=spec["status"], temperature=spec["temperature"], category=spec["category"],
            created_at=created, updated_at=created,
            escalated_at=created + timedelta(minutes=30) if spec.get("escalated") else None)
    return SimpleNamespace(leads=leads, now=now, **vars(depot))


@pytest.fixture
def manager(auth, depot):
    auth.login(depot.manager)
    return depot.manager


def shown(response):
    """The ids of the leads a feed page lists, in order."""
    return [int(i) for i in re.findall(r'<tr class="lead[^"]*" data-id="(\d+)"', response.get_data(as_text=True))]


def exported(response):
    """The CSV's rows as dicts (the BOM removed)."""
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


def older_link(response):
    match = re.search(r'rel="next" href="([^"]+)"', response.get_data(as_text=True))
    return match.group(1).replace("&amp;", "&") if match else None


def days_ago(spread, days):
    return (spread.now - days * DAY).date().isoformat()


# (query string, the leads it shows); {north}, {r2}, {rep} … are ids, {3d} a date.
FILTER_CASES = [
    ("", set(SPREAD)),
    ("status=new", {"bakery", "florist", "deli", "books"}),
    ("status=new&status=won", {"bakery", "florist", "deli", "books", "print"}),
    ("temperature=hot", {"bakery", "florist", "salon"}),
    ("temperature=hot&temperature=fyi&status=new", {"bakery", "florist", "books"}),
    ("category=unhappy", {"print", "salon"}),
    ("category=unhappy&temperature=hot", {"salon"}),
    ("territory={north}", {"bakery", "florist", "pharmacy", "salon"}),
    ("territory={north}&status=new", {"bakery", "florist"}),
    ("territory={south}&category=moving", {"garage"}),
    ("route={r2}", {"garage", "print"}),
    ("route={off_route}&temperature=fyi", {"books"}),
    ("courier={courier2}", {"garage", "print"}),
    ("courier={courier}&status=declined", {"pharmacy"}),
    ("rep={rep}", {"pharmacy", "salon"}),
    ("rep={rep_south}&status=won", {"print"}),
    ("rep={backup}", set()),
    ("unrouted=1", {"deli", "books"}),
    ("unrouted=1&temperature=warm", {"deli"}),
    ("escalated=1", {"florist", "pharmacy"}),
    ("escalated=1&territory={north}&status=new", {"florist"}),
    ("overdue=1", {"florist", "deli"}),
    ("overdue=1&unrouted=1", {"deli"}),
    ("overdue=1&escalated=1", {"florist"}),
    ("since={3d}", {"bakery", "florist", "garage", "deli", "books", "salon"}),
    ("until={5d}", {"pharmacy", "print"}),
    ("since={20d}&until={5d}", {"pharmacy"}),
    ("since={3d}&courier={courier2}", {"garage"}),
    ("q=bak", {"bakery"}),
    ("q=bak&status=won", set()),
    ("q=salon&territory={north}&temperature=hot&since={3d}", {"salon"}),
]


def case_url(path, query, spread):
    ids = {name: getattr(spread, name).id for name in
           ("north", "south", "r1", "r2", "off_route", "courier", "courier2", "rep",
            "rep_south", "backup")}
    dates = {"3d": days_ago(spread, 3), "5d": days_ago(spread, 5), "20d": days_ago(spread, 20)}
    return path + "?" + query.format(**ids, **dates) if query else path


@pytest.mark.parametrize("query, expected", FILTER_CASES, ids=[q or "all" for q, _ in FILTER_CASES])
def test_filters_combine_on_the_page_the_csv_and_the_changes(client, manager, spread, query, expected):
    ids = sorted((spread.leads[name].id for name in expected), reverse=True)
    page = client.get(case_url("/feed", query, spread))
    assert page.status_code == 200
    assert shown(page) == ids
    sheet = client.get(case_url("/feed.csv", query, spread))
    assert [int(row["id"]) for row in exported(sheet)] == ids
    changes = client.get(case_url("/api/v1/feed/changes", query, spread))
    assert changes.get_json()["newest"] == (ids[0] if ids else None)


def test_overdue_follows_the_managers_deadline_per_temperature(client, manager, spread):
    Setting.write("deadline_hot_minutes", 90)
    overdue = shown(client.get("/feed?overdue=1"))
    assert overdue == [spread.leads["deli"].id]
    Setting.write("deadline_fyi_minutes", 60)
    overdue = shown(client.get("/feed?overdue=1"))
    assert overdue == [spread.leads["books"].id, spread.leads["deli"].id]


def test_dates_are_days_in_the_depot_time_zone(client, manager, depot, app):
    app.config["DEPOT_TIMEZONE"] = "Pacific/Auckland"  # UTC+13 in March
    late = make_lead(depot.courier, "Late", created_at=datetime(2025, 3, 9, 11, 30))
    early = make_lead(depot.courier, "Early", created_at=datetime(2025, 3, 9, 10, 30))
    assert shown(client.get("/feed?since=2025-03-10")) == [late.id]
    assert shown(client.get("/feed?until=2025-03-09")) == [early.id]
    assert shown(client.get("/feed?since=2025-03-09&until=2025-03-10")) == [early.id, late.id]


def test_dates_find_exactly_their_leads_whichever_way_they_are_walked(client, manager, depot):
    march = datetime(2025, 3, 10, 12)

    def sent(n, when):
        return [make_lead(depot.courier, "Lead", created_at=when).id for _ in range(n)]

    # Sent in March but stored among newer leads (an import, a slow van), so
    # ids do not follow time: neither plan may lose them.
    old = sent(3, march) + sent(1, march + DAY)
    recent = sent(30, utcnow() - HOUR)
    old += sent(2, march - DAY)
    recent += sent(30, utcnow())
    start, end = datetime(2025, 3, 1), datetime(2025, 4, 1)
    assert dates_first(start, end)                  # the dates' index, then sort
    assert not dates_first(datetime(2000, 1, 1), None)  # ids down from the newest
    march_page = client.get("/feed?since=2025-03-01&until=2025-03-31")
    assert shown(march_page) == sorted(old, reverse=True)
    assert shown(client.get("/feed?until=2025-03-31")) == sorted(old, reverse=True)
    assert shown(client.get("/feed?since=2025-03-10&until=2025-03-10")) == sorted(old[:3], reverse=True)
    since_april = client.get("/feed?since=2025-04-01")
    assert shown(since_april) == sorted(recent, reverse=True)[:50]
    assert shown(client.get(older_link(since_april))) == sorted(recent, reverse=True)[50:]
    assert shown(client.get("/feed?since=2000-01-01")) == sorted(old + recent, reverse=True)[:50]


def test_each_row_says_age_deadline_people_and_escalation(client, manager, spread):
    html = client.get("/feed").get_data(as_text=True)
    rows = {id: re.sub(r"<[^>]+>", "", row)
            for id, row in re.findall(r'data-id="(\d+)">(.*?)</tr>', html, re.S)}
    bakery = rows[str(spread.leads["bakery"].id)]
    assert "5 min ago" in bakery and "min left" in bakery and "No rep yet" in bakery
    florist = rows[str(spread.leads["florist"].id)]
    assert "overdue by 45 min" in florist and "Escalated" in florist
    garage = rows[str(spread.leads["garage"].id)]
    assert all(word in garage for word in ("2 d 0 h ago", "Acknowledged", "From Bob",
                                           "Rep: Eve", "South"))
    assert "left" not in garage and "overdue" not in garage
    assert "Unrouted" in rows[str(spread.leads["deli"].id)]


def test_a_lead_sent_later_than_it_was_seen_shows_both(client, manager, depot):
    now = utcnow()
    late = make_lead(depot.courier, "Offline Bakery", created_at=now - 5 * 60 * SECOND,
                     captured_at=now - 50 * 60 * SECOND)
    prompt = make_lead(depot.courier, "Online Deli", created_at=now - 5 * 60 * SECOND,
                       captured_at=now - 5 * 60 * SECOND - 20 * SECOND)
    html = client.get("/feed").get_data(as_text=True)
    rows = {id: re.sub(r"<[^>]+>", "", row)
            for id, row in re.findall(r'data-id="(\d+)">(.*?)</tr>', html, re.S)}
    assert "5 min ago · seen 50 min ago" in rows[str(late.id)]
    assert "seen" not in rows[str(prompt.id)]


def test_the_feed_costs_a_handful_of_queries_however_many_leads(client, manager, spread, caplog):
    for n in range(60):
        make_lead(spread.courier, "More %d" % n, territory=spread.north,
                  assigned_rep=spread.rep if n % 2 else None)
    with caplog.at_level(logging.DEBUG, logger="peewee"):
        page = client.get("/feed?status=new")
    statements = [record.getMessage() for record in caplog.records if record.name == "peewee"]
    assert len(shown(page)) == 50
    # The user, the bell, three deadlines, the form's three lists and the page.
    assert len(statements) <= 9, statements
    leads = [sql for sql in statements if 'FROM "lead"' in sql]
    assert len(leads) == 1 and "OFFSET" not in leads[0]


# --- Sorting ---------------------------------------------------------------------------


def test_oldest_first_lists_and_exports_the_leads_the_other_way(client, manager, spread):
    ids = sorted(lead.id for lead in spread.leads.values())
    page = client.get("/feed?sort=oldest")
    assert page.status_code == 200 and shown(page) == ids
    assert [int(row["id"]) for row in exported(client.get("/feed.csv?sort=oldest"))] == ids
    north = {spread.leads[name].id for name in ("bakery", "florist", "pharmacy", "salon")}
    since = days_ago(spread, 20)
    assert shown(client.get("/feed?sort=oldest&territory=%d" % spread.north.id)) == sorted(north)
    assert shown(client.get("/feed?sort=oldest&since=%s&territory=%d" % (since, spread.north.id))
                 ) == sorted(north)


def test_deadline_first_lists_the_new_leads_most_overdue_first(client, manager, spread):
    # Due: deli 1 h ago (warm, 4 h, sent 5 h ago), florist 45 min ago, bakery in
    # 10 min, books in 22 h. Leads no longer new have no deadline and are left out.
    order = [spread.leads[name].id for name in ("deli", "florist", "bakery", "books")]
    page = client.get("/feed?sort=deadline")
    assert page.status_code == 200 and shown(page) == order
    assert "Only leads still new have a deadline" in page.get_data(as_text=True)
    assert [int(row["id"]) for row in exported(client.get("/feed.csv?sort=deadline"))] == order
    assert shown(client.get("/feed?sort=deadline&temperature=hot")) == order[1:3]
    assert shown(client.get("/feed?sort=deadline&unrouted=1")) == [order[0], order[3]]
    assert shown(client.get("/feed?sort=deadline&q=bak")) == [order[2]]
    assert shown(client.get("/feed?sort=deadline&status=won")) == []


def test_deadline_first_follows_the_managers_deadlines(client, manager, spread):
    Setting.write("deadline_warm_minutes", 600)  # the deli (warm, sent 5 h ago) is due in 5 h
    order = [spread.leads[name].id for name in ("florist", "bakery", "deli", "books")]
    assert shown(client.get("/feed?sort=deadline")) == order


def walk(client, url):
    """The ids of every page of a feed URL, following its next-page links."""
    found = []
    while url:
        page = client.get(url)
        assert page.status_code == 200
        found += shown(page)
        url = older_link(page)
    return found


@pytest.mark.parametrize("sort", ["newest", "oldest", "deadline"])
def test_every_order_pages_through_every_lead_once(client, manager, depot, sort):
    now, allowed = utcnow(), {"hot": 15, "warm": 240, "fyi": 1440}
    made = []
    for n in range(130):
        temperature = ("hot", "warm", "fyi")[n % 3]
        # Sent in an order unlike the ids', some at the same moment, so that
        # deadlines tie and interleave across temperatures.
        sent = now - timedelta(minutes=(n * 37) % 1500)
        lead = make_lead(depot.courier, "Lead %d" % n, temperature=temperature,
                         status="new" if n % 5 else "won", created_at=sent)
        made.append((sent + timedelta(minutes=allowed[temperature]), lead.id, lead.status))
    expected = {
        "newest": sorted((id for _, id, _ in made), reverse=True),
        "oldest": sorted(id for _, id, _ in made),
        "deadline": [id for _, id, status in sorted(made) if status == "new"]}[sort]
    assert walk(client, "/feed?sort=%s" % sort) == expected
    assert [int(row["id"]) for row in exported(client.get("/feed.csv?sort=" + sort))] == expected


def test_the_headers_sort_by_age_and_deadline_keeping_the_filters(client, manager, spread):
    html = client.get("/feed?status=new").get_data(as_text=True)
    assert 'aria-sort="ascending"><a href="/feed?status=new&amp;sort=oldest">Age' in html
    assert 'href="/feed?status=new&amp;sort=deadline">Deadline' in html
    html = client.get("/feed?status=new&sort=oldest").get_data(as_text=True)
    assert 'aria-sort="descending"><a href="/feed?status=new&amp;sort=newest">Age' in html
    assert '<option value="oldest" selected>Oldest first</option>' in html


# --- Pages -----------------------------------------------------------------------------


def test_pages_neither_skip_nor_repeat_while_leads_arrive(client, manager, depot):
    def add(n, status):
        Lead.insert_many([dict(client_uuid=uuid.uuid4(), courier=depot.courier.id,
                               business_name="Lead %d" % i, category="other",
                               temperature="warm", status=status if i % 3 else "won")
                          for i in range(n)]).execute()

    add(240, "new")
    before = {lead.id for lead in Lead.select().where(Lead.status == "new")}
    seen, url = [], "/feed?status=new"
    while url:
        page = client.get(url)
        seen += shown(page)
        assert len(shown(page)) <= 50
        add(7, "new")  # newer leads arrive between every two pages
        url = older_link(page)
        assert url is None or "status=new" in url
    assert len(seen) == len(set(seen)) == len(before)
    assert set(seen) == before and seen == sorted(seen, reverse=True)


def test_a_page_links_back_to_the_newest(client, manager, depot):
    for n in range(51):
        make_lead(depot.courier, "Lead %d" % n, temperature="hot")
    older = client.get("/feed?temperature=hot")
    second = client.get(older_link(older))
    assert len(shown(second)) == 1 and older_link(second) is None
    assert 'href="/feed?temperature=hot">Newest' in second.get_data(as_text=True)


# --- Search ---------------------------------------------------------------------------


@pytest.fixture
def searchable(depot):
    return SimpleNamespace(
        bakery=make_lead(depot.courier, "Joe's Bakery", contact_name="Priya Natarajan",
                         postcode="ZX9 4QT", note="Opens Monday; wants a quote"),
        florist=make_lead(depot.courier, "Corner Florist", contact_name="Joe Smith",
                          postcode="AB1 2CD", note="Ships with Acme daily, joe@acme.example"),
        cafe=make_lead(depot.courier, "Café Zoë", note="Was Müller's shop, 東京 style"))


@pytest.mark.parametrize("text, expected", [
    ("bak", {"bakery"}),                     # a prefix of the business name
    ("BAKERY", {"bakery"}),
    ("natara", {"bakery"}),                  # the contact's name
    ("zx9 4qt", {"bakery"}),                 # the postcode
    ("ZX9", {"bakery"}),
    ("monday", {"bakery"}),                  # the note
    ("joe", {"bakery", "florist"}),          # a business and a contact
    ("joe smith", {"florist"}),              # every word must match
    ("joe bak", {"bakery"}),
    ("acme daily", {"florist"}),
    ("acme.example", {"florist"}),           # an email in a note is words too
    ("café", {"cafe"}),
    ("CAFÉ ZOË", {"cafe"}),
    ("müller", {"cafe"}),
    ("東京", {"cafe"}),
    ("cafe", set()),                         # accents count, on both databases
    ("bakery monday florist", set()),
    ("quotation", set()),
])
def test_search_finds_leads_by_each_field(client, manager, searchable, text, expected):
    page = client.get("/feed", query_string={"q": text})
    assert page.status_code == 200
    assert set(shown(page)) == {getattr(searchable, name).id for name in expected}


@pytest.mark.parametrize("text, expected", [
    ('"bak', {"bakery"}),
    ("bak*", {"bakery"}),
    ("-joe", {"bakery", "florist"}),
    ("joe -smith", {"florist"}),
    ("NEAR(joe bak)", set()),
    ("joe OR florist", set()),
    ("joe AND", set()),
    ("(joe", {"bakery", "florist"}),
    ("business_name:joe", set()),
    ("{contact_name}: joe", set()),
    ("joe's", {"bakery", "florist"}),        # joe and s*: Joe Smith
    ("'joe':* & !bak | florist", set()),
    ("joe\\ bak", {"bakery"}),
    ("bak^", {"bakery"}),
    ("joe\x00bak", {"bakery"}),
])
def test_search_syntax_in_the_text_is_just_text(client, manager, searchable, text, expected):
    page = client.get("/feed", query_string={"q": text})
    assert page.status_code == 200
    assert set(shown(page)) == {getattr(searchable, name).id for name in expected}
    assert client.get("/api/v1/feed/changes", query_string={"q": text}).status_code == 200
    assert client.get("/feed.csv", query_string={"q": text}).status_code == 200


@pytest.mark.parametrize("text", ['"', "*", "-", "()", "'", ":*", "&|!", "\\", "_"])
def test_a_search_without_words_is_explained(client, manager, searchable, text):
    page = client.get("/feed", query_string={"q": text, "status": "new"})
    assert page.status_code == 400
    assert "Search with letters or digits" in page.get_data(as_text=True)
    assert len(shown(page)) == 3


def test_the_search_index_follows_edits_and_deletes(client, manager, searchable):
    Lead.update(business_name="Kwik Print").where(Lead.id == searchable.bakery.id).execute()
    assert shown(client.get("/feed?q=kwik")) == [searchable.bakery.id]
    assert shown(client.get("/feed?q=bakery")) == []
    assert shown(client.get("/feed?q=natarajan")) == [searchable.bakery.id]
    Lead.update(status="won").where(Lead.id == searchable.bakery.id).execute()
    assert shown(client.get("/feed?q=kwik")) == [searchable.bakery.id]
    Lead.delete().where(Lead.id == searchable.florist.id).execute()
    assert shown(client.get("/feed?q=joe")) == []


# --- Live -----------------------------------------------------------------------------


def version_of(client, url="/api/v1/feed/changes"):
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["ETag"] == '"%s"' % response.get_json()["version"]
    return response.headers["ETag"]


def test_nothing_changed_is_a_304(client, manager, spread):
    etag = version_of(client)
    again = client.get("/api/v1/feed/changes", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag
    # A proxy that compresses may weaken the tag; If-None-Match compares weakly.
    weakened = client.get("/api/v1/feed/changes", headers={"If-None-Match": "W/" + etag})
    assert weakened.status_code == 304
    other = client.get("/api/v1/feed/changes", headers={"If-None-Match": '"%s", W/"x"' % ("0" * 24)})
    assert other.status_code == 200


def test_the_pages_version_is_what_the_first_poll_sends(client, manager, spread):
    deli = spread.leads["deli"].id
    for url in ("/feed", "/feed?status=new&q=bak", "/feed?before=%d" % deli,
                "/feed?sort=oldest&after=%d" % deli, "/feed?sort=deadline&after=%d" % deli,
                "/feed?sort=deadline&q=bak"):
        html = client.get(url).get_data(as_text=True)
        version = re.search(r'data-version="([0-9a-f]+)"', html).group(1)
        changes = re.search(r'data-changes="([^"]+)"', html).group(1).replace("&amp;", "&")
        poll = client.get(changes, headers={"If-None-Match": '"%s"' % version})
        assert poll.status_code == 304, url


def test_a_new_lead_changes_the_version(client, manager, spread):
    etag = version_of(client)
    lead = make_lead(spread.courier, "Brand new")
    response = client.get("/api/v1/feed/changes", headers={"If-None-Match": etag})
    assert response.status_code == 200 and response.get_json()["newest"] == lead.id


@pytest.mark.parametrize("change", ["acknowledge", "advance", "decline", "reassign", "escalate"])
def test_a_status_change_changes_the_version(app, client, manager, spread, change):
    bakery, salon = spread.leads["bakery"], spread.leads["salon"]
    etag = version_of(client)
    if change == "acknowledge":
        Lead.acknowledge(bakery.id, spread.rep)
    elif change == "advance":
        Lead.advance(salon.id, spread.rep, "quoted")
    elif change == "decline":
        Lead.decline(salon.id, spread.rep, "not_my_territory")
    elif change == "reassign":
        Lead.reassign(salon.id, spread.manager, spread.backup)
    else:
        Setting.write("deadline_hot_minutes", 1)
        with app.app_context():
            assert escalate_overdue()
    response = client.get("/api/v1/feed/changes", headers={"If-None-Match": etag})
    assert response.status_code == 200


def test_changes_elsewhere_leave_a_filtered_feed_unchanged(client, manager, spread):
    url = "/api/v1/feed/changes?territory=%d" % spread.south.id
    etag = version_of(client, url)
    make_lead(spread.courier, "Up north", territory=spread.north)
    Lead.acknowledge(spread.leads["bakery"].id, spread.rep)
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    Lead.advance(spread.leads["garage"].id, spread.rep_south, "contacted")
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 200


def test_a_lead_leaving_the_filter_changes_the_version(client, manager, spread):
    url = "/api/v1/feed/changes?status=new"
    etag = version_of(client, url)
    Lead.acknowledge(spread.leads["deli"].id, spread.manager)
    response = client.get(url, headers={"If-None-Match": etag})
    assert response.status_code == 200


def test_scripts_may_poll_with_a_token(app, depot):
    client = app.test_client()
    response = client.get("/api/v1/feed/changes", headers=bearer(depot.manager))
    assert response.status_code == 200 and response.get_json()["newest"] is None


def test_the_page_loads_its_script_as_a_module(client, manager, spread):
    html = client.get("/feed").get_data(as_text=True)
    assert re.search(r'<script type="module" src="/static/js/feed.js\?v=[0-9a-f]+"></script>', html)
    assert client.get("/static/js/feed.js").status_code == 200


# --- Who may -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["courier", "rep"])
@pytest.mark.parametrize("path", ["/feed", "/feed.csv", "/feed?status=new", "/feed.csv?q=joe",
                                  "/feed?sort=deadline", "/feed.csv?sort=oldest"])
def test_couriers_and_reps_may_not_see_the_feed(client, auth, spread, role, path):
    auth.login(getattr(spread, role))
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("role", ["courier", "rep"])
def test_couriers_and_reps_may_not_poll_the_feed(client, auth, spread, role):
    auth.login(getattr(spread, role))
    response = client.get("/api/v1/feed/changes")
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"
    assert client.get("/api/v1/feed/changes", headers=bearer(getattr(spread, role))).status_code == 403


def test_nobody_logged_in_is_sent_to_log_in(client, spread):
    assert client.get("/feed.csv").status_code == 302
    assert client.get("/feed").headers["Location"].startswith("/login")
    assert client.get("/api/v1/feed/changes").status_code == 401


def test_managers_have_the_feed_where_reps_have_their_leads(client, auth, depot):
    auth.login(depot.rep)
    header = client.get("/leads").get_data(as_text=True).split("</header>")[0]
    assert 'href="/feed"' not in header and '<a href="/leads">Leads</a>' in header
    auth.logout()
    auth.login(depot.manager)
    header = client.get("/leads").get_data(as_text=True).split("</header>")[0]
    assert '<a href="/feed">Feed</a>' in header and 'href="/leads"' not in header


# --- Bad values ------------------------------------------------------------------------


HOT = {"bakery", "florist", "salon"}


@pytest.mark.parametrize("query, message, expected", [
    ("status=bogus", "Unknown status: bogus.", HOT),
    ("status=new&status=<b>x</b>", "Unknown status: &lt;b&gt;x&lt;/b&gt;.", {"bakery", "florist"}),
    ("temperature=tepid", "Unknown temperature: tepid.", HOT),
    ("category=shop&category=other", "Unknown category: shop.", set()),
    ("territory=north", "Territory must be an id", HOT),
    ("route=-1", "Route must be an id", HOT),
    ("courier=0", "Courier must be an id", HOT),
    ("rep=99999999999999999999", "Rep must be an id", HOT),
    ("territory=%C2%B2", "Territory must be an id", HOT),
    ("since=2025-13-01", "Since must be a date like", HOT),
    ("since=yesterday", "Since must be a date like", HOT),
    ("until=20250101", "Until must be a date like", HOT),
    ("until=0001-01-01", "Until must be a date like", HOT),
    ("until=9999-12-31", "Until must be a date like", HOT),
    ("since=2001-03-10&until=2001-03-01", "is before “since”", HOT),
    ("unrouted=maybe", "Unrouted is on with 1", HOT),
    ("overdue=2", "Overdue is on with 1", HOT),
    ("before=abc", "Before must be an id", HOT),
    ("before=-5", "Before must be an id", HOT),
    ("q=" + "x" * 201, "at most 200 characters", HOT),
    ("sort=age", "Sort by newest, oldest, deadline, not “age”.", HOT),
    ("sort=DEADLINE", "Sort by newest, oldest, deadline, not “DEADLINE”.", HOT),
    ("after=1", "“after” pages the oldest-first or deadline order", HOT),
    ("sort=oldest&before=1", "“before” pages the newest-first order", HOT),
    ("sort=deadline&after=x", "After must be an id", {"bakery", "florist"}),
])
def test_bad_filter_values_are_explained_and_left_out(client, manager, spread, query, message,
                                                      expected):
    page = client.get("/feed?%s&temperature=hot" % query)
    assert page.status_code == 400
    assert message in page.get_data(as_text=True)
    assert set(shown(page)) == {spread.leads[name].id for name in expected}
    assert client.get("/feed.csv?" + query).status_code == 400
    changes = client.get("/api/v1/feed/changes?" + query)
    assert changes.status_code == 400
    assert changes.get_json()["error"]["code"] == "invalid_parameter"


def test_empty_fields_of_the_form_filter_nothing(client, manager, spread):
    page = client.get("/feed?q=&status=&territory=&route=&courier=&rep=&since=&until="
                      "&unrouted=&before=")
    assert page.status_code == 200
    assert set(shown(page)) == {lead.id for lead in spread.leads.values()}


def test_an_id_nobody_has_shows_nothing(client, manager, spread):
    page = client.get("/feed?territory=999999")
    assert page.status_code == 200 and shown(page) == []
    assert "No leads match these filters." in page.get_data(as_text=True)


def test_the_form_shows_the_filters_in_force(client, manager, spread):
    html = client.get("/feed?status=new&status=won&territory=%d&overdue=1&q=bak&since=2025-01-02"
                      % spread.north.id).get_data(as_text=True)
    assert 'name="status" value="new" checked' in html
    assert 'name="status" value="won" checked' in html
    assert 'name="status" value="lost">' in html
    assert '<option value="%d" selected>North</option>' % spread.north.id in html
    assert 'name="overdue" value="1" checked' in html
    assert 'value="bak"' in html and 'value="2025-01-02"' in html
    assert "Filters (4 on)" in html
    assert ('href="/feed.csv?status=new&amp;status=won&amp;territory=%d&amp;since=2025-01-02'
            '&amp;overdue=1&amp;q=bak"' % spread.north.id) in html


# --- Export ---------------------------------------------------------------------------


def test_the_csv_has_every_column_in_depot_time(client, manager, app, depot):
    app.config["DEPOT_TIMEZONE"] = "Asia/Tokyo"
    lead = make_lead(depot.courier, "Joe's Bakery", route=depot.r1, territory=depot.north,
                     assigned_rep=depot.rep, status="won", temperature="hot",
                     category="new_business", postcode="AB1 2CD", contact_name="Joe",
                     contact_phone="020 7946 0000", contact_email="joe@bakery.example",
                     note="Opens Monday", expects_call=True,
                     created_at=datetime(2025, 3, 9, 22, 30, 5),
                     acknowledged_at=datetime(2025, 3, 9, 22, 40),
                     closed_at=datetime(2025, 3, 20, 9, 0), weekly_volume=40,
                     weekly_value="1200.50")
    response = client.get("/feed.csv")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith(
        'attachment; filename="touchpoint-leads-')
    assert exported(response) == [{
        "id": str(lead.id), "created": "2025-03-10 07:30:05", "business": "Joe's Bakery",
        "category": "new_business", "temperature": "hot", "status": "won", "courier": "Ann",
        "rep": "Dana", "territory": "North", "route": "R1", "postcode": "AB1 2CD",
        "contact_name": "Joe", "contact_phone": "020 7946 0000",
        "contact_email": "joe@bakery.example", "note": "Opens Monday", "expects_call": "yes",
        "acknowledged_at": "2025-03-10 07:40:00", "closed_at": "2025-03-20 18:00:00",
        "weekly_volume": "40", "weekly_value": "1200.50", "currency": "GBP"}]


def test_the_csv_quotes_and_keeps_unicode(client, manager, depot):
    tricky = 'Says "hi", then leaves;\nback at 5, 東京 → Zoë'
    make_lead(depot.courier, 'Joe\'s "Best", Bakery', note=tricky, contact_name="Zoë Ångström")
    body = client.get("/feed.csv").data
    assert body.startswith(b"\xef\xbb\xbf")
    assert b'"Joe\'s ""Best"", Bakery"' in body
    row = exported(client.get("/feed.csv"))[0]
    assert row["note"] == tricky and row["business"] == 'Joe\'s "Best", Bakery'
    assert row["contact_name"] == "Zoë Ångström" and row["expects_call"] == "no"


@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://evil.example\",\"x\")", "+44 20 7946 0000",
                                  "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1"])
def test_formula_cells_are_neutralised(client, manager, depot, text):
    make_lead(depot.courier, text, contact_name=text, contact_phone=text[:32], note=text)
    row = exported(client.get("/feed.csv"))[0]
    for column, value in (("business", text), ("contact_name", text),
                          ("contact_phone", text[:32]), ("note", text)):
        assert row[column] == "'" + value


def test_plain_text_is_left_as_it_is(client, manager, depot):
    make_lead(depot.courier, "Joe = Bakery", note="1+1 is fine in the middle", contact_phone="020")
    row = exported(client.get("/feed.csv"))[0]
    assert (row["business"], row["note"], row["contact_phone"]) == (
        "Joe = Bakery", "1+1 is fine in the middle", "020")


def test_each_export_is_recorded(client, manager, spread):
    client.get("/feed.csv?status=new&territory=%d" % spread.north.id)
    entry = AuditEntry.get(AuditEntry.action == "export")
    assert entry.actor_id == spread.manager.id
    assert entry.subject == "/feed.csv?status=new&territory=%d" % spread.north.id
    assert '"status": ["new"]' in entry.detail


def test_a_refused_export_is_not_recorded(client, auth, spread):
    auth.login(spread.rep)
    client.get("/feed.csv")
    auth.logout()
    auth.login(spread.manager)
    client.get("/feed.csv?status=bogus")
    assert AuditEntry.select().where(AuditEntry.action == "export").count() == 0


def copy_leads(rows):
    """Grow the leads to `rows` by copying them in SQL (a fresh client_uuid
    each), doubling each time: far faster than building rows in Python."""
    new_uuid = fn.lower(fn.hex(fn.randomblob(16))) if is_sqlite() else fn.gen_random_uuid()
    columns = [field for field in Lead._meta.sorted_fields
               if field.name not in ("id", "client_uuid")]
    made = Lead.select().count()
    while made < rows:
        more = min(made, rows - made)
        copies = Lead.select(new_uuid, *columns).order_by(Lead.id).limit(more)
        Lead.insert_from(copies, [Lead.client_uuid] + columns).execute()
        made += more


def test_a_hundred_thousand_rows_stream_in_flat_memory(client, manager, depot):
    rows, note = 100_000, "Spoke to the owner at the loading dock about weekly parcels " * 2
    Lead.insert_many([dict(client_uuid=uuid.uuid4(), courier=depot.courier.id,
                           route=depot.r1.id, territory=depot.north.id,
                           business_name="Business %d" % n, category="other",
                           temperature="warm", postcode="AB1 2CD", note=note)
                      for n in range(1000)]).execute()
    copy_leads(rows)
    tracemalloc.start()
    try:
        response = client.get("/feed.csv?territory=%d" % depot.north.id, buffered=False)
        size = lines = 0
        for chunk in response.response:
            size += len(chunk)
            lines += chunk.count(b"\n")
        peak = tracemalloc.get_traced_memory()[1]
        response.close()
    finally:
        tracemalloc.stop()
    assert lines == rows + 1
    assert size > 15_000_000
    assert peak < 6_000_000, "peak %d bytes for %d bytes of CSV" % (peak, size)


# --- In a browser ----------------------------------------------------------------------

POLL_NOW = "document.dispatchEvent(new Event('visibilitychange'))"


def test_browser_feed_shows_new_leads_and_changes_without_a_reload(browser, van_depot):
    page, problems = browser.new_page(), []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    log_in(page, van_depot.manager)
    page.goto("/feed")
    page.evaluate("window.sameDocument = true")
    fresh, _ = Lead.submit(van_depot.courier, {"business_name": "Fresh Florist",
                                               "category": "other", "temperature": "hot"},
                           uuid.uuid4())
    page.evaluate(POLL_NOW)
    page.wait_for_selector('[data-id="%d"] >> text=Fresh Florist' % fresh.id)
    assert page.text_content("#feed-news") == "1 new lead."
    Lead.acknowledge(fresh.id, van_depot.rep)
    page.evaluate(POLL_NOW)
    page.wait_for_selector('[data-id="%d"] .status-acknowledged' % fresh.id)
    assert page.evaluate("window.sameDocument") is True
    assert problems == []


def test_browser_feed_fits_a_phone_under_a_one_line_header(browser, van_depot):
    page = browser.new_page()
    page.set_viewport_size({"width": 320, "height": 780})
    log_in(page, van_depot.manager)
    page.goto("/feed?status=new&overdue=1")
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    page.set_viewport_size({"width": 375, "height": 780})
    assert page.evaluate("document.querySelector('header.bar').getBoundingClientRect().height") < 60


def test_browser_feed_is_accessible_and_thumb_sized(browser, van_depot):
    Lead.submit(van_depot.courier, {"business_name": "Joe's Bakery", "category": "other",
                                    "temperature": "hot"}, uuid.uuid4())
    page = browser.new_page()
    log_in(page, van_depot.manager)
    page.goto("/feed?temperature=hot")
    page.wait_for_load_state("networkidle")
    results = Axe().run(page)
    assert [v["id"] for v in results.response["violations"]
            if v["impact"] in ("serious", "critical")] == []
    assert page.evaluate(TARGETS) == []
