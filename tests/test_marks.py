"""The ``integration`` mark is on exactly the tests that need the real stack.

A test needs the stack when its fixtures reach ``stack_env`` (Redis, Unleash on PostgreSQL):
it must carry the mark, so ``pytest -m "not integration"`` (the unit tests, mutmut's run) never
starts the stack. A test whose fixtures do not reach it must not carry the mark: a pure test
under a file-wide mark is skipped by the unit runs and by mutation testing. Files that hold
both mark their integration tests one by one. The check looks at every test collected in the
session, so a whole-suite run checks the whole suite.
"""

from __future__ import annotations

import pytest

_STACK = "stack_env"


def _needs_stack(item: pytest.Item) -> bool:
    return _STACK in getattr(item, "fixturenames", ())


def _marked(item: pytest.Item) -> bool:
    return item.get_closest_marker("integration") is not None


def test_the_integration_mark_is_on_exactly_the_tests_that_reach_the_stack(
    request: pytest.FixtureRequest,
) -> None:
    items = request.session.items
    unmarked = [item.nodeid for item in items if _needs_stack(item) and not _marked(item)]
    pure = [item.nodeid for item in items if _marked(item) and not _needs_stack(item)]
    assert unmarked == [], "these use the stack but lack @pytest.mark.integration"
    assert pure == [], "these do not use the stack but carry the integration mark"
    assert request.node in items
