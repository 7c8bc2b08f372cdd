"""Money as the depot writes it: amounts in its currency (DEPOT_CURRENCY, an
ISO 4217 code) the way its locale writes them (DEPOT_LOCALE), by Babel.

Every page that shows a value uses `money` (also the `|money` filter in
templates), so a depot changes its currency in one setting. A currency or
locale Babel does not know stops the app at start-up, not on the first page.
"""
import copy
from decimal import Decimal

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, list_currencies
from flask import current_app


def init_app(app):
    """Check the depot's currency and locale, and give templates `|money`."""
    check(app.config["DEPOT_CURRENCY"], app.config["DEPOT_LOCALE"])
    app.add_template_filter(money)


def check(currency, locale):
    """Raise ValueError, saying what is wrong, unless Babel knows both."""
    if currency not in list_currencies():
        raise ValueError("DEPOT_CURRENCY must be an ISO 4217 currency code such as GBP, EUR "
                         "or USD, not %r." % currency)
    try:
        Locale.parse(locale)
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValueError("DEPOT_LOCALE must be a locale such as en_GB, de_DE or fr_FR, "
                         "not %r." % locale) from None


def money(value, whole=False):
    """value in the depot's currency, e.g. "£1,200.50"; `whole` rounds to the
    whole unit ("£1,201"), for summaries where pennies are noise."""
    if value is None:
        return "—"
    currency, locale = current_app.config["DEPOT_CURRENCY"], current_app.config["DEPOT_LOCALE"]
    if not whole:
        return format_currency(value, currency, locale=locale)
    pattern = copy.copy(Locale.parse(locale).currency_formats["standard"])
    pattern.frac_prec = (0, 0)
    return pattern.apply(Decimal(value), locale, currency=currency, currency_digits=False)
