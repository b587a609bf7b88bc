"""What a person may type into a stored name or text (ates/text.py): no control character (Unicode
Cc) and no lone surrogate (Cs); a multi-line text keeps its line breaks and tabs."""

import pytest

from ates import text

REFUSED_EVERYWHERE = ["\x00", "\x01", "\x07", "\x1b", "\x7f", "\x85", "\x9f", "\ud800", "\udfff"]
LINE_BREAKS_AND_TABS = ["\n", "\r", "\t"]
FINE = ["Feed the parrots", "Кеша", "🦜 popug", "naïve café", "a\u00a0b", "tab-less", ""]


@pytest.mark.parametrize("character", REFUSED_EVERYWHERE + LINE_BREAKS_AND_TABS)
def test_a_line_refuses_every_control_character_and_lone_surrogate(character):
    reason = text.unprintable(f"Feed{character}parrots", "the title")
    assert reason and reason.startswith("the title ") and f"U+{ord(character):04X}" in reason


@pytest.mark.parametrize("character", REFUSED_EVERYWHERE)
def test_a_multi_line_text_refuses_them_too(character):
    assert text.unprintable(f"line one\n{character}", "the description", multiline=True)


@pytest.mark.parametrize("character", LINE_BREAKS_AND_TABS)
def test_a_multi_line_text_keeps_line_breaks_and_tabs(character):
    assert (
        text.unprintable(f"line one{character}line two", "the description", multiline=True) is None
    )


@pytest.mark.parametrize("value", FINE)
def test_ordinary_text_in_any_script_passes(value):
    assert text.unprintable(value, "the name") is None


def test_the_printable_part_drops_what_a_line_refuses():
    assert text.printable_part("kesha\x00\n\ud800!") == "kesha!"


def test_the_refused_characters_are_exactly_the_categories_cc_and_cs():
    import sys
    import unicodedata

    refused = {
        chr(code)
        for code in range(sys.maxunicode + 1)
        if text.REFUSED_IN_A_LINE.fullmatch(chr(code))
    }
    assert refused == {
        chr(code)
        for code in range(sys.maxunicode + 1)
        if unicodedata.category(chr(code)) in ("Cc", "Cs")
    }
