"""JSON from outside: every shape either parses or is a 400 naming what is wrong."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.errors import PayloadError
from service.json_input import MAX_DEPTH, load_json

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20) + 1, 10**20 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        pytest.param(b"[" * 1500 + b"]" * 1500, "nested deeper", id="1500-deep-array"),
        pytest.param(b'{"a":' * 1200 + b"1" + b"}" * 1200, "nested deeper", id="1200-deep-object"),
        pytest.param(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "nested", id="just-too-deep"),
        pytest.param(b'{"n": ' + b"9" * 5000 + b"}", "5000 digits", id="5000-digit-integer"),
        pytest.param(b'{"n": 1e400}', "out of range", id="float-overflow"),
        pytest.param(b'{"n": -1e999}', "out of range", id="negative-overflow"),
        pytest.param(b'{"n": NaN}', "NaN", id="nan-token"),
        pytest.param(b'{"n": Infinity}', "Infinity", id="infinity-token"),
        pytest.param(b'{"n": -Infinity}', "-Infinity", id="minus-infinity-token"),
        pytest.param(b'{"a": 1, "a": 2}', "twice", id="duplicate-key"),
        pytest.param(b'{"a": "\\ud800"}', "surrogate", id="lone-high-surrogate"),
        pytest.param(b'["\\udfff"]', "surrogate", id="lone-low-surrogate"),
        pytest.param(b'{"\\ud800": 1}', "surrogate", id="lone-surrogate-key"),
        pytest.param('{"a": 1}'.encode("utf-16"), "not JSON", id="utf-16"),
        pytest.param(b"\xff\xfe", "not JSON", id="not-utf-8"),
    ],
)
def test_shapes_that_would_break_a_reader_are_refused_by_name(body: bytes, said: str) -> None:
    with pytest.raises(PayloadError) as refused:
        load_json(body, what="completion")
    assert refused.value.status_code == 400
    assert said in refused.value.message
    assert refused.value.message.startswith("completion")


def test_ordinary_json_passes_unchanged() -> None:
    body = (
        '{"a": [1, -2, 3.5, "😀", "\\ud83d\\ude00", null, true], "b": {"c": 12345678901234567890}}'
    )
    assert load_json(body.encode()) == json.loads(body)
    assert load_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None


@given(JSON_VALUES)
def test_whatever_json_dumps_writes_comes_back(value: object) -> None:
    body = json.dumps(value).encode()
    try:
        assert load_json(body) == value
    except PayloadError as refused:  # only a lone surrogate from st.text() may be refused
        assert "surrogate" in refused.message


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_are_a_payload_error(body: bytes) -> None:
    try:
        load_json(body)
    except PayloadError:
        pass
