import logging

from tideover.core.logging import RedactPersonalData, redact


def test_email_addresses_and_phone_numbers_are_redacted():
    assert redact("sent to pat@example.com and +1 (512) 555-0123") == "sent to [email] and [phone]"


def test_log_records_are_cleaned_before_any_handler_sees_them():
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "SMS to %s failed", ("+15125550123",), None
    )
    assert RedactPersonalData().filter(record)
    assert record.getMessage() == "SMS to [phone] failed"


def test_ordinary_numbers_are_left_alone():
    assert redact("posted 2000 sales in 12 batches") == "posted 2000 sales in 12 batches"


def test_task_ids_dates_and_urls_with_dates_are_not_taken_for_phones():
    text = (
        "task 61e551a1-e4f5-4712-8123-b844b40100ac POST /2010-04-01/Accounts on 2026-11-23 21:03:00"
    )
    assert redact(text) == text


def test_tracebacks_are_redacted_too():
    try:
        raise ValueError('duplicate key (phone)=(+15125550123) for "pat@example.com"')
    except ValueError:
        import sys

        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "insert failed", (), sys.exc_info()
        )
    RedactPersonalData().filter(record)
    printed = logging.Formatter().format(record)
    assert "+15125550123" not in printed and "pat@example.com" not in printed
    assert "[phone]" in printed and "[email]" in printed
