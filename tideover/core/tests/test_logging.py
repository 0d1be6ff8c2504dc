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
