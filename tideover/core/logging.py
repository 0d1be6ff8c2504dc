"""A log filter that keeps personal data (e-mail addresses, phone numbers) out of every log,
tracebacks included (a database error can quote the row it refused)."""

from __future__ import annotations

import logging
import re

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
# A run of digits and the separators people type in phone numbers, not glued to letters,
# dashes or colons (so UUIDs, ids and times are left alone); it is a phone number when it holds 10-15 digits,
# which also spares dates (8 digits) and times.
_PHONE_LIKE = re.compile(r"(?<![\w:-])\+?\d[\d ().-]{6,}\d(?![\w:-])")
_FORMATTER = logging.Formatter()


def _phone_or_not(match: re.Match) -> str:
    digits = sum(ch.isdigit() for ch in match.group(0))
    return "[phone]" if 10 <= digits <= 15 else match.group(0)


def redact(text: str) -> str:
    return _PHONE_LIKE.sub(_phone_or_not, _EMAIL.sub("[email]", text))


class RedactPersonalData(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when it is set, so the redacted traceback is what prints.
            record.exc_text = redact(_FORMATTER.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
