"""The envelope of an e-mail (the MAIL FROM and RCPT TO addresses) is what Django's SMTP backend
would give SMTP: an address that needs nothing done skips the parser and must come out exactly as
``sanitize_address`` gives it; any other goes through ``sanitize_address`` itself."""

from __future__ import annotations

import string

import pytest
from django.core.mail.message import sanitize_address
from hypothesis import given, settings
from hypothesis import strategies as st

from tideover.notifications.channels.email import _PLAIN_ADDRESS, _envelope_address

LOCAL = st.text(alphabet=string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-.", min_size=1)
LABEL = st.text(alphabet=string.ascii_letters + string.digits + "-", min_size=1, max_size=70)


@settings(max_examples=500, deadline=None)
@given(local=LOCAL, labels=st.lists(LABEL, min_size=1, max_size=4))
def test_an_address_that_skips_the_parser_is_what_the_parser_gives(local, labels):
    address = f"{local}@{'.'.join(labels)}"
    assert _envelope_address(address, "utf-8") == sanitize_address(address, "utf-8")


@pytest.mark.parametrize(
    "address",
    [
        "kim@bücher.example",  # an internationalised domain: punycode
        "Pat Lee <pat@example.com>",  # a display name
        '"pat lee"@example.com',  # a quoted local part
        "a..b@example.com",  # not a dot-atom
        f"pat@{'b' * 64}.example",  # a label too long for a domain
    ],
)
def test_any_other_address_goes_through_djangos_sanitize_address(address):
    assert not _PLAIN_ADDRESS.fullmatch(address)
    try:
        expected = sanitize_address(address, "utf-8")
    except (ValueError, UnicodeError) as exc:
        with pytest.raises(type(exc)):
            _envelope_address(address, "utf-8")
    else:
        assert _envelope_address(address, "utf-8") == expected
