"""Codes people read aloud at a till: unguessable, unambiguous, self-checking.

The alphabet leaves out 0/O and 1/I (32 symbols, 5 bits each); the last character is a check
character, so one mistyped symbol or two swapped neighbours are caught before the database is
asked. Rewards and goodwill offers both use it (one mechanism, one table: ``Reward``)::

    make_code()            -> 'K7QX-M4PA-9TRC'  (11 random symbols = 55 bits, + 1 check)
    make_codes(1_000_000)  -> a million of them, fast enough for a goodwill campaign
    normalize_code(' k7qx m4pa 9trc ')  -> 'K7QX-M4PA-9TRC' or None when the check fails
    looks_like_code('K7QX-M4PA-9TRD')   -> True: our shape, so a failed check is a typo
"""

from __future__ import annotations

import base64
import functools
import os
import secrets

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_N = len(ALPHABET)


# The check works in GF(32): symbol j (counting from the end, the check itself being 0) is
# weighted by a**j for a primitive element a, and the weighted sum of a valid code is 0. One
# wrong symbol changes the sum by e*a**j != 0; swapping neighbours x, y changes it by
# (x+y)*a**j*(1+a) != 0. Both are always caught for codes up to 31 symbols long, which a Luhn
# mod 32 check cannot promise (it misses swaps such as its "09" <-> "90" pair).
_POLY = 0b100101  # x^5 + x^2 + 1, primitive over GF(2)


def _times_a(value: int) -> int:
    value <<= 1
    return value ^ _POLY if value & 0b100000 else value


def check_character(body: str) -> str:
    """The symbol that makes the weighted GF(32) sum of ``body + check`` zero."""
    total, weight = 0, 1
    for ch in reversed(body):
        weight = _times_a(weight)  # the check symbol holds weight a**0 = 1
        total ^= _multiply(weight, _VALUE[ch])
    return ALPHABET[total]  # adding the check (weight 1) cancels the sum: x + x = 0


def _multiply(left: int, right: int) -> int:
    product = 0
    while right:
        if right & 1:
            product ^= left
        left = _times_a(left)
        right >>= 1
    return product


def _group(text: str, size: int = 4) -> str:
    return "-".join(text[i : i + size] for i in range(0, len(text), size))


def make_code(random_symbols: int = 11, prefix: str = "") -> str:
    """A fresh code: ``random_symbols`` from the OS's CSPRNG plus one check character."""
    body = prefix + "".join(secrets.choice(ALPHABET) for _ in range(random_symbols))
    return _group(body + check_character(body))


CODE_LENGTH = 12  # 11 random symbols + the check
_BASE32 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # RFC 4648, as base64.b32encode writes it
_TO_OURS = bytes.maketrans(_BASE32, ALPHABET.encode())
_TO_SYMBOL = bytes.maketrans(bytes(range(_N)), ALPHABET.encode())  # value -> symbol


@functools.cache
def _place_tables() -> list[bytes]:
    """For each of the 11 body places, a bytes.translate table: symbol -> what it adds to the
    check's weighted sum there (a GF(32) element, 0..31)."""
    weights = []
    weight = 1
    for _ in range(11):
        weight = _times_a(weight)  # the check symbol holds weight a**0 = 1
        weights.append(weight)
    weights.reverse()  # left to right
    tables = []
    for place in weights:
        table = bytearray(256)
        for ch in ALPHABET:
            table[ord(ch)] = _multiply(place, _VALUE[ch])
        tables.append(bytes(table))
    return tables


# Where body place i lands in a code's 15 bytes: four characters, a dash, four, a dash, three
# and the check character, then a newline.
_LAYOUT = [0, 1, 2, 3, 5, 6, 7, 8, 10, 11, 12]


def make_codes(count: int) -> list[str]:
    """``count`` fresh codes, as :func:`make_code` makes them (11 random symbols = 55 bits from
    the OS's CSPRNG, + the check), fast enough for a goodwill campaign's million.

    All of it runs in C over every code at once: the random bits become symbols through
    base32 and a translation; each place's share of the check is a translation of that
    place's symbols (every 11th byte), and the shares are added (XOR in GF(32)) as big
    integers; the codes are laid out in one buffer by strided slices and split."""
    if count <= 0:
        return []
    groups = -(-count // 8)  # 8 codes = 88 symbols = 440 bits = 55 bytes
    body = base64.b32encode(os.urandom(55 * groups)).translate(_TO_OURS)[: 11 * count]
    total = 0
    for place, table in enumerate(_place_tables()):
        total ^= int.from_bytes(body[place::11].translate(table), "big")
    out = bytearray(b"-" * (15 * count))
    for place, at in enumerate(_LAYOUT):
        out[at::15] = body[place::11]
    out[13::15] = total.to_bytes(count, "big").translate(_TO_SYMBOL)
    out[14::15] = b"\n" * count
    return out.decode("ascii").split()


def looks_like_code(text: str) -> bool:
    """True when ``text`` has the shape of one of our codes (12 letters and digits, any case,
    spaces or dashes): if its check then fails, someone mistyped it."""
    symbols = "".join(ch for ch in (text or "").upper() if ch not in " -")
    return len(symbols) == CODE_LENGTH and symbols.isascii() and symbols.isalnum()


def is_valid(code: str) -> bool:
    return normalize_code(code) is not None


def normalize_code(text: str) -> str | None:
    """The canonical grouped form of a code as typed (any case, spaces or dashes), or None."""
    symbols = "".join(ch for ch in (text or "").upper() if ch not in " -")
    if len(symbols) < 2 or any(ch not in _VALUE for ch in symbols):
        return None
    body, check = symbols[:-1], symbols[-1]
    if check_character(body) != check:
        return None
    return _group(symbols)
