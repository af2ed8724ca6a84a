"""JSON from outside (webhook payloads, completion callbacks), parsed so that no shape of it can
crash what reads it later.

:func:`load_json` is :func:`json.loads` with limits; every breach is a
:class:`~service.errors.PayloadError` (400) naming it:

* nesting deeper than :data:`MAX_DEPTH` (GitHub's payloads are under 10 deep; the C scanner
  would raise ``RecursionError`` near 1,000);
* an integer of more than :data:`MAX_INT_DIGITS` digits (Python refuses to parse over 4,300
  with a ``ValueError``; GitHub's ids have at most 19);
* a number that is not finite (``1e400``), and the tokens ``NaN``, ``Infinity``,
  ``-Infinity`` (not JSON, but :mod:`json` takes them);
* a key twice in one object (which one counts would depend on the reader);
* a lone surrogate escape (``"\\ud800"``): the string could never be encoded as UTF-8 for Redis,
  a log line or an agent.
"""

from __future__ import annotations

import json
import math
from typing import Any

from service.errors import PayloadError

__all__ = ["MAX_DEPTH", "MAX_INT_DIGITS", "load_json"]

MAX_DEPTH = 64
MAX_INT_DIGITS = 20


class _Refused(PayloadError):
    """A limit was breached while parsing; the message says which (re-raised with context)."""


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(f"an integer of {len(text.lstrip('-'))} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"a number out of range: {text[:40]}")
    return value


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not JSON")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Refused(f"the key {key[:40]!r} appears twice in one object")
        result[key] = value
    return result


def load_json(body: bytes | str, *, what: str = "body", delivery_id: str | None = None) -> Any:
    """The parsed JSON of ``body`` (UTF-8), or :class:`PayloadError` saying what is wrong."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body  # never UTF-16/32
        data = json.loads(
            text,
            parse_int=_integer,
            parse_float=_float,
            parse_constant=_constant,
            object_pairs_hook=_object,
        )
    except _Refused as refused:
        raise PayloadError(f"{what} is refused: {refused}", delivery_id=delivery_id) from None
    except RecursionError:
        raise PayloadError(
            f"{what} is nested deeper than {MAX_DEPTH}", delivery_id=delivery_id
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PayloadError(f"{what} is not JSON: {error}", delivery_id=delivery_id) from None
    problem = _check(data)
    if problem is not None:
        raise PayloadError(f"{what} is refused: {problem}", delivery_id=delivery_id)
    return data


def _check(data: Any) -> str | None:
    """Depth and lone surrogates, without recursion (the tree may be 1,000 deep)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if not value.isascii() and _has_surrogate(value):
                return "a string holds a lone surrogate (\\ud800-\\udfff)"
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                return f"nested deeper than {MAX_DEPTH}"
            if isinstance(value, dict):
                stack.extend((key, depth) for key in value)
                stack.extend((item, depth + 1) for item in value.values())
            else:
                stack.extend((item, depth + 1) for item in value)
    return None


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
