"""The numbers pages: the period's figures against the period before,
courier-and-rep pairs, the couriers' leaderboard and a courier's own record.

`numbers_scope` is the one place that decides whose numbers a user sees:
a manager the whole depot, a rep only the leads of their own territories.
"""
from dataclasses import dataclass

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request,
                   url_for)
from flask_login import current_user, login_required
from markupsafe import Markup

from ..auth import role_required
from ..db import db
from ..models import TEMPERATURES, AuditEntry, Lead, Route, Setting, Territory, User, utcnow
from ..notify import deadline
from .charts import bar_chart
from .figures import Figures, tally
from .metrics import METRICS, RECORD_METRICS, WON, duration
from .pairs import MIN_PAIR_LEADS, pair_matrix, pair_rows
from .period import PeriodError, last_days, local_today, period_from
from .recognition import (BOARD_SETTING, board_for_couriers, kudos_messages, kudos_received,
                          leaderboard)

bp = Blueprint("numbers", __name__)
# Pages outside this blueprint (the Account page) ask whether couriers see the board.
bp.add_app_template_global(board_for_couriers, "leaderboard_for_couriers")

BREAKDOWN_TITLES = {"territory": "By territory", "rep": "By rep", "courier": "By courier",
                    "route": "By route"}
NOBODY = {"territory": "Unrouted", "rep": "Nobody yet", "courier": "Nobody", "route": "No route"}
# A chart shows this many rows (those with the most leads); the table shows all.
CHART_ROWS = 12
LEGEND = ("This period", "Previous period")


# The headline figures, as tiles on the first screen.
TILES = ("sent", "median", "p90", "on_time", "win_share")


@bp.app_template_filter("duration")
def duration_on_one_line(seconds):
    """A duration for a page, that never breaks inside ("1 h 54 min")."""
    return Markup('<span class="duration">%s</span>') % duration(seconds)


class UnknownTerritory(ValueError):
    """A territory in the URL that is not one the user may look at."""


@bp.context_processor
def _periods():
    """Today in the depot, and the periods every form offers in one tap."""
    zone = current_app.config["DEPOT_TIMEZONE"]
    today = local_today(zone, utcnow())
    return {"today": today, "presets": [("Last %d days" % days, last_days(days, zone, today))
                                        for days in (7, 30, 90, 365)]}


def numbers_scope(user):
    """Which leads' numbers user may see, as a condition on Lead (None: all):
    a manager's all, a rep's those of their territories, a courier's their own."""
    if user.role == "manager":
        return None
    if user.role == "rep":
        return Lead.territory.in_(user.territory_ids())
    return Lead.courier == user.id


def requested_period():
    """The period the URL names (default: the last 30 days); PeriodError if it names none."""
    zone = current_app.config["DEPOT_TIMEZONE"]
    return period_from(request.args, zone, local_today(zone, utcnow()))


def names(breakdown, keys):
    """{key: what to call it} for keys of a breakdown (None: unrouted, nobody…)."""
    ids = [key for key in keys if key is not None]
    found = {}
    if ids and breakdown == "territory":
        found = dict(Territory.select(Territory.id, Territory.name)
                     .where(Territory.id.in_(ids)).tuples())
    elif ids and breakdown == "route":
        found = {id: "%s · %s" % (code, name) if name else code for id, code, name in
                 Route.select(Route.id, Route.code, Route.name).where(Route.id.in_(ids)).tuples()}
    elif ids:
        found = dict(User.select(User.id, User.name).where(User.id.in_(ids)).tuples())
    return {key: NOBODY[breakdown] if key is None else found.get(key, "?") for key in keys}


@dataclass
class Section:
    """One breakdown on the page: its rows (label, this period, previous) and chart."""
    key: str
    title: str
    rows: list
    chart: object


def section(breakdown, this, before, metric):
    """The rows of one breakdown, most leads first, and a chart of one metric."""
    keys = set(this.by[breakdown]) | set(before.by[breakdown])
    label = names(breakdown, keys)
    rows = [(label[key], this.by[breakdown].get(key, Figures()),
             before.by[breakdown].get(key, Figures())) for key in keys]
    rows.sort(key=lambda row: (-row[1].sent, -row[2].sent, row[0].lower()))
    chart = bar_chart(
        "chart-" + breakdown, "%s %s" % (metric.label, BREAKDOWN_TITLES[breakdown].lower()),
        [(name, _value(metric, now), _value(metric, was)) for name, now, was in rows[:CHART_ROWS]],
        LEGEND, full=1 if metric.is_share else None,
        description=_shown(len(rows), "the table below it"))
    return Section(breakdown, BREAKDOWN_TITLES[breakdown], rows, chart)


def overview_chart(this, before, metrics, title="This period against the previous one"):
    """Every metric's two values, a share's row drawn to 100%, any other row
    to its own larger value (and without bars when a value is missing)."""
    return bar_chart("chart-overview", title,
                     [(m.label, _value(m, this), _value(m, before)) for m in metrics],
                     LEGEND, full=[1 if m.is_share else None for m in metrics],
                     description="Shares are drawn to 100%, every other row to its own "
                     "scale; the values are written beside the bars and in the table below.")


def _value(metric, figures):
    return metric.of(figures), metric.text(figures)


def _shown(count, where):
    if count > CHART_ROWS:
        return "The %d with the most leads of %d; all are in %s." % (CHART_ROWS, count, where)
    return "The same numbers are in %s." % where


def _invalid(template, error, **context):
    """The page with the form and what is wrong with its dates, never a 500."""
    return render_template(template, period=None, error=str(error), **context), 400


@bp.route("/numbers")
@role_required("rep", "manager")
def numbers():
    """The period's numbers against the period before: overall and by
    territory, rep, courier and route."""
    metric = METRICS.get(request.args.get("metric"), METRICS["sent"])
    context = dict(metric=metric, metrics=METRICS.values())
    try:
        period = requested_period()
    except PeriodError as error:
        return _invalid("numbers/index.html", error, **context)
    scope, now = numbers_scope(current_user), utcnow()
    this = tally(scope, *period.bounds(), now)
    before = tally(scope, *period.previous().bounds(), now)
    return render_template(
        "numbers/index.html", period=period, this=this.overall, before=before.overall,
        tiles=[METRICS[key] for key in TILES],
        overview=overview_chart(this.overall, before.overall, METRICS.values()),
        sections=[section(name, this, before, metric) for name in BREAKDOWN_TITLES],
        territory_names=[t.name for t in _territories_for(current_user)]
        if current_user.role == "rep" else [],
        deadlines={t.replace("fyi", "FYI"): duration(deadline(t).total_seconds())
                   for t in TEMPERATURES}, **context)


@bp.route("/numbers/pairs")
@role_required("rep", "manager")
def pairs():
    """Courier and rep, side by side, for the period (optionally one territory)."""
    territories = _territories_for(current_user)
    context = dict(territories=territories, territory=None)
    try:
        period = requested_period()
        territory = _chosen_territory(territories)
    except (PeriodError, UnknownTerritory) as error:
        return _invalid("numbers/pairs.html", error, **context)
    scope = numbers_scope(current_user)
    if territory is not None:
        scope = Lead.territory == territory.id
    result = tally(scope, *period.bounds(), utcnow(), breakdowns=("pair", "courier", "rep"))
    matrix = pair_matrix(result, names("courier", result.by["courier"]),
                         names("rep", result.by["rep"]))
    return render_template("numbers/pairs.html", period=period, matrix=matrix,
                           overall=result.overall, min_pair=MIN_PAIR_LEADS,
                           fastest=pair_rows(matrix, matrix.fastest),
                           slowest=pair_rows(matrix, matrix.slowest),
                           **dict(context, territory=territory))


def _territories_for(user):
    """The territories user may narrow the pairs to: all for a manager, a rep's own."""
    query = Territory.select().order_by(Territory.name)
    if user.role == "rep":
        query = query.where(Territory.id.in_(user.territory_ids()))
    return list(query)


def _chosen_territory(territories):
    """The territory the URL names, if it is one of territories; None for all."""
    wanted = request.args.get("territory", "").strip()
    if not wanted:
        return None
    for territory in territories:
        if str(territory.id) == wanted:
            return territory
    raise UnknownTerritory("Pick one of the territories in the list.")


@bp.route("/leaderboard")
@login_required
def board():
    """The couriers' leaderboard for the period: managers and reps always
    (reps for their territories), couriers when the depot turned it on."""
    showing = board_for_couriers()
    if current_user.role == "courier" and not showing:
        abort(403)
    try:
        period = requested_period()
    except PeriodError as error:
        return _invalid("numbers/leaderboard.html", error, showing=showing)
    scope = numbers_scope(current_user) if current_user.role == "rep" else None
    standings = leaderboard(scope, *period.bounds(), utcnow())
    return render_template("numbers/leaderboard.html", period=period, standings=standings,
                           showing=showing, chart=board_chart(standings))


def board_chart(standings):
    """Leads won and sent by the couriers at the top of the board."""
    rows = [(s.name, _value(WON, s.figures), _value(METRICS["sent"], s.figures))
            for s in standings[:CHART_ROWS]]
    return bar_chart("chart-board", "Leads won and sent, by courier", rows, ("Won", "Sent"),
                     description=_shown(len(standings), "the board below it"))


@bp.route("/leaderboard/couriers", methods=("POST",))
@role_required("manager")
def board_visibility():
    """Show the leaderboard to couriers, or hide it (recorded in the audit log)."""
    choice = request.form.get("show")
    if choice not in ("on", "off"):
        abort(400)
    show = choice == "on"
    if show != board_for_couriers():
        with db.atomic():
            Setting.write(BOARD_SETTING, show)
            AuditEntry.record(current_user, "setting", subject=BOARD_SETTING, value=show)
    flash("Couriers can now see the leaderboard." if show
          else "The leaderboard is hidden from couriers.")
    return redirect(url_for("numbers.board", **_period_args()))


def _period_args():
    return {key: request.args[key] for key in ("from", "to") if request.args.get(key)}


@bp.route("/my-record")
@role_required("courier")
def my_record():
    """A courier's own record for the period, their thank-yous and their rank."""
    showing = board_for_couriers()
    try:
        period = requested_period()
    except PeriodError as error:
        return _invalid("numbers/record.html", error, showing=showing,
                        messages=kudos_messages(current_user.id))
    mine, now = numbers_scope(current_user), utcnow()
    this = tally(mine, *period.bounds(), now, breakdowns=()).overall
    before = tally(mine, *period.previous().bounds(), now, breakdowns=()).overall
    for figures, span in ((this, period), (before, period.previous())):
        figures.kudos = kudos_received(mine, *span.bounds()).get(current_user.id, 0)
    return render_template(
        "numbers/record.html", period=period, this=this, before=before, showing=showing,
        metrics=RECORD_METRICS, rank=_rank(period, now) if showing else None,
        chart=overview_chart(this, before, RECORD_METRICS, title="Your record against the "
                             "previous period"),
        messages=kudos_messages(current_user.id))


def _rank(period, now):
    """(rank, couriers on the board) for the current courier, or None if not on it."""
    standings = leaderboard(None, *period.bounds(), now)
    for standing in standings:
        if standing.courier_id == current_user.id:
            return standing.rank, len(standings)
    return None
