"""A secret string that never shows itself and compares in constant time."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

__all__ = ["Secret"]


@dataclass(frozen=True, slots=True)
class Secret:
    """A secret string that hides itself from ``repr`` and compares in constant time."""

    _value: str = field(repr=False)

    def reveal(self) -> str:
        return self._value

    def matches(self, candidate: str | bytes) -> bool:
        given = candidate.encode() if isinstance(candidate, str) else candidate
        return hmac.compare_digest(self._value.encode(), given)

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__
