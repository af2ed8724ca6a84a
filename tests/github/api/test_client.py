from __future__ import annotations

import httpx
import pytest

from service.devtools.github_standin import LimitSettings
from service.errors import GitHubRateLimited, GitHubRejected, GitHubRetryable
from service.github.api import GitHubClient, RateLimitPolicy
from service.github.api.hooks import parse_hook
from tests.standin import FakeTime, github_client, running_standin, token_credentials

HOOK = parse_hook("repos/acme/app/hooks/123")
DOWN = "http://127.0.0.1:9/webhooks/github"  # nothing listens: every attempt fails


async def test_iterate_follows_the_link_header_across_pages() -> None:
    async with running_standin() as (standin, api):
        standin.deliveries.add_hook(HOOK, url=DOWN, secret=token_credentials().token)
        for n in range(7):
            await standin.deliveries.send(HOOK.spec, event="issues", payload={"n": n})
        client = github_client(api, token_credentials())
        seen = [d async for d in client.iterate(HOOK.deliveries_url, params={"per_page": 3})]
        assert len(seen) == 7
        assert len({d["guid"] for d in seen}) == 7
        assert [d["id"] for d in seen] == sorted((d["id"] for d in seen), reverse=True)


async def test_a_secondary_limit_is_waited_out_not_dropped() -> None:
    clock = FakeTime()
    limits = LimitSettings(force_secondary=2, secondary_retry_after=30)
    async with running_standin(clock=clock, limits=limits) as (standin, api):
        standin.deliveries.add_hook(HOOK, url=DOWN, secret=token_credentials().token)
        client = github_client(api, token_credentials(), clock=clock)
        assert await client.get(HOOK.deliveries_url) == []
        assert clock.sleeps == [30.0, 30.0]
        assert standin.limits.refused["secondary"] == 2


async def test_a_spent_quota_waits_for_the_reset() -> None:
    clock = FakeTime()
    async with running_standin(clock=clock, limits=LimitSettings(limit=2, window=600)) as (
        standin,
        api,
    ):
        standin.deliveries.add_hook(HOOK, url=DOWN, secret=token_credentials().token)
        client = github_client(api, token_credentials(), clock=clock)
        for _ in range(3):
            assert await client.get(HOOK.deliveries_url) == []
        assert len(clock.sleeps) == 1
        assert 599 <= clock.sleeps[0] <= 602  # until the reset (whole seconds, plus one)


async def test_past_the_total_wait_the_caller_gets_a_retry_time() -> None:
    clock = FakeTime()
    limits = LimitSettings(force_secondary=5, secondary_retry_after=100)
    policy = RateLimitPolicy(max_total_wait=250)
    async with running_standin(clock=clock, limits=limits) as (standin, api):
        standin.deliveries.add_hook(HOOK, url=DOWN, secret=token_credentials().token)
        client = github_client(api, token_credentials(), clock=clock, policy=policy)
        with pytest.raises(GitHubRateLimited) as raised:
            await client.get(HOOK.deliveries_url)
        assert raised.value.retry_at == clock.now + 100
        assert clock.sleeps == [100.0, 100.0]


async def test_not_found_and_bad_credentials_are_rejections() -> None:
    async with running_standin() as (_, api):
        client = github_client(api, token_credentials())
        with pytest.raises(GitHubRejected) as missing:
            await client.get("/repos/acme/none/hooks/1/deliveries")
        assert missing.value.github_status == 404
        anonymous = github_client(api, None)
        with pytest.raises(GitHubRejected) as refused:
            await anonymous.get(HOOK.deliveries_url)
        assert refused.value.github_status == 401


async def test_server_errors_and_no_answer_are_retryable() -> None:
    calls = 0

    def broken(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(503, json={"message": "unavailable"})

    clock = FakeTime()
    async with httpx.AsyncClient(transport=httpx.MockTransport(broken)) as http:
        client = GitHubClient(http=http, credentials=None, sleep=clock.sleep, clock=clock)
        with pytest.raises(GitHubRetryable) as raised:
            await client.get("/rate_limit")
        assert raised.value.github_status == 503
        assert calls == 4
    async with httpx.AsyncClient(base_url="http://127.0.0.1:9") as http:
        client = GitHubClient(http=http, credentials=None, base_url="http://127.0.0.1:9")
        with pytest.raises(GitHubRetryable, match="unreachable"):
            await client.get("/rate_limit")


async def test_githubs_error_text_is_escaped_before_it_reaches_a_message() -> None:
    def refusing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"message": "Not Found\nFAKE LOG LINE\x1b[31m"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(refusing)) as http:
        client = GitHubClient(http=http, credentials=None)
        with pytest.raises(GitHubRejected) as raised:
            await client.get("/repos/acme/app")
    assert "\n" not in raised.value.message
    assert "\x1b" not in raised.value.message
    assert "Not Found\\x0aFAKE LOG LINE\\x1b[31m" in raised.value.message
