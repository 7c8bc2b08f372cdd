"""Recognition: the couriers' leaderboard for a period, the thank-yous
(kudos) couriers receive, and whether couriers may see the board.

Like every figure here, a courier's standing counts the leads they sent in
the period and what became of them, kudos included (thank-yous for those
leads). Couriers are ranked by leads won, then won value, then leads sent,
then kudos; couriers equal on all four share a rank.
"""
from dataclasses import dataclass

from peewee import JOIN, fn

from ..models import Lead, LeadEvent, Setting, User
from .figures import Figures, tally

BOARD_SETTING = "leaderboard_for_couriers"


def board_for_couriers():
    """Whether the depot lets couriers see the leaderboard (off unless a manager turned it on)."""
    return bool(Setting.read(BOARD_SETTING, False))


@dataclass
class Standing:
    """One courier's line on the board."""
    rank: int
    courier_id: int
    name: str
    figures: Figures

    @property
    def order(self):
        figures = self.figures
        return (figures.won, figures.won_value, figures.sent, figures.kudos)


def leaderboard(scope, start, end, now):
    """The couriers with leads sent (or kudos) in [start, end) that scope
    admits, best first, ranked."""
    by_courier = tally(scope, start, end, now, breakdowns=("courier",)).by["courier"]
    kudos = kudos_received(scope, start, end)
    ids = set(by_courier) | set(kudos)
    names = dict(User.select(User.id, User.name).where(User.id.in_(ids)).tuples()) if ids else {}
    standings = []
    for courier in ids:
        figures = by_courier.get(courier, Figures())
        figures.kudos = kudos.get(courier, 0)
        standings.append(Standing(0, courier, names.get(courier, "?"), figures))
    standings.sort(key=lambda s: (tuple(-x for x in s.order), s.name.lower(), s.courier_id))
    for index, standing in enumerate(standings):
        tied = index and standings[index - 1].order == standing.order
        standing.rank = standings[index - 1].rank if tied else index + 1
    return standings


def kudos_received(scope, start, end):
    """{courier id: thank-yous} for the leads sent in [start, end) that scope admits."""
    where = ((LeadEvent.kind == "kudos") & (Lead.created_at >= start) & (Lead.created_at < end))
    if scope is not None:
        where &= scope
    return dict(LeadEvent
                .select(Lead.courier, fn.COUNT(LeadEvent.id))
                .join(Lead)
                .where(where)
                .group_by(Lead.courier)
                .tuples())


def kudos_messages(courier, limit=20):
    """The latest thank-yous a courier received: each with its lead and who sent it."""
    return (LeadEvent
            .select(LeadEvent, Lead, User)
            .join(Lead)
            .switch(LeadEvent)
            .join(User, JOIN.LEFT_OUTER, on=LeadEvent.actor)
            .where((Lead.courier == courier) & (LeadEvent.kind == "kudos"))
            .order_by(LeadEvent.id.desc())
            .limit(limit))
