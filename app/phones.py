"""Phone numbers as the depot writes them, by Google's libphonenumber (the
`phonenumbers` package): checked, stored in E.164 (+442079460000), shown in
the depot's national format (`|phone` in templates) and dialled from `tel:`
links in E.164 (`|tel`).

A number typed without a country code belongs to DEPOT_REGION, an ISO 3166
region code such as GB. A region phonenumbers does not know stops the app at
start-up, not on the first lead that has a phone number.
"""
import re

import phonenumbers
from babel import Locale
from flask import current_app
from phonenumbers import (CountryCodeSource, NumberParseException, PhoneNumberFormat,
                          ValidationResult)
from wtforms import StringField
from wtforms.validators import ValidationError

# What the phone can check of a number before it queues a lead: its
# characters. The server checks the very same first and then says more (too
# short, no such number), so a number the phone passed can still be refused,
# but the phone never refuses one the server would take.
SHAPE = r"^[0-9\s()+./-]*$"
SHAPE_MESSAGE = "Use digits, spaces and + ( ) - only, e.g. +44 20 7946 0000."
FROM_ABROAD = "a number from abroad starts with + and its country code"


def init_app(app):
    """Check the depot's region, and give templates `|phone` and `|tel`."""
    check(app.config["DEPOT_REGION"])
    app.add_template_filter(display, "phone")
    app.add_template_filter(tel, "tel")


def check(region):
    """Raise ValueError, saying what is wrong, unless phonenumbers knows region."""
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError("DEPOT_REGION must be a region code (ISO 3166, upper case) such as "
                         "GB, IE, DE or US, not %r." % region)


def depot_region():
    return current_app.config["DEPOT_REGION"]


def country(number):
    """Where number belongs, for a message: "+44, United Kingdom"."""
    code = phonenumbers.region_code_for_country_code(number.country_code)
    name = Locale.parse("en").territories.get(code)
    return "+%d, %s" % (number.country_code, name) if name else "+%d" % number.country_code


def parse(text, region):
    """The valid number text stands for (national numbers in region), or
    ValueError saying what is wrong with it."""
    if not re.match(SHAPE, text):
        raise ValueError(SHAPE_MESSAGE)
    try:
        number = phonenumbers.parse(text, region, keep_raw_input=True)
    except NumberParseException as exc:
        raise ValueError(_parse_problem(exc.error_type, region)) from None
    national = number.country_code_source == CountryCodeSource.FROM_DEFAULT_COUNTRY
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible == ValidationResult.TOO_SHORT:
        raise ValueError("Too short for a phone number: give every digit, with the area code.")
    if possible == ValidationResult.TOO_LONG:
        raise ValueError("Too long for a phone number: check the digits.")
    if possible == ValidationResult.IS_POSSIBLE_LOCAL_ONLY and national:
        raise ValueError("Add the area code, e.g. %s." % _example(region))
    if possible == ValidationResult.INVALID_COUNTRY_CODE:
        raise ValueError(_parse_problem(NumberParseException.INVALID_COUNTRY_CODE, region))
    if not phonenumbers.is_valid_number(number):
        raise ValueError("Not a phone number in use (%s): check the digits%s." % (
            country(number), "; " + FROM_ABROAD if national else ""))
    return number


def _parse_problem(error_type, region):
    if error_type == NumberParseException.INVALID_COUNTRY_CODE:
        return ("No country has that code: check the digits after the + (e.g. +%d)."
                % phonenumbers.country_code_for_region(region))
    if error_type in (NumberParseException.TOO_SHORT_NSN,
                      NumberParseException.TOO_SHORT_AFTER_IDD):
        return "Too short for a phone number: give every digit, with the area code."
    if error_type == NumberParseException.TOO_LONG:
        return "Too long for a phone number: check the digits."
    return "That isn't a phone number: give its digits, e.g. %s." % _example(region)


def _example(region):
    return phonenumbers.format_number(phonenumbers.example_number(region),
                                      PhoneNumberFormat.NATIONAL)


def e164(text, region):
    """text as E.164 ("+442079460000"), or ValueError saying what is wrong."""
    return phonenumbers.format_number(parse(text, region), PhoneNumberFormat.E164)


def a_number(form, field):
    """A WTForms validator: a valid phone number, which becomes the field's
    data in E.164. Says nothing more once an earlier rule has spoken."""
    if not field.data or field.errors:
        return
    try:
        field.data = e164(field.data, depot_region())
    except ValueError as exc:
        raise ValidationError(str(exc))


class PhoneField(StringField):
    """A phone number: shown as it was typed when the form comes back, and a
    stored number in the depot's own format; validated, `data` is E.164."""

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return display(self.data) if self.data else ""


def display(number):
    """A stored number as the depot writes it: its own region's numbers in the
    national format (020 7946 0000), others' in the international one
    (+49 30 123456); one that does not parse, as it was stored."""
    if not number:
        return ""
    region = depot_region()
    try:
        parsed = phonenumbers.parse(number, region)
    except NumberParseException:
        return number
    if not phonenumbers.is_valid_number(parsed):
        return number
    own = parsed.country_code == phonenumbers.country_code_for_region(region)
    return phonenumbers.format_number(
        parsed, PhoneNumberFormat.NATIONAL if own else PhoneNumberFormat.INTERNATIONAL)


def tel(number):
    """The `tel:` URI that dials a stored number: E.164 where it parses, else
    its digits and + as stored."""
    try:
        dialled = phonenumbers.format_number(phonenumbers.parse(number, depot_region()),
                                             PhoneNumberFormat.E164)
    except NumberParseException:
        dialled = re.sub(r"[^0-9+]", "", number)
    return "tel:" + dialled
