"""The one escaping helper: nothing from outside reaches a log line or the audit trail raw."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from service.escape import escape


def test_control_characters_become_visible_escapes() -> None:
    assert escape("a\x00b\nc\rd\te\x1b[31m") == "a\\x00b\\x0ac\\x0dd\\x09e\\x1b[31m"
    assert escape("x\u2028y\u202ez\ud800") == "x\\u2028y\\u202ez\\ud800"
    assert escape("back\\slash") == "back\\\\slash"  # an escape in the input stays told apart


def test_plain_text_passes_unchanged_and_long_text_is_cut() -> None:
    assert escape("Ünïcødé names, emoji 😀 and [brackets]") == (
        "Ünïcødé names, emoji 😀 and [brackets]"
    )
    assert escape("x" * 300, limit=10) == "x" * 10 + "…"
    assert escape(42) == "42"


@given(st.text())
def test_the_result_is_one_printable_line(text: str) -> None:
    escaped = escape(text, limit=10_000)
    assert all(unicodedata.category(char) not in ("Cc", "Cs", "Zl", "Zp") for char in escaped), (
        escaped
    )
    assert "\n" not in escaped and "\x00" not in escaped
    escaped.encode("utf-8")  # never a lone surrogate
