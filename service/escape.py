"""One way to put text from outside into a log line, an audit entry or a page's plain text.

:func:`escape` turns anything (a URL path, a repository name, an actor's name, a reason, an
agent's error text) into one printable line: control characters (C0, DEL, C1, NUL and newline
among them), the Unicode line and paragraph separators, bidirectional overrides and lone
surrogates become ``\\xNN``/``\\uNNNN`` escapes, a backslash becomes two (so an escape in the
input cannot pass for one we made), and the result is cut at ``limit`` characters with ``…``.
Plain text (letters of any script, emoji, punctuation, spaces) passes unchanged.
"""

from __future__ import annotations

import re

__all__ = ["escape"]

_UNSAFE = re.compile("[\\\\\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _replacement(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\\":
        return "\\\\"
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(value: object, *, limit: int = 200) -> str:
    """``value`` as one safe printable line of at most ``limit`` characters (plus ``…``)."""
    text = value if isinstance(value, str) else str(value)
    cut = len(text) > limit
    escaped = _UNSAFE.sub(_replacement, text[:limit] if cut else text)
    return escaped + "…" if cut else escaped
