from __future__ import annotations

import httpx
import pytest

from flags.secret import Secret
from service.devtools.github_standin.deliveries import Spammed, UnknownDelivery
from service.github.api.hooks import parse_hook
from service.github.signature import verify_signature
from tests.standin import FakeTime, running_standin

HOOK = parse_hook("repos/acme/app/hooks/123")
SECRET = Secret("hook-secret")


class Receiver:
    """A webhook receiver that answers ``status`` and keeps every request."""

    def __init__(self) -> None:
        self.status = 202
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.status == 0:
            raise httpx.ConnectError("refused", request=request)
        self.requests.append(request)
        return httpx.Response(self.status, json={})


async def test_a_redelivery_reposts_the_same_signed_body_with_the_same_guid() -> None:
    receiver = Receiver()
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(receiver)) as outbound,
        running_standin(outbound=outbound) as (standin, _),
    ):
        standin.deliveries.add_hook(HOOK, url="http://receiver/hook", secret=SECRET)
        receiver.status = 503
        first = await standin.deliveries.send(
            HOOK.spec, event="issues", payload={"action": "opened", "repository": {"id": 5}}
        )
        assert (first.status, first.status_code, first.redelivery) == (
            "Invalid HTTP Response: 503",
            503,
            False,
        )
        receiver.status = 202
        again = await standin.deliveries.redeliver(HOOK.spec, first.id)
        assert (again.guid, again.status, again.redelivery) == (first.guid, "OK", True)
        assert again.id != first.id
        assert (again.action, again.repository_id) == ("opened", 5)
        sent, resent = receiver.requests
        assert sent.content == resent.content
        for request in (sent, resent):
            assert request.headers["X-GitHub-Delivery"] == first.guid
            assert request.headers["X-GitHub-Event"] == "issues"
            assert request.headers["X-GitHub-Hook-ID"] == "123"
            verify_signature(
                secret=SECRET, body=request.content, header=request.headers["X-Hub-Signature-256"]
            )


async def test_a_receiver_that_is_down_leaves_a_failed_attempt() -> None:
    receiver = Receiver()
    receiver.status = 0
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(receiver)) as outbound,
        running_standin(outbound=outbound) as (standin, _),
    ):
        standin.deliveries.add_hook(HOOK, url="http://receiver/hook", secret=SECRET)
        attempt = await standin.deliveries.send(HOOK.spec, event="issues", payload={})
        assert (attempt.status, attempt.status_code) == ("failed to connect to host", 0)


async def test_spammed_redeliveries_are_refused_until_the_window_passes() -> None:
    clock = FakeTime()
    receiver = Receiver()
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(receiver)) as outbound,
        running_standin(outbound=outbound, clock=clock) as (standin, _),
    ):
        store = standin.deliveries
        store.redelivery_limit = 2
        store.add_hook(HOOK, url="http://receiver/hook", secret=SECRET)
        first = await store.send(HOOK.spec, event="issues", payload={})
        await store.redeliver(HOOK.spec, first.id)
        await store.redeliver(HOOK.spec, first.id)
        with pytest.raises(Spammed):
            await store.redeliver(HOOK.spec, first.id)
        clock.advance(store.redelivery_window + 1)
        await store.redeliver(HOOK.spec, first.id)


async def test_deliveries_older_than_three_days_are_gone() -> None:
    clock = FakeTime()
    receiver = Receiver()
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(receiver)) as outbound,
        running_standin(outbound=outbound, clock=clock) as (standin, _),
    ):
        store = standin.deliveries
        store.add_hook(HOOK, url="http://receiver/hook", secret=SECRET)
        old = await store.send(HOOK.spec, event="issues", payload={})
        clock.advance(3 * 24 * 3600 + 1)
        assert store.page(HOOK.spec, before_id=None, per_page=30, redelivery=None) == ([], None)
        with pytest.raises(UnknownDelivery):
            await store.redeliver(HOOK.spec, old.id)
