"""Phone numbers in, E.164 out (or a message that says what is wrong with the number)."""

from __future__ import annotations

import phonenumbers

from tideover.core.errors import DomainError


def to_e164(raw: str, *, default_region: str = "US", field: str = "phone") -> str:
    """Parse a number as typed by a person and return it as E.164, e.g. +15125550123."""
    text = (raw or "").strip()
    if not text:
        raise DomainError("Enter a mobile number", field=field)
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        raise DomainError(
            f"{text!r} is not a phone number; include the area code, e.g. +1 512 555 0123",
            field=field,
        )
    if not phonenumbers.is_valid_number(number):
        raise DomainError(f"{text!r} is not a valid phone number for its country", field=field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def country_of(e164: str) -> str:
    """The two-letter region of an E.164 number (e.g. 'US'), or '' when unknown."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164)) or ""
    except phonenumbers.NumberParseException:
        return ""


# What an SMS can go to and be paid for at the normal rate. North American numbers cannot be
# told apart and are FIXED_LINE_OR_MOBILE; a landline that turns out not to take texts simply
# fails to deliver, while premium-rate and similar numbers are what SMS-pumping fraud signs up.
_TEXTABLE = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}


def require_mobile(e164: str, *, field: str = "phone") -> None:
    """Refuse a number that is not a mobile number (premium-rate, toll-free, shared-cost, VoIP,
    pager, landline...), with a message the person can act on."""
    kind = phonenumbers.number_type(phonenumbers.parse(e164))
    if kind not in _TEXTABLE:
        name = {
            phonenumbers.PhoneNumberType.PREMIUM_RATE: "a premium-rate number",
            phonenumbers.PhoneNumberType.TOLL_FREE: "a toll-free number",
            phonenumbers.PhoneNumberType.SHARED_COST: "a shared-cost number",
            phonenumbers.PhoneNumberType.FIXED_LINE: "a landline",
        }.get(kind, "not a mobile number")
        raise DomainError(f"{e164} is {name}; SMS updates go to mobile numbers only", field=field)
