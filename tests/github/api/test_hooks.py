from __future__ import annotations

import pytest

from service.github.api.hooks import HookRef, parse_hook, parse_hooks


def test_the_three_kinds_of_hook_parse_to_their_rest_paths() -> None:
    hooks = parse_hooks("repos/acme/app/hooks/123, orgs/acme/hooks/7 ,app")
    assert [h.kind for h in hooks] == ["repo", "org", "app"]
    assert hooks[0].deliveries_url == "/repos/acme/app/hooks/123/deliveries"
    assert hooks[1].attempts_url(9) == "/orgs/acme/hooks/7/deliveries/9/attempts"
    assert hooks[2].deliveries_url == "/app/hook/deliveries"
    assert [h.as_app for h in hooks] == [False, False, True]
    assert [h.spec for h in hooks] == ["repos/acme/app/hooks/123", "orgs/acme/hooks/7", "app"]


def test_an_empty_list_is_no_hooks_and_repeats_count_once() -> None:
    assert parse_hooks("") == ()
    assert parse_hooks("app,app,") == (HookRef("app"),)


@pytest.mark.parametrize(
    "spec",
    [
        "repos/acme/app/hooks/x",
        "repos/acme/../hooks/1",
        "repos/-acme/app/hooks/1",
        "repos/acme/a b/hooks/1",
        "orgs/acme/hooks/0",
        "users/acme/hooks/1",
        "app/hook",
        "repos/acme/app/hooks/1?x=y",
    ],
)
def test_anything_else_is_refused_naming_it(spec: str) -> None:
    with pytest.raises(ValueError, match="not a"):
        parse_hook(spec)
