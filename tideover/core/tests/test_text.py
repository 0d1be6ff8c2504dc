"""core.text: what XML 1.0 cannot carry never reaches a feed, an e-mail or an SMS."""

from tideover.core.text import clean_line, clean_text

NOT_IN_XML = ["\ufffe", "\uffff", "\ufdd0", "\ufdef", "\U0001fffe", "\U0010ffff", "\ud800"]


def test_clean_text_and_clean_line_drop_noncharacters_and_lone_surrogates():
    for bad in NOT_IN_XML:
        assert clean_text(f"Tills{bad} down\nstill{bad}") == "Tills down\nstill", repr(bad)
        assert clean_line(f"Tills {bad} down") == "Tills down", repr(bad)
    # Characters next to them are kept: U+FFFD, private use, an emoji from plane 1.
    assert clean_line("\ufffd \ue000 \U0001f6d2") == "\ufffd \ue000 \U0001f6d2"


def test_xml_safe_keeps_everything_xml_allows():
    from tideover.core.text import xml_safe

    assert xml_safe("a\tb\nc\rd\x85e\x7f\u2028") == "a\tb\nc\rd\x85e\x7f\u2028"
    assert xml_safe("a\x00\x0b\x0c\x1fb" + "".join(NOT_IN_XML)) == "ab"
