"""Members' e-mail addresses are kept in the one spelling every app uses (core/emails.py):
lower case, the domain in its canonical ASCII form (``alice@bücher.de`` as
``alice@xn--bcher-kva.de``), so a look-up in any spelling finds them.

Only addresses with non-ASCII characters can change (ASCII ones were stored lower-cased and
are their own canonical form). An address with no canonical form is left as it is, and so are
members who would end up sharing an address with another member (no merging: customer service
sees both, as before).
"""

import re
import unicodedata

import idna
from django.db import migrations

# The canonical form as it was when this migration was written (core/emails.py), copied rather
# than imported so that a later change to the app's function cannot change this migration.
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
    pass


def canonical_domain(domain: str) -> str:
    """``domain`` in ASCII; UnusableDomain if it has no canonical form."""
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


def _canonical(address: str) -> str:
    local, _, domain = address.rpartition("@")
    try:
        return f"{local}@{canonical_domain(domain)}".lower() if local else address
    except UnusableDomain:
        return address


def canonical_member_emails(apps, schema_editor):
    Member = apps.get_model("loyalty", "Member")
    wanted = {}
    rows = Member.objects.exclude(email="").values_list("pk", "email").order_by("pk")
    for pk, email in rows.iterator(chunk_size=2000):
        if not email.isascii() and _canonical(email) != email:
            wanted.setdefault(_canonical(email), []).append(pk)
    for email, pks in wanted.items():
        if len(pks) == 1 and not Member.objects.filter(email=email).exists():
            Member.objects.filter(pk=pks[0]).update(email=email)


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0006_partial_indexes")]

    operations = [migrations.RunPython(canonical_member_emails, migrations.RunPython.noop)]
