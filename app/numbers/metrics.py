"""The measures a page of numbers shows, how each is written, and how two
periods' values of one compare."""
import math
from dataclasses import dataclass

from ..money import money


def count(value):
    return "{:,}".format(value)


def whole_money(value):
    """Won value a week in the depot's currency, to the whole unit (pennies are
    noise in a summary)."""
    return money(value, whole=True)


def share(value):
    """A share as a whole percentage, halves rounded up (62.5% is "63%")."""
    return "—" if value is None else "%d%%" % math.floor(value * 100 + 0.5)


def duration(seconds):
    """Seconds in words a manager reads at a glance: "45 s", "4 min 10 s",
    "21 min", "1 h 5 min", "2 d 3 h"; "—" for none."""
    if seconds is None:
        return "—"
    seconds = round(seconds)
    if seconds < 60:
        return "%d s" % seconds
    if seconds < 600:
        minutes, rest = divmod(seconds, 60)
        return "%d min %d s" % (minutes, rest) if rest else "%d min" % minutes
    if seconds < 3600:
        return "%d min" % round(seconds / 60)
    minutes = round(seconds / 60)
    if minutes < 24 * 60:
        return "%d h %d min" % divmod(minutes, 60) if minutes % 60 else "%d h" % (minutes // 60)
    hours = round(seconds / 3600)
    return "%d d %d h" % divmod(hours, 24) if hours % 24 else "%d d" % (hours // 24)


@dataclass(frozen=True)
class Metric:
    """One measure of a group of leads: its name, how it is read from
    Figures and written, and whether less of it is better."""
    key: str
    label: str
    read: object
    write: object
    less_is_better: bool = False
    is_share: bool = False

    def of(self, figures):
        """This measure of figures (None when there is nothing to measure)."""
        return self.read(figures)

    def text(self, figures):
        value = self.read(figures)
        return "—" if value is None else self.write(value)

    def change(self, now, was):
        """How the value moved from the previous period, in words."""
        a, b = self.of(now), self.of(was)
        if a is None or b is None:
            return "—"
        if self.is_share:
            points = math.floor((a - b) * 100 + 0.5)
            return "no change" if points == 0 else "%+d points" % points
        if self.less_is_better:
            if round(a) == round(b):
                return "no change"
            return "%s %s" % (duration(abs(a - b)), "faster" if a < b else "slower")
        if a == b:
            return "no change"
        sign = "+" if a > b else "−"
        text = sign + self.write(abs(a - b))
        return "%s (%s%d%%)" % (text, sign, round(abs(a - b) * 100 / b)) if b else text


METRICS = {metric.key: metric for metric in (
    Metric("sent", "Leads sent", lambda f: f.sent, count),
    Metric("median", "Median time to acknowledge", lambda f: f.median, duration,
           less_is_better=True),
    Metric("p90", "90th percentile to acknowledge", lambda f: f.p90, duration,
           less_is_better=True),
    Metric("on_time", "Acknowledged within the deadline", lambda f: f.on_time_share, share,
           is_share=True),
    Metric("win_share", "Won, of those closed", lambda f: f.win_share, share, is_share=True),
    Metric("won_volume", "Won parcels a week", lambda f: f.won_volume, count),
    Metric("won_value", "Won value a week", lambda f: f.won_value, whole_money),
)}

ACKNOWLEDGED = Metric("acknowledged", "Acknowledged", lambda f: f.acknowledged, count)
WON = Metric("won", "Won", lambda f: f.won, count)
KUDOS = Metric("kudos", "Thank-yous received", lambda f: f.kudos, count)
# A courier's own record: what they sent and what became of it.
RECORD_METRICS = (METRICS["sent"], ACKNOWLEDGED, METRICS["median"], WON,
                  METRICS["won_value"], KUDOS)
