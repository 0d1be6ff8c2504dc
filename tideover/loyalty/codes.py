"""Codes people read aloud at a till: unguessable, unambiguous, self-checking.

The alphabet leaves out 0/O and 1/I (32 symbols, 5 bits each); the last character is a
Luhn mod 32 check character, so one mistyped symbol or two swapped neighbours are caught
before the database is asked. Rewards use it, and goodwill offers can too::

    make_code()            -> 'K7QX-M4PA-9TRC'  (11 random symbols = 55 bits, + 1 check)
    normalize_code(' k7qx m4pa 9trc ')  -> 'K7QX-M4PA-9TRC' or None when the check fails
"""

from __future__ import annotations

import secrets

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_N = len(ALPHABET)


def check_character(body: str) -> str:
    """Luhn mod N over ``body`` (symbols of ALPHABET)."""
    factor = 2
    total = 0
    for ch in reversed(body):
        addend = factor * _VALUE[ch]
        factor = 1 if factor == 2 else 2
        total += addend // _N + addend % _N
    return ALPHABET[(_N - total % _N) % _N]


def _group(text: str, size: int = 4) -> str:
    return "-".join(text[i : i + size] for i in range(0, len(text), size))


def make_code(random_symbols: int = 11, prefix: str = "") -> str:
    """A fresh code: ``random_symbols`` from the OS's CSPRNG plus one check character."""
    body = prefix + "".join(secrets.choice(ALPHABET) for _ in range(random_symbols))
    return _group(body + check_character(body))


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
