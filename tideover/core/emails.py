"""The one spelling of an e-mail address that every app stores and looks up: lower case, the
domain in one canonical ASCII form. Notifications (subscribers, staff channels), loyalty
(members) and recovery (affected customers, customer service's search) all keep addresses
this way, so an address typed in any spelling finds the same person everywhere.

Django's validator accepts domains with invisible characters (soft hyphen, zero-width space),
compatibility letters (full-width ``ｅ``, script ``ℯ``) and Unicode or punycode spellings of one
name, and its mail layer IDNA-encodes the domain when sending: ``alice@exa\\u00admple.com`` and
``alice@ｅxample.com`` reach ``alice@example.com``. Kept as typed, each would be its own
subscriber with its own sign-up limit, all delivered to one mailbox. So the domain is taken
through NFKC, stripped of default-ignorable characters and put through IDNA 2008 with UTS #46
processing (what browsers and mail software do), and kept in its ASCII form: that is also what
the SMTP layer sends as it is, whereas Django would encode a Unicode domain with Python's IDNA
2003 codec (``straße.de`` as ``strasse.de``, another mailbox).
"""

from __future__ import annotations

import re
import unicodedata

import idna
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from tideover.core.errors import DomainError

# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): drawn as nothing.
_IGNORABLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)


# A label the mail layer sends as it is: ASCII letters, digits and inner hyphens, 1-63 long.
_LDH = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
# The full stops UTS #46 splits labels on (NFKC has already mapped U+FF0E).
_DOTS = re.compile("[.\u3002\uff0e\uff61]")


class UnusableDomain(ValueError):
    """A domain with no canonical form (an IP literal, an empty label, a disallowed character)."""


def canonical_domain(domain: str) -> str:
    """``domain`` in ASCII (A-labels, lower case, no trailing dot); UnusableDomain if none.

    A plain ASCII letter-digit-hyphen label is kept as it is, lower-cased: IDNA 2008 refuses
    ``--`` in a label's third and fourth places (reserved for ACE prefixes), yet such labels
    are real host names (``ab--cd.com``, ``r3---sn-abc.googlevideo.com``), and the mail layer
    sends an ASCII domain unchanged. Only the other labels go through IDNA 2008 + UTS #46; a
    label already in ``xn--`` form must decode and encode back to itself."""
    if domain.startswith("["):
        raise UnusableDomain("an IP address instead of a domain name")
    text = _IGNORABLE.sub("", unicodedata.normalize("NFKC", domain))
    text = text[:-1] if text.endswith(".") else text
    try:
        ascii_form = ".".join(_canonical_label(label) for label in _DOTS.split(text))
    except (idna.IDNAError, UnicodeError) as exc:
        raise UnusableDomain(str(exc)) from exc
    if len(ascii_form) > 253:
        raise UnusableDomain("a domain longer than 253 characters")
    return ascii_form


def _canonical_label(label: str) -> str:
    lower = label.lower() if label.isascii() else label
    if _LDH.match(lower) and not lower.startswith("xn--"):
        return lower
    if lower.startswith("xn--"):
        # A punycode label typed as such must decode, and come back the same way.
        if idna.encode(idna.decode(lower)).decode("ascii") != lower:
            raise UnusableDomain("a punycode label that is not the name's own spelling")
        return lower
    ascii_form = idna.encode(label, uts46=True, transitional=False).decode("ascii").lower()
    if idna.encode(idna.decode(ascii_form)).decode("ascii") != ascii_form:
        raise UnusableDomain("a punycode label that is not the name's own spelling")
    return ascii_form


def clean_email(address: str, *, field: str = "email") -> str:
    """A valid e-mail address in the one form a mailbox is kept under: lower case, the domain
    in its canonical ASCII form (:func:`canonical_domain`); DomainError naming ``field`` if none.

    Mail providers do not tell ``Alice@`` from ``alice@``, and the mail layer sends
    ``alice@ｅxample.com`` or ``alice@exa\\u00admple.com`` to ``alice@example.com``, so each
    spelling would be another subscriber sent every update again, under its own sign-up limit,
    or a member or affected customer that a look-up in another spelling misses. A quoted or
    escaped local part (``"alice"@``, ``a\\lice@``) names the same mailbox in yet another
    spelling and is refused, and so is an IP address in place of a domain
    (``alice@[127.0.0.1]``)."""
    text = (address or "").strip()
    local, at, domain = text.rpartition("@")
    if at and domain.startswith("["):
        raise DomainError(
            "Use an address with a domain name, not an IP address, e.g. name@example.com",
            field=field,
        )
    try:
        text = f"{local}@{canonical_domain(domain)}" if at and local else text
    except UnusableDomain:
        raise DomainError(f"{text!r} is not an e-mail address with a usable domain", field=field)
    try:
        validate_email(text)
    except ValidationError:
        raise DomainError(f"{text!r} is not an e-mail address", field=field)
    if '"' in local or "\\" in local:
        raise DomainError(
            "Use a plain address without quotes or backslashes, e.g. name@example.com",
            field=field,
        )
    return text.lower()


def canonical_email(address: str) -> str:
    """``address`` as :func:`clean_email` would keep it, for a look-up: never raises; text
    that is no usable address comes back stripped and lower-cased (it then matches nothing
    stored since clean_email, and what was stored before in that form)."""
    text = (address or "").strip()
    local, at, domain = text.rpartition("@")
    if not (at and local):
        return text.lower()
    try:
        return f"{local}@{canonical_domain(domain)}".lower()
    except UnusableDomain:
        return text.lower()


def email_spellings(address: str) -> list[str]:
    """The spellings to look ``address`` up under: its canonical form and, when different, the
    address as typed in lower case, which is how rows stored before canonical domains (and
    those the data migrations left alone because the canonical spelling was taken) keep it."""
    typed = (address or "").strip().lower()
    canonical = canonical_email(address)
    return [canonical] if canonical == typed else [canonical, typed]
