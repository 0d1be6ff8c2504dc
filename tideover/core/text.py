"""Text from staff and systems made safe for the places it ends up: SMS, e-mail subjects,
feeds, chat.

Two kinds of character are removed:

- Control characters (C0 and C1, DEL): a newline in an e-mail subject starts a new header, a
  NUL or an escape sequence turns into garbage on a phone or in a feed reader (XML 1.0 cannot
  carry most of them at all).
- Bidirectional controls (LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI, LRM, RLM, ALM): they
  reorder what a reader sees, so "Checkout restored‮ lanoitan" can show a different claim than
  the bytes make (the "Trojan Source" trick). Right-to-left text itself is untouched: Unicode's
  bidi algorithm lays it out without any of these.

- What XML 1.0 cannot carry beyond those: lone surrogates and U+FFFE, U+FFFF; with them the
  Unicode noncharacters (U+FDD0–U+FDEF and the last two code points of every plane), which
  no text means to hold. One U+FFFF in an incident title made every Atom and RSS feed invalid.

Bodies keep their line breaks and tabs; single lines (titles, subjects) turn every line break
into a space. ``xml_safe`` drops only what XML 1.0 forbids (and the noncharacters), for writers
of XML that may meet rows saved before these rules.
"""

from __future__ import annotations

import re

_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# Lone surrogates (a str can hold them; UTF-8 and XML cannot) and the noncharacters.
_NOT_CHARACTERS = "\ud800-\udfff\ufdd0-\ufdef" + "".join(
    f"{chr(plane + 0xFFFE)}{chr(plane + 0xFFFF)}" for plane in range(0, 0x110000, 0x10000)
)
# C0 except tab and newline, DEL, C1; the bidi controls; what is no character.
_UNSAFE_IN_TEXT = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}{_NOT_CHARACTERS}]")
_BREAKS = re.compile(r"\r\n|[\r\u2028\u2029\x85\x0b\x0c]")
_UNSAFE_IN_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}{_NOT_CHARACTERS}]")
# What XML 1.0's Char production leaves out, and the noncharacters.
_NOT_IN_XML = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f{_NOT_CHARACTERS}]")


def clean_text(text: str) -> str:
    """A body: line breaks (any kind) become ``\\n``; other controls and bidi controls go."""
    return _UNSAFE_IN_TEXT.sub("", _BREAKS.sub("\n", text or ""))


def clean_line(text: str) -> str:
    """A title or subject: one line, no controls, no bidi controls, runs of spaces collapsed."""
    spaced = re.sub(r"[\t\n\r\u2028\u2029\x85\x0b\x0c]+", " ", text or "")
    return re.sub(r" {2,}", " ", _UNSAFE_IN_LINE.sub("", spaced)).strip()


def xml_safe(text: str) -> str:
    """``text`` without the characters an XML 1.0 document cannot hold (and noncharacters)."""
    return _NOT_IN_XML.sub("", text)


def is_row_id(text: str) -> bool:
    """Whether ``text`` is a row id a database column holds: ASCII digits, under 2**63 ("²" is
    a digit to ``isdigit``, and 10**30 overflows SQLite's and PostgreSQL's integers)."""
    return text.isascii() and text.isdigit() and len(text) < 19
