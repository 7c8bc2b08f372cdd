"""The numbers: a period against the one before, overall and by territory, rep,
courier and route; courier and rep side by side; the leaderboard and a
courier's own record; who may see which numbers; charts that match tables.

`march` is a hand-made depot month whose every figure is worked out in the
comments, so each expected number below can be checked by hand.
"""
import csv
import io
import json
import re
import uuid
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta
from decimal import Decimal
from html import unescape
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest

from app.models import AuditEntry, Lead, LeadEvent, Setting, utcnow
from app.numbers.figures import percentile, tally
from app.numbers.metrics import duration, share
from app.numbers.period import Period
from conftest import Auth, csrf_token, make_user

PERIOD = {"from": "2025-03-01", "to": "2025-03-10"}
MEASURES = ["sent", "median", "p90", "on_time", "win_share", "won_volume", "won_value"]
SVG = "http://www.w3.org/2000/svg"


def sent(courier, at, ack=None, rep=None, status=None, temperature="hot", volume=None,
         value=None, name="Lead"):
    """A lead `courier` sent at `at`, acknowledged `ack` seconds later by rep,
    standing at status (default: acknowledged if a rep has it, else new)."""
    route = courier.route
    return Lead.create(
        client_uuid=uuid.uuid4(), courier=courier, route=route, territory=route.territory_id,
        business_name=name, category="other", temperature=temperature, created_at=at,
        assigned_rep=rep, status=status or ("acknowledged" if rep else "new"),
        acknowledged_at=at + timedelta(seconds=ack) if ack is not None else None,
        weekly_volume=volume, weekly_value=Decimal(value) if value else None)


@pytest.fixture
def march(depot):
    """1–10 March 2025 and the ten days before, in a depot on UTC.

    This period: 8 leads; acknowledged after 60, 120, 180, 600, 1800 and 7200 s
    (median 390 s, p90 4500 s); 5 of 8 due in time (L4 is 30 min late for a hot
    lead; L5 and L8 were never picked up); 3 won of 5 closed; 35 parcels and
    1,150.75 a week. The ten days before: 2 leads, acknowledged after 300 and
    900 s, both in time, 1 won of 2 closed, 4 parcels worth 40.
    """
    d = depot
    day = lambda n, hour=9: datetime(2025, 3, 1) + timedelta(days=n - 1, hours=hour)
    leads = SimpleNamespace(
        l1=sent(d.courier, day(1), 60, d.rep, "won", volume=10, value="100.00",
                name="Corner Bakery"),
        l2=sent(d.courier, day(2), 120, d.rep, "won", volume=5, value="50.75"),
        l3=sent(d.courier, day(3), 180, d.rep, "lost", temperature="warm"),
        l4=sent(d.courier, day(4), 1800, d.backup, "declined"),
        l5=sent(d.courier, day(5)),
        l6=sent(d.courier2, day(6), 600, d.rep_south, "quoted", temperature="warm"),
        l7=sent(d.courier2, day(7), 7200, d.rep_south, "won", temperature="fyi", volume=20,
                value="1000.00"),
        l8=sent(d.rover, datetime(2025, 3, 10, 23, 59, 59)),
        p1=sent(d.courier, datetime(2025, 2, 19), 300, d.rep, "won", volume=4, value="40"),
        p2=sent(d.courier2, datetime(2025, 2, 28, 12), 900, d.rep_south, "lost",
                temperature="warm"),
        # Just outside both periods: counted nowhere.
        after=sent(d.courier, datetime(2025, 3, 11), 5, d.rep, "won", volume=999, value="999"),
        before=sent(d.courier2, datetime(2025, 2, 18, 23, 59, 59), 5, d.rep_south, "won",
                    volume=999, value="999"),
    )
    LeadEvent.create(lead=leads.l1, kind="kudos", actor=d.rep, detail="Great spot, Ann!")
    LeadEvent.create(lead=leads.l7, kind="kudos", actor=d.rep_south, detail="Thanks Bob")
    LeadEvent.create(lead=leads.l7, kind="kudos", actor=d.manager, detail="Well done")
    LeadEvent.create(lead=leads.after, kind="kudos", actor=d.rep, detail="Not this period")
    return leads


class Tables(HTMLParser):
    """Every <table id=…> of a page as rows of cell texts, and each <svg> as markup."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.tables, self.table, self.row, self.cell = {}, None, None, None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.table = self.tables.setdefault(dict(attrs).get("id"), [])
        elif tag == "tr" and self.table is not None:
            self.row = []
            self.table.append(self.row)
        elif tag in ("td", "th") and self.row is not None:
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.row.append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "table":
            self.table = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def tables(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return Tables(response.get_data(as_text=True)).tables


def row_of(table, name):
    """The cells after the row header of the row named name."""
    found = [row[1:] for row in table if row and row[0] == name]
    assert len(found) == 1, "one row %r in %r" % (name, [row[0] for row in table])
    return found[0]


def charts(html):
    """Each chart's SVG, parsed as XML (which fails on malformed markup)."""
    return [ET.fromstring(svg) for svg in
            re.findall(r'<svg class="chart-svg".*?</svg>', html, re.S)]


def logged_in(app, user):
    client = app.test_client()
    Auth(client).login(user)
    return client


def get(client, path, **args):
    return client.get(path, query_string=dict(PERIOD, **args))


# --- Pure parts: percentiles, durations, periods --------------------------------

@pytest.mark.parametrize("values, share_, expected", [
    ([], 0.5, None),
    ([7], 0.5, 7), ([7], 0.9, 7),
    ([60, 120, 180], 0.5, 120),
    ([60, 120, 180, 600, 1800, 7200], 0.5, 390),
    ([60, 120, 180, 600, 1800, 7200], 0.9, 4500),
    ([300, 900], 0.9, 840),
    ([1, 2, 3, 4], 0.0, 1), ([1, 2, 3, 4], 1.0, 4),
])
def test_percentile_interpolates_like_percentile_cont(values, share_, expected):
    assert percentile(values, share_) == expected


@pytest.mark.parametrize("seconds, words", [
    (None, "—"), (0, "0 s"), (45.4, "45 s"), (59.6, "1 min"), (150, "2 min 30 s"),
    (390, "6 min 30 s"), (600, "10 min"), (1314, "22 min"), (3600, "1 h"),
    (3900, "1 h 5 min"), (4500, "1 h 15 min"), (86400, "1 d"), (97200, "1 d 3 h"),
])
def test_durations_read_at_a_glance(seconds, words):
    assert duration(seconds) == words


@pytest.mark.parametrize("value, words", [(None, "—"), (0.625, "63%"), (2 / 3, "67%"),
                                          (1, "100%"), (0, "0%")])
def test_shares_are_whole_percentages_halves_up(value, words):
    assert share(value) == words


def test_a_period_is_whole_local_days_and_the_previous_one_is_as_long():
    # British Summer Time starts at 01:00 UTC on 30 March 2025: that day has 23 hours.
    period = Period(date(2025, 3, 30), date(2025, 3, 31), "Europe/London")
    assert period.bounds() == (datetime(2025, 3, 30), datetime(2025, 3, 31, 23))
    previous = period.previous()
    assert (previous.first, previous.last, previous.days) == (date(2025, 3, 28),
                                                              date(2025, 3, 29), 2)
    assert previous.bounds() == (datetime(2025, 3, 28), datetime(2025, 3, 30))
    assert period.following().first == date(2025, 4, 1)
    assert period.label == "30 Mar – 31 Mar 2025"


# --- The numbers, computed right ------------------------------------------------

def test_overall_numbers_against_the_previous_period(app, march, depot):
    table = tables(get(logged_in(app, depot.manager), "/numbers"))["table-overview"]
    assert table[1:] == [
        ["Leads sent", "8", "2", "+6 (+300%)"],
        ["Median time to acknowledge", "6 min 30 s", "10 min", "3 min 30 s faster"],
        ["90th percentile to acknowledge", "1 h 15 min", "14 min", "1 h 1 min slower"],
        ["Acknowledged within the deadline", "63%", "100%", "-37 points"],
        ["Won, of those closed", "60%", "50%", "+10 points"],
        ["Won parcels a week", "35", "4", "+31 (+775%)"],
        ["Won value a week", "£1,151", "£40", "+£1,111 (+2777%)"],
    ]


BREAKDOWNS = [
    # (table, row, this period's measures, the previous period's) in MEASURES order.
    ("territory", "North", ["5", "2 min 30 s", "22 min", "60%", "50%", "15", "£151"],
     ["1", "5 min", "5 min", "100%", "100%", "4", "£40"]),
    ("territory", "South", ["2", "1 h 5 min", "1 h 49 min", "100%", "100%", "20", "£1,000"],
     ["1", "15 min", "15 min", "100%", "0%", "0", "£0"]),
    ("territory", "Unrouted", ["1", "—", "—", "0%", "—", "0", "£0"],
     ["0", "—", "—", "—", "—", "0", "£0"]),
    ("rep", "Dana", ["3", "2 min", "2 min 48 s", "100%", "67%", "15", "£151"],
     ["1", "5 min", "5 min", "100%", "100%", "4", "£40"]),
    ("rep", "Finn", ["1", "30 min", "30 min", "0%", "0%", "0", "£0"],
     ["0", "—", "—", "—", "—", "0", "£0"]),
    ("rep", "Eve", ["2", "1 h 5 min", "1 h 49 min", "100%", "100%", "20", "£1,000"],
     ["1", "15 min", "15 min", "100%", "0%", "0", "£0"]),
    ("rep", "Nobody yet", ["2", "—", "—", "0%", "—", "0", "£0"],
     ["0", "—", "—", "—", "—", "0", "£0"]),
    ("courier", "Ann", ["5", "2 min 30 s", "22 min", "60%", "50%", "15", "£151"],
     ["1", "5 min", "5 min", "100%", "100%", "4", "£40"]),
    ("courier", "Bob", ["2", "1 h 5 min", "1 h 49 min", "100%", "100%", "20", "£1,000"],
     ["1", "15 min", "15 min", "100%", "0%", "0", "£0"]),
    ("courier", "Cat", ["1", "—", "—", "0%", "—", "0", "£0"],
     ["0", "—", "—", "—", "—", "0", "£0"]),
    ("route", "R1 · North loop", ["5", "2 min 30 s", "22 min", "60%", "50%", "15", "£151"],
     ["1", "5 min", "5 min", "100%", "100%", "4", "£40"]),
    ("route", "R9 · Unassigned route", ["1", "—", "—", "0%", "—", "0", "£0"],
     ["0", "—", "—", "—", "—", "0", "£0"]),
]


@pytest.mark.parametrize("breakdown, name, now, was", BREAKDOWNS)
def test_numbers_by_territory_rep_courier_and_route(app, march, depot, breakdown, name, now, was):
    table = tables(get(logged_in(app, depot.manager), "/numbers"))["table-" + breakdown]
    assert table[0] == [breakdown.capitalize(), "Leads sent", "Median time to acknowledge",
                        "90th percentile to acknowledge",
                        "Acknowledged within the deadline", "Won, of those closed",
                        "Won parcels a week", "Won value a week"]
    assert row_of(table, name) == ["%s was %s" % pair for pair in zip(now, was)]


def test_breakdowns_list_every_group_most_leads_first(app, march, depot):
    found = tables(get(logged_in(app, depot.manager), "/numbers"))
    assert [row[0] for row in found["table-territory"][1:]] == ["North", "South", "Unrouted"]
    assert [row[0] for row in found["table-rep"][1:]] == ["Dana", "Eve", "Nobody yet", "Finn"]
    assert [row[0] for row in found["table-route"][1:]] == [
        "R1 · North loop", "R2 · South loop", "R9 · Unassigned route"]


@pytest.mark.parametrize("ack_after, on_time", [(900, 1), (901, 0)])
def test_a_hot_lead_acknowledged_at_its_deadline_is_in_time(app, depot, ack_after, on_time):
    sent(depot.courier, datetime(2025, 3, 1, 12), ack_after, depot.rep)
    with app.app_context():
        figures = tally(None, datetime(2025, 3, 1), datetime(2025, 3, 2), utcnow()).overall
    assert (figures.acknowledged, figures.on_time, figures.on_time_share) == (1, on_time, on_time)


def test_a_lead_not_yet_past_its_deadline_is_not_counted_late(app, depot):
    now = utcnow()
    sent(depot.courier, now - timedelta(minutes=5))                       # hot, 10 min to go
    sent(depot.courier, now - timedelta(minutes=20))                      # hot and overdue
    with app.app_context():
        figures = tally(None, now - timedelta(hours=1), now + timedelta(seconds=1), now).overall
    assert (figures.sent, figures.overdue, figures.on_time_share) == (2, 1, 0)


def test_the_default_period_is_the_last_30_days(app, depot):
    sent(depot.courier, utcnow() - timedelta(minutes=1), 30, depot.rep)
    sent(depot.courier, utcnow() - timedelta(days=31))
    client = logged_in(app, depot.manager)
    table = tables(client.get("/numbers"))["table-overview"]
    assert row_of(table, "Leads sent") == ["1", "1", "no change"]
    assert row_of(table, "Median time to acknowledge")[0] == "30 s"


def test_days_are_the_depots_days(app, depot):
    app.config["DEPOT_TIMEZONE"] = "Europe/Paris"
    sent(depot.courier, datetime(2025, 3, 9, 23, 30))    # 00:30 on 10 March in Paris
    sent(depot.courier, datetime(2025, 3, 10, 23, 30))   # 00:30 on 11 March in Paris
    client = logged_in(app, depot.manager)
    response = client.get("/numbers", query_string={"from": "2025-03-10", "to": "2025-03-10"})
    assert row_of(tables(response)["table-overview"], "Leads sent")[0] == "1"


# --- Who sees which numbers ------------------------------------------------------

def test_a_rep_sees_only_their_territories_numbers(app, march, depot):
    response = get(logged_in(app, depot.rep), "/numbers")
    found = tables(response)
    assert row_of(found["table-overview"], "Leads sent")[:2] == ["5", "1"]
    assert [row[0] for row in found["table-territory"][1:]] == ["North"]
    assert [row[0] for row in found["table-rep"][1:]] == ["Dana", "Finn", "Nobody yet"]
    assert [row[0] for row in found["table-courier"][1:]] == ["Ann"]
    html = response.get_data(as_text=True)
    for absent in ("South", "Eve", "Bob", "Cat", "Unrouted", "R2", "1,000", "1 h 5 min"):
        assert not re.search(r"\b%s\b" % re.escape(absent), html), absent
    assert "Your territories: North." in html


def test_a_rep_in_no_territory_sees_no_numbers(app, march, depot):
    loner = make_user("rep", name="Lone")
    table = tables(get(logged_in(app, loner), "/numbers"))["table-overview"]
    assert row_of(table, "Leads sent")[:2] == ["0", "0"]


@pytest.mark.parametrize("path", ["/numbers", "/numbers/pairs", "/my-record", "/leaderboard"])
@pytest.mark.parametrize("role, allowed", [("courier", ("/my-record",)),
                                           ("rep", ("/numbers", "/numbers/pairs", "/leaderboard")),
                                           ("manager", ("/numbers", "/numbers/pairs",
                                                        "/leaderboard"))])
def test_each_role_reaches_only_its_numbers_pages(app, depot, path, role, allowed):
    user = {"courier": depot.courier, "rep": depot.rep, "manager": depot.manager}[role]
    status = get(logged_in(app, user), path).status_code
    assert status == (200 if path in allowed else 403)


def test_numbers_need_a_login(client, depot):
    response = client.get("/numbers")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- Bad dates: a clear message, never a 500 --------------------------------------

@pytest.mark.parametrize("args, message", [
    ({"from": "2025-13-01"}, "The From date must be a real date written YYYY-MM-DD"),
    ({"to": "2025-02-30"}, "The To date must be a real date written YYYY-MM-DD"),
    ({"from": "2025-3-1"}, "The From date must be a real date written YYYY-MM-DD"),
    ({"from": "2025-W10-1"}, "The From date must be a real date written YYYY-MM-DD"),
    ({"to": "<script>"}, "The To date must be a real date written YYYY-MM-DD"),
    ({"from": "2025-03-10", "to": "2025-03-01"}, "The From date (2025-03-10) is after the To"),
    ({"from": "2020-01-01", "to": "2025-01-01"}, "Pick at most 731 days (about two years)"),
    ({"from": "1999-12-31", "to": "2000-01-01"}, "must be between 2000-01-01 and 2099-12-31"),
    ({"from": "0001-01-01", "to": "0001-01-02"}, "must be between 2000-01-01 and 2099-12-31"),
])
@pytest.mark.parametrize("who, path", [("manager", "/numbers"), ("manager", "/numbers/pairs"),
                                       ("manager", "/leaderboard"), ("courier", "/my-record")])
def test_bad_dates_get_a_clear_message(app, depot, args, message, who, path):
    response = logged_in(app, getattr(depot, who)).get(path, query_string=args)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in unescape(html)
    assert 'aria-invalid="true"' in html and "<script>" not in html


# --- Charts: well-formed SVG holding the table's numbers -----------------------------

@pytest.mark.parametrize("metric", ["bogus", "", "SENT", "sent'><script>", "x" * 500])
def test_an_unknown_chart_measure_charts_leads_sent(app, march, depot, metric):
    response = get(logged_in(app, depot.manager), "/numbers", metric=metric)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<script>" not in html.split("<main", 1)[-1]
    titles = [svg.find("{%s}title" % SVG).text for svg in charts(html)[1:]]
    assert titles and all(title.startswith("Leads sent by ") for title in titles)

@pytest.mark.parametrize("measure", MEASURES)
def test_charts_are_svg_showing_the_tables_numbers(app, march, depot, measure):
    response = get(logged_in(app, depot.manager), "/numbers", metric=measure)
    html = response.get_data(as_text=True)
    found, drawn = tables(response), charts(html)
    assert len(drawn) == 5 and 'style="' not in html
    column = MEASURES.index(measure)
    for svg in drawn:
        assert svg.get("role") == "img" and svg.get("viewBox").startswith("0 0 420 ")
        title = svg.find("{%s}title" % SVG)
        assert title.get("id") == svg.get("aria-labelledby") and title.text
        rows = svg.findall("{%s}g[@class='row']" % SVG)
        texts = [[t.text for t in row.findall("{%s}text" % SVG)] for row in rows]
        if svg.get("aria-labelledby") == "chart-overview-title":
            assert texts == [[label, now, was] for label, now, was, _ in
                             found["table-overview"][1:]]
            continue
        breakdown = svg.get("aria-labelledby")[len("chart-"):-len("-title")]
        table = found["table-" + breakdown][1:]
        assert texts == [[row[0]] + row[1 + column].split(" was ") for row in table]


def test_bars_are_drawn_to_scale(app, march, depot):
    html = get(logged_in(app, depot.manager), "/numbers").get_data(as_text=True)
    territory = [svg for svg in charts(html)
                 if svg.get("aria-labelledby") == "chart-territory-title"][0]
    widths = [float(rect.get("width")) for rect in territory.iter("{%s}rect" % SVG)
              if rect.get("class") == "now"][1:]   # the first is the legend's swatch
    assert widths == [280, 112, 56]                 # 5, 2 and 1 leads sent


# --- Courier and rep, side by side ----------------------------------------------------

def test_pairs_show_which_reps_worked_each_couriers_leads(app, march, depot):
    table = tables(get(logged_in(app, depot.manager), "/numbers/pairs"))["table-pairs"]
    assert table[0] == ["Courier", "Dana", "Eve", "Finn", "Nobody yet", "All reps"]
    assert row_of(table, "Ann") == ["3 leads 2 min 2 won", "—", "1 lead 30 min 0 won",
                                    "1 lead — 0 won", "5 leads 2 min 30 s 2 won"]
    assert row_of(table, "Bob") == ["—", "2 leads 1 h 5 min 1 won", "—", "—",
                                    "2 leads 1 h 5 min 1 won"]
    assert row_of(table, "All couriers") == [
        "3 leads 2 min 2 won", "2 leads 1 h 5 min 1 won", "1 lead 30 min 0 won",
        "2 leads — 0 won", "8 leads 6 min 30 s 3 won"]


@pytest.fixture
def pairs(depot):
    """Four pairs with five leads each, by median time to acknowledge:
    Ann–Dana 60 s, Bob–Dana 100 s, Ann–Finn 600 s, Bob–Eve 3000 s; and a pair
    with four leads only (Cat's, unrouted, taken by Eve), too few to judge."""
    at = datetime(2025, 3, 2)
    for courier, rep, seconds in [("courier", "rep", 60), ("courier2", "rep", 100),
                                  ("courier", "backup", 600), ("courier2", "rep_south", 3000),
                                  ("rover", "rep_south", 1)]:
        for n in range(5 if courier != "rover" else 4):
            sent(getattr(depot, courier), at, seconds, getattr(depot, rep))


def test_the_fastest_and_slowest_pairs_are_picked_out(app, depot, pairs):
    response = get(logged_in(app, depot.manager), "/numbers/pairs")
    html = unescape(response.get_data(as_text=True))
    slowest = re.search(r'<ol class="pairs slowest">(.*?)</ol>', html, re.S).group(1)
    fastest = re.search(r'<ol class="pairs fastest">(.*?)</ol>', html, re.S).group(1)
    assert re.findall(r"<strong>(\w+)</strong> and <strong>(\w+)</strong>", slowest) == [
        ("Bob", "Eve"), ("Ann", "Finn")]
    assert re.findall(r"<strong>(\w+)</strong> and <strong>(\w+)</strong>", fastest) == [
        ("Ann", "Dana"), ("Bob", "Dana")]
    assert ('5 leads acknowledged in a median <span class="duration">50 min</span>; '
            '0 won of 0 closed') in slowest
    table = tables(response)["table-pairs"]
    assert row_of(table, "Bob")[:3] == ["5 leads 1 min 40 s 0 won Fastest",
                                        "5 leads 50 min 0 won Slowest", "—"]
    assert html.count('class="pair-fastest"') == 2 and html.count('class="pair-slowest"') == 2


@pytest.mark.parametrize("seconds, marked", [
    # 1 h 20 against 1 h 30: noise, nobody is marked.
    ((4800, 5000, 5200, 5400), []),
    # Only the pairs at least twice as fast as the slowest, or twice as slow
    # as the fastest, are marked: 50 min is not twice 30 min, nor 35 min half 66 min.
    ((1800, 2100, 3000, 4000), [("Ann", "Dana"), ("Bob", "Eve")]),
])
def test_pairs_are_marked_only_when_the_difference_means_something(app, depot, seconds, marked):
    at = datetime(2025, 3, 2)
    for (courier, rep), each in zip([("courier", "rep"), ("courier2", "rep"),
                                     ("courier", "backup"), ("courier2", "rep_south")], seconds):
        for n in range(5):
            sent(getattr(depot, courier), at, each, getattr(depot, rep))
    html = unescape(get(logged_in(app, depot.manager), "/numbers/pairs").get_data(as_text=True))
    found = re.findall(r'<ol class="pairs (?:fastest|slowest)">(.*?)</ol>', html, re.S)
    pairs = re.findall(r"<strong>(\w+)</strong> and <strong>(\w+)</strong>", "".join(found))
    assert sorted(pairs) == sorted(marked)
    assert html.count('class="marker"') == len(marked)
    if not marked:
        assert "No pair is twice as slow as the fastest: nobody stands out." in html


def test_pairs_with_fewer_than_five_leads_are_not_compared(app, depot):
    at = datetime(2025, 3, 2)
    for courier, rep, seconds in [("courier", "rep", 60), ("courier2", "rep_south", 6000)]:
        for n in range(4):
            sent(getattr(depot, courier), at, seconds, getattr(depot, rep))
    html = get(logged_in(app, depot.manager), "/numbers/pairs").get_data(as_text=True)
    assert "Not enough pairs with 5 or more acknowledged leads to compare yet." in html
    assert 'class="marker"' not in html


def test_pairs_are_listed_when_there_are_too_many_reps_for_a_grid(app, depot, pairs):
    extra = [make_user("rep", name="Rep %02d" % n, territory=depot.north) for n in range(10)]
    for rep in extra:
        sent(depot.courier, datetime(2025, 3, 3), 30, rep)
    found = tables(get(logged_in(app, depot.manager), "/numbers/pairs"))
    assert "table-pairs" not in found
    listed = found["table-pairs-list"]
    assert listed[0] == ["Courier", "Rep", "Leads", "Median time to acknowledge", "Won"]
    assert listed[1:4] == [["Ann", "Dana Fastest", "5", "1 min", "0"],
                           ["Ann", "Finn Slowest", "5", "10 min", "0"],
                           ["Ann", "Rep 00", "1", "30 s", "0"]]
    assert ["Bob", "Eve Slowest", "5", "50 min", "0"] in listed
    assert len(listed) == 1 + 12 + 2 + 1     # Ann's 12 reps, Bob's 2, Cat's 1


def test_a_rep_sees_pairs_of_their_territories_only(app, march, depot):
    client = logged_in(app, depot.rep)
    response = get(client, "/numbers/pairs")
    table = tables(response)["table-pairs"]
    assert [row[0] for row in table[1:]] == ["Ann", "All couriers"]
    assert table[0] == ["Courier", "Dana", "Finn", "Nobody yet", "All reps"]
    assert not re.search(r"\b(Bob|Eve|South)\b", response.get_data(as_text=True))
    refused = get(client, "/numbers/pairs", territory=depot.south.id)
    assert refused.status_code == 400
    assert "Pick one of the territories in the list." in refused.get_data(as_text=True)
    assert "Bob" not in refused.get_data(as_text=True)


def test_a_manager_narrows_the_pairs_to_a_territory(app, march, depot):
    response = get(logged_in(app, depot.manager), "/numbers/pairs", territory=depot.south.id)
    table = tables(response)["table-pairs"]
    assert [row[0] for row in table[1:]] == ["Bob", "All couriers"]


# --- Recognition: the leaderboard and a courier's record -----------------------------

def test_the_leaderboard_ranks_couriers_by_what_their_leads_won(app, march, depot):
    dee = make_user("courier", name="Dee", route=depot.off_route)
    sent(dee, datetime(2025, 3, 4))
    table = tables(get(logged_in(app, depot.manager), "/leaderboard"))["table-board"]
    assert table[0] == ["Rank", "Courier", "Won", "Won value a week", "Leads sent",
                        "Acknowledged", "Thank-yous"]
    assert [row for row in table[1:]] == [
        ["1", "Ann", "2", "£151", "5", "4", "1"],
        ["2", "Bob", "1", "£1,000", "2", "2", "2"],
        ["3", "Cat", "0", "£0", "1", "0", "0"],
        ["3", "Dee", "0", "£0", "1", "0", "0"],
    ]


def test_a_reps_leaderboard_counts_their_territories_leads(app, march, depot):
    table = tables(get(logged_in(app, depot.rep), "/leaderboard"))["table-board"]
    assert [row[1] for row in table[1:]] == ["Ann"]


@pytest.mark.parametrize("role, on, status", [
    ("courier", False, 403), ("courier", True, 200),
    ("rep", False, 200), ("rep", True, 200),
    ("manager", False, 200), ("manager", True, 200),
])
def test_couriers_see_the_leaderboard_only_when_the_depot_turns_it_on(app, march, depot, role,
                                                                      on, status):
    if on:
        Setting.write("leaderboard_for_couriers", True)
    user = {"courier": depot.courier, "rep": depot.rep, "manager": depot.manager}[role]
    response = get(logged_in(app, user), "/leaderboard")
    assert response.status_code == status
    if status == 200:
        assert [row[1] for row in tables(response)["table-board"][1:]][0] == "Ann"


def test_a_manager_turns_the_board_on_for_couriers_and_it_is_recorded(app, march, depot):
    manager = logged_in(app, depot.manager)
    page = get(manager, "/leaderboard").get_data(as_text=True)
    assert "Show it to couriers" in page
    response = manager.post("/leaderboard/couriers?from=2025-03-01&to=2025-03-10",
                            data={"show": "on", "csrf_token": csrf_token(manager, "/leaderboard")})
    assert response.status_code == 302
    assert response.headers["Location"] == "/leaderboard?from=2025-03-01&to=2025-03-10"
    assert Setting.read("leaderboard_for_couriers") is True
    entry = AuditEntry.get()
    assert (entry.actor_id, entry.action, entry.subject) == (
        depot.manager.id, "setting", "leaderboard_for_couriers")
    assert json.loads(entry.detail) == {"value": True}
    assert "Hide it from couriers" in manager.get("/leaderboard").get_data(as_text=True)
    assert get(logged_in(app, depot.courier), "/leaderboard").status_code == 200
    manager.post("/leaderboard/couriers", data={"show": "off",
                                                "csrf_token": csrf_token(manager, "/leaderboard")})
    assert Setting.read("leaderboard_for_couriers") is False
    assert [json.loads(e.detail) for e in AuditEntry.select().order_by(AuditEntry.id)] == [
        {"value": True}, {"value": False}]
    assert get(logged_in(app, depot.courier), "/leaderboard").status_code == 403


@pytest.mark.parametrize("who, data, status", [
    ("manager", {"show": "on"}, 400),                       # no CSRF token
    ("manager", {"show": "on", "csrf_token": "forged"}, 400),
    ("manager", {"show": "yes please", "csrf_token": True}, 400),
    ("rep", {"show": "on", "csrf_token": True}, 403),
    ("courier", {"show": "on", "csrf_token": True}, 403),
])
def test_only_a_managers_genuine_form_changes_the_board(app, depot, who, data, status):
    client = logged_in(app, getattr(depot, who))
    if data.get("csrf_token") is True:
        data = dict(data, csrf_token=csrf_token(client, "/"))
    assert client.post("/leaderboard/couriers", data=data).status_code == status
    assert Setting.read("leaderboard_for_couriers", "unset") == "unset"
    assert AuditEntry.select().count() == 0


def test_a_courier_sees_their_own_record_and_thank_yous(app, march, depot):
    response = get(logged_in(app, depot.courier), "/my-record")
    assert tables(response)["table-record"][1:] == [
        ["Leads sent", "5", "1"],
        ["Acknowledged", "4", "1"],
        ["Median time to acknowledge", "2 min 30 s", "5 min"],
        ["Won", "2", "1"],
        ["Won value a week", "£151", "£40"],
        ["Thank-yous received", "1", "0"],
    ]
    html = unescape(response.get_data(as_text=True))
    assert "Great spot, Ann!" in html and "Not this period" in html
    assert "Thanks Bob" not in html and "Well done" not in html
    assert re.search(r"Dana, for <a href=\"/leads/%d\">Corner Bakery</a>" % march.l1.id, html)
    assert "leaderboard" not in html.lower().split("<main>")[1]
    assert len(charts(html)) == 1 and ET.tostring(charts(html)[0])


def test_a_couriers_record_shows_their_rank_when_the_board_is_on(app, march, depot):
    Setting.write("leaderboard_for_couriers", True)
    html = get(logged_in(app, depot.courier2), "/my-record").get_data(as_text=True)
    assert "You are <strong>number 2</strong> of 3 couriers" in html


# --- Finding the pages ------------------------------------------------------------

@pytest.mark.parametrize("who, board_on, present, absent", [
    ("courier", False, ["/my-record"], ["/numbers", "/leaderboard"]),
    ("courier", True, ["/my-record", "/leaderboard"], ["/numbers"]),
    ("rep", False, ["/numbers"], ["/my-record"]),
    ("manager", False, ["/numbers"], ["/my-record"]),
])
def test_the_account_page_links_to_each_roles_numbers(app, depot, who, board_on, present, absent):
    Setting.write("leaderboard_for_couriers", board_on)
    html = logged_in(app, getattr(depot, who)).get("/account").get_data(as_text=True)
    for link in present:
        assert 'href="%s"' % link in html
    for link in absent:
        assert 'href="%s"' % link not in html


# --- Money in the depot's currency ---------------------------------------------------

@pytest.mark.parametrize("setting, value, message", [
    ("DEPOT_CURRENCY", "XYZ", "DEPOT_CURRENCY must be an ISO 4217 currency code"),
    ("DEPOT_CURRENCY", "gbp", "not 'gbp'"),
    ("DEPOT_CURRENCY", "£", "DEPOT_CURRENCY must be"),
    ("DEPOT_LOCALE", "xx_YY", "DEPOT_LOCALE must be a locale such as en_GB"),
    ("DEPOT_LOCALE", "English", "not 'English'"),
])
def test_an_unknown_currency_or_locale_stops_the_app_at_start_up(make_app, monkeypatch,
                                                                 setting, value, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make_app(**{setting: value})
    # The same from the environment, as a depot sets it.
    monkeypatch.setenv(setting, value)
    with pytest.raises(ValueError, match=re.escape(message)):
        make_app()


def test_money_is_written_in_the_depots_currency_and_locale(make_app, march, depot):
    app = make_app(DEPOT_CURRENCY="EUR", DEPOT_LOCALE="de_DE")
    overview = tables(get(logged_in(app, depot.manager), "/numbers"))["table-overview"]
    assert overview[-1] == ["Won value a week", "1.151 €", "40 €", "+1.111 € (+2777%)"]
    board = tables(get(logged_in(app, depot.manager), "/leaderboard"))["table-board"]
    assert board[1][3] == "151 €"
    record = tables(get(logged_in(app, depot.courier), "/my-record"))["table-record"]
    assert ["Won value a week", "151 €", "40 €"] in record


def test_the_csv_names_the_currency_beside_a_plain_value(make_app, march, depot):
    app = make_app(DEPOT_CURRENCY="USD")
    sheet = logged_in(app, depot.manager).get("/feed.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(sheet[1:], newline="")))
    won = [row for row in rows if row["weekly_value"]]
    assert won and all(row["currency"] == "USD" for row in rows)
    assert all(re.fullmatch(r"\d+\.\d\d", row["weekly_value"]) for row in won)
