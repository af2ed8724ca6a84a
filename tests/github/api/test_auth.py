from __future__ import annotations

import pytest

from service.errors import GitHubError
from service.github.api.hooks import parse_hook
from tests.standin import (
    APP_ID,
    FakeTime,
    app_credentials,
    github_client,
    running_standin,
    token_credentials,
)

APP = parse_hook("app")


async def test_app_jwt_reaches_the_apps_own_endpoints() -> None:
    async with running_standin() as (standin, api):
        standin.deliveries.add_hook(
            APP, url="http://127.0.0.1:9/", secret=token_credentials().token, app_id=int(APP_ID)
        )
        client = github_client(api, app_credentials())
        assert await client.get(APP.deliveries_url, as_app=True) == []


async def test_installation_token_is_fetched_once_and_reused_until_near_expiry() -> None:
    clock = FakeTime()
    async with running_standin(clock=clock) as (standin, api):
        client = github_client(api, app_credentials(), clock=clock)
        first = await client.installation_token()
        assert await client.installation_token() == first
        clock.advance(3600 - 301)  # the token lives an hour; renewed 5 minutes before
        assert await client.installation_token() == first
        clock.advance(2)
        renewed = await client.installation_token()
        assert renewed != first
        assert standin.auth.issued_count == 2


async def test_a_revoked_installation_token_is_renewed_once() -> None:
    async with running_standin() as (standin, api):
        standin.deliveries.add_hook(
            parse_hook("repos/acme/app/hooks/1"),
            url="http://127.0.0.1:9/",
            secret=token_credentials().token,
        )
        client = github_client(api, app_credentials())
        token = await client.installation_token()
        standin.auth.revoke(token.reveal())
        assert await client.get("/repos/acme/app/hooks/1/deliveries") == []
        assert standin.auth.issued_count == 2


async def test_a_plain_token_is_used_as_is() -> None:
    async with running_standin() as (standin, api):
        standin.deliveries.add_hook(
            parse_hook("orgs/acme/hooks/7"),
            url="http://127.0.0.1:9/",
            secret=token_credentials().token,
        )
        client = github_client(api, token_credentials())
        assert await client.get("/orgs/acme/hooks/7/deliveries") == []
        assert standin.auth.issued_count == 0


async def test_app_endpoints_without_app_credentials_say_what_is_missing() -> None:
    async with running_standin() as (_, api):
        client = github_client(api, token_credentials())
        with pytest.raises(GitHubError, match="SWITCHYARD_GITHUB_APP_ID"):
            await client.get(APP.deliveries_url, as_app=True)
