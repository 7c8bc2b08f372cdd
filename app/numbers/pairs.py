"""Courier and rep, side by side: for each courier, the reps who worked their
leads, how many, how fast they acknowledged them and how many were won.

The pairs that answer fastest and slowest (judged by median time to
acknowledge) are picked out, but only where the difference means something:
each pair has at least MIN_PAIR_LEADS acknowledged leads, and a fast pair is
at most half as slow as the slowest one (a slow pair at least twice the
fastest). A spread of 1 h 20 against 1 h 30 is noise, not a pair to meet for
coffee; the slow ones are the pairs a manager might ask to.
"""
from dataclasses import dataclass

from .figures import Figures

MIN_PAIR_LEADS = 5
# A pair is marked only if its median is this many times faster than the
# slowest pair's (or slower than the fastest's).
MEANINGFUL_RATIO = 2
HIGHLIGHTS = 3
# More reps than this make a matrix nobody can read: the pairs are listed instead.
MAX_MATRIX_REPS = 12


@dataclass
class Matrix:
    """Couriers down, reps across; a cell per pair that shared leads."""
    couriers: list
    reps: list
    cells: dict
    fastest: list
    slowest: list
    compared: int = 0  # pairs with enough acknowledged leads to compare

    def cell(self, courier, rep):
        return self.cells.get((courier, rep))

    @property
    def too_wide(self):
        return len(self.reps) > MAX_MATRIX_REPS

    def pairs(self):
        """(courier, rep, figures, mark) for every pair, courier by courier, as
        the matrix orders them."""
        for courier, courier_name, _ in self.couriers:
            for rep, rep_name, _ in self.reps:
                figures = self.cells.get((courier, rep))
                if figures is not None:
                    yield courier_name, rep_name, figures, self.mark(courier, rep)

    def mark(self, courier, rep):
        """"fastest", "slowest" or "" for the pair's cell."""
        if (courier, rep) in self.fastest:
            return "fastest"
        return "slowest" if (courier, rep) in self.slowest else ""


def pair_matrix(result, courier_names, rep_names):
    """The matrix of a tally with the "pair", "courier" and "rep" breakdowns:
    couriers by leads sent, reps by leads acknowledged (nobody last)."""
    couriers = sorted(result.by["courier"].items(),
                      key=lambda item: (-item[1].sent, courier_names[item[0]].lower()))
    reps = sorted(result.by["rep"].items(),
                  key=lambda item: (item[0] is None, -item[1].acknowledged,
                                    rep_names[item[0]].lower()))
    fastest, slowest = extremes(result.by["pair"])
    return Matrix([(key, courier_names[key], figures) for key, figures in couriers],
                  [(key, rep_names[key], figures) for key, figures in reps],
                  dict(result.by["pair"]), fastest, slowest, len(comparable(result.by["pair"])))


def comparable(pairs):
    """(median, -acknowledged, key) of the pairs with a rep and enough
    acknowledged leads to judge, fastest first."""
    return sorted((figures.median, -figures.acknowledged, key) for key, figures in pairs.items()
                  if key[1] is not None and figures.acknowledged >= MIN_PAIR_LEADS)


def extremes(pairs):
    """([fastest pairs], [slowest pairs]), by median time to acknowledge, each
    at most three, never the same pair in both, and only pairs at least
    MEANINGFUL_RATIO times apart from the other end."""
    ranked = comparable(pairs)
    count = min(HIGHLIGHTS, len(ranked) // 2)
    if not count:
        return [], []
    quickest, slowest = ranked[0][0], ranked[-1][0]
    return ([key for median, _, key in ranked[:count]
             if median * MEANINGFUL_RATIO <= slowest],
            [key for median, _, key in ranked[::-1][:count]
             if median >= quickest * MEANINGFUL_RATIO])


def pair_rows(matrix, keys):
    """(courier name, rep name, figures) for each pair in keys, for the page's lists."""
    couriers = {key: name for key, name, _ in matrix.couriers}
    reps = {key: name for key, name, _ in matrix.reps}
    return [(couriers[courier], reps[rep], matrix.cells.get((courier, rep), Figures()))
            for courier, rep in keys]
