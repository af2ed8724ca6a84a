"""Every Redis key is spelled once, in ``service/keys.py``: a grep over service/, bench/, tests/."""

from __future__ import annotations

import inspect
import re
import typing
from pathlib import Path

import pytest

from flags.model import Issue, System
from service.keys import OUTCOME_STREAMS, Keys

_ROOT = Path(__file__).resolve().parent.parent
_HOME = _ROOT / "service" / "keys.py"
_SAMPLE: dict[object, object] = {str: "x", int: 7, Issue: Issue("o/r", 7), System: System.PYTHON}
_SAMPLE_TEXT = {"x", "7", "o/r#7", "python", "typescript", "o/r", "PFX"}


def _sample(hint: object) -> object:
    if typing.get_origin(hint) is typing.Literal:
        return typing.get_args(hint)[0]
    return _SAMPLE[(typing.get_args(hint) or (hint,))[0]]


def _every_key(keys: Keys) -> list[str]:
    """Every key ``keys`` spells, each method called with sample arguments."""
    spelled = []
    for name, member in inspect.getmembers(Keys):
        if name.startswith("_") or name in {"prefix", "scoped", "pattern"}:
            continue
        if isinstance(member, property):
            spelled.append(getattr(keys, name))
            continue
        hints = typing.get_type_hints(member)
        required = [
            parameter.name
            for parameter in inspect.signature(member).parameters.values()
            if parameter.name != "self" and parameter.default is inspect.Parameter.empty
        ]
        args = [_sample(hints[name]) for name in required]
        spelled.append(getattr(keys, name)(*args))
    return spelled


def _segments() -> set[str]:
    words: set[str] = set()
    for key in _every_key(Keys("PFX")):
        for part in key.split(":"):
            if part not in _SAMPLE_TEXT and re.fullmatch(r"[a-z][a-z-]*", part):
                words.add(part)
    return words


def _sources() -> list[Path]:
    files = [
        path
        for folder in ("service", "bench", "tests")
        for path in sorted((_ROOT / folder).rglob("*.py"))
        if path not in {_HOME, Path(__file__).resolve()}
    ]
    assert len(files) > 50  # the grep looks where the code is
    return files


def _patterns() -> list[re.Pattern[str]]:
    words = "|".join(sorted(_segments(), key=len, reverse=True))
    return [
        re.compile(r"\{[^{}\n]*prefix[^{}\n]*\}:"),  # f"{prefix}:..." and f"{self._prefix}:..."
        re.compile(r"prefix\w*\s*\+\s*[\"']:"),  # prefix + ":..."
        re.compile(rf"\}}:(?:{words})\b"),  # f"{base}:latest" and the like
        re.compile(rf"[\"']:(?:{words})\b"),  # ":events" glued on
    ]


def _strays() -> list[str]:
    patterns = _patterns()
    found = []
    for path in _sources():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if any(pattern.search(line) for pattern in patterns):
                found.append(f"{path.relative_to(_ROOT)}:{number}: {line.strip()}")
    return found


def test_no_key_string_outside_keys_module() -> None:
    assert _strays() == []


def test_every_key_is_under_the_prefix_and_distinct() -> None:
    spelled = _every_key(Keys("PFX"))
    assert all(key.startswith("PFX:") for key in spelled)
    keys = Keys("PFX")
    aliases = {keys.outcome_stream(name) for name in OUTCOME_STREAMS}  # the streams by name
    assert aliases == {keys.completions, keys.quality, keys.comparisons}
    assert len(spelled) - 1 == len(set(spelled)) > 30  # outcome_stream's sample is an alias


@pytest.mark.parametrize(
    "line",
    [
        'key = f"{prefix}:completions"',
        'key = f"{self._prefix}:job:{job_id}"',
        'pipe.set(f"{key}:latest", record)',
        'redis.get(settings.redis_prefix + ":fence")',
        'redis.xlen(base + ":dead-letters")',
    ],
)
def test_the_grep_catches_spelled_keys(line: str) -> None:
    assert any(pattern.search(line) for pattern in _patterns())
