"""The period a page of numbers covers: whole days in the depot's time zone,
named in the URL (`?from=2025-03-01&to=2025-03-31`), and the period of the
same length just before it, which the numbers are compared with."""
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

DEFAULT_DAYS = 30
MAX_DAYS = 731
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")


class PeriodError(ValueError):
    """Dates in the URL that name no period; the message says what to fix."""


@dataclass(frozen=True)
class Period:
    """The days first to last (inclusive) in the depot's time zone."""
    first: date
    last: date
    zone: str

    @property
    def days(self):
        return (self.last - self.first).days + 1

    def previous(self):
        """The period of the same number of days that ends the day before this one."""
        return Period(self.first - timedelta(days=self.days), self.first - timedelta(days=1),
                      self.zone)

    def following(self):
        """The period of the same number of days that starts the day after this one."""
        return Period(self.last + timedelta(days=1), self.last + timedelta(days=self.days),
                      self.zone)

    def bounds(self):
        """(start, end) in naive UTC, as the database holds times: start <= t < end."""
        return self._utc(self.first), self._utc(self.last + timedelta(days=1))

    def _utc(self, day):
        return midnight_utc(day, self.zone)

    def args(self):
        """The URL query that names this period."""
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}

    @property
    def label(self):
        """"1 Mar – 30 Mar 2025", or one day's date."""
        if self.first == self.last:
            return _day(self.first, year=True)
        return "%s – %s" % (_day(self.first, year=self.first.year != self.last.year),
                            _day(self.last, year=True))


def _day(day, year):
    text = "%d %s" % (day.day, day.strftime("%b"))
    return "%s %d" % (text, day.year) if year else text


def midnight_utc(day, zone):
    """The start of day in zone, as naive UTC (as the database holds times)."""
    local = datetime.combine(day, time(), tzinfo=ZoneInfo(zone))
    return local.astimezone(timezone.utc).replace(tzinfo=None)


def parse_day(text):
    """A real day written YYYY-MM-DD (ASCII digits), else None."""
    try:
        return date.fromisoformat(text) if ISO_DATE.match(text) else None
    except ValueError:
        return None


def local_today(zone, now):
    """The date it is in zone at naive-UTC now."""
    return now.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(zone)).date()


def last_days(days, zone, today):
    """The `days` days ending today."""
    return Period(today - timedelta(days=days - 1), today, zone)


def period_from(args, zone, today):
    """The period `from` and `to` name (each defaulting to the last 30 days'
    ends); raise PeriodError saying what is wrong with them."""
    default = last_days(DEFAULT_DAYS, zone, today)
    first = _parse(args.get("from"), "From", default.first)
    last = _parse(args.get("to"), "To", default.last)
    if first > last:
        raise PeriodError("The From date (%s) is after the To date (%s); swap them."
                          % (first.isoformat(), last.isoformat()))
    period = Period(first, last, zone)
    if period.days > MAX_DAYS:
        raise PeriodError("Pick at most %d days (about two years); that period has %d."
                          % (MAX_DAYS, period.days))
    return period


def _parse(value, name, default):
    """A YYYY-MM-DD date from the URL, default when absent or blank."""
    value = (value or "").strip()
    if not value:
        return default
    day = parse_day(value)
    if day is None:
        raise PeriodError("The %s date must be a real date written YYYY-MM-DD, e.g. %s."
                          % (name, default.isoformat()))
    if not EARLIEST <= day <= LATEST:
        raise PeriodError("The %s date must be between %s and %s." % (
            name, EARLIEST.isoformat(), LATEST.isoformat()))
    return day
