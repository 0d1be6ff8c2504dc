"""SMS text the way carriers bill it: GSM-7 or UCS-2, and segments.

One character outside the GSM-7 alphabet (a curly quote, an ellipsis, a non-breaking space, an
emoji) switches the whole message to UCS-2, which cuts a segment from 153 to 67 characters: a
three-segment update becomes seven. So typographic characters that people paste from documents
are written with their plain GSM-7 equivalents, and truncation adds only GSM-7 characters.
"""

from __future__ import annotations

GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")
SMS_MAX_SEGMENTS = 3  # longer updates are cut with a link to the status page

# Look-alikes with a GSM-7 spelling; anything else outside GSM-7 (emoji, other scripts) is kept
# and the message is honestly UCS-2.
_PLAIN = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u2026": "...",
        "\u00a0": " ",
        "\u2009": " ",
        "\u202f": " ",
        "\u2022": "-",
    }
)
ELLIPSIS = "..."


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7 or ch in GSM7_EXTENDED for ch in text)


def _units(text: str, gsm: bool) -> int:
    if gsm:
        return sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


def sms_segments(text: str) -> dict:
    """Encoding, length (in billing units) and segment count the way carriers bill them."""
    gsm = is_gsm7(text)
    units = _units(text, gsm)
    single, multi, encoding = (160, 153, "GSM-7") if gsm else (70, 67, "UCS-2")
    segments = 1 if units <= single else -(-units // multi)
    return {"encoding": encoding, "length": units, "segments": segments}


def plain(text: str) -> str:
    """Typographic punctuation and spaces as their GSM-7 look-alikes."""
    return text.translate(_PLAIN)


def fit(text: str, *, footer: str, more_url: str, max_segments: int = SMS_MAX_SEGMENTS) -> str:
    """``text`` and ``footer`` in at most ``max_segments``, cut with '... <more_url>' if needed,
    without changing the encoding the text itself needs."""
    text, footer = plain(text).strip(), plain(footer).strip()
    whole = f"{text} {footer}".strip()
    if sms_segments(whole)["segments"] <= max_segments:
        return whole
    gsm = is_gsm7(whole)
    budget = (153 if gsm else 67) * max_segments
    tail = f"{ELLIPSIS} {more_url}"
    room = budget - _units(tail, gsm) - (_units(footer, gsm) + 1 if footer else 0)
    kept, used = [], 0
    for ch in text:
        cost = _units(ch, gsm)
        if used + cost > room:
            break
        kept.append(ch)
        used += cost
    cut = "".join(kept).rstrip()
    return f"{cut}{tail} {footer}".strip()
